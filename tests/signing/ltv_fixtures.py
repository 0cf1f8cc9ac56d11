"""A test-only PKI with fixed validity windows, and archive fixtures signed at chosen moments (issue #12).

The demo PKI (:mod:`signing.testing.pki`) makes certificates valid from "now"; long-term validation needs the
opposite: a signer whose one-year certificate ran out in 2027, a TSA certificate that ends in 2030 and its
successor that runs to 2045, a signer revoked before and one revoked after the signing time.  Every object is
made in-process by certomancer *at the moment it claims* (OCSP responses, CRLs and RFC 3161 tokens take an
explicit time), so a fixture signed "in 2026" does not depend on today's date or on a server's clock.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from pathlib import Path

from certomancer.registry import CertomancerConfig, PKIArchitecture
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields as ph_fields
from pyhanko.sign import signers as ph_signers
from pyhanko.sign.signers.pdf_signer import PdfTimeStamper
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

UTC = dt.UTC
ARCH = "qamqor-ltv"


def at(year: int, month: int = 1, day: int = 1, hour: int = 9) -> dt.datetime:
    return dt.datetime(year, month, day, hour, tzinfo=UTC)


#: when the archive fixtures are signed, and the moments the golden tests validate at (issue #12)
SIGNED = at(2026, 3, 2)
SIGNER_EXPIRES = at(2027, 1, 1)
TSA_2026_EXPIRES = at(2030, 6, 1)
REVOKED_BEFORE = at(2026, 2, 20)  # before SIGNED
REVOKED_AFTER = at(2026, 6, 1)  # after SIGNED
RENEWED = at(2029, 6, 1)  # a year before the first TSA certificate runs out
AFTER_SIGNER_EXPIRY = at(2028, 6, 1)
FAR_FUTURE = at(2035, 6, 1)


def _iso(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S+0000")


def _window(start: dt.datetime, end: dt.datetime) -> dict:
    return {"valid-from": _iso(start), "valid-to": _iso(end)}


def _ku(*bits: str) -> dict:
    return {"id": "key_usage", "critical": True, "smart-value": {"schema": "key-usage", "params": list(bits)}}


def _crl_dp(repo: str) -> dict:
    return {"id": "crl_distribution_points", "smart-value": {"schema": "crl-dist-url",
                                                              "params": {"crl-repo-names": [repo]}}}


def _ca(issuer: str, start, end) -> dict:
    return {"issuer": issuer, "validity": _window(start, end),
            "extensions": [{"id": "basic_constraints", "critical": True, "value": {"ca": True}},
                           _ku("digital_signature", "key_cert_sign", "crl_sign")]}


def _tsa(start, end) -> dict:
    return {"issuer": "root", "validity": _window(start, end),
            "extensions": [_ku("digital_signature"),
                           {"id": "extended_key_usage", "critical": True, "value": ["time_stamping"]},
                           _crl_dp("root")]}


def _signer(revoked: dt.datetime | None = None) -> dict:
    cert = {"issuer": "nca", "validity": _window(at(2026, 1, 1), SIGNER_EXPIRES),
            "extensions": [_ku("digital_signature", "non_repudiation"), _crl_dp("nca"),
                           {"id": "authority_information_access", "smart-value": {
                               "schema": "aia-urls", "params": {"ocsp-responder-names": ["nca"]}}}]}
    if revoked is not None:
        cert["revocation"] = {"revoked-since": _iso(revoked), "reason": "key_compromise"}
    return cert


@dataclass
class LtvPKI:
    """The architecture and the files a consumer of an archive gets: the root (and a foreign one)."""

    arch: PKIArchitecture
    root_cert: Path
    foreign_root_cert: Path

    def cert(self, label: str):
        return self.arch.get_cert(label)

    def key(self, label: str):
        return self.arch.key_set.get_private_key(label)

    def timestamper(self, label: str, when: dt.datetime):
        # pyHanko's in-process TSA (a real RFC 3161 token signed by the TSA's key) at a fixed genTime
        return DummyTimeStamper(tsa_cert=self.cert(label), tsa_key=self.key(label),
                                certs_to_embed=SimpleCertificateStore.from_certs([self.cert(label)]), fixed_dt=when)

    def revinfo(self, when: dt.datetime, *, signers: bool = True) -> tuple[list, list]:
        """The root's CRL as issued at ``when`` and, with ``signers``, the NCA's CRL and OCSP responses for the
        signers whose certificates are in their validity then (a responder says nothing of expired ones)."""
        reg = self.arch.service_registry
        crls = [reg.get_crl("root", at_time=when)]
        if not signers:
            return [], crls
        crls.append(reg.get_crl("nca", at_time=when))
        responder = reg.summon_responder("nca", at_time=when)
        ocsps = []
        from asn1crypto import ocsp as asn1_ocsp
        from pyhanko_certvalidator.util import get_pyca_cryptography_hash  # noqa: F401 - same hash as pyHanko
        nca = self.cert("nca")
        for label in ("signer", "signer-revoked-before", "signer-revoked-after"):
            c = self.cert(label)
            if not (c.not_valid_before <= when <= c.not_valid_after):
                continue
            cid = asn1_ocsp.CertId({
                "hash_algorithm": {"algorithm": "sha1"},
                "issuer_name_hash": nca.subject.sha1,
                "issuer_key_hash": nca.public_key.sha1,
                "serial_number": c.serial_number,
            })
            single = responder.format_single_ocsp_response(cid, nca)
            ocsps.append(responder.assemble_simple_ocsp_responses([single]))
        return ocsps, crls

    def context(self, when: dt.datetime) -> ValidationContext:
        """What a signer or an archive holds at ``when``: the roots and revocation data issued then, no network."""
        ocsps, crls = self.revinfo(when)
        return ValidationContext(
            trust_roots=[self.cert("root")], other_certs=[self.cert("nca")], ocsps=ocsps, crls=crls,
            moment=when, allow_fetching=False, revocation_mode="hard-fail",
        )


def build_ltv_pki(out_dir: Path, url_prefix: str = "http://127.0.0.1:9") -> LtvPKI:
    """The PKI, made in-process; ``url_prefix`` is where its certificates say OCSP, CRLs and the TSAs answer
    (by default nowhere: the golden fixtures are made offline; the renewal timeline serves it with certomancer
    from ``<out_dir>/certomancer.yml``)."""
    out_dir = Path(out_dir)
    keys_dir = out_dir / "keys"
    keys_dir.mkdir(parents=True, exist_ok=True)
    labels = ["root", "foreign-root", "nca", "nca-ocsp", "tsa-2026", "tsa-2029", "signer",
              "signer-revoked-before", "signer-revoked-after"]
    for label in labels:
        key = rsa.generate_private_key(65537, 2048)
        (keys_dir / f"{label}.key.pem").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    name = {"country-name": "KZ", "organization-name": "QAMQOR LTV TEST — NOT FOR PRODUCTION"}
    entities = {label: {**name, "common-name": f"LTV {label}"} for label in labels}
    certs = {
        "root": _ca("root", at(2025), at(2060)),
        "foreign-root": _ca("foreign-root", at(2025), at(2060)),
        "nca": {**_ca("root", at(2025), at(2050)), "extensions": [
            {"id": "basic_constraints", "critical": True, "value": {"ca": True, "path-len-constraint": 0}},
            _ku("digital_signature", "key_cert_sign", "crl_sign"), _crl_dp("root")]},
        "nca-ocsp": {"issuer": "nca", "validity": _window(at(2025), at(2050)),
                     "extensions": [_ku("digital_signature"),
                                    {"id": "extended_key_usage", "critical": True, "value": ["ocsp_signing"]},
                                    {"id": "ocsp_no_check"}]},
        "tsa-2026": _tsa(at(2025, 12, 1), TSA_2026_EXPIRES),
        "tsa-2029": _tsa(at(2029, 1, 1), at(2045)),
        "signer": _signer(),
        "signer-revoked-before": _signer(REVOKED_BEFORE),
        "signer-revoked-after": _signer(REVOKED_AFTER),
    }
    for i, c in enumerate(certs.values(), start=1):
        c["serial"] = 0x1000 + i
    for label in labels:
        certs[label]["subject"] = label
    config = {
        "external-url-prefix": url_prefix,
        "keysets": {ARCH: {"path-prefix": str(keys_dir), "keys": {k: {"path": f"{k}.key.pem"} for k in labels}}},
        "pki-architectures": {ARCH: {
            "keyset": ARCH, "entities": entities, "certs": certs,
            "services": {
                "ocsp": {"nca": {"for-issuer": "nca", "responder-cert": "nca-ocsp", "signing-key": "nca-ocsp",
                                 "validity-period": {"days": 7}}},
                "crl-repo": {"root": {"for-issuer": "root", "signing-key": "root", "simulated-update-schedule": "PT10M"},
                             "nca": {"for-issuer": "nca", "signing-key": "nca", "simulated-update-schedule": "P1D"}},
                "time-stamping": {"tsa-2026": {"signing-key": "tsa-2026", "signing-cert": "tsa-2026"},
                                  "tsa-2029": {"signing-key": "tsa-2029", "signing-cert": "tsa-2029"}},
            },
        }},
    }
    import yaml

    (out_dir / "certomancer.yml").write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False),
                                             encoding="utf-8")
    arch = CertomancerConfig(config, key_search_dir=str(out_dir)).get_pki_arch(ARCH)
    paths = {}
    for label in ("root", "foreign-root"):
        paths[label] = out_dir / f"{label}.crt"
        paths[label].write_bytes(arch.get_cert(label).dump())
    return LtvPKI(arch, paths["root"], paths["foreign-root"])


# --- fixtures ------------------------------------------------------------------------------------------------

def _signer_for(pki: LtvPKI, label: str):
    return ph_signers.SimpleSigner(
        signing_cert=pki.cert(label), signing_key=pki.key(label),
        cert_registry=SimpleCertificateStore.from_certs([pki.cert("nca"), pki.cert("root")]),
    )


def _add_dss(pki: LtvPKI, data: bytes, when: dt.datetime, *, signers: bool = True) -> bytes:
    """The DSS gets the OCSP responses and CRLs issued at ``when`` (an incremental update)."""
    ocsps, crls = pki.revinfo(when, signers=signers)
    buf = io.BytesIO(data)
    # no VRI entry: a second update of the same signature's VRI counts as a suspicious modification
    DocumentSecurityStore.add_dss(
        buf, None, certs=[pki.cert(c) for c in ("nca", "nca-ocsp", "root", "tsa-2026", "tsa-2029")],
        ocsps=ocsps, crls=crls, force_write=True,
    )
    return buf.getvalue()


async def archive_step(pki: LtvPKI, data: bytes, when: dt.datetime, tsa: str = "tsa-2029", *,
                       signers: bool = False) -> bytes:
    """One archive step at ``when``, as pyHanko's B-LTA and ``ltaupdate`` make it: the DSS with revocation data
    issued now (it covers everything signed or stamped before), a document timestamp, and the DSS again an hour
    later so that the new timestamp's TSA certificate has status data issued after it (EN 319 102-1 §5.2.5.4).
    A renewal (``signers`` false, as pyHanko's ``update_archival_timestamp_chain``) adds the status of the
    timestamps' certificates only; the signature's own status was fixed when it was made."""
    data = _add_dss(pki, data, when, signers=signers)
    w = IncrementalPdfFileWriter(io.BytesIO(data))
    stamped = await PdfTimeStamper(pki.timestamper(tsa, when + dt.timedelta(minutes=1))).async_timestamp_pdf(
        w, "sha256")
    return _add_dss(pki, stamped.getvalue(), when + dt.timedelta(hours=1), signers=signers)


async def make_signed(pki: LtvPKI, pdf: bytes, *, level: str, signer: str = "signer",
                      when: dt.datetime = SIGNED) -> bytes:
    """``pdf`` (one empty field ``sig``) signed by ``signer``: B-B (no timestamp at all), B-T (a signature
    timestamp at ``when``), or B-LTA (and an archive step an hour later, with the first TSA)."""
    w = IncrementalPdfFileWriter(io.BytesIO(pdf))
    meta = ph_signers.PdfSignatureMetadata(field_name="sig", md_algorithm="sha256",
                                           subfilter=ph_fields.SigSeedSubFilter.PADES)
    timestamper = None if level == "B-B" else pki.timestamper("tsa-2026", when)
    ps = ph_signers.PdfSigner(meta, signer=_signer_for(pki, signer), timestamper=timestamper)
    data = (await ps.async_sign_pdf(w, existing_fields_only=True)).getvalue()
    if level in ("B-B", "B-T"):
        return data
    return await archive_step(pki, data, when + dt.timedelta(hours=1), tsa="tsa-2026", signers=True)

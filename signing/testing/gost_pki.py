"""A GOST test PKI shaped like the NCA's GOST hierarchy (root → issuing CA → officer), NOT for production.

Everything is GOST R 34.10-2015 512-bit on TC26 512-A with Streebog-512 under the Kazakh OIDs, in the NCA's byte
order (:mod:`signing.gost`), built with asn1crypto and gostcrypto: certificates, and one CRL per CA (the root's
about the issuing CA, the CA's about its officers) so that a verifier can check revocation offline.

Deterministic: the keys are derived from ``seed`` (Streebog-512 of the seed and the holder's label, reduced
modulo the curve order) and the dates from ``now``, so a test builds the same PKI every run.  A different
``seed`` is a "foreign" PKI (its root is not ours).

The officer's key is kept as **PKCS#8** (``officer_key.pk8``, unencrypted DER), not PKCS#12: a GOST PKCS#12 as
the NCA issues it is protected with GOST PBE algorithms (PBKDF2 with Streebog-HMAC, GOST 28147 / Kuznyechik
key wrap) that neither pyca ``cryptography`` nor asn1crypto can write, and building that container by hand is
left for later (issue 16).  The profile follows :mod:`signing.testing.pki`: ``serialNumber`` IIN…, ``OU`` BIN…,
the role in ``title``, "DEMO — NOT FOR PRODUCTION" in every name.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from asn1crypto import core, pem
from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509

from signing import gost

from .pki import NOT_FOR_PRODUCTION, make_iin

_ORDER = gost._CURVE_512_A["q"]
_EKU_SIGN = "1.3.6.1.5.5.7.3.4"
_EKU_HEAD = "1.2.398.3.3.4.1.2.1"


def derive_key(seed: str, label: str) -> gost.GostPrivateKey:
    """A private key from ``seed`` and ``label`` (deterministic; for tests only)."""
    n = int.from_bytes(gost.streebog512(f"qamqor-gost-test|{seed}|{label}".encode()), "big")
    return gost.GostPrivateKey(n % (_ORDER - 1) + 1)


def _signature_algorithm() -> dict:
    # NULL parameters, as the NCA writes them (research/gost.md §4.4)
    return {"algorithm": gost.SIG_NAMES[gost.SIG_2015_512], "parameters": core.Null()}


def _key_id(spki) -> bytes:
    return hashlib.sha1(spki["public_key"].contents).digest()


def _utc(t: dt.datetime) -> asn1_x509.Time:
    return asn1_x509.Time({"utc_time": t.astimezone(dt.UTC).replace(microsecond=0)})


def _name(cn: str, **extra: str) -> asn1_x509.Name:
    attrs = {"country_name": "KZ", "organization_name": f"{NOT_FOR_PRODUCTION} · GOST test PKI", **extra,
             "common_name": cn}
    return asn1_x509.Name.build(attrs)


def issue_certificate(
    *, subject: asn1_x509.Name, key: gost.GostPrivateKey, issuer: asn1_x509.Name, issuer_key: gost.GostPrivateKey,
    serial: int, not_before: dt.datetime, not_after: dt.datetime, ca: bool, eku: list[str] | None = None,
    crl_url: str | None = None,
) -> asn1_x509.Certificate:
    """A certificate signed with ``issuer_key`` (GOST 2015/512, Streebog-512, the NCA's byte order)."""
    spki = key.public_key_info()
    exts = [
        {"extn_id": "basic_constraints", "critical": True, "extn_value": {"ca": ca}},
        {"extn_id": "key_usage", "critical": True,
         "extn_value": {"key_cert_sign", "crl_sign"} if ca else {"digital_signature", "non_repudiation"}},
        {"extn_id": "key_identifier", "critical": False, "extn_value": _key_id(spki)},
        {"extn_id": "authority_key_identifier", "critical": False,
         "extn_value": {"key_identifier": _key_id(issuer_key.public_key_info())}},
    ]
    if eku:
        exts.append({"extn_id": "extended_key_usage", "critical": False, "extn_value": eku})
    if crl_url:
        exts.append({"extn_id": "crl_distribution_points", "critical": False, "extn_value": [
            {"distribution_point": {"full_name": [
                asn1_x509.GeneralName(name="uniform_resource_identifier", value=crl_url)]}}]})
    tbs = asn1_x509.TbsCertificate({
        "version": "v3", "serial_number": serial, "signature": _signature_algorithm(), "issuer": issuer,
        "validity": {"not_before": _utc(not_before), "not_after": _utc(not_after)},
        "subject": subject, "subject_public_key_info": spki, "extensions": exts,
    })
    return asn1_x509.Certificate({"tbs_certificate": tbs, "signature_algorithm": _signature_algorithm(),
                                  "signature_value": issuer_key.sign(tbs.dump())})


def issue_crl(*, issuer: asn1_x509.Name, issuer_key: gost.GostPrivateKey, this_update: dt.datetime,
              next_update: dt.datetime, revoked: list[tuple[int, dt.datetime]] = (), number: int = 1
              ) -> asn1_crl.CertificateList:
    """A CRL signed in GOST, listing ``revoked`` (serial, date)."""
    tbs = asn1_crl.TbsCertList({
        "version": "v2", "signature": _signature_algorithm(), "issuer": issuer,
        "this_update": _utc(this_update), "next_update": _utc(next_update),
        "revoked_certificates": [{"user_certificate": s, "revocation_date": _utc(t)} for s, t in revoked] or None,
        "crl_extensions": [
            {"extn_id": "crl_number", "critical": False, "extn_value": number},
            {"extn_id": "authority_key_identifier", "critical": False,
             "extn_value": {"key_identifier": _key_id(issuer_key.public_key_info())}},
        ],
    })
    return asn1_crl.CertificateList({"tbs_cert_list": tbs, "signature_algorithm": _signature_algorithm(),
                                     "signature": issuer_key.sign(tbs.dump())})


@dataclass
class GostPKI:
    """The GOST test hierarchy; ``officer`` signs, ``crls`` prove that nothing is revoked."""

    root: asn1_x509.Certificate
    ca: asn1_x509.Certificate
    officer: asn1_x509.Certificate
    officer_key: gost.GostPrivateKey
    ca_key: gost.GostPrivateKey = field(repr=False)
    root_key: gost.GostPrivateKey = field(repr=False)
    crls: list[asn1_crl.CertificateList]
    officer_iin: str

    @property
    def chain(self) -> list[asn1_x509.Certificate]:
        """The signer's certificates as a key container carries them: officer, issuing CA."""
        return [self.officer, self.ca]

    def write(self, directory: Path) -> dict[str, Path]:
        """gost-root.crt (PEM), gost-ca.crt, officer.crt, officer_key.pk8 (PKCS#8 DER), *.crl."""
        directory.mkdir(parents=True, exist_ok=True)
        out = {}
        for name, cert in (("gost-root.crt", self.root), ("gost-ca.crt", self.ca), ("officer.crt", self.officer)):
            (directory / name).write_bytes(pem.armor("CERTIFICATE", cert.dump()))
            out[name] = directory / name
        out["officer_key.pk8"] = directory / "officer_key.pk8"
        out["officer_key.pk8"].write_bytes(self.officer_key.to_pkcs8().dump())
        for i, c in enumerate(self.crls):
            out[f"crl{i}.crl"] = directory / f"crl{i}.crl"
            out[f"crl{i}.crl"].write_bytes(c.dump())
        return out


def build_gost_pki(*, now: dt.datetime, seed: str = "qamqor", officer_name: str = "Серікова Әйгерім",
                   revoked: bool = False) -> GostPKI:
    """Root (10 years), issuing CA (5 years), one head officer (1 year) from ``now - 1 day``; CRLs from now."""
    start = now - dt.timedelta(days=1)
    root_key, ca_key, officer_key = (derive_key(seed, n) for n in ("root", "ca", "officer"))
    root_name = _name(f"ҰЛТТЫҚ КУӘЛАНДЫРУШЫ ОРТАЛЫҚ (GOST) TEST ROOT · {seed}")
    ca_name = _name(f"ҰЛТТЫҚ КУӘЛАНДЫРУШЫ ОРТАЛЫҚ (GOST) TEST · {seed}")
    root = issue_certificate(subject=root_name, key=root_key, issuer=root_name, issuer_key=root_key, serial=1,
                             not_before=start, not_after=start + dt.timedelta(days=3650), ca=True)
    ca = issue_certificate(subject=ca_name, key=ca_key, issuer=root_name, issuer_key=root_key, serial=2,
                           not_before=start, not_after=start + dt.timedelta(days=1825), ca=True,
                           crl_url="http://127.0.0.1/gost/root.crl")
    iin = make_iin("850412", 4, 1601)
    surname, given = officer_name.split(" ", 1)
    officer_subject = _name(officer_name, serial_number=f"IIN{iin}", surname=surname, given_name=given,
                            organizational_unit_name="BIN123456789021", title="head")
    officer = issue_certificate(subject=officer_subject, key=officer_key, issuer=ca_name, issuer_key=ca_key,
                                serial=0x6F5A1, not_before=start, not_after=start + dt.timedelta(days=365),
                                ca=False, eku=[_EKU_SIGN, _EKU_HEAD], crl_url="http://127.0.0.1/gost/ca.crl")
    next_update = now + dt.timedelta(days=30)
    crls = [
        issue_crl(issuer=root_name, issuer_key=root_key, this_update=now, next_update=next_update),
        issue_crl(issuer=ca_name, issuer_key=ca_key, this_update=now, next_update=next_update,
                  revoked=[(officer.serial_number, now)] if revoked else []),
    ]
    return GostPKI(root=root, ca=ca, officer=officer, officer_key=officer_key, ca_key=ca_key, root_key=root_key,
                   crls=crls, officer_iin=iin)

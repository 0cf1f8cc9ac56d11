"""A GOST test PKI shaped like the NCA's GOST hierarchy, NOT for production.

Root → NCA-like issuing CA → officers, with the CA's OCSP responder and a timestamp authority, everything GOST
R 34.10-2015 512-bit on TC26 512-A with Streebog-512 under the Kazakh OIDs, in the NCA's byte order
(:mod:`signing.gost`), built with asn1crypto and gostcrypto.  One CRL per CA (the root's about the CA, the
OCSP responder and the TSA; the CA's about its officers).  With ``url_prefix`` the certificates name where
their status is served (CRL distribution points, the OCSP responder in the AIA) by
:mod:`signing.testing.gost_services`; without, the URLs are placeholders and the CRLs travel in the CMS.

Deterministic: the keys are derived from ``seed`` (Streebog-512 of the seed and the holder's label, reduced
modulo the curve order) and the dates from ``now``, so a test builds the same PKI every run.  A different
``seed`` is a "foreign" PKI (its root is not ours).  The demo passes a random seed.

The officers' keys are written as the NCA issues them: a PKCS#12 container ``GOST512_<id>.p12`` in the NCA's
own layout (:mod:`signing.gost_p12`), the officer's certificate and the issuing CA's beside the key.  The profile
follows :mod:`signing.testing.pki`: ``serialNumber`` IIN…, ``OU`` BIN…, the role in ``title``, "DEMO — NOT FOR
PRODUCTION" in every name.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from asn1crypto import core, pem
from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509

from signing import gost

from .pki import _ROLE_EKU, NOT_FOR_PRODUCTION, make_iin

_ORDER = gost._CURVE_512_A["q"]
_EKU_SIGN = "1.3.6.1.5.5.7.3.4"


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
    crl_url: str | None = None, ocsp_url: str | None = None, key_usage: set[str] | None = None,
    critical_eku: bool = False, ocsp_no_check: bool = False,
) -> asn1_x509.Certificate:
    """A certificate signed with ``issuer_key`` (GOST 2015/512, Streebog-512, the NCA's byte order)."""
    spki = key.public_key_info()
    usage = key_usage or ({"key_cert_sign", "crl_sign"} if ca else {"digital_signature", "non_repudiation"})
    exts = [
        {"extn_id": "basic_constraints", "critical": True, "extn_value": {"ca": ca}},
        {"extn_id": "key_usage", "critical": True, "extn_value": usage},
        {"extn_id": "key_identifier", "critical": False, "extn_value": _key_id(spki)},
        {"extn_id": "authority_key_identifier", "critical": False,
         "extn_value": {"key_identifier": _key_id(issuer_key.public_key_info())}},
    ]
    if eku:
        exts.append({"extn_id": "extended_key_usage", "critical": critical_eku, "extn_value": eku})
    if ocsp_no_check:
        exts.append({"extn_id": "ocsp_no_check", "critical": False, "extn_value": None})
    if crl_url:
        exts.append({"extn_id": "crl_distribution_points", "critical": False, "extn_value": [
            {"distribution_point": {"full_name": [
                asn1_x509.GeneralName(name="uniform_resource_identifier", value=crl_url)]}}]})
    if ocsp_url:
        exts.append({"extn_id": "authority_information_access", "critical": False, "extn_value": [
            {"access_method": "ocsp",
             "access_location": asn1_x509.GeneralName(name="uniform_resource_identifier", value=ocsp_url)}]})
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
class GostOfficer:
    """One GOST key holder: certificate, key, and who they are (as :class:`signing.testing.pki.Officer`)."""

    id: str
    name: str
    iin: str
    role: str
    bin: str
    cert: asn1_x509.Certificate
    key: gost.GostPrivateKey = field(repr=False)
    revoked_at: dt.datetime | None = None


#: the officers :func:`build_gost_pki` makes by default: one head
DEFAULT_OFFICERS = ({"id": "head", "name": "Серікова Әйгерім", "role": "head", "bin": "123456789021"},)


@dataclass
class GostPKI:
    """The GOST test hierarchy; ``officer`` is the first officer, ``crls`` prove what is (not) revoked."""

    root: asn1_x509.Certificate
    ca: asn1_x509.Certificate
    officer: asn1_x509.Certificate
    officer_key: gost.GostPrivateKey = field(repr=False)
    ca_key: gost.GostPrivateKey = field(repr=False)
    root_key: gost.GostPrivateKey = field(repr=False)
    crls: list[asn1_crl.CertificateList]
    officer_iin: str
    ocsp_cert: asn1_x509.Certificate | None = None
    ocsp_key: gost.GostPrivateKey | None = field(default=None, repr=False)
    tsa_cert: asn1_x509.Certificate | None = None
    tsa_key: gost.GostPrivateKey | None = field(default=None, repr=False)
    officers: dict[str, GostOfficer] = field(default_factory=dict)
    url_prefix: str | None = None
    now: dt.datetime | None = None
    revocations: dict[int, dt.datetime] = field(default_factory=dict)  # serial → when (the CA's)

    @property
    def chain(self) -> list[asn1_x509.Certificate]:
        """The signer's certificates as a key container carries them: officer, issuing CA."""
        return [self.officer, self.ca]

    @property
    def tsa_url(self) -> str | None:
        return f"{self.url_prefix}/tsa" if self.url_prefix else None

    def revoked(self) -> dict[int, dt.datetime]:
        """The CA's revoked serials (what its CRL lists and its OCSP responder answers)."""
        return dict(self.revocations)

    def ca_crl(self, now: dt.datetime) -> asn1_crl.CertificateList:
        return issue_crl(issuer=self.ca.subject, issuer_key=self.ca_key, this_update=now,
                         next_update=now + dt.timedelta(days=30), revoked=sorted(self.revoked().items()))

    def root_crl(self, now: dt.datetime) -> asn1_crl.CertificateList:
        return issue_crl(issuer=self.root.subject, issuer_key=self.root_key, this_update=now,
                         next_update=now + dt.timedelta(days=30))

    def write(self, directory: Path, *, password: str = "gost-demo", iterations: int | None = None
              ) -> dict[str, Path]:
        """gost-root.crt (PEM), gost-ca.crt, gost-ocsp.crt, gost-tsa.crt, officer.crt, the officers'
        ``GOST512_<id>.p12`` containers (NCA's layout, protected with ``password``), *.crl, and ``gost-pki.json``
        with the CAs', responder's and TSA's keys for :mod:`signing.testing.gost_services` (test material:
        unencrypted).  ``iterations``: the containers' (default the NCA's, :data:`signing.gost_p12.ITERATIONS`)."""
        from signing.gost_keys import write_p12_file
        from signing.gost_p12 import ITERATIONS

        directory.mkdir(parents=True, exist_ok=True)
        out = {}
        named = [("gost-root.crt", self.root), ("gost-ca.crt", self.ca), ("officer.crt", self.officer),
                 ("gost-ocsp.crt", self.ocsp_cert), ("gost-tsa.crt", self.tsa_cert)]
        for name, cert in named:
            if cert is not None:
                (directory / name).write_bytes(pem.armor("CERTIFICATE", cert.dump()))
                out[name] = directory / name
        for i, c in enumerate(self.crls):
            out[f"crl{i}.crl"] = directory / f"crl{i}.crl"
            out[f"crl{i}.crl"].write_bytes(c.dump())
        for o in self.officers.values():
            name = f"GOST512_{o.id}.p12"
            out[name] = write_p12_file(directory / name, o.key, o.cert, [self.ca], password,
                                       iterations=iterations or ITERATIONS)
        state = {
            "warning": f"{NOT_FOR_PRODUCTION}: these keys are public test material",
            "url_prefix": self.url_prefix, "now": (self.now or dt.datetime.now(dt.UTC)).isoformat(),
            "keys": {"root": self.root_key.d, "ca": self.ca_key.d,
                     "ocsp": self.ocsp_key.d if self.ocsp_key else None,
                     "tsa": self.tsa_key.d if self.tsa_key else None},
            "revoked": {str(s): t.isoformat() for s, t in self.revoked().items()},
            "officers": [{"id": o.id, "name": o.name, "iin": o.iin, "role": o.role, "bin": o.bin,
                          "key_file": f"GOST512_{o.id}.p12", "password": password} for o in self.officers.values()],
        }
        out["gost-pki.json"] = directory / "gost-pki.json"
        out["gost-pki.json"].write_text(json.dumps(state, ensure_ascii=False, indent=2), encoding="utf-8")
        return out


def load_gost_pki(directory: Path) -> GostPKI:
    """The PKI :meth:`GostPKI.write` wrote (for the services process: the certificates and the CAs' keys)."""
    directory = Path(directory)
    state = json.loads((directory / "gost-pki.json").read_text(encoding="utf-8"))

    def cert(name: str) -> asn1_x509.Certificate | None:
        p = directory / name
        return asn1_x509.Certificate.load(pem.unarmor(p.read_bytes())[2]) if p.exists() else None

    k = {n: gost.GostPrivateKey(d) if d else None for n, d in state["keys"].items()}
    officer = cert("officer.crt")
    revoked = {int(s): dt.datetime.fromisoformat(t) for s, t in state["revoked"].items()}
    pki = GostPKI(root=cert("gost-root.crt"), ca=cert("gost-ca.crt"), officer=officer,
                  officer_key=None,  # the services need no officer's key (it stays in its key file)
                  ca_key=k["ca"], root_key=k["root"], crls=[], officer_iin="", ocsp_cert=cert("gost-ocsp.crt"),
                  ocsp_key=k["ocsp"], tsa_cert=cert("gost-tsa.crt"), tsa_key=k["tsa"],
                  url_prefix=state["url_prefix"], now=dt.datetime.fromisoformat(state["now"]), revocations=revoked)
    return pki


def build_gost_pki(*, now: dt.datetime, seed: str = "qamqor", officer_name: str | None = None,
                   revoked: bool = False, officers: tuple[dict, ...] | list[dict] | None = None,
                   url_prefix: str | None = None) -> GostPKI:
    """Root (10 years), issuing CA (5 years), OCSP responder and TSA (3 years), officers (1 year), all from
    ``now - 1 day``; CRLs from now.  ``officers``: dicts of id, name, role, bin (and iin); ``revoked``: the
    first officer is revoked at ``now``."""
    start = now - dt.timedelta(days=1)
    specs = [dict(o) for o in (officers or DEFAULT_OFFICERS)]
    if officer_name:
        specs[0]["name"] = officer_name
    root_key, ca_key, ocsp_key, tsa_key = (derive_key(seed, n) for n in ("root", "ca", "ocsp", "tsa"))
    base = url_prefix or "http://127.0.0.1/gost"
    root_name = _name(f"ҰЛТТЫҚ КУӘЛАНДЫРУШЫ ОРТАЛЫҚ (GOST) TEST ROOT · {seed}")
    ca_name = _name(f"ҰЛТТЫҚ КУӘЛАНДЫРУШЫ ОРТАЛЫҚ (GOST) TEST · {seed}")
    root = issue_certificate(subject=root_name, key=root_key, issuer=root_name, issuer_key=root_key, serial=1,
                             not_before=start, not_after=start + dt.timedelta(days=3650), ca=True)
    ca = issue_certificate(subject=ca_name, key=ca_key, issuer=root_name, issuer_key=root_key, serial=2,
                           not_before=start, not_after=start + dt.timedelta(days=1825), ca=True,
                           crl_url=f"{base}/root.crl")
    three_years = start + dt.timedelta(days=1095)
    # NCA's responder and TSA are issued by the NCA CA.  The responder's status is the CA's CRL, not
    # id-pkix-ocsp-nocheck: certvalidator 0.33 checks a no-check responder's certificate in a context of its
    # own that drops the signature validator, so a GOST responder certificate would never verify there
    ocsp_cert = issue_certificate(subject=_name(f"OCSP ҰКО (GOST) TEST · {seed}"), key=ocsp_key, issuer=ca_name,
                                  issuer_key=ca_key, serial=3, not_before=start, not_after=three_years, ca=False,
                                  eku=["ocsp_signing"], key_usage={"digital_signature", "non_repudiation"},
                                  crl_url=f"{base}/ca.crl")
    tsa_cert = issue_certificate(subject=_name(f"TSA ҰКО (GOST) TEST · {seed}"), key=tsa_key, issuer=ca_name,
                                 issuer_key=ca_key, serial=4, not_before=start, not_after=three_years, ca=False,
                                 eku=["time_stamping"], critical_eku=True,
                                 key_usage={"digital_signature", "non_repudiation"},
                                 crl_url=f"{base}/ca.crl", ocsp_url=f"{base}/ocsp" if url_prefix else None)
    made: dict[str, GostOfficer] = {}
    for i, spec in enumerate(specs):
        key = derive_key(seed, "officer" if i == 0 else f"officer-{spec['id']}")
        iin = spec.get("iin") or make_iin("850412", 4, 1601 + 37 * i)
        parts = spec["name"].split(" ")
        subject = _name(spec["name"], serial_number=f"IIN{iin}", surname=parts[0],
                        given_name=" ".join(parts[1:]) or parts[0],
                        organizational_unit_name=f"BIN{spec['bin']}", title=spec["role"])
        cert = issue_certificate(subject=subject, key=key, issuer=ca_name, issuer_key=ca_key, serial=0x6F5A1 + i,
                                 not_before=start, not_after=start + dt.timedelta(days=365), ca=False,
                                 eku=[_EKU_SIGN, _ROLE_EKU.get(spec["role"], _ROLE_EKU["head"])],
                                 crl_url=f"{base}/ca.crl", ocsp_url=f"{base}/ocsp" if url_prefix else None)
        made[spec["id"]] = GostOfficer(id=spec["id"], name=spec["name"], iin=iin, role=spec["role"],
                                       bin=spec["bin"], cert=cert, key=key,
                                       revoked_at=now if (revoked and i == 0) else None)
    first = next(iter(made.values()))
    pki = GostPKI(root=root, ca=ca, officer=first.cert, officer_key=first.key, ca_key=ca_key, root_key=root_key,
                  crls=[], officer_iin=first.iin, ocsp_cert=ocsp_cert, ocsp_key=ocsp_key, tsa_cert=tsa_cert,
                  tsa_key=tsa_key, officers=made, url_prefix=url_prefix, now=now,
                  revocations={o.cert.serial_number: o.revoked_at for o in made.values() if o.revoked_at})
    pki.crls = [pki.root_crl(now), pki.ca_crl(now)]
    return pki

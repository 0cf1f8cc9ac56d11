"""A test and demo PKI shaped like Kazakhstan's NCA (root → issuing CA → officers), NOT for production.

Built as a certomancer configuration (keys made here with ``cryptography``), so the same files serve the
OCSP responder, the CRLs and the timestamp authority: ``certomancer --config <dir>/certomancer.yml animate
--aiohttp --port <port>``.  The profile follows NCA signing certificates (research/signing-anchors.md §5.1):

- subject ``serialNumber`` = ``IIN`` + 12 digits, ``OU`` = ``BIN`` + 12 digits, ``C`` = KZ, CN/SN/G;
- key usage digitalSignature + nonRepudiation (signing keys, ``RSA256_*.p12``); the authentication-only
  certificate has digitalSignature + keyEncipherment and the client-auth EKU, like NCA's ``AUTH_*`` keys;
- **the role** is carried in the subject ``title`` attribute (``head``, ``inspector``, ``operator``,
  ``provider_seal``); that is what :mod:`signing.policy` reads.  The EKU additionally carries the NCA-style
  purpose OIDs (1.3.6.1.5.5.7.3.4 plus 1.2.398.3.3.4.1.2.x), for resemblance only;
- every name says "DEMO — NOT FOR PRODUCTION".
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from pipeline.core.iin import check_digit

NOT_FOR_PRODUCTION = "DEMO — NOT FOR PRODUCTION"
ARCH = "qamqor-demo"

# NCA role purposes (NCANode CertificateKeyUser); resemblance only, the policy reads `title`.
_EKU_SIGN = "1.3.6.1.5.5.7.3.4"
_ROLE_EKU = {
    "head": "1.2.398.3.3.4.1.2.1",
    "inspector": "1.2.398.3.3.4.1.2.5",
    "operator": "1.2.398.3.3.4.1.2.5",
    "provider_seal": "1.2.398.3.3.4.1.2",
}


def make_iin(birth: str, century_sex: int, serial: int) -> str:
    """A valid IIN for ``birth`` (YYMMDD): the first serial from ``serial`` up whose check digit exists."""
    while True:
        first = f"{birth}{century_sex}{serial:04d}"
        k = check_digit(first)  # pipeline.core.iin: the one implementation of the IIN's check digit
        if k is not None:
            return first + str(k)
        serial += 1


@dataclass
class Officer:
    """One key holder of the demo PKI (``describe()`` lists these)."""

    id: str
    name: str
    iin: str
    role: str
    office_code: str
    bin: str
    p12: str
    password: str
    cert_label: str
    key_type: str = "RSA-2048"
    note: str = ""


@dataclass
class DemoPKI:
    """Files of a demo/test PKI: trust roots, officers' PKCS#12 files, the certomancer config."""

    directory: Path
    url_prefix: str
    root_cert: Path
    ca_cert: Path
    tsa_cert: Path
    certomancer_config: Path
    officers: dict[str, Officer] = field(default_factory=dict)
    extra: dict[str, Officer] = field(default_factory=dict)

    @property
    def trust_roots(self) -> list[Path]:
        return [self.root_cert]

    @property
    def tsa_url(self) -> str:
        return f"{self.url_prefix}/{ARCH}/tsa/tsa"

    def officer(self, officer_id: str) -> Officer:
        return self.officers.get(officer_id) or self.extra[officer_id]

    def describe(self) -> list[dict]:
        return [asdict(o) for o in self.officers.values()]

    def to_config(self) -> dict:
        """What ``qamqor demo`` writes into its configuration (the demo's secrets are insecure by design)."""
        return {
            "warning": f"{NOT_FOR_PRODUCTION}: these keys and passwords are public test material",
            "trust_roots": [str(self.root_cert)],
            "tsa_url": self.tsa_url,
            "certomancer_config": str(self.certomancer_config),
            "serve_with": f"python -m signing.testing.animator --config {self.certomancer_config} animate "
            f"--aiohttp --port {self.url_prefix.rsplit(':', 1)[-1]}",
            "officers": self.describe(),
        }


def _pem_key(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _iso(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S+0000")


def _ku(*bits: str) -> dict:
    return {"id": "key_usage", "critical": True, "smart-value": {"schema": "key-usage", "params": list(bits)}}


def _crl_dp(repo: str) -> dict:
    return {"id": "crl_distribution_points", "smart-value": {"schema": "crl-dist-url", "params": {"crl-repo-names": [repo]}}}


def _aia(ocsp: str | None, repo: str) -> dict:
    params: dict = {"ca-issuer-links": [{"repo": repo}]}
    if ocsp:
        params["ocsp-responder-names"] = [ocsp]
    return {"id": "authority_information_access", "smart-value": {"schema": "aia-urls", "params": params}}


def build_pki(
    out_dir: Path,
    provider_bin: str,
    psc_bin: str,
    *,
    url_prefix: str = "http://127.0.0.1:9777",
    provider_code: str = "DEMO-PROVIDER",
    psc_code: str = "DEMO-PSC",
    with_test_certificates: bool = False,
    now: dt.datetime | None = None,
    people: dict[str, dict] | None = None,
) -> DemoPKI:
    """Make keys, a certomancer config, certificates and PKCS#12 files under ``out_dir``.

    ``with_test_certificates`` adds the negative cases the tests need: an ECDSA P-256 inspector, a revoked, an
    expired, an authentication-only and a wrong-organisation certificate.
    """
    out_dir = Path(out_dir)
    keys_dir = out_dir / "keys"
    keys_dir.mkdir(parents=True, exist_ok=True)
    now = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    wrong_bin = "990340001234" if provider_bin != "990340001234" else "990340005678"

    officers: list[dict] = [
        dict(id="head", name="Сейітов Ерлан Болатұлы", sn="Сейітов", g="Ерлан", iin=make_iin("780322", 3, 45),
             role="head", org=provider_bin, office=provider_code),
        dict(id="inspector-1", name="Жақсыбекова Әлия Нұрланқызы", sn="Жақсыбекова", g="Әлия",
             iin=make_iin("900101", 4, 1), role="inspector", org=provider_bin, office=provider_code),
        dict(id="inspector-2", name="Құрманов Дәулет Серікұлы", sn="Құрманов", g="Дәулет",
             iin=make_iin("850615", 3, 120), role="inspector", org=provider_bin, office=provider_code),
        dict(id="operator", name="Иванова Мария Петровна", sn="Иванова", g="Мария", iin=make_iin("920430", 4, 77),
             role="operator", org=psc_bin, office=psc_code),
        dict(id="provider-seal", name="Білім бөлімі (жүйелік мөр)", sn=None, g=None, iin=None,
             role="provider_seal", org=provider_bin, office=provider_code),
    ]
    # ``people``: officer id → {name, iin} from the case events, so the demo's certificates name the officials
    # the documents name (``qamqor demo`` passes the examples' head, inspectors and PSC operator).
    for o in officers:
        who = (people or {}).get(o["id"])
        if who:
            parts = who["name"].split()
            o.update(name=who["name"], sn=parts[0], g=parts[1] if len(parts) > 1 else parts[0],
                     iin=who.get("iin") or o["iin"])
    extra: list[dict] = []
    if with_test_certificates:
        extra = [
            dict(id="inspector-ec", name="Әбенова Гүлнұр Маратқызы", sn="Әбенова", g="Гүлнұр",
                 iin=make_iin("880808", 4, 300), role="inspector", org=provider_bin, office=provider_code, ec=True),
            dict(id="revoked", name="Оспанов Нұрлан Асқарұлы", sn="Оспанов", g="Нұрлан",
                 iin=make_iin("750101", 3, 500), role="head", org=provider_bin, office=provider_code,
                 note="revoked"),
            dict(id="expired", name="Ахметова Сәуле Ғаниқызы", sn="Ахметова", g="Сәуле",
                 iin=make_iin("800202", 4, 600), role="head", org=provider_bin, office=provider_code,
                 note="expired"),
            dict(id="auth-only", name="Сейітов Ерлан Болатұлы", sn="Сейітов", g="Ерлан",
                 iin=officers[0]["iin"], role="head", org=provider_bin, office=provider_code, note="auth-only"),
            dict(id="wrong-org", name="Серікова Айгүл Талғатқызы", sn="Серікова", g="Айгүл",
                 iin=make_iin("870707", 4, 700), role="head", org=wrong_bin, office="OTHER", note="wrong-org"),
        ]

    keyspecs: dict[str, object] = {}

    def newkey(label: str, ec_key: bool = False):
        key = ec.generate_private_key(ec.SECP256R1()) if ec_key else rsa.generate_private_key(65537, 2048)
        (keys_dir / f"{label}.key.pem").write_bytes(_pem_key(key))
        keyspecs[label] = key
        return key

    for label in ("root", "nca", "nca-ocsp", "tsa"):
        newkey(label)

    def serial() -> int:
        # NCA serials are long random numbers; fixed in the config so every process builds the same certificates
        return secrets.randbits(152) | (1 << 152)

    ca_name = {"country-name": "KZ", "organization-name": NOT_FOR_PRODUCTION}
    entities = {
        "root": {**ca_name, "common-name": "НЕГІЗГІ КУӘЛАНДЫРУШЫ ОРТАЛЫҚ DEMO"},
        "nca": {**ca_name, "common-name": "ҰЛТТЫҚ КУӘЛАНДЫРУШЫ ОРТАЛЫҚ DEMO"},
        "nca-ocsp": {**ca_name, "common-name": "OCSP ҰКО DEMO"},
        "tsa": {**ca_name, "common-name": "TSA ҰКО DEMO"},
    }
    long = {"valid-from": _iso(now - dt.timedelta(days=1)), "valid-to": _iso(now + dt.timedelta(days=365 * 20))}
    certs: dict[str, dict] = {
        "root": {
            "subject": "root", "issuer": "root", "serial": serial(), "validity": long,
            "extensions": [{"id": "basic_constraints", "critical": True, "value": {"ca": True}},
                           _ku("digital_signature", "key_cert_sign", "crl_sign")],
        },
        "nca": {
            "subject": "nca", "issuer": "root", "serial": serial(), "validity": long,
            "extensions": [{"id": "basic_constraints", "critical": True, "value": {"ca": True, "path-len-constraint": 0}},
                           _ku("digital_signature", "key_cert_sign", "crl_sign"), _crl_dp("root"), _aia(None, "root")],
        },
        "nca-ocsp": {
            "subject": "nca-ocsp", "issuer": "nca", "serial": serial(), "validity": long,
            "extensions": [_ku("digital_signature"), {"id": "extended_key_usage", "critical": True, "value": ["ocsp_signing"]},
                           {"id": "ocsp_no_check"}],
        },
        "tsa": {
            "subject": "tsa", "issuer": "root", "serial": serial(), "validity": long,
            "extensions": [_ku("digital_signature"), {"id": "extended_key_usage", "critical": True, "value": ["time_stamping"]},
                           _crl_dp("root")],
        },
    }

    result_officers: dict[str, Officer] = {}
    result_extra: dict[str, Officer] = {}
    passwords_rng = secrets.SystemRandom()
    for spec, target in [(o, result_officers) for o in officers] + [(o, result_extra) for o in extra]:
        label = spec["id"]
        newkey(label, ec_key=spec.get("ec", False))
        org_name = f"{NOT_FOR_PRODUCTION} · {spec['office']}"
        ent = {"country-name": "KZ", "organization-name": org_name, "organizational-unit-name": f"BIN{spec['org']}",
               "common-name": spec["name"], "title": spec["role"]}
        if spec["iin"]:
            ent.update({"serial-number": f"IIN{spec['iin']}", "surname": spec["sn"], "given-name": spec["g"]})
        entities[label] = ent
        note = spec.get("note", "")
        validity = {"valid-from": _iso(now - dt.timedelta(days=1)), "valid-to": _iso(now + dt.timedelta(days=365))}
        if note == "expired":
            validity = {"valid-from": _iso(now - dt.timedelta(days=400)), "valid-to": _iso(now - dt.timedelta(days=35))}
        if note == "auth-only":
            exts = [_ku("digital_signature", "key_encipherment"),
                    {"id": "extended_key_usage", "value": ["client_auth"]}]
        else:
            exts = [_ku("digital_signature", "non_repudiation"),
                    {"id": "extended_key_usage", "value": [_EKU_SIGN, _ROLE_EKU[spec["role"]]]}]
        exts += [_crl_dp("nca"), _aia("nca", "nca")]
        cert = {"subject": label, "issuer": "nca", "serial": serial(), "validity": validity, "extensions": exts}
        if note == "revoked":
            cert["revocation"] = {"revoked-since": _iso(now - dt.timedelta(minutes=10)), "reason": "key_compromise"}
        certs[label] = cert
        prefix = "ECDSA256" if spec.get("ec") else "RSA256"
        password = "".join(passwords_rng.choice("abcdefghjkmnpqrstuvwxyz23456789") for _ in range(12))
        target[label] = Officer(
            id=label, name=spec["name"], iin=spec["iin"] or "", role=spec["role"], office_code=spec["office"],
            bin=spec["org"], p12=str(out_dir / f"{prefix}_{label}.p12"), password=password, cert_label=label,
            key_type="ECDSA-P256" if spec.get("ec") else "RSA-2048", note=note,
        )

    config = {
        "external-url-prefix": url_prefix,
        "keysets": {ARCH: {"path-prefix": "keys", "keys": {k: {"path": f"{k}.key.pem"} for k in keyspecs}}},
        "pki-architectures": {
            ARCH: {
                "keyset": ARCH,
                "entities": entities,
                "certs": certs,
                "services": {
                    "ocsp": {"nca": {"for-issuer": "nca", "responder-cert": "nca-ocsp", "signing-key": "nca-ocsp"}},
                    "crl-repo": {
                        "root": {"for-issuer": "root", "signing-key": "root", "simulated-update-schedule": "P30D"},
                        "nca": {"for-issuer": "nca", "signing-key": "nca", "simulated-update-schedule": "P1D"},
                    },
                    "cert-repo": {"root": {"for-issuer": "root", "publish-issued-certs": True},
                                  "nca": {"for-issuer": "nca", "publish-issued-certs": True}},
                    "time-stamping": {"tsa": {"signing-key": "tsa", "signing-cert": "tsa"}},
                },
            }
        },
    }
    cfg_path = out_dir / "certomancer.yml"
    cfg_path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")

    from certomancer.registry import CertomancerConfig  # deferred: certomancer is only needed to build

    arch = CertomancerConfig.from_file(str(cfg_path)).get_pki_arch(ARCH)

    def cert_pem(label: str) -> bytes:
        return arch.get_cert(label).dump()

    from cryptography import x509 as pyca_x509

    def pyca(label: str):
        return pyca_x509.load_der_x509_certificate(cert_pem(label))

    paths = {}
    for label in ("root", "nca", "tsa", "nca-ocsp"):
        p = out_dir / f"{label}.crt"
        p.write_bytes(pyca(label).public_bytes(serialization.Encoding.PEM))
        paths[label] = p
    chain = [pyca("nca"), pyca("root")]
    for o in list(result_officers.values()) + list(result_extra.values()):
        data = pkcs12.serialize_key_and_certificates(
            name=o.id.encode(), key=keyspecs[o.id], cert=pyca(o.cert_label), cas=chain,
            encryption_algorithm=serialization.BestAvailableEncryption(o.password.encode()),
        )
        Path(o.p12).write_bytes(data)
    pki = DemoPKI(directory=out_dir, url_prefix=url_prefix, root_cert=paths["root"], ca_cert=paths["nca"],
                  tsa_cert=paths["tsa"], certomancer_config=cfg_path, officers=result_officers, extra=result_extra)
    (out_dir / "pki.json").write_text(json.dumps(pki.to_config(), ensure_ascii=False, indent=2), encoding="utf-8")
    return pki


def create_demo_pki(out_dir: Path, provider_bin: str, psc_bin: str, **kwargs) -> DemoPKI:
    """The PKI ``qamqor demo`` makes: head, two inspectors, a PSC operator and the provider's system seal."""
    return build_pki(Path(out_dir), provider_bin, psc_bin, **kwargs)

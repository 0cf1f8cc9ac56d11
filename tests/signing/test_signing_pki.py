"""The demo/test PKI has the Kazakh NCA certificate profile and is clearly not for production."""

from __future__ import annotations

import re
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from signing_helpers import PROVIDER_BIN, PSC_BIN

from pipeline.core.iin import check_digit as iin_check_digit


def _cert(officer):
    _, cert, chain = pkcs12.load_key_and_certificates(Path(officer.p12).read_bytes(), officer.password.encode())
    return cert, chain


def _attr(cert, oid):
    vals = cert.subject.get_attributes_for_oid(oid)
    return vals[0].value if vals else None


def test_demo_officers_roles_and_files(pki):
    roles = {o.id: o.role for o in pki.officers.values()}
    assert roles == {"head": "head", "inspector-1": "inspector", "inspector-2": "inspector", "operator": "operator",
                     "provider-seal": "provider_seal"}
    for o in pki.officers.values():
        assert re.fullmatch(r"RSA256_[\w-]+\.p12", Path(o.p12).name)
        assert o.password and Path(o.p12).is_file()
        assert o.office_code
    assert pki.officer("operator").bin == PSC_BIN and pki.officer("head").bin == PROVIDER_BIN
    described = pki.describe()
    assert {"id", "name", "iin", "role", "office_code", "p12", "password"} <= set(described[0])
    assert "NOT FOR PRODUCTION" in pki.to_config()["warning"]


def test_signing_certificate_profile(pki):
    officer = pki.officer("inspector-1")
    cert, chain = _cert(officer)
    assert _attr(cert, NameOID.SERIAL_NUMBER) == f"IIN{officer.iin}"
    assert iin_check_digit(officer.iin[:11]) == int(officer.iin[11])
    assert _attr(cert, NameOID.ORGANIZATIONAL_UNIT_NAME) == f"BIN{PROVIDER_BIN}"
    assert _attr(cert, NameOID.TITLE) == "inspector"
    assert "NOT FOR PRODUCTION" in _attr(cert, NameOID.ORGANIZATION_NAME)
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature and ku.content_commitment and not ku.key_encipherment
    assert cert.public_key().key_size == 2048
    assert [c.subject for c in chain] == [x509.load_pem_x509_certificate(p.read_bytes()).subject
                                          for p in (pki.ca_cert, pki.root_cert)]
    for c in chain:
        assert "NOT FOR PRODUCTION" in _attr(c, NameOID.ORGANIZATION_NAME)


def test_negative_certificates(pki):
    auth, _ = _cert(pki.officer("auth-only"))
    ku = auth.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature and not ku.content_commitment
    assert ExtendedKeyUsageOID.CLIENT_AUTH in auth.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    expired, _ = _cert(pki.officer("expired"))
    assert expired.not_valid_after_utc < expired.not_valid_before_utc.__class__.now(expired.not_valid_after_utc.tzinfo)
    wrong, _ = _cert(pki.officer("wrong-org"))
    assert _attr(wrong, NameOID.ORGANIZATIONAL_UNIT_NAME) != f"BIN{PROVIDER_BIN}"
    ec_cert, _ = _cert(pki.officer("inspector-ec"))
    assert ec_cert.public_key().curve.name == "secp256r1"


def test_create_demo_pki(tmp_path):
    from signing.testing import create_demo_pki

    demo = create_demo_pki(tmp_path / "pki", "123456789012", "210987654321")
    assert len(demo.officers) == 5 and not demo.extra
    assert sorted(p.name for p in (tmp_path / "pki").glob("*.p12")) == sorted(
        Path(o.p12).name for o in demo.officers.values())
    assert (tmp_path / "pki" / "pki.json").is_file()

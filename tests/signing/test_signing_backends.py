"""The other backends: a real SoftHSM2 PKCS#11 token, and an external signer (another process makes the CMS)."""

from __future__ import annotations

import hashlib
import io
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from signing_helpers import make_pdf, sign_as, signing_options, stamp_for

from pipeline.errors import ExitCode
from signing import (
    ExternalSigner,
    KeyNotFound,
    PreparedSignature,
    SigningFailed,
    SigningRefused,
    WrongSecret,
    load_pkcs11,
    load_pkcs12,
    verify_pdf,
)

# --- PKCS#11 -----------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_pkcs11_token_signs(pki, softhsm_token, bb_options, pdfsig):
    t = softhsm_token
    with load_pkcs11(t.module, t.label, t.key_label, t.pin, ca_chain=[pki.ca_cert]) as key:
        assert key.certificate.subject.native["serial_number"] == f"IIN{pki.officer('head').iin}"
        pdf = make_pdf(["sig-head"], case="P11")
        signed = sign_as(pki, {"head": key}, "head", pdf, "sig-head", "order", bb_options)
    report = verify_pdf(signed, trust_roots=[pki.root_cert])
    assert report.valid, report.format_text()
    assert report.signatures[0].signer_iin == pki.officer("head").iin
    pdfsig(signed, 1)


@pytest.mark.slow
def test_pkcs11_wrong_pin_and_missing_token(softhsm_token):
    t = softhsm_token
    with pytest.raises(WrongSecret) as e:
        load_pkcs11(t.module, t.label, t.key_label, "000000")
    assert e.value.exit_code == ExitCode.signing_failed
    with pytest.raises(KeyNotFound):
        load_pkcs11(t.module, "no-such-token", t.key_label, t.pin)
    with pytest.raises(KeyNotFound):
        load_pkcs11(t.module, t.label, "no-such-key", t.pin)
    with pytest.raises(KeyNotFound):
        load_pkcs11("/nonexistent/libpkcs11.so", t.label, t.key_label, t.pin)


# --- external signer (NCALayer / Kalkan shape) ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def outside_key(pki, tmp_path_factory):
    """The head's key as PEM files for the outside process (as if it sat in NCALayer)."""
    officer = pki.officer("head")
    key, cert, chain = pkcs12.load_key_and_certificates(Path(officer.p12).read_bytes(), officer.password.encode())
    d = tmp_path_factory.mktemp("outside")
    (d / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
    (d / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (d / "chain.pem").write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain))
    return d


def openssl_cms(outside: Path, data: bytes) -> bytes:
    """Another process makes the detached CAdES CMS over the bytes to be signed."""
    res = subprocess.run(
        ["openssl", "cms", "-sign", "-binary", "-outform", "DER", "-md", "sha256", "-cades", "-nosmimecap",
         "-signer", str(outside / "cert.pem"), "-inkey", str(outside / "key.pem"),
         "-certfile", str(outside / "chain.pem")],
        input=data, capture_output=True, check=True,
    )
    return res.stdout


def _prepare(pki, keys, pdf, options, **kw):
    signer = ExternalSigner(options)
    officer = pki.officer("head")
    prepared = signer.prepare(pdf, "sig-head", certificate=keys["head"].certificate, chain=keys["head"].chain,
                              approved_sha256=hashlib.sha256(pdf).hexdigest(), officer_iin=officer.iin,
                              document_kind="order", stamp=stamp_for(officer), **kw)
    return signer, prepared


def test_external_cms_from_another_process(pki, keys, outside_key, bb_options, pdfsig):
    pdf = make_pdf(["sig-head"], case="EXT")
    signer, prepared = _prepare(pki, keys, pdf, bb_options)
    assert prepared.digest == hashlib.sha256(prepared.to_be_signed).digest()
    cms = openssl_cms(outside_key, prepared.to_be_signed)
    signed = signer.finish(prepared, cms)
    assert signed.startswith(pdf)
    report = verify_pdf(signed, trust_roots=[pki.root_cert])
    assert report.valid, report.format_text()
    assert report.signatures[0].signer_iin == pki.officer("head").iin and report.signatures[0].level == "B-B"
    pdfsig(signed, 1)


def test_external_cms_over_other_bytes_or_by_another_key_is_refused(pki, keys, outside_key, bb_options, tmp_path):
    pdf = make_pdf(["sig-head"], case="EXT2")
    signer, prepared = _prepare(pki, keys, pdf, bb_options)
    with pytest.raises(SigningFailed, match="does not verify"):
        signer.finish(prepared, openssl_cms(outside_key, prepared.to_be_signed + b"x"))
    # a CMS made with the inspector's key, although the policy checked the head's certificate
    other = pki.officer("inspector-1")
    key, cert, chain = pkcs12.load_key_and_certificates(Path(other.p12).read_bytes(), other.password.encode())
    (tmp_path / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "chain.pem").write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain))
    with pytest.raises(SigningFailed, match="another certificate"):
        signer.finish(prepared, openssl_cms(tmp_path, prepared.to_be_signed))
    with pytest.raises(SigningFailed, match="no usable CMS"):
        signer.finish(prepared, b"garbage")


def test_external_policy_runs_before_anything_is_prepared(pki, keys, bb_options):
    pdf = make_pdf(["sig-head"], case="EXT3")
    signer = ExternalSigner(bb_options)
    with pytest.raises(SigningRefused) as e:
        signer.prepare(pdf, "sig-head", certificate=keys["auth-only"].certificate,
                       approved_sha256=hashlib.sha256(pdf).hexdigest(), officer_iin=pki.officer("head").iin,
                       document_kind="order")
    assert e.value.rule == "key_usage"


@pytest.mark.slow
@pytest.mark.parametrize("level", ["B-T", "B-LT", "B-LTA"])
def test_external_with_timestamp_and_long_term_data(pki_server, fast_tsa, keys, outside_key, pdfsig, level):
    pki = pki_server
    tsa_url = fast_tsa if level == "B-T" else pki.tsa_url
    options = signing_options(level=level, tsa_url=tsa_url, trust_roots=[pki.root_cert])
    pdf = make_pdf(["sig-head"], case=f"EXT-{level}")
    signer, prepared = _prepare(pki, keys, pdf, options)
    signed = signer.finish(prepared, openssl_cms(outside_key, prepared.to_be_signed))
    report = verify_pdf(signed, trust_roots=[pki.root_cert])
    assert report.valid, report.format_text()
    assert report.signatures[0].level == level
    pdfsig(signed, 1, doc_timestamps=1 if level == "B-LTA" else 0)


@pytest.mark.slow
def test_external_cms_with_its_own_timestamp_keeps_it(pki_server, keys, outside_key):
    """NCALayer with a TSP profile timestamps the CMS itself: no second token, its TSA's data still in the DSS."""
    import asyncio

    from asn1crypto import cms as asn1_cms
    from pyhanko.pdf_utils.reader import PdfFileReader

    from signing.external import _add_signature_timestamp
    from signing.testing.tsa_server import load_tsa_from_pki

    pki = pki_server
    options = signing_options(level="B-LT", tsa_url=pki.tsa_url, trust_roots=[pki.root_cert])
    pdf = make_pdf(["sig-head"], case="EXT-OWN-TS")
    signer, prepared = _prepare(pki, keys, pdf, options)
    cms = asn1_cms.ContentInfo.load(openssl_cms(outside_key, prepared.to_be_signed))
    cms = asyncio.run(_add_signature_timestamp(cms, load_tsa_from_pki(pki.directory)))  # "the outside TSA"
    signed = signer.finish(prepared, cms.dump())
    report = verify_pdf(signed, trust_roots=[pki.root_cert])
    assert report.valid, report.format_text()
    assert report.signatures[0].level == "B-LT"
    sig = PdfFileReader(io.BytesIO(signed), strict=False).embedded_regular_signatures[0]
    attrs = [a["type"].native for a in sig.signer_info["unsigned_attrs"]]
    assert attrs.count("signature_time_stamp_token") == 1


@pytest.mark.slow
@pytest.mark.parametrize("level", ["B-B", "B-LTA"])
def test_external_prepared_signature_survives_storage(pki_server, keys, outside_key, level):
    """The prepared state goes to bytes (JSON, no pickle) and back; another signer finishes it (a restart)."""
    import pickle

    pki = pki_server
    options = signing_options(level=level, tsa_url=pki.tsa_url, trust_roots=[pki.root_cert])
    pdf = make_pdf(["sig-head"], case=f"EXT-STORE-{level}")
    _, prepared = _prepare(pki, keys, pdf, options)
    assert (prepared.post_sign is not None) == (level == "B-LTA")
    assert pickle.loads(pickle.dumps(prepared)).to_bytes() == prepared.to_bytes()
    restored = PreparedSignature.from_bytes(prepared.to_bytes())
    assert restored.to_be_signed == prepared.to_be_signed and restored.digest == prepared.digest
    signed = ExternalSigner(options).finish(restored, openssl_cms(outside_key, restored.to_be_signed))
    report = verify_pdf(signed, trust_roots=[pki.root_cert])
    assert report.valid, report.format_text()
    assert report.signatures[0].level == level
    with pytest.raises(SigningFailed, match="cannot be read"):
        PreparedSignature.from_bytes(b'{"v": 1}')


def test_pkcs12_keys_load_once(pki):
    """Loading parses the key once; signing never re-parses it (the stock signer's 37 ms per signature)."""
    from signing.keys import CachedKeySigner

    key = load_pkcs12(pki.officer("head").p12, pki.officer("head").password)
    assert isinstance(key.signer, CachedKeySigner)


def test_signing_certificate_attribute_is_pyhankos_own(pki, keys, bb_options, order_pdf):
    """The attribute encoded once per key (signing.keys) is byte for byte what pyHanko builds per signature."""
    import io

    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.general import as_signing_certificate_v2

    signed = sign_as(pki, keys, "head", order_pdf, "sig-head", "order", bb_options, stamp=False)
    sig = PdfFileReader(io.BytesIO(signed)).embedded_regular_signatures[0]
    attrs = {a["type"].native: a["values"][0] for a in sig.signer_info["signed_attrs"]}
    assert set(attrs) == {"content_type", "message_digest", "signing_certificate_v2"}
    assert attrs["signing_certificate_v2"].dump() == as_signing_certificate_v2(keys["head"].certificate).dump()

"""GOST R 34.10-2015 signatures end to end with the project's GOST test PKI (issue 16): a CAdES-BES CMS as
NCALayer returns it, and a PDF signed field; verdicts in ETSI EN 319 102-1 words, through ``qamqor verify``.

The PKI is real (keys, certificates and CRLs signed in GOST by :mod:`signing.testing.gost_pki`); the arithmetic is
gostcrypto's; nothing is mocked.  Each GOST verification costs ≈0.5 s in pure Python, so the PKI is built once."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from io import BytesIO
from pathlib import Path

import pytest
from asn1crypto import cms as asn1_cms
from pyhanko.pdf_utils.reader import PdfFileReader

from signing import gost, gost_cms
from signing.ltv import validate_archive
from signing.testing.gost_pki import build_gost_pki

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
ORDER = "Бұйрық № 17 · Приказ № 17: қызметке қабылдау туралы".encode()


@pytest.fixture(scope="module")
def pki():
    return build_gost_pki(now=NOW)


@pytest.fixture(scope="module")
def foreign():
    return build_gost_pki(now=NOW, seed="foreign")


@pytest.fixture(scope="module")
def cms(pki):
    return gost_cms.sign_cms(ORDER, key=pki.officer_key, cert=pki.officer, chain=pki.chain, crls=pki.crls,
                             signing_time=NOW).dump()


def test_cms_has_ncalayer_layout(cms, pki):
    """research/gost.md §4.4: v1, Streebog digest, detached id-data, issuerAndSerialNumber, GOST 2015/512 with
    NULL parameters, signed attributes contentType, signingTime, signingCertificateV2, messageDigest in DER order."""
    sd = asn1_cms.ContentInfo.load(cms)["content"]
    assert sd["version"].native == "v1"
    assert [a["algorithm"].dotted for a in sd["digest_algorithms"]] == [gost.STREEBOG_512]
    assert sd["encap_content_info"]["content"].native is None  # detached
    si = sd["signer_infos"][0]
    assert si["sid"].name == "issuer_and_serial_number"
    assert si["signature_algorithm"]["algorithm"].dotted == gost.SIG_2015_512
    assert si["signature_algorithm"]["parameters"].dump() == b"\x05\x00"
    types = [a["type"].native for a in si["signed_attrs"]]
    assert sorted(types) == sorted(["content_type", "signing_time", "signing_certificate_v2", "message_digest"])
    encodings = [a.dump() for a in si["signed_attrs"]]
    assert encodings == sorted(encodings)
    assert len(si["signature"].native) == 128


def test_cms_good_signature_passes(cms, pki):
    v = gost_cms.verify_cms(cms, ORDER, trust_roots=[pki.root])
    assert (v.indication, v.subindication) == ("TOTAL-PASSED", None), v.message
    assert v.chain[-1] == "Серікова Әйгерім"
    assert v.algorithm == "GOST R 34.10-2015 512-bit with Streebog-512"


def test_cms_changed_data_fails(cms, pki):
    v = gost_cms.verify_cms(cms, ORDER.replace(b"17", b"71", 1), trust_roots=[pki.root])
    assert (v.indication, v.subindication) == ("TOTAL-FAILED", "HASH_FAILURE")


def test_cms_changed_signature_fails(cms, pki):
    ci = asn1_cms.ContentInfo.load(cms)
    sig = bytearray(ci["content"]["signer_infos"][0]["signature"].native)
    sig[5] ^= 0x01
    ci["content"]["signer_infos"][0]["signature"] = bytes(sig)
    v = gost_cms.verify_cms(ci.dump(force=True), ORDER, trust_roots=[pki.root])
    assert (v.indication, v.subindication) == ("TOTAL-FAILED", "SIG_CRYPTO_FAILURE")


def test_cms_foreign_root_is_indeterminate(cms, foreign):
    v = gost_cms.verify_cms(cms, ORDER, trust_roots=[foreign.root])
    assert (v.indication, v.subindication) == ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND")


def test_cms_without_revocation_data_is_indeterminate(pki):
    bare = gost_cms.sign_cms(ORDER, key=pki.officer_key, cert=pki.officer, chain=pki.chain, signing_time=NOW)
    v = gost_cms.verify_cms(bare.dump(), ORDER, trust_roots=[pki.root])
    assert (v.indication, v.subindication) == ("INDETERMINATE", "TRY_LATER")


def test_cms_revoked_signer_fails():
    revoked = build_gost_pki(now=NOW - dt.timedelta(minutes=5), seed="revoked", revoked=True)
    ci = gost_cms.sign_cms(ORDER, key=revoked.officer_key, cert=revoked.officer, chain=revoked.chain,
                           crls=revoked.crls, signing_time=NOW)
    v = gost_cms.verify_cms(ci.dump(), ORDER, trust_roots=[revoked.root])
    assert (v.indication, v.subindication) == ("TOTAL-FAILED", "REVOKED")


def test_malformed_cms_is_a_finding():
    v = gost_cms.verify_cms(b"\x30\x03\x02\x01", ORDER, trust_roots=[])
    assert (v.indication, v.subindication) == ("TOTAL-FAILED", "FORMAT_FAILURE")


# --- PDF --------------------------------------------------------------------------------------------------------


XMP = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
       b'<rdf:Description rdf:about="" xmlns:qamqor="urn:kz:qamqor:document:1">'
       b'<qamqor:DocumentKind>order</qamqor:DocumentKind></rdf:Description></rdf:RDF></x:xmpmeta>')


def _pdf() -> bytes:
    """A one-page order (¶11: the head signs it), naming its kind in the XMP as forms.render does (pypdf keeps
    the XMP as given; pyHanko's writer would rewrite it)."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, NameObject

    def stream(data: bytes, **entries: str) -> DecodedStreamObject:
        obj = DecodedStreamObject()
        obj.set_data(data)
        for k, v in entries.items():
            obj[NameObject(f"/{k}")] = NameObject(f"/{v}")
        return obj

    w = PdfWriter()
    page = w.add_blank_page(595, 842)
    page[NameObject("/Contents")] = w._add_object(stream(b"BT /F1 12 Tf 72 720 Td (Order 17) Tj ET"))
    w._root_object[NameObject("/Metadata")] = w._add_object(stream(XMP, Type="Metadata", Subtype="XML"))
    out = BytesIO()
    w.write(out)
    return out.getvalue()


@pytest.fixture(scope="module")
def signed_pdf(pki, tmp_path_factory):
    d = tmp_path_factory.mktemp("gost")
    files = pki.write(d)
    data = gost_cms.sign_pdf_gost(_pdf(), field_name="sig-official", key=pki.officer_key, cert=pki.officer,
                                  chain=pki.chain, crls=pki.crls, signing_time=NOW)
    (d / "order.pdf").write_bytes(data)
    i = data.index(b"(Order 17)")
    (d / "changed.pdf").write_bytes(data[:i + 7] + b"8" + data[i + 8:])  # one byte inside the signed range
    foreign_root = build_gost_pki(now=NOW, seed="foreign").root
    (d / "foreign-root.crt").write_bytes(foreign_root.dump())
    return d, files


def test_pdf_signature_field_is_gost(signed_pdf):
    d, _ = signed_pdf
    sig = list(PdfFileReader(BytesIO((d / "order.pdf").read_bytes()), strict=False).embedded_regular_signatures)[0]
    assert sig.field_name == "sig-official"
    assert gost_cms.is_gost_cms(sig.signed_data)


def test_archive_verdicts_on_gost_pdf(signed_pdf, pki):
    """The archive's engine (signing.ltv) hands GOST signatures to signing.gost_cms: same report fields."""
    d, files = signed_pdf
    good = validate_archive((d / "order.pdf").read_bytes(), trust_roots=[files["gost-root.crt"]])
    s = good.signatures[0]
    assert good.passed and (s.indication, s.subindication) == ("TOTAL-PASSED", None), s.message
    assert (s.signer_name, s.signer_iin, s.signer_bin) == ("Серікова Әйгерім", pki.officer_iin, "123456789021")
    changed = validate_archive((d / "changed.pdf").read_bytes(), trust_roots=[files["gost-root.crt"]])
    assert (changed.signatures[0].indication, changed.signatures[0].subindication) == ("TOTAL-FAILED",
                                                                                       "HASH_FAILURE")


@pytest.mark.slow
def test_qamqor_verify_gost_pdf(signed_pdf):
    """Done-when of issue 16: ``qamqor verify --trust gost-root.crt`` says TOTAL-PASSED (exit 0); a one-byte
    change TOTAL-FAILED; a foreign root INDETERMINATE (both exit non-zero)."""
    d, files = signed_pdf
    qamqor = str(Path(sys.executable).parent / "qamqor")

    def run(pdf: str, root: Path):
        return subprocess.run([qamqor, "verify", "--trust", str(root), str(d / pdf)], capture_output=True,
                              text=True, timeout=120, cwd=d)

    good = run("order.pdf", files["gost-root.crt"])
    assert good.returncode == 0, good.stdout + good.stderr
    assert "TOTAL-PASSED" in good.stdout and "Серікова Әйгерім" in good.stdout
    bad = run("changed.pdf", files["gost-root.crt"])
    assert bad.returncode != 0 and "TOTAL-FAILED / HASH_FAILURE" in bad.stdout, bad.stdout + bad.stderr
    alien = run("order.pdf", d / "foreign-root.crt")
    assert alien.returncode != 0 and "INDETERMINATE / NO_CERTIFICATE_CHAIN_FOUND" in alien.stdout, alien.stdout

"""GOST R 34.10-2015 PAdES end to end (issue 16 §2–§4): an officer's GOST key file signs through the key-file
path (``signing.load_pkcs12`` → ``signing.sign_pdf``) at B-B, B-T and B-LTA, with the GOST test PKI's TSA,
OCSP responder and CRLs served over HTTP on 127.0.0.1; the archive (``signing.ltv``), the desk
(``signing.verify``) and ``qamqor verify`` (a real process) judge the results; poppler's ``pdfsig`` and ``qpdf``
check what they can (the structure: they have no GOST).

Pure-Python GOST is slow (≈0.3 s per signature, ≈0.5 s per verification): the PKI and the signed documents are
made once per module."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import subprocess
import sys
from io import BytesIO
from pathlib import Path

import pytest
from asn1crypto import cms as asn1_cms
from conftest import free_port
from pyhanko.pdf_utils.reader import PdfFileReader
from signing_helpers import make_pdf, signing_options

from signing import (
    CertificateRevoked,
    StampInfo,
    WrongSecret,
    gost,
    gost_cms,
    gost_pades,
    load_pkcs12,
    sign_pdf,
    verify_pdf,
)
from signing.gost_keys import GostKey
from signing.ltv import validate_archive
from signing.testing.gost_pki import build_gost_pki
from signing.testing.gost_services import GostServices, GostServiceServer

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
BIN = "040340001283"
PASSWORD = "Құпия-сөз 2026"


@pytest.fixture(scope="module")
def gost_env(tmp_path_factory):
    """The GOST test PKI (a head and a revoked head) with its services on a free port, files written."""
    port = free_port()
    pki = build_gost_pki(now=NOW, url_prefix=f"http://127.0.0.1:{port}/gost", officers=[
        {"id": "head", "name": "Серікова Әйгерім", "role": "head", "bin": BIN},
        {"id": "revoked", "name": "Оспанов Нұрлан", "role": "head", "bin": BIN}])
    pki.revocations[pki.officers["revoked"].cert.serial_number] = NOW - dt.timedelta(minutes=5)
    d = tmp_path_factory.mktemp("gost-pki")
    files = pki.write(d, password=PASSWORD)
    (d / "foreign-root.crt").write_bytes(build_gost_pki(now=NOW, seed="foreign").root.dump())
    with GostServiceServer(GostServices(pki), port=port).start():
        yield pki, files, d


def _options(pki, files, level):
    return signing_options(level=level, tsa_url="http://127.0.0.1:9/unused-rsa-tsa", gost_tsa_url=pki.tsa_url,
                           trust_roots=[files["gost-root.crt"]])


def _sign(key, pdf, options, field="sig-official"):
    # ¶11: the order is the head's to sign
    return sign_pdf(pdf, field=field, key=key, approved_sha256=hashlib.sha256(pdf).hexdigest(),
                    officer_iin=key.certificate.subject.native["serial_number"][3:], document_kind="order",
                    stamp=StampInfo(language="kk", signer_name="Серікова Әйгерім", position="Бөлім басшысы",
                                    verify_url="https://qamqor.example.kz/v/1"),
                    options=options, organisation_bin=BIN)


@pytest.fixture(scope="module")
def head_key(gost_env):
    _pki, files, _d = gost_env
    return load_pkcs12(files["GOST512_head.p12"], PASSWORD)  # the key-file backend's call


@pytest.fixture(scope="module")
def signed(gost_env, head_key, tmp_path_factory):
    """The same order signed at B-B, B-T and B-LTA, each written to a file."""
    pki, files, _d = gost_env
    d = tmp_path_factory.mktemp("gost-signed")
    pdf = make_pdf(["sig-official"])
    out = {}
    for level in ("B-B", "B-T", "B-LTA"):
        out[level] = _sign(head_key, pdf, _options(pki, files, level))
        (d / f"{level}.pdf").write_bytes(out[level])
    return d, out


def test_key_file_opens_as_a_gost_key(gost_env, head_key):
    pki, files, _d = gost_env
    assert isinstance(head_key, GostKey)
    assert head_key.certificate.dump() == pki.officers["head"].cert.dump()
    assert [c.dump() for c in head_key.chain] == [pki.ca.dump()]
    with pytest.raises(WrongSecret):
        load_pkcs12(files["GOST512_head.p12"], "not the password")


@pytest.mark.parametrize("level", ["B-B", "B-T", "B-LTA"])
def test_archive_passes_each_level(signed, gost_env, level):
    """The archive's verdict: TOTAL-PASSED with the signer's identity; B-T and B-LTA with a proof of existence
    (the GOST signature timestamp), B-LTA with the archive timestamp."""
    pki, files, _d = gost_env
    _dir, docs = signed
    report = validate_archive(docs[level], trust_roots=[files["gost-root.crt"]])
    s = report.signatures[0]
    assert report.passed and (s.indication, s.subindication) == ("TOTAL-PASSED", None), s.message
    assert (s.signer_name, s.signer_iin, s.signer_bin) == ("Серікова Әйгерім", pki.officers["head"].iin, BIN)
    assert (s.best_signature_time is not None) == (level != "B-B")
    assert (len(report.timestamps), s.oldest_archive_timestamp is not None) == \
        ((1, True) if level == "B-LTA" else (0, False))


def test_levels_and_validation_data_in_the_pdf(signed, gost_env):
    """B-B carries the CAs' CRLs in its CMS; B-T a Streebog-512 GOST token over the signature value; B-LTA the
    DSS with GOST OCSP responses and CRLs and a GOST document timestamp (the desk names each level)."""
    pki, files, _d = gost_env
    _dir, docs = signed
    levels = {lv: verify_pdf(docs[lv], trust_roots=[files["gost-root.crt"]]) for lv in docs}
    assert {lv: [s.level for s in r.signatures if s.kind == "signature"] for lv, r in levels.items()} == \
        {"B-B": ["B-B"], "B-T": ["B-T"], "B-LTA": ["B-LTA"]}
    assert all(r.valid for r in levels.values()), [r.format_text() for r in levels.values()]
    lta = levels["B-LTA"].signatures
    assert [s.kind for s in lta] == ["signature", "document_timestamp"]
    assert lta[0].revocation == "good (embedded OCSP/CRL in the DSS)" and lta[0].timestamp_valid
    assert lta[0].chain[-1] == "Серікова Әйгерім" and lta[0].modification_level == "LTA_UPDATES"

    reader = PdfFileReader(BytesIO(docs["B-LTA"]), strict=False)
    certs, ocsps, crls = gost_pades.dss_contents(reader)
    assert {o.basic_ocsp_response["signature_algorithm"]["algorithm"].dotted for o in ocsps} == {gost.SIG_2015_512}
    responders = {o.basic_ocsp_response["certs"][0].subject.native["common_name"] for o in ocsps}
    assert responders == {pki.ocsp_cert.subject.native["common_name"]} and len(ocsps) == 2  # the head, the TSA
    assert {c["signature_algorithm"]["algorithm"].dotted for c in crls} == {gost.SIG_2015_512}
    sig = reader.embedded_regular_signatures[0]
    token = sig.signed_data["signer_infos"][0]["unsigned_attrs"][0]["values"][0]
    info = token["content"]["encap_content_info"]["content"].parsed
    assert info["message_imprint"]["hash_algorithm"]["algorithm"].dotted == gost.STREEBOG_512
    bb = PdfFileReader(BytesIO(docs["B-B"]), strict=False).embedded_regular_signatures[0]
    assert len(bb.signed_data["crls"]) == 2 and not bb.signed_data["signer_infos"][0]["unsigned_attrs"].native


def _flip_signed_bit(data: bytes) -> bytes:
    """One bit changed inside the first signature's byte range (the first stream's data: the file parses)."""
    i = data.index(b"stream\n") + 20
    assert i < PdfFileReader(BytesIO(data), strict=False).embedded_regular_signatures[0].byte_range[1]
    return data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1:]


def test_one_bit_changed_fails(signed, gost_env):
    _pki, files, _d = gost_env
    _dir, docs = signed
    for level in ("B-B", "B-LTA"):
        report = validate_archive(_flip_signed_bit(docs[level]), trust_roots=[files["gost-root.crt"]])
        assert (report.signatures[0].indication, report.signatures[0].subindication) == \
            ("TOTAL-FAILED", "HASH_FAILURE"), level
        desk = verify_pdf(_flip_signed_bit(docs[level]), trust_roots=[files["gost-root.crt"]])
        assert not desk.valid and "the signed bytes were changed" in desk.signatures[0].problems


def test_foreign_root_is_indeterminate(signed, gost_env):
    _pki, _files, d = gost_env
    _dir, docs = signed
    report = validate_archive(docs["B-T"], trust_roots=[d / "foreign-root.crt"])
    s = report.signatures[0]
    assert (s.indication, s.subindication) == ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND")


def test_tampered_ocsp_signature_is_not_trusted(signed, gost_env):
    """OCSP responses' GOST signatures are checked during path validation: the head's status from an OCSP
    response of the CA itself (with the root's CRL for the CA) passes; the same response with one bit of its
    signature changed leaves the status unknown (INDETERMINATE / TRY_LATER)."""
    import asyncio

    from asn1crypto import ocsp as asn1_ocsp

    from signing import gost_tsp

    pki, _files, _d = gost_env
    _dir, docs = signed
    head = pki.officers["head"].cert
    resp = gost_tsp.make_ocsp_response(gost_tsp.ocsp_request(head, pki.ca), issuer=pki.ca, responder=pki.ca,
                                       key=pki.ca_key, revoked={}, now=NOW)
    basic = resp["response_bytes"]["response"].parsed
    sig_bytes = basic["signature"].native
    tampered = asn1_ocsp.OCSPResponse.load(resp.dump())
    t_basic = tampered["response_bytes"]["response"].parsed
    t_basic["signature"] = bytes([sig_bytes[0] ^ 1]) + sig_bytes[1:]
    tampered["response_bytes"]["response"] = t_basic
    tampered = asn1_ocsp.OCSPResponse.load(tampered.dump())
    sig = PdfFileReader(BytesIO(docs["B-B"]), strict=False).embedded_regular_signatures[0]
    digest = gost_cms.byte_range_digest(docs["B-B"], sig.byte_range)
    ci = asn1_cms.ContentInfo.load(sig.pkcs7_content)
    root_crl = [c for c in ci["content"]["crls"] if c.chosen.issuer == pki.root.subject]
    ci["content"]["crls"] = root_crl  # the CA's own CRL removed: the head's status must come from OCSP
    der = ci.dump()

    def run(ocsps):
        sd = asn1_cms.ContentInfo.load(der)["content"]
        assert len(sd["crls"]) == 1
        return asyncio.run(gost_cms.async_verify_signed_data(sd, digest, trust_roots=[pki.root],
                                                             extra_ocsps=ocsps))

    good = run([resp])
    assert good.passed, good.message
    assert tampered.basic_ocsp_response["signature"].native != sig_bytes
    v = run([tampered])
    assert (v.indication, v.subindication) == ("INDETERMINATE", "TRY_LATER"), v.message


def test_revoked_officer_is_refused_at_b_lt(gost_env, tmp_path):
    """B-LT and above ask the GOST OCSP responder first: a revoked key signs nothing."""
    pki, files, d = gost_env
    from signing.gost_keys import write_key_file

    path = write_key_file(tmp_path / "GOST512_revoked.pem", pki.officers["revoked"].key,
                          pki.officers["revoked"].cert, [pki.ca], PASSWORD, iterations=1000)
    key = load_pkcs12(path, PASSWORD)
    with pytest.raises(CertificateRevoked):
        _sign(key, make_pdf(["sig-official"]), _options(pki, files, "B-LTA"))


def test_poppler_and_qpdf_read_the_structure(signed):
    """pdfsig has no GOST (it says so: "Unrecognized Hash ID"), but it reads the fields, the signer, the
    subfilter and the byte ranges: the signature covers all but its own /Contents of its revision and the
    document timestamp the whole file; qpdf finds no syntax or stream error."""
    d, docs = signed
    out = subprocess.run(["pdfsig", str(d / "B-LTA.pdf")], capture_output=True, text=True).stdout
    blocks = re.split(r"^Signature #\d+:", out, flags=re.M)[1:]
    assert len(blocks) == 2, out
    assert "Signature Field Name: sig-official" in blocks[0] and "Серікова Әйгерім" in blocks[0]
    assert "adbe.pkcs7.detached" in blocks[0]
    assert "Signature Field Name: Timestamp1" in blocks[1] and "Total document signed" in blocks[1]
    ranges = [[int(x) for x in re.findall(r"\d+", r)] for r in re.findall(r"Signed Ranges: (.*)", out)]
    size = len(docs["B-LTA"])
    sig = PdfFileReader(BytesIO(docs["B-LTA"]), strict=False).embedded_regular_signatures[0]
    assert ranges[1][0] == 0 and ranges[1][-1] == size
    assert ranges[0] == [0, sig.byte_range[1], sig.byte_range[2], sig.byte_range[2] + sig.byte_range[3]]
    for level in docs:
        check = subprocess.run(["qpdf", "--check", str(d / f"{level}.pdf")], capture_output=True, text=True)
        assert "No syntax or stream encoding errors found" in check.stdout, check.stdout + check.stderr


@pytest.mark.slow
def test_qamqor_verify_b_lta_as_a_process(signed, gost_env):
    """Done-when of issue 16 for a B-LTA: ``qamqor verify --trust gost-root.crt`` exit 0 and TOTAL-PASSED;
    one bit changed: TOTAL-FAILED (exit 1); ``--report etsi`` names the same indications."""
    _pki, files, _d = gost_env
    d, docs = signed
    (d / "changed.pdf").write_bytes(_flip_signed_bit(docs["B-LTA"]))
    qamqor = str(Path(sys.executable).parent / "qamqor")

    def run(pdf: str, *extra: str):
        return subprocess.run([qamqor, "verify", "--no-policy", "--trust", str(files["gost-root.crt"]),
                               *extra, str(d / pdf)], capture_output=True, text=True, timeout=120, cwd=d)

    good = run("B-LTA.pdf")
    assert good.returncode == 0 and "- sig-official: TOTAL-PASSED" in good.stdout, good.stdout + good.stderr
    assert "archive timestamp Timestamp1" in good.stdout
    bad = run("changed.pdf", "--report", "etsi")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "urn:etsi:019102:mainindication:total-failed" in bad.stdout
    assert "urn:etsi:019102:subindication:HASH_FAILURE" in bad.stdout


def test_cms_layout_is_ncalayers(signed):
    """The embedded CMS is NCALayer's CAdES-BES (research/gost.md §4.4): detached id-data, Streebog-512,
    GOST 2015/512 with NULL parameters, signed attributes contentType, signingTime, signingCertificateV2,
    messageDigest."""
    _d, docs = signed
    sig = PdfFileReader(BytesIO(docs["B-B"]), strict=False).embedded_regular_signatures[0]
    sd = sig.signed_data
    si = sd["signer_infos"][0]
    assert sd["encap_content_info"]["content"].native is None
    assert si["digest_algorithm"]["algorithm"].dotted == gost.STREEBOG_512
    assert si["signature_algorithm"]["algorithm"].dotted == gost.SIG_2015_512
    assert si["signature_algorithm"]["parameters"].dump() == b"\x05\x00"
    assert sorted(a["type"].native for a in si["signed_attrs"]) == \
        ["content_type", "message_digest", "signing_certificate_v2", "signing_time"]
    assert isinstance(sd, asn1_cms.SignedData)

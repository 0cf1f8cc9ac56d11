"""PAdES B-T, B-LT and B-LTA against real TSA/OCSP/CRL servers on 127.0.0.1, and their failures.

B-T takes its timestamps from the fast TSA (``signing.testing.tsa_server``); B-LT and B-LTA from certomancer's, which
also serves the OCSP responses and CRLs.  Both sign with the test PKI's TSA key and certificate."""

from __future__ import annotations

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from signing_helpers import PROVIDER_BIN, PSC_BIN, make_pdf, sign_as, signing_options

from pipeline.errors import ExitCode, TransientError
from signing import CertificateRevoked, SigningServiceDown, verify_pdf

pytestmark = pytest.mark.slow


def _reader(data: bytes) -> PdfFileReader:
    import io

    return PdfFileReader(io.BytesIO(data))


@pytest.mark.parametrize("level", ["B-T", "B-LT", "B-LTA"])
def test_levels(pki_server, fast_tsa, keys, pdfsig, level):
    pki = pki_server
    tsa_url = fast_tsa if level == "B-T" else pki.tsa_url
    options = signing_options(level=level, tsa_url=tsa_url, trust_roots=[pki.root_cert], check_revocation=True)
    signed = sign_as(pki, keys, "head", make_pdf(["sig-head"], case=f"CASE-{level}"), "sig-head", "order", options)

    report = verify_pdf(signed, trust_roots=[pki.root_cert])
    assert report.valid, report.format_text()
    sig = report.signatures[0]
    assert sig.level == level and sig.timestamp_valid and sig.timestamp
    root = _reader(signed).root
    if level == "B-T":
        assert "/DSS" not in root and sig.revocation == "not checked"
    else:
        dss = root["/DSS"]
        assert len(dss["/OCSPs"]) >= 1 and len(dss.get("/Certs", [])) >= 2
        assert sig.revocation.startswith("good")
    doc_ts = [s for s in report.signatures if s.kind == "document_timestamp"]
    assert len(doc_ts) == (1 if level == "B-LTA" else 0)
    if doc_ts:
        assert doc_ts[0].ok and sig.modification_level == "LTA_UPDATES"
    pdfsig(signed, 1, doc_timestamps=len(doc_ts))


def test_lt_validates_offline_from_the_dss(pki_server, keys, pdfsig):
    """The B-LT document's own DSS is enough: no fetching, revocation hard-fail, still valid."""
    pki = pki_server
    options = signing_options(level="B-LT", tsa_url=pki.tsa_url, trust_roots=[pki.root_cert])
    signed = sign_as(pki, keys, "inspector-1", make_pdf(["sig-inspector-1"]), "sig-inspector-1", "inspection_act", options)
    report = verify_pdf(signed, trust_roots=[pki.root_cert], allow_fetching=False)
    assert report.valid and report.signatures[0].revocation == "good (embedded OCSP/CRL in the DSS)"
    pdfsig(signed, 1)


def test_revoked_certificate_is_refused_when_revocation_is_checked(pki_server, fast_tsa, keys, order_pdf):
    pki = pki_server
    options = signing_options(level="B-T", tsa_url=fast_tsa, trust_roots=[pki.root_cert], check_revocation=True)
    with pytest.raises(CertificateRevoked) as e:
        sign_as(pki, keys, "revoked", order_pdf, "sig-head", "order", options)
    assert e.value.rule == "revocation" and e.value.exit_code == ExitCode.signing_refused


def test_revoked_signature_fails_verification_with_fetching(pki_server, keys, order_pdf):
    """Signed without a revocation check (B-B), then verified with OCSP: the verifier says revoked."""
    pki = pki_server
    signed = sign_as(pki, keys, "revoked", order_pdf, "sig-head", "order", signing_options(trust_roots=[pki.root_cert]))
    report = verify_pdf(signed, trust_roots=[pki.root_cert], allow_fetching=True)
    assert not report.valid
    assert report.signatures[0].revocation.startswith("REVOKED")


def test_tsa_down_is_transient(pki, keys, order_pdf):
    from conftest import free_port

    options = signing_options(level="B-T", tsa_url=f"http://127.0.0.1:{free_port()}/tsa", trust_roots=[pki.root_cert],
                             timeout_s=2)
    with pytest.raises(SigningServiceDown) as e:
        sign_as(pki, keys, "head", order_pdf, "sig-head", "order", options)
    assert isinstance(e.value, TransientError) and e.value.exit_code == ExitCode.transient


def test_ocsp_down_is_transient(tmp_path, order_pdf):
    """Revocation checking configured, but nothing answers at the certificate's OCSP/CRL URLs."""
    from conftest import free_port

    from signing import load_pkcs12
    from signing.testing.pki import build_pki

    pki = build_pki(tmp_path / "pki", PROVIDER_BIN, PSC_BIN, url_prefix=f"http://127.0.0.1:{free_port()}")
    keys = {"head": load_pkcs12(pki.officer("head").p12, pki.officer("head").password)}
    options = signing_options(level="B-B", trust_roots=[pki.root_cert], check_revocation=True, timeout_s=2)
    with pytest.raises(SigningServiceDown) as e:
        sign_as(pki, keys, "head", order_pdf, "sig-head", "order", options)
    assert isinstance(e.value, TransientError) and e.value.exit_code == ExitCode.transient


def test_the_tsa_is_asked_for_its_sample_token_once_not_per_document(pki_server, keys, monkeypatch):
    """Issue 13: pyHanko asks a TSA for a sample token before each B-LT/B-LTA signature (to put its certificates'
    status in the DSS); one per TSA and process now serves every document — two requests per B-LTA document (the
    signature's timestamp, the document timestamp) rather than three — and each document still validates."""
    from signing import sign as sign_module
    from signing.ltv import validate_archive
    from signing.testing.tsa_server import TimestampServer, load_tsa_from_pki

    pki = pki_server
    monkeypatch.setattr(sign_module, "_sample_tokens", {})
    with TimestampServer(load_tsa_from_pki(pki.directory)).start() as tsa:
        options = signing_options(level="B-LTA", tsa_url=tsa.url, trust_roots=[pki.root_cert])
        signed = [sign_as(pki, keys, "head", make_pdf(["sig-head"], case=f"CASE-S{i}"), "sig-head", "order", options)
                  for i in range(3)]
        assert tsa.answered == 1 + 3 * 2
        monkeypatch.setattr(sign_module, "SAMPLE_TOKEN_S", 0.0)  # kept no longer: asked again, as before
        sign_as(pki, keys, "head", make_pdf(["sig-head"], case="CASE-S3"), "sig-head", "order", options)
        assert tsa.answered == 1 + 3 * 2 + 3
    for data in signed:
        report = validate_archive(data, trust_roots=[pki.root_cert])
        assert [s.indication for s in report.signatures] == ["TOTAL-PASSED"], report.signatures


@pytest.mark.parametrize("level", ["B-B", "B-LTA"])
def test_the_space_kept_for_the_signature_fits_it(pki_server, fast_tsa, keys, level):
    """Issue 13: the space reserved in the file for each CMS is pyHanko's estimate for the key's chain and the TSA's
    token, not a fixed 16 KB: an archived B-LTA file carried 20 KB of zeros (a fifth of it)."""
    pki = pki_server
    options = signing_options(level=level, tsa_url=None if level == "B-B" else pki.tsa_url,
                              trust_roots=[pki.root_cert])
    signed = sign_as(pki, keys, "head", make_pdf(["sig-head"], case=f"CASE-R{level}"), "sig-head", "order", options)
    sigs = list(_reader(signed).embedded_signatures)
    assert len(sigs) == (2 if level == "B-LTA" else 1)
    for sig in sigs:
        byte_range = sig.sig_object["/ByteRange"]
        reserved_hex = byte_range[2] - byte_range[1] - 2
        assert len(sig.signed_data.dump()) * 2 <= reserved_hex <= 2 * len(sig.signed_data.dump()) * 2


def test_a_cas_crl_is_fetched_once_for_many_signatures_and_again_when_it_is_kept_no_longer(pki_server, fast_tsa,
                                                                                         keys, monkeypatch):
    """Issue 13: each B-LT/B-LTA signature's DSS carries the CRLs of its chain's CAs, the same for every document
    a key signs: they are fetched for the first signature and serve the next ones for ``CRL_KEPT_S`` (never
    past their nextUpdate), and every document still carries them and validates offline."""
    from pyhanko_certvalidator.fetchers.aiohttp_fetchers.crl_client import AIOHttpCRLFetcher

    from signing import sign as sign_module
    from signing.ltv import validate_archive

    pki = pki_server
    fetched = []
    original = AIOHttpCRLFetcher.fetch

    async def counted(self, cert, **kw):
        fetched.append(cert.subject.human_friendly)
        return await original(self, cert, **kw)

    monkeypatch.setattr(AIOHttpCRLFetcher, "fetch", counted)
    monkeypatch.setattr(sign_module, "_kept_crls", {})
    options = signing_options(level="B-LTA", tsa_url=fast_tsa, trust_roots=[pki.root_cert])
    signed = [sign_as(pki, keys, "head", make_pdf(["sig-head"], case="CASE-C0"), "sig-head", "order", options)]
    first = list(fetched)
    signed += [sign_as(pki, keys, "head", make_pdf(["sig-head"], case=f"CASE-C{i}"), "sig-head", "order", options)
               for i in (1, 2)]
    assert first and fetched == first, "the CRLs were fetched for the first signature only"
    assert all(len(sign_module._kept_crls[k][1]) for k in sign_module._kept_crls)
    monkeypatch.setattr(sign_module, "CRL_KEPT_S", 0.0)  # kept no longer: fetched again, as before
    signed.append(sign_as(pki, keys, "head", make_pdf(["sig-head"], case="CASE-C3"), "sig-head", "order", options))
    assert fetched == first + first
    for data in signed:
        assert b"/CRLs" in data[len(make_pdf(["sig-head"], case="CASE-C0")):]
        report = validate_archive(data, trust_roots=[pki.root_cert])
        assert [s.indication for s in report.signatures] == ["TOTAL-PASSED"], report.signatures

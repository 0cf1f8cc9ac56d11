"""Golden verdicts of the archive's long-term validation (issue #12, item 2), at the dates the issue gives.

Each case is validated in-process as of a moment (``at``), and again by the real ``qamqor``-side process
(``python -m pipeline.archive verify``) under the real clock moved with Debian's ``faketime`` — not only ``--at``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ltv_fixtures import (
    AFTER_SIGNER_EXPIRY,
    FAR_FUTURE,
    RENEWED,
    SIGNED,
    archive_step,
    at,
    build_ltv_pki,
    make_signed,
)
from signing_helpers import make_pdf

from signing.ltv import needs_renewal, validate_archive

ROOT = Path(__file__).resolve().parents[2]

#: case → (file, when, root, main indication, acceptable sub-indications)
GOLDEN = {
    "b-lta, signer expired, TSA valid": ("lta", AFTER_SIGNER_EXPIRY, "root", "TOTAL-PASSED", {None}),
    # pyHanko calls the missing status data of an expired signer CERTIFICATE_CHAIN_GENERAL_FAILURE; the issue
    # names OUT_OF_BOUNDS_NO_POE or TRY_LATER — all three are INDETERMINATE
    "b-t, no revocation data": ("bt", AFTER_SIGNER_EXPIRY, "root", "INDETERMINATE",
                                {"OUT_OF_BOUNDS_NO_POE", "TRY_LATER", "CERTIFICATE_CHAIN_GENERAL_FAILURE"}),
    "archive TSA expired, not renewed": ("lta", FAR_FUTURE, "root", "INDETERMINATE", {"NO_POE"}),
    "revoked before signing": ("revoked-before", AFTER_SIGNER_EXPIRY, "root", "TOTAL-FAILED", {"REVOKED"}),
    "revoked after signing, with POE": ("revoked-after", AFTER_SIGNER_EXPIRY, "root", "TOTAL-PASSED", {None}),
    "one byte changed": ("tampered", AFTER_SIGNER_EXPIRY, "root", "TOTAL-FAILED", {"HASH_FAILURE"}),
    "foreign root": ("lta", AFTER_SIGNER_EXPIRY, "foreign-root", "INDETERMINATE", {"NO_CERTIFICATE_CHAIN_FOUND"}),
    "renewed 2029, validated 2035": ("renewed", FAR_FUTURE, "root", "TOTAL-PASSED", {None}),
}


@pytest.fixture(scope="session")
def archive(tmp_path_factory):
    """The PKI and every fixture file, made once (≈3 s)."""
    d = tmp_path_factory.mktemp("ltv")
    pki = build_ltv_pki(d)

    async def make():
        pdf = make_pdf(["sig"])
        lta = await make_signed(pki, pdf, level="B-LTA")
        revoked_after = await make_signed(pki, pdf, level="B-LTA", signer="signer-revoked-after")
        files = {
            "lta": lta,
            "bt": await make_signed(pki, pdf, level="B-T"),
            "revoked-before": await make_signed(pki, pdf, level="B-LTA", signer="signer-revoked-before"),
            # the archive learns of the revocation (June) at its next step (September)
            "revoked-after": await archive_step(pki, revoked_after, at(2026, 9, 1), tsa="tsa-2026", signers=True),
            "renewed": await archive_step(pki, lta, RENEWED),
        }
        i = lta.index(b"WeasyPrint")  # a byte of the first revision's metadata, inside the signed range
        files["tampered"] = lta[:i] + b"X" + lta[i + 1:]
        return files

    files = asyncio.run(make())
    for name, data in files.items():
        (d / f"{name}.pdf").write_bytes(data)
    return pki, d, files


@pytest.mark.parametrize("case", list(GOLDEN))
def test_golden_verdict_at(archive, case, request):
    if case == "renewed 2029, validated 2035":
        # pyHanko 0.38 reads the system clock inside the AdES engine (POEManager's default POE time,
        # ades.py's past-validation control time), so a date years ahead given by ``at`` meets "now" POEs;
        # with the clock itself moved (the faketime test below) the same file is TOTAL-PASSED
        request.applymarker(pytest.mark.xfail(strict=True, reason="pyHanko uses the real clock for POEs"))
    pki, d, files = archive
    name, when, root, indication, subs = GOLDEN[case]
    report = validate_archive(files[name], trust_roots=[d / f"{root}.crt"], at=when)
    [sig] = report.signatures
    assert (sig.indication, sig.subindication in subs) == (indication, True), (case, sig)
    assert report.passed is (indication == "TOTAL-PASSED")


def test_valid_on_the_day_it_was_signed(archive):
    pki, d, files = archive
    report = validate_archive(files["lta"], trust_roots=[pki.root_cert], at=SIGNED + dt.timedelta(days=1))
    assert report.passed, report.format_text()
    assert report.signatures[0].best_signature_time == SIGNED.isoformat()


def test_renewal_window(archive):
    """The newest archive timestamp's TSA certificate ends 2030-06-01: due in 2029 with a year's window."""
    _, _, files = archive
    assert needs_renewal(files["lta"], now=RENEWED, before=dt.timedelta(days=365)) is not None
    assert needs_renewal(files["lta"], now=RENEWED, before=dt.timedelta(days=30)) is None
    assert needs_renewal(files["renewed"], now=RENEWED, before=dt.timedelta(days=365)) is None


FAKETIME = shutil.which("faketime")


@pytest.mark.slow
@pytest.mark.skipif(FAKETIME is None, reason="faketime is not installed (scripts/ensure-debian-packages)")
@pytest.mark.parametrize("case", list(GOLDEN))
def test_golden_verdict_under_faketime(archive, case):
    """The real verify process with the system clock moved (libfaketime), no ``--at``."""
    pki, d, _ = archive
    name, when, root, indication, subs = GOLDEN[case]
    stamp = when.strftime("@%Y-%m-%d %H:%M:%S")
    env = {"PATH": "/usr/bin:/bin", "TZ": "UTC", "FAKETIME_DONT_FAKE_MONOTONIC": "1"}
    res = subprocess.run([FAKETIME, "-f", stamp, sys.executable, "-m", "pipeline.archive", "verify",
                          str(d / f"{name}.pdf"), "--trust", str(d / f"{root}.crt"), "--report", "json",
                          "--no-policy"],  # the fixtures are the LTV engine's, not qamqor documents of a kind
                         capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    out = json.loads(res.stdout)
    [sig] = out["files"][0]["signatures"]
    assert out["files"][0]["validation_time"].startswith(when.strftime("%Y-%m-%d")), out
    assert (sig["indication"], sig["subindication"] in subs) == (indication, True), (case, sig)
    assert res.returncode == (0 if indication == "TOTAL-PASSED" else 1), res.stderr[-2000:]


XSD = Path(__file__).parent / "data" / "etsi-xsd" / "TS119102-2-v122.xsd"


@pytest.mark.parametrize("name, when", [("lta", AFTER_SIGNER_EXPIRY), ("tampered", AFTER_SIGNER_EXPIRY)])
def test_etsi_report_is_valid_against_the_official_xsd(archive, name, when):
    """TS 119 102-2 report (pyHanko's generator) checked against ETSI's schema from DSS's Maven artefacts."""
    from lxml import etree

    pki, _, files = archive
    report = validate_archive(files[name], trust_roots=[pki.root_cert], at=when, etsi=True)
    doc = etree.fromstring(report.etsi_xml.encode())
    schema = etree.XMLSchema(etree.parse(str(XSD)))
    assert schema.validate(doc), schema.error_log
    ns = {"vr": "http://uri.etsi.org/19102/v1.2.1#"}
    main = doc.findtext(".//vr:SignatureValidationStatus/vr:MainIndication", namespaces=ns)
    expected = {"lta": "total-passed", "tampered": "total-failed"}[name]
    assert main == f"urn:etsi:019102:mainindication:{expected}"


def test_the_etsi_report_is_the_same_with_the_shared_xml_metadata(archive, monkeypatch):
    """signing/speedups.py (issue 13): pyHanko's report serializer keeps xsdata's metadata for the process; the
    report is the same text as with xsdata's own fresh serializer, and a second report builds no metadata."""
    from xsdata.formats.dataclass import serializers
    from xsdata.formats.dataclass.models.builders import XmlMetaBuilder

    from signing import speedups

    pki, _, files = archive
    ours = validate_archive(files["lta"], trust_roots=[pki.root_cert], at=AFTER_SIGNER_EXPIRY, etsi=True).etsi_xml
    original = speedups.share_xml_metadata()
    assert serializers.XmlSerializer is not original  # where pyHanko's generate_report looks it up
    built = []
    original_build = XmlMetaBuilder.build
    monkeypatch.setattr(XmlMetaBuilder, "build", lambda self, *a, **k: built.append(1) or original_build(self, *a, **k))
    again = validate_archive(files["lta"], trust_roots=[pki.root_cert], at=AFTER_SIGNER_EXPIRY, etsi=True).etsi_xml
    assert again == ours and built == []
    monkeypatch.setattr(serializers, "XmlSerializer", original)
    theirs = validate_archive(files["lta"], trust_roots=[pki.root_cert], at=AFTER_SIGNER_EXPIRY, etsi=True).etsi_xml
    assert built, "xsdata's own serializer was not the one used"
    assert theirs == ours and "total-passed" in ours


def test_a_document_without_any_timestamp_is_validated_once(archive, monkeypatch):
    """#13: the strict reading differs from the lenient one only in the TSAs' status data, so a B-B document
    (no signature, content or document timestamp) is validated once, with the verdict the strict policy gives;
    a B-T document that does not pass is still read again under the strict policy."""
    from io import BytesIO

    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation.ades import ades_lta_validation

    import signing.ltv as ltv

    pki, _, files = archive
    bb = asyncio.run(make_signed(pki, make_pdf(["sig"]), level="B-B"))
    calls = []

    async def counted(*a, **k):
        calls.append(1)
        return await ades_lta_validation(*a, **k)

    monkeypatch.setattr(ltv, "ades_lta_validation", counted)
    report = validate_archive(bb, trust_roots=[pki.root_cert], at=SIGNED + dt.timedelta(days=1))
    assert len(calls) == 1
    sig = PdfFileReader(BytesIO(bb), strict=False).embedded_regular_signatures[0]
    strict = asyncio.run(ades_lta_validation(sig, ltv.validation_spec(ltv.load_trust_roots([pki.root_cert]), lenient_tsa=False),
                                             timing_info=ltv._timing(sig.reader, SIGNED + dt.timedelta(days=1))))
    assert [(s.indication, s.subindication) for s in report.signatures] == [
        (ltv.MAIN[strict.ades_subindic.status], strict.ades_subindic.standard_name)]
    calls.clear()
    validate_archive(files["bt"], trust_roots=[pki.root_cert], at=AFTER_SIGNER_EXPIRY)
    assert len(calls) == 2

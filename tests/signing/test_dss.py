"""EU DSS, the EU's reference validator, as a second opinion on qamqor's PAdES levels (#12.5).

Each level B-B…B-LTA is signed with the test PKI (its TSA and OCSP/CRL servers on 127.0.0.1) and handed to DSS
(``tools/validators``, built by ``make validators``) with the test root as its only trust anchor: TOTAL_PASSED.
B-LT and B-LTA are validated offline, from the revocation data they carry; B-B and B-T carry none, so for them
DSS fetches it itself (``--online``) from the URLs in the certificates, which point at 127.0.0.1. One byte
changed inside the signed range: TOTAL_FAILED / HASH_FAILURE.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from signing_helpers import make_pdf, sign_as, signing_options

pytestmark = pytest.mark.slow

VALIDATORS_JAR = Path(__file__).resolve().parents[2] / "tools" / "validators" / "target" / "validators.jar"
LEVELS = ("B-B", "B-T", "B-LT", "B-LTA")
# a short-lived JVM: the C1 compiler alone and the serial collector halve its CPU time (measured: 9.8 s → 4.5 s)
JVM_FLAGS = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC")


def run_dss(files: list[Path], trust: Path, *extra: str) -> tuple[int, dict]:
    """``java -jar validators.jar dss FILES --trust ROOT``: its exit code and JSON report. Fails (not skips) when
    it cannot run: CI builds the jar through ``make test`` → ``setup`` → ``validators``."""
    java = shutil.which("java")
    if java is None:
        pytest.fail("java is not on PATH: the reference validators need a Java 17 runtime (make validators)")
    if not VALIDATORS_JAR.is_file():
        pytest.fail(f"{VALIDATORS_JAR} is missing: build it with `make validators` (Maven, Java 17)")
    args = [java, *JVM_FLAGS, "-jar", str(VALIDATORS_JAR), "dss", *map(str, files), "--trust", str(trust), *extra]
    res = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert res.returncode in (0, 1), f"validators dss failed to run ({res.returncode}): {res.stderr}"
    return res.returncode, json.loads(res.stdout)


@pytest.fixture(scope="module")
def signed(pki_server, fast_tsa, keys, tmp_path_factory) -> dict[str, Path]:
    """One order signed by the head at each level, as files."""
    pki = pki_server
    folder = tmp_path_factory.mktemp("dss")
    out = {}
    for level in LEVELS:
        tsa_url = None if level == "B-B" else fast_tsa if level == "B-T" else pki.tsa_url
        options = signing_options(level=level, tsa_url=tsa_url, trust_roots=[pki.root_cert], check_revocation=True)
        pdf = make_pdf(["sig-head"], case=f"CASE-DSS-{level}")
        out[level] = folder / f"order-{level}.pdf"
        out[level].write_bytes(sign_as(pki, keys, "head", pdf, "sig-head", "order", options))
    return out


def _verdicts(report: dict) -> dict[str, list]:
    return {Path(f["file"]).name: f.get("error") or [(t["indication"], t["subIndication"], t["errors"])
                                                     for s in f["signatures"] for t in [s, *s["timestamps"]]]
            for f in report["files"]}


def _assert_passed(level: str, file: dict) -> None:
    (sig,) = file["signatures"]
    assert (sig["indication"], sig["subIndication"]) == ("TOTAL_PASSED", None), sig
    assert sig["signatureFormat"] == f"PAdES-BASELINE-{level[2:]}", sig
    assert sig["signedBy"] and not sig["errors"], sig
    # B-T and up: the signature timestamp; B-LTA also the document timestamp over it; each PASSED for DSS
    stamps = sig["timestamps"]
    assert len(stamps) == {"B-B": 0, "B-T": 1, "B-LT": 1, "B-LTA": 2}[level], sig
    assert all((t["indication"], t["errors"]) == ("PASSED", []) for t in stamps), stamps
    assert file["passed"], file


def tampered_copy(path: Path, folder: Path) -> Path:
    """``path`` with one byte changed inside its signature's first signed range."""
    data = bytearray(path.read_bytes())
    start, length, _, _ = map(int, re.search(rb"/ByteRange\s*\[\s*(\d+) (\d+) (\d+) (\d+)", data).groups())
    # the binary comment on the header's second line: covered by the signature, ignored by a PDF parser, so the
    # file still opens and only the digest can notice
    offset = data.index(b"\n%", 0, 64) + 2
    assert start <= offset < start + length
    data[offset] ^= 0x01
    out = folder / f"tampered-{path.name}"
    out.write_bytes(bytes(data))
    return out


def test_dss_offline(signed, pki_server, tmp_path):
    """Offline, from what each PDF carries: B-LT and B-LTA TOTAL_PASSED; the B-LT with one byte changed
    TOTAL_FAILED / HASH_FAILURE; the B-B, with no revocation data in it and none fetched, only INDETERMINATE
    (so ``--online`` below is what its verdict needs, and offline really is offline)."""
    files = [signed["B-LT"], signed["B-LTA"], tampered_copy(signed["B-LT"], tmp_path), signed["B-B"]]
    code, report = run_dss(files, pki_server.root_cert)
    assert report["online"] is False and [Path(f["file"]) for f in report["files"]] == files
    lt, lta, changed, bb = report["files"]
    _assert_passed("B-LT", lt)
    _assert_passed("B-LTA", lta)
    (sig,) = changed["signatures"]
    assert (sig["indication"], sig["subIndication"]) == ("TOTAL_FAILED", "HASH_FAILURE"), sig
    (sig,) = bb["signatures"]
    assert (sig["indication"], sig["subIndication"]) == ("INDETERMINATE", "CERTIFICATE_CHAIN_GENERAL_FAILURE"), sig
    assert "BBB_XCV_IRDPFC_ANS" in {e["key"] for e in sig["errors"]}, sig   # "No revocation data found"
    assert code == 1 and not report["passed"]


def test_dss_online_b_b_and_b_t(signed, pki_server):
    """B-B and B-T carry no revocation data: DSS fetches it from the OCSP and CRL URLs in the certificates,
    i.e. from the test PKI's certomancer on 127.0.0.1."""
    code, report = run_dss([signed["B-B"], signed["B-T"]], pki_server.root_cert, "--online")
    assert report["online"] is True
    assert code == 0 and report["passed"], json.dumps(_verdicts(report), ensure_ascii=False, indent=1)
    for level, file in zip(("B-B", "B-T"), report["files"], strict=True):
        _assert_passed(level, file)

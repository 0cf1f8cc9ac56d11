"""veraPDF, the reference PDF/A validator, as a second opinion on every document kind in kk and ru (#12.5).

The forms tests check the PDF/A claim and the rules WeasyPrint is known to break one by one; veraPDF checks all
of PDF/A-3b. It runs once over every sample and a broken control (``tools/validators``, built by
``make validators``) because a JVM with veraPDF takes seconds to start.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from forms.catalogue import LANGUAGES, document_kinds

pytestmark = pytest.mark.slow

VALIDATORS_JAR = Path(__file__).resolve().parents[2] / "tools" / "validators" / "target" / "validators.jar"
# a short-lived JVM: the C1 compiler alone and the serial collector halve its CPU time (measured: 9.3 s → 4.9 s)
JVM_FLAGS = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC")


def run_validators(*args: str) -> tuple[int, dict]:
    """``java -jar validators.jar ARGS``: its exit code and JSON report. Fails (not skips) when it cannot run:
    CI builds the jar through ``make test`` → ``setup`` → ``validators``."""
    java = shutil.which("java")
    if java is None:
        pytest.fail("java is not on PATH: the reference validators need a Java 17 runtime (make validators)")
    if not VALIDATORS_JAR.is_file():
        pytest.fail(f"{VALIDATORS_JAR} is missing: build it with `make validators` (Maven, Java 17)")
    res = subprocess.run([java, *JVM_FLAGS, "-jar", str(VALIDATORS_JAR), *args], capture_output=True, text=True,
                         timeout=600)
    assert res.returncode in (0, 1), f"validators {args[0]} failed to run ({res.returncode}): {res.stderr}"
    return res.returncode, json.loads(res.stdout)


def test_every_document_kind_in_both_languages_is_pdfa3b_for_verapdf(samples, tmp_path):
    files = [samples[(kind, lang)].path for kind in document_kinds() for lang in LANGUAGES]
    # and a control that veraPDF can say no: the QR image's old /Interpolate true breaks rule 6.2.8-3
    pdf = files[0].read_bytes()
    assert pdf.count(b"/Interpolate false") == 1
    broken = tmp_path / "interpolating.pdf"
    broken.write_bytes(pdf.replace(b"/Interpolate false", b"/Interpolate true "))   # same length: xref holds

    code, report = run_validators("pdfa", *map(str, files), str(broken))
    *documents, control = report["files"]
    assert [Path(f["file"]) for f in documents] == files
    problems = {Path(f["file"]).name: f.get("error") or f["failedRules"] for f in documents
                if not f["compliant"] or f["failedRules"] or f["flavour"] != "3b" or f["claimed"] != "3b"}
    assert not problems, json.dumps(problems, ensure_ascii=False, indent=1)
    assert not control["compliant"] and [r["id"] for r in control["failedRules"]] == ["6.2.8-3"], control
    assert code == 1   # the control

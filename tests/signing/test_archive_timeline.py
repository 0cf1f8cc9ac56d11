"""The archive's renewal timeline end to end (issue 12 #3), with the real clock moved by Debian's ``faketime``.

Signed in 2026 (B-LTA, its archive timestamp by a TSA whose certificate ends in June 2030).  In June 2029 the
installation runs ``qamqor archive renew`` on its own clock: certomancer (under the same faked clock) serves the
PKI's CRLs, OCSP and the 2029 TSA on 127.0.0.1, the renewal adds the DSS update and a new document timestamp,
journals it and writes the ETSI report again; a second run renews nothing.  In 2035, ``qamqor verify`` in an
empty folder calls the renewed copy TOTAL-PASSED and the copy nobody renewed INDETERMINATE / NO_POE.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import VENV_BIN, free_port, serving
from ltv_fixtures import FAR_FUTURE, RENEWED, build_ltv_pki, make_signed
from signing_helpers import make_pdf

from pipeline.demo import _listening

ROOT = Path(__file__).resolve().parents[2]
FAKETIME = shutil.which("faketime")
LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(FAKETIME is None or not Path(LIBFAKETIME).exists(),
                                 reason="faketime is not installed (scripts/ensure-debian-packages)")]


def at_clock(when) -> list[str]:
    return [FAKETIME, "-f", when.strftime("@%Y-%m-%d %H:%M:%S")]


def clock_env() -> dict[str, str]:
    return {"PATH": f"{VENV_BIN}:/usr/bin:/bin", "TZ": "UTC", "FAKETIME_DONT_FAKE_MONOTONIC": "1",
            "PYTHONPATH": str(ROOT), "HOME": os.environ.get("HOME", "/tmp")}



@contextmanager
def serving_at(when, cmd: list[str], port: int):
    """A server process under a moved clock: libfaketime preloaded into the process itself (the ``faketime``
    wrapper forks, and terminating it would leave the server running)."""
    env = {**clock_env(), "LD_PRELOAD": LIBFAKETIME, "FAKETIME": when.strftime("@%Y-%m-%d %H:%M:%S")}
    with serving(cmd, port, env=env):
        yield
    assert not _listening(port), f"something still serves 127.0.0.1:{port}"


def qamqor_at(when, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*at_clock(when), sys.executable, "-m", "pipeline.cli", *args], cwd=cwd,
                          env=clock_env(), capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def installation(tmp_path_factory):
    """An installation whose archive holds one B-LTA order signed in March 2026, and a copy of the same file
    kept outside it (never renewed)."""
    port = free_port()
    d = tmp_path_factory.mktemp("timeline")
    pki = build_ltv_pki(d / "pki", url_prefix=f"http://127.0.0.1:{port}")
    signed = asyncio.run(make_signed(pki, make_pdf(["sig"]), level="B-LTA"))
    site = d / "site"
    folder = site / "outbox" / "archive" / "2026" / "03" / "C-2026-0042"
    folder.mkdir(parents=True)
    pdf = folder / "C-2026-0042-order.pdf"
    pdf.write_bytes(signed)
    (folder / "C-2026-0042-order.json").write_text(json.dumps({"document_id": "C-2026-0042-order"}))
    shutil.copyfile(pki.root_cert, site / "root.crt")
    (site / "qamqor.toml").write_text(
        "[signing]\n"
        f'tsa_url = "http://127.0.0.1:{port}/qamqor-ltv/tsa/tsa-2029"\n'
        'trust_roots = ["root.crt"]\n', encoding="utf-8")
    kept = d / "not-renewed.pdf"
    kept.write_bytes(signed)
    return pki, port, site, pdf, kept


def test_renewed_in_2029_passes_in_2035_and_the_copy_not_renewed_has_no_poe(installation, tmp_path):
    pki, port, site, pdf, kept = installation
    before = pdf.read_bytes()
    animate = [str(VENV_BIN / "certomancer"), "--config", str(pki.root_cert.parent / "certomancer.yml"), "animate",
               "--aiohttp", "--no-web-ui", "--port", str(port)]
    with serving_at(RENEWED, animate, port):
        first = qamqor_at(RENEWED, site, "archive", "renew", "--before", "365")
        assert first.returncode == 0, first.stdout + first.stderr
        assert "1 renewed, 0 failed" in first.stdout and str(pdf) in first.stdout, first.stdout
        again = qamqor_at(RENEWED, site, "archive", "renew", "--before", "365")
        assert again.returncode == 0 and again.stdout.strip() == "0 renewed, 0 failed", again.stdout + again.stderr
    # the next day's run (its clock and certomancer's a day on): the new timestamp's status data, issued after
    # it, completes the evidence; nothing is timestamped again, and a third run changes nothing at all
    next_day = RENEWED + dt.timedelta(days=1)
    with serving_at(next_day, animate, port):
        third = qamqor_at(next_day, site, "archive", "renew", "--before", "365")
        assert third.returncode == 0 and "0 renewed, 0 failed, 1 completed" in third.stdout, third.stdout + third.stderr
        unchanged = pdf.read_bytes()
        fourth = qamqor_at(next_day, site, "archive", "renew", "--before", "365")
        assert fourth.stdout.strip() == "0 renewed, 0 failed" and pdf.read_bytes() == unchanged, fourth.stdout

    after = pdf.read_bytes()
    assert after.startswith(before) and len(after) > len(before)  # an incremental update: nothing rewritten
    # journaled on the installation's clock, with the step the audit log mirrors
    from pipeline.config import Config
    from pipeline.journal import Journal, store

    config = Config.load(site / "qamqor.toml")
    journal = Journal(config.journal_url)
    try:
        row, completed = store.renewals(journal)
        steps = [s for s in store.mirrored_steps(journal) if s[2] == "archive-renewed"]
    finally:
        journal.close()
    assert (row.status, row.path, row.document_id) == ("renewed", str(pdf), "C-2026-0042-order")
    assert row.at.startswith("2029-06-01") and row.previous_tsa_valid_until.startswith("2030-06-01")
    assert row.new_timestamp.startswith("2029-06-01") and row.new_tsa_valid_until.startswith("2045")
    assert len(steps) == 1 and steps[0][1] == "C-2026-0042-order"
    assert (completed.status, completed.at[:10], completed.sha256_before) == ("completed", "2029-06-02",
                                                                              row.sha256_after)
    report = Path(row.report)
    assert report == pdf.with_name(pdf.name + ".etsi-report.xml") and report.is_file()
    assert "urn:etsi:019102:mainindication:total-passed" in report.read_text()

    # 2035: the first TSA certificate ran out five years ago; an archive copies the files into an empty folder
    empty = tmp_path / "reader"
    empty.mkdir()
    shutil.copyfile(pdf, empty / "renewed.pdf")
    shutil.copyfile(kept, empty / "not-renewed.pdf")
    shutil.copyfile(pki.root_cert, empty / "root.crt")
    res = qamqor_at(FAR_FUTURE, empty, "verify", "--trust", "root.crt", "--report", "json", "--no-policy",
                    "renewed.pdf", "not-renewed.pdf")  # the fixture PDFs name no qamqor document kind
    out = json.loads(res.stdout)
    renewed, not_renewed = ([(s["indication"], s["subindication"]) for s in f["signatures"]] for f in out["files"])
    assert out["files"][0]["validation_time"].startswith("2035-06-01")
    assert renewed == [("TOTAL-PASSED", None)], out
    assert not_renewed == [("INDETERMINATE", "NO_POE")], out
    assert res.returncode == 1  # not every file passed
    assert sorted(p.name for p in empty.iterdir()) == ["not-renewed.pdf", "renewed.pdf", "root.crt"]

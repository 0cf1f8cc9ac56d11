"""Transient failures are retried later by themselves, never turned into rejections (issue 5 ¶5, issue 4 ¶10):
with the timestamp server down, the auto-sealed documents wait unsigned; once it is up (a real RFC 3161 server
on 127.0.0.1, in its own process) and the backoff has passed, they are sealed at PAdES B-T and delivered."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline import queue as Q
from pipeline.config import Config
from pipeline.core.lifecycle import DocumentStatus
from pipeline.runner import Runner
from tests.conftest import ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 30) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port}")


@pytest.mark.slow
def test_timestamp_server_down_then_up(demo: Path, monkeypatch):
    port = free_port()
    config_path = demo / "qamqor.toml"
    text = config_path.read_text()
    # B-T against a TSA on a port where nothing listens yet (the demo's own B-LTA setup names its certomancer)
    text = re.sub(r'(?m)^level = ".*"$', 'level = "B-T"', text, count=1)
    text = re.sub(r'(?m)^tsa_url = ".*"$', f'tsa_url = "http://127.0.0.1:{port}/tsa"', text, count=1)
    config_path.write_text(text)
    for f in (demo / "inbox").iterdir():
        if not f.name.startswith("C-2026-0003"):
            f.unlink()

    p = Runner(Config.load(config_path))
    s = p.services
    p.run_once(settle=False)
    row = Q.get(s, "C-2026-0003-refusal_receipt")
    assert row.status == DocumentStatus.RENDERED and row.attempts == 1 and row.next_attempt_at
    assert "E-" in (row.error or "")
    assert not list((demo / "outbox").rglob("*.pdf")), "nothing half-signed, nothing delivered"
    assert not (demo / "outbox" / "rejected").exists(), "a transient failure is not a rejection"

    p.run_once(settle=False)  # too early: the backoff holds it
    assert Q.get(s, "C-2026-0003-refusal_receipt").attempts == 1

    tsa = subprocess.Popen([sys.executable, "-m", "signing.testing.tsa_server", "--pki",
                            str(demo / "var" / "demo-pki"), "--port", str(port)],
                           env={**os.environ, "PYTHONPATH": str(ROOT)},
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_port(port)
        monkeypatch.setenv("QAMQOR_NOW", "2027-01-08T13:00:00+05:00")
        p.run_once(settle=False)
    finally:
        tsa.terminate()
        tsa.wait(timeout=10)
    row = Q.get(s, "C-2026-0003-refusal_receipt")
    assert row.status == DocumentStatus.DELIVERED, row.error
    pdf = next((demo / "outbox" / "psc").rglob("C-2026-0003-refusal_receipt.pdf"))
    manifest = json.loads(pdf.with_suffix(".json").read_text())
    assert manifest["signature_level"] == "B-T"
    import signing

    report = signing.verify_pdf(pdf.read_bytes(), trust_roots=list(p.config.signing.trust_roots))
    assert report.valid and report.to_dict()["signatures"][0]["level"] in ("B-T", "PAdES-B-T")
    out = subprocess.run(["pdfsig", str(pdf)], capture_output=True, text=True).stdout
    assert "Signature is Valid." in out
    p.close()

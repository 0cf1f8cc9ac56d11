"""`qamqor run` watching the inbox (issue 5 ¶1): real process, real files written the ways back offices write
them — slowly, or under a temporary name then renamed — none read half-written, each processed once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT

ENV = {"QAMQOR_NOW": "2027-01-08T12:00:00+05:00"}


def wait_for(predicate, timeout: float = 90) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.slow
def test_watch_takes_slow_and_renamed_files_once(demo: Path):
    staged = {f.name: f.read_bytes() for f in (demo / "inbox").iterdir()}
    for f in (demo / "inbox").iterdir():
        f.unlink()
    env = {**os.environ, "PYTHONPATH": str(ROOT), **ENV}
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "run", "--workers", "1"], cwd=demo, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # 1. a slow copier: half the file, a pause longer than settle_seconds, then the rest
        receipt_src = next(n for n in staged if n.startswith("C-2026-0003-01"))
        data = staged[receipt_src]
        with open(demo / "inbox" / receipt_src, "wb") as fh:
            fh.write(data[: len(data) // 2])
            fh.flush()
            time.sleep(2.0)
            fh.write(data[len(data) // 2:])
        # 2. a temporary name, then a rename
        notice_src = next(n for n in staged if n.startswith("C-2026-0004-01"))
        tmp = demo / "inbox" / (notice_src + ".part")
        tmp.write_bytes(staged[notice_src])
        time.sleep(1.0)
        assert tmp.exists(), "a .part file must never be taken"
        os.rename(tmp, demo / "inbox" / notice_src)
        psc = demo / "outbox" / "psc" / "PSC-ALM-07" / "C-2026-0003" / "C-2026-0003-refusal_receipt.pdf"
        assert wait_for(psc.exists), proc.stderr.read() if proc.poll() is not None else "no refusal receipt"
        assert wait_for(lambda: any((demo / "outbox" / "cabinet").rglob("C-2026-0004-acceptance_notice.pdf")))
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert not (demo / "outbox" / "rejected").exists(), "nothing was read half-written"
    assert os.listdir(demo / "inbox") == []

"""Idle latency (issue 13 target 4), run on demand, not a test: ``.venv/bin/python bench/bench_latency.py``.

A real ``qamqor run`` watches a quiet inbox; one portal application at a time is dropped into it (written
beside, then renamed in, as a back office does), and the time from the drop to the applicant's signed notice in
``outbox/cabinet/`` (the PDF's own modification time, so no polling delay counts) is taken, less the
configured settle time (a file must sit unchanged that long before it is read, contract.md).  Printed over
``--drops`` (50) per signature level: median and p95, beside the floor measured in the same run — the same
document rendered and signed in one warm process, with nothing else (``--levels B-B,B-LTA``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_pipeline import NOW, finish_site, make_site, percentile  # noqa: E402

TARGET = {"p50": 0.150, "p95": 0.300}


def set_level(root: Path, level: str) -> float:
    cfg = root / "qamqor.toml"
    text = cfg.read_text()
    for old in ('level = "B-LTA"', 'level = "B-B"', 'level = "B-T"', 'level = "B-LT"'):
        text = text.replace(old, f'level = "{level}"')
    cfg.write_text(text)
    from pipeline.config import Config

    return Config.load(cfg).settle_seconds


def wait_for(pattern: str, folder: Path, timeout: float) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        hits = list(folder.rglob(pattern)) if folder.exists() else []
        if hits:
            return hits[0]
        time.sleep(0.005)
    raise SystemExit(f"no {pattern} in {folder} after {timeout} s")


def drops(root: Path, n: int, settle: float) -> list[float]:
    from pipeline.demo import EXAMPLES

    template = json.loads((EXAMPLES / "C-2026-0004" / "01-application.submitted.json").read_text())
    env = {**os.environ, "QAMQOR_NOW": NOW, "PYTHONPATH": str(ROOT)}
    log = open(root / "run.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "run", "--workers", "2"], cwd=root, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        # warm up: the first document loads fonts, templates and keys in the workers
        out = []
        for i in range(n + 2):
            case = f"L-{uuid.uuid4().hex[:8]}"
            staged = root / f".{case}.json"
            staged.write_text(json.dumps(dict(template, event_id=str(uuid.uuid4()), case_id=case), ensure_ascii=False))
            t0 = time.time()
            os.rename(staged, root / "inbox" / f"{case}.json")
            pdf = wait_for(f"{case}-*.pdf", root / "outbox" / "cabinet", 60)
            wait_for(f"{case}-*.json", root / "outbox" / "archive", 60)  # the pass is over before the next drop
            if i >= 2:
                out.append(pdf.stat().st_mtime - t0 - settle)
            time.sleep(0.2)  # quiet again
        return out
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        log.close()


def floor(root: Path, repeat: int = 15) -> float:
    """The same notice rendered and signed in one warm process, nothing else: what the pipeline adds is the rest."""
    os.environ["QAMQOR_NOW"] = NOW
    old = os.getcwd()
    os.chdir(root)
    try:
        from pipeline.config import Config
        from pipeline.demo import ensure_services
        from pipeline.journal import store
        from pipeline.services import Services
        from pipeline.stages import render

        services = Services.build(Config.load(root / "qamqor.toml"))
        ensure_services(services.config)
        doc = next(d for d in store.all_documents(services.journal) if d.kind == "acceptance_notice")
        job = render.job(services, doc)
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            result = render.run(job)
            times.append(time.perf_counter() - t)
            assert result.signature is not None, result.signature_failure
        services.close()
        return statistics.median(times[2:])
    finally:
        os.chdir(old)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--drops", type=int, default=50)
    ap.add_argument("--levels", default="B-B,B-LTA")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    print(f"{'level':8} {'p50 (s)':>9} {'p95 (s)':>9} {'floor (s)':>10}   target p50 {TARGET['p50']} s, "
          f"p95 {TARGET['p95']} s after the settle time")
    for level in args.levels.split(","):
        root, staging = make_site(0)
        shutil.rmtree(staging)
        settle = set_level(root, level)
        lat = drops(root, args.drops, settle)
        base = floor(root)
        print(f"{level:8} {statistics.median(lat):9.3f} {percentile(lat, 95):9.3f} {base:10.3f}"
              f"   ({len(lat)} drops; settle {settle} s; floor: render + sign of the same notice in one warm process)")
        finish_site(root, args.keep)


if __name__ == "__main__":
    main()

"""Several nodes (issue 10), run on demand, not a test: ``.venv/bin/python bench/bench_cluster.py``.

One run on this machine, each configuration on a fresh demo installation with the same burst of N complete
portal applications (each: an acceptance notice sealed without an officer, delivered to cabinet/ and archive/):

- one node on SQLite (``qamqor run``, the embedded default, two render processes);
- one, two and three nodes on PostgreSQL (``qamqor run --node nK``; the nodes split the two render processes
  between them: ``--workers 2`` for one node, ``1`` each for two or three).

Printed for each: documents per second from the first node's start to the last notice delivered (start-up
included), and the database time per document (PostgreSQL's ``pg_stat_statements``: the execution time of every
statement, procrastinate's included, over the documents).  Targets: one PostgreSQL node at least 90 % of the
SQLite node; two and three nodes on these two cores no slower than one.

    --events 200 (default) · --runs 1 · --level B-B
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NOW = "2027-01-08T12:00:00+05:00"


LEVEL: str | None = None  #: --level: sign at this level instead of the demo's (B-B: the engines, not the TSA)


def site(n: int, url: str | None) -> Path:
    from pipeline.demo import EXAMPLES, make_demo

    root = Path(tempfile.mkdtemp(prefix="qamqor-cluster-bench-"))
    make_demo(root)
    for f in (root / "inbox").iterdir():
        f.unlink()
    if LEVEL:
        import re

        toml = root / "qamqor.toml"
        toml.write_text(re.sub(r'(?m)^level = ".*"$', f'level = "{LEVEL}"', toml.read_text()))
    if url:
        with open(root / "qamqor.toml", "a", encoding="utf-8") as fh:
            fh.write(f'\n[journal]\nurl = "{url}"\n\n[cluster]\nheartbeat_seconds = 2.0\npoll_seconds = 0.2\n')
    template = json.loads((EXAMPLES / "C-2026-0004" / "01-application.submitted.json").read_text())
    staging = root / "staging"
    staging.mkdir()
    old = time.time() - 60
    for i in range(n):
        tree = dict(template, event_id=str(uuid.uuid4()), case_id=f"B-{i:06d}")
        p = staging / f"B-{i:06d}.json"
        p.write_text(json.dumps(tree, ensure_ascii=False))
        os.utime(p, (old, old))
    return root


class Delivered:
    """The notices delivered so far, read through one journal handle kept for the run: the watching costs each
    configuration the same (a new engine per look was a new PostgreSQL backend five times a second)."""

    def __init__(self, url: str):
        self.url = url
        self.journal = None

    def __call__(self) -> int:
        from pipeline.core.lifecycle import DocumentStatus
        from pipeline.journal import Journal, store

        try:
            if self.journal is None:
                self.journal = Journal(self.url, create=False)
            return store.document_counts(self.journal).get(DocumentStatus.DELIVERED, 0)
        except Exception:  # noqa: BLE001 - the schema (or the SQLite file) may not exist yet
            self.close()
            return 0

    def close(self) -> None:
        if self.journal is not None:
            self.journal.close()
            self.journal = None


def run(n: int, nodes: int, pg, db: str | None) -> dict:
    url = pg.createdb(db) if db else None
    root = site(n, url)
    journal = url or f"sqlite:///{root / 'var' / 'journal.sqlite'}"
    env = {**os.environ, "QAMQOR_NOW": NOW, "PYTHONPATH": str(ROOT)}
    if db:
        # the schema and procrastinate's tables first, so the timing is the work, not the migrations
        subprocess.run([sys.executable, "-m", "pipeline.cli", "run", "--once", "--node", "warm"], cwd=root, env=env,
                       check=True, capture_output=True)
        pg.psql(db, "SELECT pg_stat_statements_reset()")
    for p in (root / "staging").iterdir():
        p.rename(root / "inbox" / p.name)
    workers = "2" if nodes == 1 else "1"
    t0 = time.monotonic()
    procs = []
    for k in range(nodes):
        cmd = [sys.executable, "-m", "pipeline.cli", "run", "--workers", workers]
        if db:
            cmd += ["--node", f"n{k + 1}"]
        procs.append(subprocess.Popen(cmd, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
    delivered = Delivered(journal)
    while delivered() < n:
        if any(p.poll() is not None for p in procs):
            raise SystemExit(f"a node exited: {procs[0].stderr.read().decode()[-2000:] if procs[0].stderr else ''}")
        time.sleep(0.2)
    elapsed = time.monotonic() - t0
    delivered.close()
    for p in procs:
        p.terminate()
    for p in procs:
        p.wait(60)
    db_ms = None
    if db:
        total = float(pg.psql(db, "SELECT COALESCE(SUM(total_exec_time), 0) FROM pg_stat_statements").strip())
        db_ms = total / n
    shutil.rmtree(root, ignore_errors=True)
    return {"docs_per_s": n / elapsed, "elapsed": elapsed, "db_ms_per_doc": db_ms}


def main() -> None:
    from tests.pgserver import PgServer

    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=200)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--level", default=None, help="PAdES level instead of the demo's B-LTA (B-B: compare engines)")
    args = ap.parse_args()
    global LEVEL
    LEVEL = args.level
    pg = PgServer().init()
    with open(pg.data / "postgresql.conf", "a", encoding="utf-8") as fh:
        fh.write("shared_preload_libraries = 'pg_stat_statements'\n")
    pg.start()
    pg.psql("postgres", "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    pg.psql("template1", "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    try:
        configs = [("1 node, SQLite", 1, False), ("1 node, PostgreSQL", 1, True), ("2 nodes, PostgreSQL", 2, True),
                   ("3 nodes, PostgreSQL", 3, True)]
        results: dict[str, list[dict]] = {c[0]: [] for c in configs}
        for r in range(args.runs):
            for label, nodes, on_pg in configs:  # interleaved: the machine's state is the same for each
                db = f"b_{uuid.uuid4().hex[:8]}" if on_pg else None
                results[label].append(run(args.events, nodes, pg, db))
                print(f"  run {r + 1}: {label}: {results[label][-1]['docs_per_s']:.2f} documents/s", flush=True)
        base = statistics.median(x["docs_per_s"] for x in results["1 node, SQLite"])
        one_pg = statistics.median(x["docs_per_s"] for x in results["1 node, PostgreSQL"])
        print(f"\n{args.events} portal notices, burst, medians of {args.runs} run(s), this machine "
              f"({os.cpu_count()} cores):")
        print(f"{'':22} {'documents/s':>12} {'vs SQLite':>10} {'vs 1 PG node':>13} {'DB ms/document':>15}")
        for label, _, _on_pg in configs:
            rate = statistics.median(x["docs_per_s"] for x in results[label])
            db = [x["db_ms_per_doc"] for x in results[label] if x["db_ms_per_doc"] is not None]
            print(f"{label:22} {rate:12.2f} {rate / base:10.0%} {rate / one_pg:13.0%} "
                  f"{(f'{statistics.median(db):.1f}' if db else 'n/a'):>15}")
    finally:
        pg.destroy()


if __name__ == "__main__":
    main()

"""Several nodes (issue 10), run on demand, not a test: ``.venv/bin/python bench/bench_cluster.py``.

One run on this machine, each configuration on a fresh demo installation with the same burst of N complete
portal applications (each: an acceptance notice sealed without an officer, delivered to cabinet/ and archive/):

- one node on SQLite (``qamqor run``, the embedded default, two render processes);
- one, two and three nodes on PostgreSQL (``qamqor run --node nK``; the nodes split the two render processes
  between them: ``--workers 2`` for one node, ``1`` each for two or three, as ``deploy/qamqor-node@.service``).

The demo's TSA and OCSP server is started before the clock, as NCA's servers are always up.  Printed for each:
documents per second from the first node's start to the last notice delivered (start-up included) and once the
nodes are warm (from the first quarter of the burst delivered to the last), seconds to the first notice, CPU per
document in all (every process of the nodes) and, warm, split into the nodes' own processes, their render
workers and the PostgreSQL server; and the database time per document (``pg_stat_statements``: the execution
time of every statement, procrastinate's included).  Targets: one PostgreSQL node at least 90 % of the SQLite
node; two and three nodes on these two cores no slower than one.  ``--statements``: the statements run most.

    --events 300 (default) · --runs 1 · --level B-B · --statements · --only "3 nodes" (with the SQLite node)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
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


STATEMENTS = False  #: --statements: print the statements PostgreSQL ran most, per document
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


def processes() -> dict[int, tuple[int, str, float]]:
    """Every process on this machine: pid → (parent pid, command name, CPU seconds so far), read from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, str, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                head, tail = fh.read().rsplit(")", 1)
        except OSError:
            continue
        fields = tail.split()
        stats[int(entry)] = (int(fields[1]), head.split("(", 1)[1], (int(fields[11]) + int(fields[12])) / tick)
    return stats


def cpu_by_kind(nodes: list[int]) -> dict[str, float]:
    """CPU seconds so far of the nodes' own processes, their children (render workers, the demo's services) and
    the PostgreSQL server's processes."""
    stats = processes()
    out = {"node": 0.0, "workers": 0.0, "postgres": 0.0}
    for pid, (ppid, comm, cpu) in stats.items():
        if pid in nodes:
            out["node"] += cpu
        elif ppid in nodes or stats.get(ppid, (0,))[0] in nodes:
            out["workers"] += cpu
        elif comm.startswith("postgres"):
            out["postgres"] += cpu
    return out


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
    from pipeline import demo
    from pipeline.config import Config

    # the demo's TSA and OCSP server up before the clock starts, as NCA's servers are: every configuration's
    # start-up is then its nodes' own
    demo.ensure_services(Config.load(root / "qamqor.toml"))
    for p in (root / "staging").iterdir():
        p.rename(root / "inbox" / p.name)
    workers = "2" if nodes == 1 else "1"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    procs = []
    for k in range(nodes):
        cmd = [sys.executable, "-m", "pipeline.cli", "run", "--workers", workers]
        if db:
            cmd += ["--node", f"n{k + 1}"]
        with open(root / f"node-{k + 1}.log", "wb") as log:  # a file, not a pipe nobody reads while it runs
            procs.append(subprocess.Popen(cmd, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=log))
    delivered = Delivered(journal)
    quarter = None  #: (seconds, count) when a quarter of the burst was delivered: the nodes are warm from there
    first = None  #: seconds to the first notice delivered: the start-up
    cpu_q = cpu_by_kind([p.pid for p in procs])  #: replaced when a quarter is delivered (a tiny burst: never)
    while (count := delivered()) < n:
        if first is None and count:
            first = time.monotonic() - t0
        if quarter is None and count >= n // 4:
            quarter = (time.monotonic() - t0, count)
            cpu_q = cpu_by_kind([p.pid for p in procs])
        if any(p.poll() is not None for p in procs):
            logs = "".join(f.read_text(errors="replace")[-2000:] for f in sorted(root.glob("node-*.log")))
            raise SystemExit(f"a node exited:\n{logs}")
        time.sleep(0.1)
    elapsed = time.monotonic() - t0
    first = elapsed if first is None else first
    cpu_end = cpu_by_kind([p.pid for p in procs])
    delivered.close()
    for p in procs:
        p.terminate()
    for p in procs:
        p.wait(60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_ms = ((after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)) * 1000 / n
    q_s, q_n = quarter or (0.0, 0)
    warm_cpu = {k: (cpu_end[k] - cpu_q[k]) * 1000 / (n - q_n) for k in cpu_end}
    db_ms = None
    if db:
        total = float(pg.psql(db, "SELECT COALESCE(SUM(total_exec_time), 0) FROM pg_stat_statements").strip())
        db_ms = total / n
        if STATEMENTS:
            print(f"  {nodes} node(s): the statements most called, per document (calls, ms of execution):")
            print(pg.psql(db, f"SELECT round(calls::numeric / {n}, 2), round((total_exec_time / {n})::numeric, 3), "
                          "left(regexp_replace(query, '\\s+', ' ', 'g'), 160) FROM pg_stat_statements "
                          "ORDER BY calls DESC LIMIT 60"))
    demo.stop_services()
    shutil.rmtree(root, ignore_errors=True)
    return {"docs_per_s": n / elapsed, "steady_per_s": (n - q_n) / (elapsed - q_s), "elapsed": elapsed,
            "db_ms_per_doc": db_ms, "cpu_ms_per_doc": cpu_ms, "warm_cpu": warm_cpu,
            "first_s": first}


def main() -> None:
    from tests.pgserver import PgServer

    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=300)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--level", default=None, help="PAdES level instead of the demo's B-LTA (B-B: compare engines)")
    ap.add_argument("--statements", action="store_true", help="print the statements run most, per document")
    ap.add_argument("--only", default=None, help="run only the configurations whose label contains this")
    args = ap.parse_args()
    global LEVEL, STATEMENTS
    LEVEL, STATEMENTS = args.level, args.statements
    pg = PgServer().init()
    with open(pg.data / "postgresql.conf", "a", encoding="utf-8") as fh:
        fh.write("shared_preload_libraries = 'pg_stat_statements'\n")
    pg.start()
    pg.psql("postgres", "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    pg.psql("template1", "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    try:
        configs = [("1 node, SQLite", 1, False), ("1 node, PostgreSQL", 1, True), ("2 nodes, PostgreSQL", 2, True),
                   ("3 nodes, PostgreSQL", 3, True)]
        if args.only:
            configs = [c for c in configs if args.only in c[0] or c[0] == "1 node, SQLite"]
        results: dict[str, list[dict]] = {c[0]: [] for c in configs}
        for r in range(args.runs):
            for label, nodes, on_pg in configs:  # interleaved: the machine's state is the same for each
                db = f"b_{uuid.uuid4().hex[:8]}" if on_pg else None
                results[label].append(run(args.events, nodes, pg, db))
                x = results[label][-1]
                print(f"  run {r + 1}: {label}: {x['docs_per_s']:.2f} documents/s from the start, "
                      f"{x['steady_per_s']:.2f} warm, the first after {x['first_s']:.1f} s; {x['cpu_ms_per_doc']:.0f} ms CPU per document in all; "
                      "warm, per document: " + ", ".join(f"{k} {v:.1f} ms" for k, v in x["warm_cpu"].items()),
                      flush=True)

        def med(label: str, key: str) -> float | None:
            xs = [x[key] for x in results.get(label, []) if x[key] is not None]
            return statistics.median(xs) if xs else None

        print(f"\n{args.events} portal notices, burst, medians of {args.runs} run(s), this machine "
              f"({os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}); 'from start': from the first node's start "
              "(start-up included), 'warm': after the first quarter of the burst was delivered")
        print(f"{'':22} {'from start/s':>13} {'vs SQLite':>10} {'warm/s':>8} {'vs SQLite':>10} {'vs 1 PG':>8} "
              f"{'CPU ms/doc':>11} {'DB ms/doc':>10}")
        for label, _, _on_pg in configs:
            rate, warm, cpu, db = (med(label, k) for k in ("docs_per_s", "steady_per_s", "cpu_ms_per_doc",
                                                             "db_ms_per_doc"))
            print(f"{label:22} {rate:13.2f} {rate / med('1 node, SQLite', 'docs_per_s'):10.0%} {warm:8.2f} "
                  f"{warm / med('1 node, SQLite', 'steady_per_s'):10.0%} "
                  f"{warm / (med('1 node, PostgreSQL', 'steady_per_s') or warm):8.0%} {cpu:11.0f} "
                  f"{(f'{db:.1f}' if db is not None else 'n/a'):>10}")
    finally:
        pg.destroy()


if __name__ == "__main__":
    main()

"""``python -m bench`` (``make bench``): every benchmark in turn, each printing its own figures.

Run them on an idle machine: each compares against its baseline in the same run, but absolute figures move
with the load (``uptime``).  One at a time: ``python bench/bench_render.py`` (documents),
``bench_sign.py`` (signatures), ``bench_report.py`` (the archive's report), ``bench_pipeline.py`` (end to end, ``--long`` for 10,000 events),
``bench_web.py`` (the web desk), ``bench_latency.py``, ``bench_chromium.py``, ``bench_memory.py``,
``bench_gost.py``, ``bench_journal.py``, ``bench_cluster.py``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: each with the options ``make bench`` gives it (on its own, each takes more: ``--help``)
BENCHES = (
    ("bench_render.py",),
    ("bench_chromium.py",),  # the renderer against Debian's Chromium on the same HTML (#13.3)
    ("bench_sign.py",),
    ("bench_report.py",),  # the archive's ETSI report with signing/speedups.py and without (#13)
    ("bench_gost.py",),  # GOST sign and verify beside RSA (#16)
    ("bench_pipeline.py",),
    # the burst of 500 PSC receipts from the process start (#13.1), the engines without the TSA's round trips
    ("bench_pipeline.py", "--channel", "psc", "--events", "500", "--level", "B-B"),
    ("bench_latency.py",),  # one file into a quiet inbox (#13.4)
    ("bench_memory.py", "--count", "2000"),  # a worker's memory (10,000: ``--count 10000``, ~20 min; #13.5)
    ("bench_journal.py",),  # one journal statement's CPU, SQLite against PostgreSQL (#10)
    ("bench_cluster.py", "--level", "B-B"),  # one node on SQLite, one to three on PostgreSQL (#10)
    ("bench_web.py",),
)


def main() -> int:
    failed = 0
    for name, *args in BENCHES:
        print(f"\n=== {' '.join([name, *args])} ===", flush=True)
        failed |= subprocess.call([sys.executable, str(HERE / name), *args]) != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

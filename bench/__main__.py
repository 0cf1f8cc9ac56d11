"""``python -m bench`` (``make bench``): every benchmark in turn, each printing its own figures.

Run them on an idle machine: each compares against its baseline in the same run, but absolute figures move
with the load (``uptime``).  One at a time: ``python bench/bench_render.py`` (documents),
``bench_sign.py`` (signatures), ``bench_pipeline.py`` (end to end, ``--long`` for 10,000 events),
``bench_web.py`` (the web desk).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    failed = 0
    for name in ("bench_render.py", "bench_sign.py", "bench_pipeline.py", "bench_web.py"):
        print(f"\n=== {name} ===", flush=True)
        failed |= subprocess.call([sys.executable, str(HERE / name)]) != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

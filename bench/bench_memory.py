"""Memory of one warm render worker over many documents (run on demand, not a test):
``.venv/bin/python bench/bench_memory.py [--count 10000] [--every 1000]``.

Issue 13, target 5: memory flat over 10,000 documents, at most 150 MiB per worker.  This process is the worker:
a fresh interpreter makes one ``Renderer`` (as ``pipeline/stages/render.py`` does in each render process) and
renders ``--count`` documents, a different one each time (every kind of the catalogue in kk and ru in turn, each
with its own id, number and verification URL, so a new QR code, and the source event attached).  It prints the
resident set (VmRSS, from /proc, not ``ru_maxrss``, see research/perf-baseline.md §4f) after the warm-up — the
baseline of the same run — then every ``--every`` documents, and at the end: the growth from the first report to
the last, and the peak (VmHWM) against the 150 MiB limit.
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LIMIT_MIB = 150
EVENT = json.dumps({"format": "qamqor.case-event/1", "event": "application.submitted"}).encode()


def status_mib(field: str) -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def documents():
    """Endlessly: every kind in kk and ru, each time a new document (id, number, verify URL)."""
    from forms.catalogue import LANGUAGES, document_kinds
    from forms.preview import sample_context

    bases = [(kind, lang, sample_context(kind, lang)) for kind in document_kinds() for lang in LANGUAGES]
    i = 0
    while True:
        kind, lang, ctx = bases[i % len(bases)]
        c = copy.deepcopy(ctx)
        doc = c["document"]
        doc["id"] = f"{doc['id']}-m{i}"
        doc["number"] = f"{doc['number']}-{i}"
        doc["verify_url"] = f"{doc['verify_url']}-m{i}"
        yield kind, lang, c
        i += 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000, help="documents to render")
    parser.add_argument("--every", type=int, default=1_000, help="print the RSS every this many documents")
    parser.add_argument("--warmup", type=int, default=40, help="documents rendered before the first report")
    args = parser.parse_args(argv)

    from forms.render import Renderer

    renderer = Renderer()
    stream = documents()
    for _ in range(args.warmup):
        kind, lang, ctx = next(stream)
        renderer.render(kind, lang, ctx, attachments=[("event.json", EVENT, "application/json")])
    gc.collect()
    start = status_mib("VmRSS")
    print(f"one warm worker, {args.count} documents (every kind, kk and ru, each one new)")
    print(f"{'documents':>10} {'RSS MiB':>9} {'vs start':>9} {'docs/s':>8}")
    print(f"{0:>10} {start:9.1f} {0:+9.1f} {'':>8}   (after {args.warmup} warm-up documents: the baseline)")
    reports = [start]
    t = time.perf_counter()
    for n in range(1, args.count + 1):
        kind, lang, ctx = next(stream)
        renderer.render(kind, lang, ctx, attachments=[("event.json", EVENT, "application/json")])
        if n % args.every == 0 or n == args.count:
            rss = status_mib("VmRSS")
            rate = (args.every if n % args.every == 0 else n % args.every) / (time.perf_counter() - t)
            print(f"{n:>10} {rss:9.1f} {rss - start:+9.1f} {rate:8.1f}", flush=True)
            reports.append(rss)
            t = time.perf_counter()
    peak = status_mib("VmHWM")
    later = reports[1:] or reports
    growth = reports[-1] - later[0]
    print(f"growth from the first report to the end: {growth:+.1f} MiB "
          f"(from the start: {reports[-1] - start:+.1f} MiB)")
    print(f"peak RSS (VmHWM) {peak:.1f} MiB, limit {LIMIT_MIB} MiB: {'within' if peak <= LIMIT_MIB else 'OVER'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark of document rendering (run on demand, not a test): ``.venv/bin/python bench/bench_render.py``.

Renders one order (1 page) and one inspection act (2–3 pages), warm, many times, and prints median and p95 per
document and documents/second with one and with two processes — side by side with a plain WeasyPrint call with
defaults (``HTML(string=html_with_inline_css).write_pdf()``, new FontConfiguration each time) in the same run.
Targets (research/perf-baseline.md §4b): tuned ≈ 90 ms order / 160 ms act or better on the 2-vCPU machine.
The tuned path is the real one: ``Renderer.render`` (PDF/A-3b, glyph/font checks, signature fields, XMP).
"""

from __future__ import annotations

import argparse
import copy
import multiprocessing as mp
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from forms.preview import sample_context  # noqa: E402
from forms.render import FORMS_DIR, Renderer, harfbuzz_subsetting_available  # noqa: E402


def contexts() -> dict[str, tuple[str, dict]]:
    order = copy.deepcopy(sample_context("order", "kk"))
    order["computed"]["children"] = order["computed"]["children"][:1]     # one child: a one-page order
    order["decision"]["child_housing_retained"] = False
    act = sample_context("inspection_act", "ru")
    return {"order": ("order", order), "act": ("inspection_act", act)}


def variant(ctx: dict, i: int) -> dict:
    """A different document each iteration (id, number, verify URL → new QR), as in production."""
    c = copy.deepcopy(ctx)
    c["document"]["id"] = f"{c['document']['id']}-{i}"
    c["document"]["number"] = f"{c['document']['number']}-{i}"
    c["document"]["verify_url"] = f"{c['document']['verify_url']}-{i}"
    return c


def plain_html(renderer: Renderer, kind: str, ctx: dict) -> str:
    css = (FORMS_DIR / "styles" / "base.css").read_text().replace("../fonts/", (FORMS_DIR / "fonts").as_uri() + "/")
    html = renderer.html(kind, "kk", ctx)
    return html.replace("</head>", f"<style>{css}</style></head>", 1)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))]


def run_single(n: int, warmup: int) -> dict:
    from weasyprint import HTML

    renderer = Renderer()
    results = {}
    for label, (kind, ctx) in contexts().items():
        pages = renderer.render(kind, "kk", ctx).pages
        for i in range(warmup):
            renderer.render(kind, "kk", variant(ctx, -i))
            HTML(string=plain_html(renderer, kind, variant(ctx, -i)), base_url=renderer.base_url).write_pdf()
        tuned, plain = [], []
        for i in range(n):          # interleaved, so both see the same machine noise
            c = variant(ctx, i)
            t = time.perf_counter()
            renderer.render(kind, "kk", c)
            tuned.append(time.perf_counter() - t)
            t = time.perf_counter()
            HTML(string=plain_html(renderer, kind, c)).write_pdf()
            plain.append(time.perf_counter() - t)
        results[label] = {"pages": pages, "tuned": tuned, "plain": plain}
    return results


_worker_renderer = None


def _init_worker():
    global _worker_renderer
    _worker_renderer = Renderer()
    for label, (kind, ctx) in contexts().items():
        for i in range(3):
            _worker_renderer.render(kind, "kk", variant(ctx, -1 - i))
        del label


def _render_one(args):
    kind, ctx = args
    t = time.perf_counter()
    _worker_renderer.render(kind, "kk", ctx)
    return time.perf_counter() - t


def run_pool(processes: int, label: str, n: int) -> float:
    kind, ctx = contexts()[label]
    jobs = [(kind, variant(ctx, i)) for i in range(n)]
    with mp.get_context("spawn").Pool(processes, initializer=_init_worker) as pool:
        pool.map(_render_one, jobs[: processes * 2], chunksize=1)      # all workers warm before timing
        t = time.perf_counter()
        pool.map(_render_one, jobs, chunksize=1)
        wall = time.perf_counter() - t
    return n / wall


def ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:6.1f} / {percentile(values, 95) * 1000:6.1f}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=40, help="timed renders per document and variant")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--pool-n", type=int, default=60, help="documents per throughput run")
    args = parser.parse_args(argv)
    print(f"harfbuzz subsetting: {'yes' if harfbuzz_subsetting_available() else 'NO (install libharfbuzz-subset0)'}")
    single = run_single(args.n, args.warmup)
    print(f"\nwarm, one process, n={args.n} (median / p95, ms)")
    print(f"{'document':<10}{'pages':>6}  {'plain WeasyPrint':>18}  {'tuned Renderer':>18}  {'speed-up':>8}")
    for label, r in single.items():
        speed = statistics.median(r["plain"]) / statistics.median(r["tuned"])
        print(f"{label:<10}{r['pages']:>6}  {ms(r['plain']):>18}  {ms(r['tuned']):>18}  {speed:7.2f}x")
    print(f"\nthroughput, tuned Renderer, {args.pool_n} documents (docs/s)")
    for label in ("order", "act"):
        one = run_pool(1, label, args.pool_n)
        two = run_pool(2, label, args.pool_n)
        print(f"{label:<10} 1 process: {one:6.1f}   2 processes: {two:6.1f}   scaling {two / one:4.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())

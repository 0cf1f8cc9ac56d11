"""Our renderer against headless Chromium on the same HTML (run on demand, not a test):
``.venv/bin/python bench/bench_chromium.py [-n 40] [--warmup 5] [--profile bench/PROFILE.txt]``.

Issue 13, target 3: render no slower than Chromium.  One process, interleaved (each round runs both engines in a
random order, so both see the same machine noise), a different one-page order each round (id, number, verify URL
→ a new QR code), warm:

- **Chromium** — Debian's ``/usr/bin/chromium`` driven by Playwright (launched as ``tests/web/test_browser.py``
  does, nothing downloaded): the order's HTML with the stylesheet inlined (fonts by ``file:`` URL) loaded with
  ``page.set_content()`` into a page of ``file:`` origin (so the fonts load), then ``page.pdf()``.  Chromium makes a plain PDF: no PDF/A, no signature fields, no checks.
- **qamqor** — ``Renderer.render_html`` on the *same* HTML string: PDF/A-3b (XMP, sRGB output intent, the event
  attached), every font embedded as a subset, the signature field written, the glyph and font checks run.  Also
  ``Renderer.render`` from the context (the template and the QR code included), which is what the pipeline calls.

Prints the medians and p95 of each and the ratio Chromium / qamqor (≥ 1.00 means ours is no slower).
``--profile FILE`` also writes a pyinstrument profile of ``Renderer.render`` (the summary is in bench/PROFILE.md).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_render import contexts, ms, variant  # noqa: E402
from forms.render import FORMS_DIR, Renderer  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--allow-file-access-from-files"]
EVENT = json.dumps({"format": "qamqor.case-event/1", "event": "application.submitted"}).encode()


def standalone_html(renderer: Renderer, html: str, language: str) -> str:
    """The same HTML for a browser: base.css and the page-number rule inlined, the fonts by absolute URL."""
    css = (FORMS_DIR / "styles" / "base.css").read_text(encoding="utf-8")
    css = css.replace("../fonts/", (FORMS_DIR / "fonts").as_uri() + "/") + "\n" + renderer._page_css(language)
    return html.replace("</head>", f"<style>{css}</style></head>", 1)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=40, help="timed rounds (each runs every engine once)")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--language", default="kk", choices=("kk", "ru"))
    parser.add_argument("--profile", type=Path, help="also write a pyinstrument profile of Renderer.render here")
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} not found: apt-get install chromium (scripts/ensure-debian-packages)", file=sys.stderr)
        return 3
    from playwright.sync_api import sync_playwright

    renderer = Renderer()
    kind, ctx = contexts()["order"]
    lang = args.language
    attachments = [("event.json", EVENT, "application/json")]
    times: dict[str, list[float]] = {"chromium": [], "chromium_pdf": [], "ours_html": [], "ours_render": []}
    sizes: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="qamqor-chromium-") as tmp, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page()
        blank = Path(tmp) / "blank.html"       # a file: origin, so the page may load the fonts by file: URL
        blank.write_text("<!DOCTYPE html><html><body></body></html>", encoding="utf-8")
        page.goto(blank.as_uri())

        def chromium(c: dict) -> bytes:
            html = standalone_html(renderer, renderer.html(kind, lang, c), lang)   # untimed, as for ours
            t = time.perf_counter()
            page.set_content(html, wait_until="load")
            t_pdf = time.perf_counter()
            pdf = page.pdf(prefer_css_page_size=True, print_background=True)
            end = time.perf_counter()
            times["chromium"].append(end - t)
            times["chromium_pdf"].append(end - t_pdf)
            return pdf

        def ours_html(c: dict) -> bytes:
            html = renderer.html(kind, lang, c)
            t = time.perf_counter()
            doc = renderer.render_html(kind, lang, html, c, attachments)
            times["ours_html"].append(time.perf_counter() - t)
            return doc.pdf

        def ours_render(c: dict) -> bytes:
            t = time.perf_counter()
            doc = renderer.render(kind, lang, c, attachments)
            times["ours_render"].append(time.perf_counter() - t)
            return doc.pdf

        engines = [chromium, ours_html, ours_render]
        for i in range(args.warmup):
            for engine in engines:
                engine(variant(ctx, -1 - i))
        for values in times.values():
            values.clear()
        rng = random.Random(13)
        for i in range(args.n):
            c = variant(ctx, i)
            for engine in rng.sample(engines, len(engines)):
                sizes[engine.__name__] = len(engine(c))
        browser.close()

    if args.profile:
        write_profile(renderer, kind, lang, ctx, args.profile)

    chromium_med = statistics.median(times["chromium"])
    print(f"one-page order ({lang}), warm, interleaved, n={args.n} (median / p95, ms)")
    rows = [
        ("Chromium set_content + page.pdf (plain PDF)", "chromium", "chromium"),
        ("  of which page.pdf()", "chromium_pdf", None),
        ("qamqor Renderer.render_html (same HTML, PDF/A-3b)", "ours_html", "ours_html"),
        ("qamqor Renderer.render (context → PDF/A-3b)", "ours_render", "ours_render"),
    ]
    for label, key, size_key in rows:
        ratio = chromium_med / statistics.median(times[key])
        size = f"{sizes[size_key] / 1024:6.1f} KB" if size_key else ""
        print(f"{label:<52} {ms(times[key]):>16}   Chromium/this {ratio:4.2f}x  {size}")
    verdict = "no slower" if statistics.median(times["ours_html"]) <= chromium_med else "SLOWER"
    print(f"target 3 (same HTML, ours no slower than Chromium): {verdict}")
    return 0


def write_profile(renderer: Renderer, kind: str, lang: str, ctx: dict, out: Path, n: int = 60) -> None:
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.001)
    profiler.start()
    for i in range(n):
        renderer.render(kind, lang, variant(ctx, 1000 + i))
    profiler.stop()
    out.write_text(profiler.output_text(unicode=True, color=False, show_all=True), encoding="utf-8")
    print(f"profile of {n} renders: {out}")


if __name__ == "__main__":
    sys.exit(main())

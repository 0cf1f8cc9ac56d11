"""Preview: render every document in kk and ru from the example contexts (forms/samples/) to PDF and PNG.

``python -m forms.preview --out preview/`` (the Makefile's ``make preview``) writes ``<kind>.<lang>.pdf`` and
``<kind>.<lang>-<page>.png`` (pdftoppm, poppler-utils) so a person can look at the documents.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

from .catalogue import LANGUAGES
from .render import Renderer

SAMPLES = Path(__file__).resolve().parent / "samples"


def sample_context(kind: str, language: str) -> dict:
    return json.loads((SAMPLES / f"{kind}.{language}.json").read_text(encoding="utf-8"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m forms.preview", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("preview"), help="folder for the PDFs and PNGs")
    parser.add_argument("--dpi", type=int, default=80, help="PNG resolution (pdftoppm -r)")
    parser.add_argument("--kind", action="append", help="only these kinds (repeatable)")
    args = parser.parse_args(argv)
    if shutil.which("pdftoppm") is None:
        print("pdftoppm not found: install poppler-utils (scripts/ensure-debian-packages)", file=sys.stderr)
        return 3
    args.out.mkdir(parents=True, exist_ok=True)
    renderer = Renderer()
    for kind in args.kind or renderer.catalogue.document_kinds():
        for language in LANGUAGES:
            context = sample_context(kind, language)
            event = json.dumps(context, ensure_ascii=False).encode()
            document = renderer.render(kind, language, context, attachments=[("event.json", event, "application/json")])
            pdf = args.out / f"{kind}.{language}.pdf"
            pdf.write_bytes(document.pdf)
            subprocess.run(["pdftoppm", "-png", "-r", str(args.dpi), str(pdf), str(args.out / f"{kind}.{language}")],
                           check=True)
            fields = ", ".join(f"{f.name}@p{f.page + 1}" for f in document.signature_fields)
            print(f"{pdf}  {document.pages} page(s)  {fields}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

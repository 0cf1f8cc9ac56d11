"""Pages of a document as PNG images, so an officer reads what they sign before signing it (``pdftoppm``).

The images are cached under ``<state>/work/web-previews`` by the SHA-256 of the work file: a new signature makes
a new file and so new images; the old ones are never shown for the new bytes.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from ..journal import store


def page_count(doc: store.DocumentRow) -> int:
    """The pages the render reported (1 when it reported none)."""
    try:
        return int(doc.pages or 1)
    except (TypeError, ValueError):
        return 1


def page_png(previews: Path, doc: store.DocumentRow, page: int) -> Path:
    """Page ``page`` of the document's current file as PNG, cached by the file's SHA-256."""
    target = previews / f"{doc.pdf_sha256}-{page}.png"
    if target.exists():
        return target
    previews.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=previews) as tmp:
        subprocess.run(["pdftoppm", "-png", "-r", "90", "-f", str(page), "-l", str(page), "-singlefile",
                        doc.pdf_path or "", str(Path(tmp) / "p")], check=True, capture_output=True, timeout=60)
        Path(tmp, "p.png").replace(target)
    return target

"""Stage functions that run in worker processes (see :mod:`pipeline.dispatch`): pure compute, no journal."""

from __future__ import annotations

from typing import Any

_renderer: Any = None


def warm() -> None:
    """Worker initializer: load fonts, stylesheets and templates once per process."""
    global _renderer
    if _renderer is None:
        from forms.render import Renderer

        _renderer = Renderer()


def render(job: dict[str, Any]) -> dict[str, Any]:
    """Render one document: ``job`` = {document_id, kind, language, context, attachments}."""
    warm()
    doc = _renderer.render(job["kind"], job["language"], job["context"], attachments=job.get("attachments", ()))
    return {
        "document_id": job["document_id"],
        "pdf": doc.pdf,
        "pages": doc.pages,
        "fields": [
            {"name": f.name, "page": f.page, "rect": list(f.rect), "role": getattr(f, "role", None)}
            for f in doc.signature_fields
        ],
    }

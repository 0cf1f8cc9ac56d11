"""One document: its page (details, deadline, signers), its PDF, its pages as images, and returning it with a
reason (:func:`pipeline.queue.reject`).

Opening the page of a document the officer may sign is journaled as a read of the file shown (issue 15 #4):
only a read document can be selected for a batch.  Page images are addressed by the file's SHA-256, so a
signed document never shows its unsigned page from a cache."""

from __future__ import annotations

import re
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response

from ... import queue as Q
from ...core.lifecycle import IN_QUEUE
from ...errors import QamqorError
from ...journal import store
from ..desk import checked_form, desk_of, flash
from ..i18n import translator
from ..previews import page_count, page_png
from ..words import code_of, error_words
from .queue import queue_items


def document_page(request: Request) -> Response:
    desk = desk_of(request)
    officer = desk.officer(request)
    doc = desk.visible_document(officer, request.path_params["document_id"])
    item = next((i for i in queue_items(desk, officer, case=doc.case_id) if i["document_id"] == doc.document_id),
                None)
    if item is not None and doc.status in IN_QUEUE and doc.pdf_sha256:
        with desk.journal.tx() as conn:  # ¶10–11: what is signed was read first (issue 15 #4)
            store.record_read(conn, doc.document_id, officer=officer.id, sha256=doc.pdf_sha256)
    names = desk.applicants([doc.case_id])
    t = translator(desk.language(request))
    draft = request.session.pop("draft", None)
    draft = draft if isinstance(draft, dict) and draft.get("path") == request.url.path else {}
    history = [s for s in store.steps_of(desk.journal, [doc.document_id]) if s.step in DOCUMENT_STEPS]
    return desk.render(request, "document.html", row=doc, item=item, applicant=names.get(doc.case_id, ""),
                       pages=range(1, page_count(doc) + 1), signed_by=list(doc.signed_by),
                       ncalayer_url=desk.settings.ncalayer_url, draft=draft.get("fields", {}), history=history,
                       flags=[flag_text(f, t) for f in doc.context.get("officer_flags", ())],
                       title_text=kind_and_number(doc, desk.language(request)))


#: what the document's page lists of its history
DOCUMENT_STEPS = ("rendered", "read", "approved", "signed", "delivered", "rejected-by-officer", "signing-failed")


def kind_and_number(doc, lang: str) -> str:
    """A document as an officer names it: its kind and number (never its internal id)."""
    from ..i18n import kind_title

    title = kind_title(doc.kind, lang)
    return f"{title} № {doc.number}" if doc.number else title


#: "… no subsistence minimum configured for 2027; 2026's (85000) was used" (pipeline/core/checks.py)
_MINIMUM = re.compile(r"for (\d{4}); (\d{4})'s \(([\d.e+]+)\) was used")


def flag_text(flag: str, t) -> str:
    """What the core could not decide and the officer must (pipeline.core.checks.officer_flags, issue 11), in the
    officer's words from the catalogue (``flag.<code>``): never the core's own English line."""
    code = flag.split(":", 1)[0].strip()
    found = _MINIMUM.search(flag)
    if found:
        return t("flag.code122.10.minimum", year=found[1], used=found[2], minimum=found[3])
    return t(f"flag.{code}")


def document_pdf(request: Request) -> Response:
    desk = desk_of(request)
    doc = desk.visible_document(desk.officer(request), request.path_params["document_id"])
    if not doc.pdf_path or not Path(doc.pdf_path).exists():
        raise HTTPException(404)
    return FileResponse(doc.pdf_path, media_type="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="{doc.document_id}.pdf"',
                                 "Cache-Control": "private, no-store", "X-Document-SHA256": doc.pdf_sha256 or ""})


def document_png(request: Request) -> Response:
    desk = desk_of(request)
    doc = desk.visible_document(desk.officer(request), request.path_params["document_id"])
    page = int(request.path_params["page"])
    if not doc.pdf_path or not 1 <= page <= page_count(doc):
        raise HTTPException(404)
    if request.path_params.get("sha256", doc.pdf_sha256) != doc.pdf_sha256:
        raise HTTPException(404)  # an image of a file the document no longer has
    return FileResponse(page_png(desk.previews, doc, page), media_type="image/png",
                        headers={"Cache-Control": "private, no-store"})


async def reject(request: Request) -> Response:
    desk = desk_of(request)
    officer = desk.officer(request)
    form = await checked_form(request)
    doc_id = request.path_params["document_id"]
    doc = desk.visible_document(officer, doc_id)
    t = translator(desk.language(request))
    if not Q.may_act(desk.services, officer, doc):
        return desk.render(request, "error.html", status=403, message=t("error.forbidden"))
    reason = str(form.get("reason", "")).strip()[:2000]
    if not reason:
        flash(request, "error", t("reject.need_reason"))
        return RedirectResponse(f"/documents/{doc_id}", status_code=303)
    try:
        await run_in_threadpool(Q.reject, desk.services, doc_id, officer, reason)
    except QamqorError as err:
        request.session["draft"] = {"path": f"/documents/{doc_id}", "fields": {"reason": reason}}
        flash(request, "error", error_words(code_of(err), desk.language(request))["text"], code_of(err))
        return RedirectResponse(f"/documents/{doc_id}", status_code=303)
    names = desk.applicants([doc.case_id])
    flash(request, "ok", t("reject.done", document=kind_and_number(doc, desk.language(request)),
                           applicant=names.get(doc.case_id, "")))
    return RedirectResponse("/queue", status_code=303)

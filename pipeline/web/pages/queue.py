"""The signature queue: the officer's waiting documents (:func:`pipeline.queue.pending`), approving a batch with
a server-side key, and the verification of what was just signed.

The secret typed for a batch opens the key for that batch only and is never stored; signing is serialized in
this process (one key is never used from two threads).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ... import queue as Q
from ...config import Officer
from ...errors import QamqorError
from ...journal import store
from ..desk import Desk, checked_form, desk_of, error_text, flash, record_failure
from ..i18n import translator


def queue_items(desk: Desk, officer: Officer, kind: str | None = None, case: str | None = None) -> list[dict[str, Any]]:
    """The queue page's rows: :func:`pipeline.queue.pending` for the officer, with the applicant's name, the
    working days left and whether this officer may sign the next field now; overdue first."""
    items = Q.pending(desk.services, officer=officer)
    if kind:
        items = [i for i in items if i.kind == kind]
    if case:
        items = [i for i in items if case.lower() in i.case_id.lower()]
    names = desk.applicants([i.case_id for i in items])
    rows = []
    for i in items:
        left, overdue = desk.working_days(i.due)
        ready = not (i.next_signer and i.next_signer.get("iin") and i.next_signer["iin"] != officer.iin)
        rows.append({**i.to_dict(), "applicant": names.get(i.case_id, ""), "days_left": left,
                     "overdue": overdue, "ready": ready})
    rows.sort(key=lambda r: (not r["overdue"], r["due"] or "9999", r["case_id"], r["document_id"]))
    return rows


def queue_page(request: Request) -> Response:
    desk = desk_of(request)
    officer = desk.officer(request)
    kind = request.query_params.get("kind") or None
    case = (request.query_params.get("case") or "").strip()[:64] or None
    rows = queue_items(desk, officer, kind, case)
    return desk.render(request, "queue.html", items=rows, kinds=sorted(desk.services.signers.get(officer.role, ())),
                       kind=kind, case=case or "", ncalayer_url=desk.settings.ncalayer_url,
                       overdue=sum(1 for r in rows if r["overdue"]))


async def approve(request: Request) -> Response:
    """Approve and sign a batch with a server-side key (PKCS#12 password or PKCS#11 PIN typed once)."""
    desk = desk_of(request)
    officer = desk.officer(request)
    form = await checked_form(request)
    chosen = []
    for value in form.getlist("doc"):
        doc_id, _, sha = str(value).partition(":")
        chosen.append((doc_id, sha))
    t = translator(desk.language(request))
    if not chosen:
        flash(request, "error", t("queue.none_selected"))
        return RedirectResponse("/queue", status_code=303)
    if officer.backend == "external":
        raise HTTPException(400, "this officer signs with NCALayer")
    for doc_id, _sha in chosen:  # the whole batch is refused when one document is not the officer's
        doc = store.get_document(desk.journal, doc_id)
        if doc is None or not Q.may_act(desk.services, officer, doc):
            return desk.render(request, "error.html", status=403, message=t("error.forbidden"))
    secret = str(form.get("secret", "")).encode()
    results = await run_in_threadpool(_sign_batch, desk, officer, chosen, secret)
    del secret
    return desk.render(request, "results.html", results=results)


def _sign_batch(desk: Desk, officer: Officer, chosen: list[tuple[str, str]], secret: bytes) -> list[dict[str, Any]]:
    import signing  # heavy (pyHanko): only when a batch is signed

    results: list[dict[str, Any]] = []
    signatures = desk.services.signatures
    with desk.sign_lock:
        signatures.forget(officer)  # the key opens with this batch's secret, or not at all
        try:
            stop = None
            for doc_id, sha in chosen:
                if stop is not None:
                    results.append({"document_id": doc_id, "ok": False, "error": stop, "skipped": True})
                    continue
                try:
                    Q.approve(desk.services, doc_id, officer, secret, approved_sha256=sha or None)
                except (QamqorError, OSError) as err:
                    record_failure(desk, doc_id, officer, err)
                    results.append({"document_id": doc_id, "ok": False, "error": error_text(err)})
                    if isinstance(err, signing.WrongSecret | signing.KeyNotFound):
                        stop = error_text(err)  # a wrong secret is wrong for the whole batch
                    continue
                results.append(result(desk, doc_id))
        finally:
            signatures.forget(officer)
    return results


def result(desk: Desk, doc_id: str) -> dict[str, Any]:
    """A document just signed, with the verification of its current file."""
    doc = Q.get(desk.services, doc_id)
    report = desk.verification(Path(doc.pdf_path or "").read_bytes())
    return {"document_id": doc_id, "ok": True, "status": str(doc.status), "kind": doc.kind,
            "case_id": doc.case_id, "valid": report.valid, "report": report.format_text(),
            "signatures": f"{doc.signatures_done}"}


def results_page(request: Request) -> Response:
    """The verification of documents just signed (the NCALayer loop ends here)."""
    desk = desk_of(request)
    officer = desk.officer(request)
    ids = list(dict.fromkeys(request.query_params.getlist("id")))  # each document verified once
    limit = desk.settings.results_max  # one page verifies a bounded number (#14.20)
    results = []
    for doc_id in ids[:limit]:
        doc = desk.visible_document(officer, doc_id)
        results.append(result(desk, doc.document_id))
    return desk.render(request, "results.html", results=results,
                       truncated={"limit": limit, "total": len(ids)} if len(ids) > limit else None)

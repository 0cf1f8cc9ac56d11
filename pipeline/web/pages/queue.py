"""The signature queue (issue 15 #2, #4, #5): the officer's three lists (:mod:`pipeline.web.board`), the
confirmation of a batch, signing it with a server-side key, and the results page.

Every action is post/redirect/get: approving ends on ``GET /results?id=…&failed=…`` (reloadable, the language
switch works, nothing is signed twice); a wrong password or PIN returns to the confirmation with the selection
kept.  A document is selected for a batch only once its pages were opened (the journal's ``read`` step, for the
file as it is now).  The page's script may sign a batch one document per request (``Accept: application/json``),
to show a progress bar; the plain form signs it in one request.

The secret typed for a batch opens the key for that batch only and is never stored; signing is serialized in
this process (one key is never used from two threads).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from ... import queue as Q
from ...config import Officer
from ...core.lifecycle import IN_QUEUE
from ...errors import QamqorError
from ...journal import store
from .. import board as B
from ..desk import Desk, checked_form, desk_of, error_text, flash, record_failure
from ..i18n import translator
from ..words import code_of, error_words, word

#: why a document cannot go into a batch now, as the desk says it (catalogue ``error.<code>``)
NOT_READ, NOT_MINE, GONE = "W-NOT-READ", "W-NOT-YOUR-TURN", "W-NOT-WAITING"


def queue_items(desk: Desk, officer: Officer, kind: str | None = None, case: str | None = None) -> list[dict[str, Any]]:
    """The officer's waiting documents as the document page needs them (one query, no verification)."""
    return [{**r.__dict__, "due": r.due.isoformat() if r.due else None, "ready": r.waiting is None}
            for r in B.rows_of(desk, officer)
            if (not kind or r.kind == kind) and (not case or case.lower() in r.case_id.lower())]


def queue_page(request: Request) -> Response:
    desk = desk_of(request)
    officer = desk.officer(request)
    filters = B.Filters.of(request.query_params)
    b = B.board(desk, officer, filters, now=desk.accounts.clock())
    lang = desk.language(request)
    if lang not in b.html:  # the three parts, rendered once for this board and language
        b.html[lang] = desk.templates.env.get_template("_board.html").render(
            board=b, filters=filters, office_names=desk.office_names(), t=translator(lang), lang=lang)
    return desk.render(request, "queue.html", board=b, filters=filters, office_names=desk.office_names(),
                       board_html=Markup(b.html[lang]), title_key="queue.title")


def _chosen(values: list[Any]) -> list[tuple[str, str]]:
    out = []
    for value in values[:200]:
        doc_id, _, sha = str(value).partition(":")
        if doc_id and (doc_id, sha) not in out:
            out.append((doc_id[:120], sha[:64]))
    return out


def blocker(desk: Desk, officer: Officer, doc_id: str, sha: str,
            rows: dict[str, B.Row], read: set[str]) -> str | None:
    """Why this document cannot be signed by this officer now (a desk code), or None."""
    row = rows.get(doc_id)
    if row is None:
        doc = store.get_document(desk.journal, doc_id)
        return GONE if doc is not None and Q.may_act(desk.services, officer, doc) else "E-FORBIDDEN"
    if row.waiting:
        return NOT_MINE
    if sha and sha != row.sha256:
        return "E-SIGN-APPROVAL"
    if doc_id not in read:
        return NOT_READ
    return None


def _check_batch(desk: Desk, officer: Officer, chosen: list[tuple[str, str]]):
    rows = {r.document_id: r for r in B.rows_of(desk, officer)}
    read = store.read_by(desk.journal, officer.id, [(d, rows[d].sha256) for d, _ in chosen if d in rows])
    return rows, {d: blocker(desk, officer, d, sha, rows, read) for d, sha in chosen}


def confirm_page(request: Request) -> Response:
    """What is about to be signed, listed before the password is asked (issue 15 #4)."""
    desk = desk_of(request)
    officer = desk.officer(request)
    chosen = _chosen(request.query_params.getlist("doc"))
    t = translator(desk.language(request))
    if not chosen:
        flash(request, "error", t("queue.none_selected"))
        return RedirectResponse("/queue", status_code=303)
    rows, blocked = _check_batch(desk, officer, chosen)
    if any(b == "E-FORBIDDEN" for b in blocked.values()):
        raise HTTPException(404)
    names = desk.applicants([rows[d].case_id for d, _ in chosen if d in rows])
    lang = desk.language(request)
    items = []
    for doc_id, sha in chosen:
        row = rows.get(doc_id)
        items.append({"document_id": doc_id, "sha256": row.sha256 if row else sha, "row": row,
                      "applicant": names.get(row.case_id, "") if row else "",
                      "blocked": error_words(blocked[doc_id], lang) if blocked[doc_id] else None})
    ready = [i for i in items if not i["blocked"]]
    return desk.render(request, "confirm.html", items=items, ready=ready, ncalayer_url=desk.settings.ncalayer_url,
                       title_key="confirm.title")


def _wants_json(request: Request) -> bool:
    return request.headers.get("accept", "").startswith("application/json")


async def approve(request: Request) -> Response:
    """Approve and sign a batch with a server-side key (PKCS#12 password or PIN typed once); post/redirect/get."""
    desk = desk_of(request)
    officer = desk.officer(request)
    form = await checked_form(request)
    chosen = _chosen(form.getlist("doc"))
    t = translator(desk.language(request))
    lang = desk.language(request)
    if not chosen:
        if _wants_json(request):
            return JSONResponse({"ok": False, "error": error_words("W-NONE", lang)}, status_code=400)
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
    confirm = "/queue/confirm?" + urlencode([("doc", f"{d}:{s}") for d, s in chosen])
    stopped = next((r for r in results if r.get("stop")), None)
    if _wants_json(request):
        one = results[0]
        body = {"ok": one["ok"], "document_id": one["document_id"], "stop": bool(stopped)}
        if not one["ok"]:
            body["error"] = error_words(one["code"], lang)
        if stopped:
            flash(request, "error", error_words(stopped["code"], lang)["text"], stopped["code"])
            body["retry"] = confirm
        return JSONResponse(body)
    if stopped:  # a wrong password or PIN: nothing was signed; type it again, the selection kept
        flash(request, "error", error_words(stopped["code"], lang)["text"], stopped["code"])
        return RedirectResponse(confirm, status_code=303)
    return RedirectResponse(results_url(results), status_code=303)


def results_url(results: list[dict[str, Any]]) -> str:
    pairs = [("id" if r["ok"] else "failed", r["document_id"]) for r in results]
    return "/results?" + urlencode(pairs)


def _sign_batch(desk: Desk, officer: Officer, chosen: list[tuple[str, str]], secret: bytes) -> list[dict[str, Any]]:
    import signing  # heavy (pyHanko): only when a batch is signed

    results: list[dict[str, Any]] = []
    signatures = desk.services.signatures
    _rows, blocked = _check_batch(desk, officer, chosen)
    with desk.sign_lock:
        signatures.forget(officer)  # the key opens with this batch's secret, or not at all
        try:
            for doc_id, sha in chosen:
                if blocked.get(doc_id):  # not opened, not the officer's turn, no longer waiting
                    results.append({"document_id": doc_id, "ok": False, "code": blocked[doc_id]})
                    continue
                try:
                    Q.approve(desk.services, doc_id, officer, secret, approved_sha256=sha or None)
                except (QamqorError, OSError) as err:
                    record_failure(desk, doc_id, officer, err)  # counted (/metrics), whatever it was
                    if isinstance(err, signing.WrongSecret | signing.KeyNotFound):
                        # a wrong secret is wrong for the whole batch: nothing is signed; the officer types it
                        # again on the confirmation, the selection kept
                        return [{"document_id": doc_id, "ok": False, "code": code_of(err), "stop": True}]
                    results.append({"document_id": doc_id, "ok": False, "code": code_of(err),
                                    "error": error_text(err)})
                    continue
                results.append({"document_id": doc_id, "ok": True})
        finally:
            signatures.forget(officer)
    return results


def result(desk: Desk, doc_id: str) -> dict[str, Any]:
    """A document just signed, with the verification of its current file."""
    doc = Q.get(desk.services, doc_id)
    report = desk.verification(Path(doc.pdf_path or "").read_bytes())
    return {"document_id": doc_id, "ok": True, "status": str(doc.status), "kind": doc.kind,
            "case_id": doc.case_id, "number": doc.number, "valid": report.valid, "report": report.format_text(),
            "signatures": [{"signer": s.signer_name, "time": _iso(s.timestamp or s.signing_time), "valid": s.ok,
                            "kind": s.kind} for s in report.signatures],
            "next_signer": doc.next_signer if doc.status in IN_QUEUE else None,
            "routes": [d.route for d in store.deliveries_of(desk.journal, doc_id)]}


def what_next(r: dict[str, Any], t: Any, lang: str) -> str:
    """What happens to a document just signed, in words: the next signer, or where it went."""
    if r.get("next_signer"):
        return t("results.next_signer", who=r["next_signer"].get("name") or t("queue.colleague"))
    if r["status"] == "delivered":
        return t("results.next_delivered", routes=", ".join(word("route", x, lang) for x in r["routes"]))
    return t("results.next_signed") if r["status"] == "signed" else word("status", r["status"], lang)


def _iso(value: Any) -> str | None:
    return value.isoformat() if hasattr(value, "isoformat") else (str(value) if value else None)


def results_page(request: Request) -> Response:
    """What became of a batch: N signed / M failed, each document by kind, number and applicant, what happens
    next (the NCALayer loop and the key-file batch both end here; a GET, so it can be reloaded)."""
    desk = desk_of(request)
    officer = desk.officer(request)
    lang = desk.language(request)
    ids = list(dict.fromkeys(request.query_params.getlist("id")))  # each document verified once
    failed_ids = [d for d in dict.fromkeys(request.query_params.getlist("failed")) if d not in ids][:200]
    limit = desk.settings.results_max  # one page verifies a bounded number (#14.20)
    results = []
    for doc_id in ids[:limit]:
        doc = desk.visible_document(officer, doc_id)
        results.append(result(desk, doc.document_id))
    failures = store.last_failure(desk.journal, failed_ids)
    failed = []
    for doc_id in failed_ids:
        doc = desk.visible_document(officer, doc_id)
        why = failures.get(doc_id, {})
        code = why.get("code") or code_of(why.get("error")) if why else None
        if doc.status in IN_QUEUE and not why:
            code = NOT_READ if doc_id not in store.read_by(desk.journal, officer.id, [(doc_id, doc.pdf_sha256 or "")]) \
                else NOT_MINE
        failed.append({"document_id": doc_id, "kind": doc.kind, "number": doc.number, "case_id": doc.case_id,
                       "status": str(doc.status), "error": error_words(code, lang)})
    names = desk.applicants(list({r["case_id"] for r in results} | {f["case_id"] for f in failed}))
    t = translator(lang)
    for r in results:
        r["next_text"] = what_next(r, t, lang)
    return desk.render(request, "results.html", results=results, failed=failed, names=names,
                       truncated={"limit": limit, "total": len(ids)} if len(ids) > limit else None,
                       title_key="results.title")

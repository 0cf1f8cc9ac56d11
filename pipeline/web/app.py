"""The officers' web desk (issue 6): the signature queue, cases and verification in the browser.

Starlette with server-rendered Jinja2 pages (autoescaped) and a little JavaScript (selecting a batch, and the
NCALayer loop for officers who sign in their browser).  The desk shares the journal and the queue with
``qamqor run``: it is one more :class:`pipeline.runner.Pipeline` on the same state folder, and acts only
through :mod:`pipeline.queue` (approve, reject) and :mod:`pipeline.reports` (cases, deadlines).

Handlers are plain functions: Starlette runs them in its thread pool, where signing and verification (which
run their own event loops) belong.  Signing is serialized in this process (one key is never used from two
threads), and the secret typed for a batch is used for that batch only, never stored.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import logging
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from sqlalchemy import select
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from .. import clock
from .. import journal as J
from .. import queue as Q
from ..config import Config, Officer
from ..errors import NotFound, QamqorError
from ..verification import token_ok, verify_url
from . import external, ops
from .auth import Accounts, case_filter, csrf_ok, csrf_token, sees_case
from .i18n import LANGUAGES, kind_title, translator
from .settings import WebSettings

log = logging.getLogger("qamqor.web")
HERE = Path(__file__).resolve().parent


class Desk:
    """Everything the handlers share: configuration, the pipeline, accounts, prepared external signatures."""

    def __init__(self, config: Config, settings: WebSettings, *, pipeline: Any = None,
                 clock_fn: Callable[[], float] = time.monotonic):
        from ..runner import Pipeline

        self.config = config
        self.settings = settings
        self.pipeline = pipeline or Pipeline(config)
        self.accounts = Accounts(config, settings, clock_fn)
        self.prepared = external.PreparedStore(clock=clock_fn)
        self.sign_lock = threading.Lock()
        self.previews = config.work / "web-previews"
        import jinja2

        env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(HERE / "templates")), autoescape=True)
        self.templates = Jinja2Templates(env=env)
        self.templates.env.globals["kind_title"] = kind_title

    # --- pages ---------------------------------------------------------------------------------------------

    def language(self, request: Request) -> str:
        lang = request.session.get("lang")
        return lang if lang in LANGUAGES else self.settings.language

    def render(self, request: Request, name: str, status: int = 200, **context: Any) -> Response:
        lang = self.language(request)
        officer = self.accounts.officer(request.session)
        flash = request.session.pop("flash", None)
        return self.templates.TemplateResponse(request, name, {
            "t": translator(lang), "lang": lang, "officer": officer, "csrf": csrf_token(request.session),
            "flash": flash, "path": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
            **context,
        }, status_code=status)

    def officer(self, request: Request) -> Officer:
        officer = self.accounts.officer(request.session)
        if officer is None:
            raise HTTPException(401)
        return officer

    # --- the journal, as an officer may see it -------------------------------------------------------------

    def case_row(self, case_id: str) -> Any:
        return self.pipeline.journal.one(select(J.cases).where(J.cases.c.case_id == case_id))

    def visible_document(self, officer: Officer, document_id: str) -> Any:
        """The document row, when the officer may act on it or sees its case; 404 otherwise (never 403:
        another district's documents do not exist for this officer)."""
        row = self.pipeline.journal.one(select(J.documents).where(J.documents.c.document_id == document_id))
        if row is None or not (Q.may_act(officer, row) or (
                sees_case(officer, self.case_row(row["case_id"])) and _role_may_read(officer, row))):
            raise HTTPException(404)
        return row

    def applicants(self, case_ids: list[str]) -> dict[str, str]:
        """``case_id`` → the applicant's name, from the applied ``application.submitted`` events."""
        out: dict[str, str] = {}
        ids = sorted(set(case_ids))
        for i in range(0, len(ids), 500):
            rows = self.pipeline.journal.all(select(J.events.c.case_id, J.events.c.raw).where(
                J.events.c.case_id.in_(ids[i:i + 500]), J.events.c.event == "application.submitted",
                J.events.c.status == "applied"))
            for r in rows:
                a = json.loads(r["raw"]).get("data", {}).get("applicant", {})
                out[r["case_id"]] = " ".join(x for x in (a.get("surname"), a.get("given_name"),
                                                          a.get("patronymic")) if x)
        return out

    def verification(self, data: bytes) -> Any:
        import signing

        return signing.verify_pdf(data, trust_roots=list(self.config.signing.trust_roots))

    def page_png(self, row: Any, page: int) -> Path:
        """Page ``page`` of the document's current file as PNG (``pdftoppm``), cached by the file's SHA-256."""
        target = self.previews / f"{row['pdf_sha256']}-{page}.png"
        if target.exists():
            return target
        self.previews.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.previews) as tmp:
            subprocess.run(["pdftoppm", "-png", "-r", "90", "-f", str(page), "-l", str(page), "-singlefile",
                            row["pdf_path"], str(Path(tmp) / "p")], check=True, capture_output=True, timeout=60)
            Path(tmp, "p.png").replace(target)
        return target


# --- helpers --------------------------------------------------------------------------------------------------


def _desk(request: Request) -> Desk:
    return request.app.state.desk


def _safe_next(value: str | None) -> str:
    """Only a path on this site (no open redirect)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/queue"
    parts = urlsplit(value)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _pages(row: Any) -> int:
    try:
        return int(json.loads(row["order"] or "{}").get("_pages") or 1)
    except (TypeError, ValueError):
        return 1


async def _form(request: Request) -> Any:
    form = await request.form()
    if not csrf_ok(request.session, form.get("csrf")):
        raise HTTPException(403, "CSRF")
    return form


def _flash(request: Request, kind: str, text: str) -> None:
    request.session["flash"] = {"kind": kind, "text": text}


def _working_days(desk: Desk, due: str | None) -> tuple[int | None, bool]:
    if not due:
        return None, False
    today = clock.today()
    day = dt.date.fromisoformat(due)
    return desk.pipeline.ctx.calendar.working_days_between(today, day), today > day


def _declared_length(request: Request) -> int:
    try:
        return int(request.headers.get("content-length") or 0)
    except ValueError:
        raise HTTPException(400, "bad Content-Length") from None


def _error_text(err: BaseException) -> str:
    return err.one_line() if isinstance(err, QamqorError) else f"{type(err).__name__}: {err}"


def _record_failure(desk: Desk, document_id: str, officer: Officer, err: BaseException) -> None:
    with desk.pipeline.journal.tx() as conn:
        J.Journal.step(conn, document_id, "signing-failed", officer=officer.id, via="web", error=_error_text(err))


# --- sign-in --------------------------------------------------------------------------------------------------


def _role_may_read(officer: Officer, row: Any) -> bool:
    """A PSC operator reads only what the PSC receives (receipts, the result of a case that came that way);
    the inspection act (income, household, the child's conditions) stays with the guardianship body."""
    import json

    return officer.role != "operator" or "psc" in json.loads(row["routes"] or "[]")


def login_page(request: Request) -> Response:
    return _desk(request).render(request, "login.html", next=_safe_next(request.query_params.get("next")))


async def login(request: Request) -> Response:
    desk = _desk(request)
    form = await _form(request)
    officer_id = str(form.get("officer", ""))[:64]
    password = str(form.get("password", ""))[:1024]
    from starlette.concurrency import run_in_threadpool

    officer, locked = await run_in_threadpool(desk.accounts.sign_in, officer_id, password)
    if officer is None:
        t = translator(desk.language(request))
        text = t("login.locked", minutes=int(locked // 60) + 1) if locked else t("login.wrong")
        log.warning("web sign-in refused for %r (%s)", officer_id, "locked" if locked else "wrong password")
        return desk.render(request, "login.html", status=429 if locked else 401, error=text,
                           next=_safe_next(str(form.get("next", ""))))
    lang = request.session.get("lang")
    request.session.clear()  # a new session on sign-in
    request.session.update({"officer": officer.id, "at": int(time.time()), "lang": lang or desk.settings.language})
    csrf_token(request.session)
    log.info("web sign-in: %s", officer.id)
    return RedirectResponse(_safe_next(str(form.get("next", ""))), status_code=303)


async def logout(request: Request) -> Response:
    await _form(request)
    lang = request.session.get("lang")
    request.session.clear()
    if lang:
        request.session["lang"] = lang
    return RedirectResponse("/login", status_code=303)


def set_language(request: Request) -> Response:
    lang = request.path_params["lang"]
    if lang in LANGUAGES:
        request.session["lang"] = lang
    return RedirectResponse(_safe_next(request.query_params.get("next")), status_code=303)


def home(request: Request) -> Response:
    return RedirectResponse("/queue", status_code=303)


# --- the queue ------------------------------------------------------------------------------------------------


def pending(desk: Desk, officer: Officer) -> list[Q.QueueItem]:
    """:func:`pipeline.queue.pending` for one officer, with the cases' deadlines read in one query instead of
    one per document (the queue page's budget is 200 ms for 1,000 documents); the same items otherwise."""
    from sqlalchemy import func

    journal = desk.pipeline.journal
    rows = [r for r in journal.all(select(J.documents).where(J.documents.c.status.in_(Q.WAITING))
                                   .order_by(J.documents.c.created_at)) if Q.may_act(officer, r)]
    cases = sorted({r["case_id"] for r in rows})
    due: dict[str, Any] = {}
    for i in range(0, len(cases), 500):
        for d in journal.all(select(J.deadlines.c.case_id, func.min(J.deadlines.c.due).label("due"))
                             .where(J.deadlines.c.case_id.in_(cases[i:i + 500]), J.deadlines.c.closed_on.is_(None))
                             .group_by(J.deadlines.c.case_id)):
            due[d["case_id"]] = d["due"]
    items = []
    for row in rows:
        fields = json.loads(row["order"] or "{}").get("_fields", [])
        signers = json.loads(row["signers"] or "[]")
        done = row["signatures_done"] or 0
        day = due.get(row["case_id"])
        items.append(Q.QueueItem(
            row["document_id"], row["case_id"], row["kind"], row["language"], row["signer_role"], row["office"],
            row["pdf_sha256"], done, max(1, len(fields)), signers[done] if done < len(signers) else None,
            row["error"], (day if isinstance(day, dt.date) else dt.date.fromisoformat(str(day))).isoformat()
            if day else None))
    return items


def queue_items(desk: Desk, officer: Officer, kind: str | None = None, case: str | None = None) -> list[dict[str, Any]]:
    items = pending(desk, officer)
    if kind:
        items = [i for i in items if i.kind == kind]
    if case:
        items = [i for i in items if case.lower() in i.case_id.lower()]
    names = desk.applicants([i.case_id for i in items])
    rows = []
    for i in items:
        left, overdue = _working_days(desk, i.due)
        ready = not (i.next_signer and i.next_signer.get("iin") and i.next_signer["iin"] != officer.iin)
        rows.append({**i.to_dict(), "applicant": names.get(i.case_id, ""), "days_left": left,
                     "overdue": overdue, "ready": ready})
    rows.sort(key=lambda r: (not r["overdue"], r["due"] or "9999", r["case_id"], r["document_id"]))
    return rows


def queue_page(request: Request) -> Response:
    desk = _desk(request)
    officer = desk.officer(request)
    kind = request.query_params.get("kind") or None
    case = (request.query_params.get("case") or "").strip()[:64] or None
    rows = queue_items(desk, officer, kind, case)
    from ..sealing import ROLE_KINDS

    return desk.render(request, "queue.html", items=rows, kinds=sorted(ROLE_KINDS.get(officer.role, ())),
                       kind=kind, case=case or "", ncalayer_url=desk.settings.ncalayer_url,
                       overdue=sum(1 for r in rows if r["overdue"]))


def document_page(request: Request) -> Response:
    desk = _desk(request)
    officer = desk.officer(request)
    row = desk.visible_document(officer, request.path_params["document_id"])
    item = next((i for i in queue_items(desk, officer, case=row["case_id"]) if i["document_id"] == row["document_id"]),
                None)
    names = desk.applicants([row["case_id"]])
    return desk.render(request, "document.html", row=row, item=item, applicant=names.get(row["case_id"], ""),
                       pages=range(1, _pages(row) + 1), signed_by=json.loads(row["signed_by"] or "[]"),
                       ncalayer_url=desk.settings.ncalayer_url)


def document_pdf(request: Request) -> Response:
    desk = _desk(request)
    row = desk.visible_document(desk.officer(request), request.path_params["document_id"])
    if not row["pdf_path"] or not Path(row["pdf_path"]).exists():
        raise HTTPException(404)
    return FileResponse(row["pdf_path"], media_type="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="{row["document_id"]}.pdf"',
                                 "Cache-Control": "private, no-store", "X-Document-SHA256": row["pdf_sha256"]})


def document_png(request: Request) -> Response:
    desk = _desk(request)
    row = desk.visible_document(desk.officer(request), request.path_params["document_id"])
    page = int(request.path_params["page"])
    if not row["pdf_path"] or not 1 <= page <= _pages(row):
        raise HTTPException(404)
    return FileResponse(desk.page_png(row, page), media_type="image/png",
                        headers={"Cache-Control": "private, max-age=3600"})


async def approve(request: Request) -> Response:
    """Approve and sign a batch with a server-side key (PKCS#12 password or PKCS#11 PIN typed once)."""
    from starlette.concurrency import run_in_threadpool

    desk = _desk(request)
    officer = desk.officer(request)
    form = await _form(request)
    chosen = []
    for value in form.getlist("doc"):
        doc_id, _, sha = str(value).partition(":")
        chosen.append((doc_id, sha))
    t = translator(desk.language(request))
    if not chosen:
        _flash(request, "error", t("queue.none_selected"))
        return RedirectResponse("/queue", status_code=303)
    if officer.backend == "external":
        raise HTTPException(400, "this officer signs with NCALayer")
    for doc_id, _sha in chosen:  # the whole batch is refused when one document is not the officer's
        row = desk.pipeline.journal.one(select(J.documents).where(J.documents.c.document_id == doc_id))
        if row is None or not Q.may_act(officer, row):
            return desk.render(request, "error.html", status=403, message=t("error.forbidden"))
    secret = str(form.get("secret", "")).encode()
    results = await run_in_threadpool(_sign_batch, desk, officer, chosen, secret)
    del secret
    return desk.render(request, "results.html", results=results)


def _sign_batch(desk: Desk, officer: Officer, chosen: list[tuple[str, str]], secret: bytes) -> list[dict[str, Any]]:
    import signing

    results: list[dict[str, Any]] = []
    with desk.sign_lock:
        desk.pipeline.signing.forget(officer)  # the key opens with this batch's secret, or not at all
        try:
            stop = None
            for doc_id, sha in chosen:
                if stop is not None:
                    results.append({"document_id": doc_id, "ok": False, "error": stop, "skipped": True})
                    continue
                try:
                    Q.approve(desk.pipeline, doc_id, officer, secret, approved_sha256=sha or None)
                except (QamqorError, OSError) as err:
                    _record_failure(desk, doc_id, officer, err)
                    results.append({"document_id": doc_id, "ok": False, "error": _error_text(err)})
                    if isinstance(err, signing.WrongSecret | signing.KeyNotFound):
                        stop = _error_text(err)  # a wrong secret is wrong for the whole batch
                    continue
                results.append(_result(desk, doc_id))
        finally:
            desk.pipeline.signing.forget(officer)
    return results


def _result(desk: Desk, doc_id: str) -> dict[str, Any]:
    row = Q.get(desk.pipeline, doc_id)
    report = desk.verification(Path(row["pdf_path"]).read_bytes())
    return {"document_id": doc_id, "ok": True, "status": row["status"], "kind": row["kind"],
            "case_id": row["case_id"], "valid": report.valid, "report": report.format_text(),
            "signatures": f"{row['signatures_done']}"}


async def reject(request: Request) -> Response:
    from starlette.concurrency import run_in_threadpool

    desk = _desk(request)
    officer = desk.officer(request)
    form = await _form(request)
    doc_id = request.path_params["document_id"]
    row = desk.visible_document(officer, doc_id)
    t = translator(desk.language(request))
    if not Q.may_act(officer, row):
        return desk.render(request, "error.html", status=403, message=t("error.forbidden"))
    reason = str(form.get("reason", "")).strip()[:2000]
    if not reason:
        _flash(request, "error", t("reject.need_reason"))
        return RedirectResponse(f"/documents/{doc_id}", status_code=303)
    try:
        await run_in_threadpool(Q.reject, desk.pipeline, doc_id, officer, reason)
    except QamqorError as err:
        _flash(request, "error", err.one_line())
        return RedirectResponse(f"/documents/{doc_id}", status_code=303)
    _flash(request, "ok", t("reject.done", document=doc_id))
    return RedirectResponse("/queue", status_code=303)


def results_page(request: Request) -> Response:
    """The verification of documents just signed (the NCALayer loop ends here)."""
    desk = _desk(request)
    officer = desk.officer(request)
    results = []
    for doc_id in request.query_params.getlist("id")[:200]:
        row = desk.visible_document(officer, doc_id)
        results.append(_result(desk, row["document_id"]))
    return desk.render(request, "results.html", results=results)


# --- NCALayer (external signers) --------------------------------------------------------------------------------


async def _json_call(request: Request) -> dict[str, Any]:
    if not csrf_ok(request.session, request.headers.get("x-csrf-token")):
        raise HTTPException(403, "CSRF")
    if _declared_length(request) > 2_000_000:
        raise HTTPException(413)
    try:
        body = await request.json()
    except ValueError:
        raise HTTPException(400, "JSON expected") from None
    if not isinstance(body, dict):
        raise HTTPException(400, "JSON object expected")
    return body


async def external_prepare(request: Request) -> Response:
    from starlette.concurrency import run_in_threadpool

    desk = _desk(request)
    officer = desk.officer(request)
    body = await _json_call(request)
    doc_id, sha = str(body.get("document_id", "")), str(body.get("sha256", ""))
    desk.visible_document(officer, doc_id)
    try:
        item = await run_in_threadpool(external.prepare, desk.pipeline, doc_id, officer, sha)
    except QamqorError as err:
        _record_failure(desk, doc_id, officer, err)
        return JSONResponse({"ok": False, "document_id": doc_id, "error": err.one_line()}, status_code=409)
    desk.prepared.put(item)
    return JSONResponse({"ok": True, "document_id": doc_id, "token": item.token,
                         "data": base64.b64encode(item.to_be_signed).decode(), "iin": officer.iin})


async def external_finish(request: Request) -> Response:
    from starlette.concurrency import run_in_threadpool

    desk = _desk(request)
    officer = desk.officer(request)
    body = await _json_call(request)
    try:
        item = desk.prepared.take(str(body.get("token", "")), officer.id)
    except NotFound as err:
        return JSONResponse({"ok": False, "error": err.one_line()}, status_code=404)
    try:
        cms = base64.b64decode(str(body.get("cms", "")), validate=True)
    except (binascii.Error, ValueError):
        cms = b""
    if not cms:
        err = QamqorError("NCALayer returned no signature", code="E-SIGN-EXTERNAL",
                          remedy=str(body.get("reason") or "sign again")[:200])
        _record_failure(desk, item.document_id, officer, err)
        return JSONResponse({"ok": False, "document_id": item.document_id, "error": err.one_line()}, status_code=400)

    def run() -> dict[str, Any]:
        with desk.sign_lock:
            external.finish(desk.pipeline, item, officer, cms)
        return _result(desk, item.document_id)

    try:
        result = await run_in_threadpool(run)
    except QamqorError as err:
        _record_failure(desk, item.document_id, officer, err)
        return JSONResponse({"ok": False, "document_id": item.document_id, "error": err.one_line()}, status_code=409)
    return JSONResponse(result)


# --- cases ------------------------------------------------------------------------------------------------------


def cases_page(request: Request) -> Response:
    desk = _desk(request)
    officer = desk.officer(request)
    column, office = case_filter(officer)
    rows = desk.pipeline.journal.all(select(J.cases).where(getattr(J.cases.c, column) == office)
                                     .order_by(J.cases.c.submitted_on.desc(), J.cases.c.case_id))
    names = desk.applicants([r["case_id"] for r in rows])
    from ..reports import deadline_board

    board = [d for d in deadline_board(desk.pipeline) if d["case_id"] in {r["case_id"] for r in rows}]
    return desk.render(request, "cases.html", cases=rows, names=names, board=board)


def case_page(request: Request) -> Response:
    from ..reports import case_status

    desk = _desk(request)
    officer = desk.officer(request)
    case_id = request.path_params["case_id"]
    if not sees_case(officer, desk.case_row(case_id)):
        raise HTTPException(404)
    status = case_status(desk.pipeline, case_id)
    doc_ids = [d["document_id"] for d in status["documents"]]
    steps = desk.pipeline.journal.all(select(J.steps).where(J.steps.c.subject.in_(doc_ids))
                                      .order_by(J.steps.c.id)) if doc_ids else []
    history = [{"at": s["at"], "document_id": s["subject"], "step": s["step"]} for s in steps
               if s["step"] in ("rendered", "approved", "signed", "delivered", "rejected-by-officer",
                                "signing-failed", "seal-failed")]
    deliveries = desk.pipeline.journal.all(select(J.deliveries).where(J.deliveries.c.document_id.in_(doc_ids))) \
        if doc_ids else []
    routes = {}
    for d in deliveries:
        routes.setdefault(d["document_id"], []).append(d["route"])
    signers = {}
    for d in desk.pipeline.journal.all(select(J.documents.c.document_id, J.documents.c.signed_by)
                                       .where(J.documents.c.case_id == case_id)):
        signers[d["document_id"]] = json.loads(d["signed_by"] or "[]")
    names = desk.applicants([case_id])
    return desk.render(request, "case.html", case=status, applicant=names.get(case_id, ""), history=history,
                       routes=routes, signers=signers, today=clock.today().isoformat(),
                       open_by_key={d["key"]: d for d in status["open_deadlines"]})


# --- public verification -------------------------------------------------------------------------------------


def _public_report(desk: Desk, report: Any) -> dict[str, Any]:
    """What the public page shows: no IIN, no address — only what the document itself prints."""
    return {
        "valid": report.valid,
        "problems": list(report.problems),
        "signatures": [{
            "kind": s.kind, "valid": s.ok, "intact": s.intact, "trusted": s.trusted, "signer": s.signer_name,
            "time": s.timestamp or s.signing_time, "timestamped": bool(s.timestamp), "level": s.level,
            "unchanged": s.intact and (s.modification_level in (None, "NONE", "LTA_UPDATES", "FORM_FILLING")),
            "issuer": s.issuer,
        } for s in report.signatures],
    }


def public_document(request: Request) -> Response:
    desk = _desk(request)
    doc_id = request.path_params["document_id"][:120]
    row = desk.pipeline.journal.one(select(J.documents).where(J.documents.c.document_id == doc_id))
    # the address from the QR code carries a keyed token: guessing ids does not reveal cases
    if not token_ok(desk.pipeline.config, doc_id, request.query_params.get("k")):
        row = None
    if row is None or row["status"] not in ("signed", "delivered") or not row["pdf_path"]:
        return desk.render(request, "verify.html", status=404, not_found=True, document_id=doc_id)
    data = Path(row["pdf_path"]).read_bytes()
    report = desk.verification(data)
    return desk.render(request, "verify.html", document_id=doc_id, row={
        "kind": row["kind"], "language": row["language"], "number": row["number"], "case_id": row["case_id"],
        "sha256": hashlib.sha256(data).hexdigest()}, report=_public_report(desk, report))


def verify_form(request: Request) -> Response:
    desk = _desk(request)
    return desk.render(request, "upload.html", limit_mb=desk.settings.max_upload_bytes / 1_000_000)


async def verify_upload(request: Request) -> Response:
    from starlette.concurrency import run_in_threadpool

    desk = _desk(request)
    limit = desk.settings.max_upload_bytes
    t = translator(desk.language(request))
    if _declared_length(request) > limit + 65536:
        return desk.render(request, "upload.html", status=413, error=t("verify.too_large"), limit_mb=limit / 1e6)
    form = await _form(request)
    upload = form.get("pdf")
    if not isinstance(upload, UploadFile):
        return desk.render(request, "upload.html", status=400, error=t("verify.no_file"), limit_mb=limit / 1e6)
    data = await upload.read(limit + 1)
    if len(data) > limit:
        return desk.render(request, "upload.html", status=413, error=t("verify.too_large"), limit_mb=limit / 1e6)
    if not data.startswith(b"%PDF-"):
        return desk.render(request, "upload.html", status=400, error=t("verify.not_pdf"), limit_mb=limit / 1e6)
    try:
        report = await run_in_threadpool(desk.verification, data)
    except Exception as e:  # an unreadable PDF from anyone: say so, never a traceback
        log.info("upload not verifiable: %s", e)
        return desk.render(request, "upload.html", status=400, error=t("verify.not_pdf"), limit_mb=limit / 1e6)
    sha = hashlib.sha256(data).hexdigest()
    match = desk.pipeline.journal.one(select(J.documents.c.document_id).where(
        J.documents.c.pdf_sha256 == sha, J.documents.c.status.in_(("signed", "delivered"))))
    # the uploader holds the document itself, so they may have its verification address
    link = _public_path(desk, match["document_id"]) if match else None
    return desk.render(request, "upload.html", report=_public_report(desk, report), sha256=sha,
                       match=match["document_id"] if match else None, match_link=link, limit_mb=limit / 1e6)


def _public_path(desk: Desk, document_id: str) -> str:
    from urllib.parse import urlsplit

    url = urlsplit(verify_url(desk.pipeline.config, document_id))
    return url.path + (f"?{url.query}" if url.query else "")


# --- operations ---------------------------------------------------------------------------------------------


def healthz(request: Request) -> Response:
    return PlainTextResponse("ok\n")


def readyz(request: Request) -> Response:
    result = ops.readiness(_desk(request).pipeline)
    return JSONResponse(result, status_code=200 if result["ready"] else 503)


def metrics(request: Request) -> Response:
    return Response(ops.metrics_text(_desk(request).pipeline),
                    media_type="text/plain; version=0.0.4; charset=utf-8")


# --- the application ---------------------------------------------------------------------------------------


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    desk = _desk(request)
    if exc.status_code == 401:
        if request.headers.get("accept", "").startswith("application/json") or request.method != "GET":
            return JSONResponse({"ok": False, "error": "sign in first"}, status_code=401)
        return RedirectResponse("/login?" + urlencode({"next": request.url.path}), status_code=303)
    t = translator(desk.language(request))
    message = {403: t("error.forbidden"), 404: t("error.not_found")}.get(exc.status_code, exc.detail)
    return desk.render(request, "error.html", status=exc.status_code, message=message)


class SecurityHeaders:
    """CSP (scripts only from /static; the NCALayer socket the only other connection), no framing, no sniffing."""

    def __init__(self, app: Any, ncalayer_url: str):
        self.app = app
        origin = urlsplit(ncalayer_url)
        connect = f"{origin.scheme}://{origin.netloc}" if origin.netloc else ""
        self.csp = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                    f"connect-src 'self' {connect}; frame-src 'self'; object-src 'self'; "
                    "frame-ancestors 'self'; base-uri 'none'; form-action 'self'").encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def wrapped(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(b"content-security-policy", self.csp), (b"x-content-type-options", b"nosniff"),
                            (b"referrer-policy", b"same-origin"), (b"x-frame-options", b"SAMEORIGIN")]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, wrapped)


class BodyLimit:
    """Every request body has a declared length within the limit: a chunked upload with no Content-Length
    (which Starlette would spool without bound) is refused with 411, a larger one with 413."""

    def __init__(self, app: Any, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] in ("POST", "PUT", "PATCH"):
            headers = dict(scope.get("headers") or [])
            length = headers.get(b"content-length")
            status = 411 if length is None else (413 if not length.isdigit() or int(length) > self.limit else 0)
            if status:
                response = Response(status_code=status)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_app(config: Config, **overrides: Any) -> Starlette:
    """The desk as an ASGI application.  ``overrides``: ``[web]`` settings (e.g. ``accounts``, ``ncalayer_url``),
    plus ``pipeline=`` (a shared :class:`~pipeline.runner.Pipeline`) and ``clock=`` (lock-out tests)."""
    pipeline = overrides.pop("pipeline", None)
    clock_fn = overrides.pop("clock", time.monotonic)
    settings = WebSettings.from_config(config, **overrides)
    desk = Desk(config, settings, pipeline=pipeline, clock_fn=clock_fn)
    routes = [
        Route("/", home),
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/lang/{lang}", set_language),
        Route("/queue", queue_page),
        Route("/queue/approve", approve, methods=["POST"]),
        Route("/results", results_page),
        Route("/documents/{document_id}", document_page),
        Route("/documents/{document_id}/pdf", document_pdf),
        Route("/documents/{document_id}/page/{page:int}.png", document_png),
        Route("/documents/{document_id}/reject", reject, methods=["POST"]),
        Route("/external/prepare", external_prepare, methods=["POST"]),
        Route("/external/finish", external_finish, methods=["POST"]),
        Route("/cases", cases_page),
        Route("/cases/{case_id}", case_page),
        Route("/v/{document_id}", public_document),
        Route("/verify", verify_form, methods=["GET"]),
        Route("/verify", verify_upload, methods=["POST"]),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(BodyLimit, limit=settings.max_upload_bytes + 65536),
            Middleware(SecurityHeaders, ncalayer_url=settings.ncalayer_url),
            Middleware(SessionMiddleware, secret_key=settings.session_secret, session_cookie="qamqor_session",
                       max_age=int(settings.session_hours * 3600), same_site="strict",
                       https_only=settings.cookies_secure()),
        ],
        exception_handlers={HTTPException: http_error},
    )
    app.state.desk = desk
    return app


def serve(config: Config, host: str | None = None, port: int | None = None) -> None:
    """``qamqor serve``: the desk on ``[web] host:port`` (127.0.0.1:8480 by default), one process."""
    import uvicorn

    settings = WebSettings.from_config(config)
    host = host or settings.host
    port = port or settings.port
    overrides: dict[str, Any] = {}
    if settings.secure_cookies is None:
        overrides["secure_cookies"] = settings.cookies_secure(host)
    app = create_app(config, **overrides)
    if not settings.accounts:
        log.warning("no [[web.accounts]]: nobody can sign in (python -m pipeline.web.passwords makes a hash)")
    uvicorn.run(app, host=host, port=port, workers=1, log_level="info", proxy_headers=False,
                server_header=False)

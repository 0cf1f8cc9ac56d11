"""Signing in the browser with NCALayer (:mod:`pipeline.web.external`): the page's script asks the server to
prepare each document (JSON, CSRF token in ``X-CSRF-Token``), has NCALayer sign the returned bytes, and sends
NCALayer's answer back as it came (``answer``), to be read (:func:`pipeline.web.external.read_answer`), embedded,
recorded and delivered.

Every reply says in the officer's words (kk/ru, catalogue ``ncalayer.*``) what happened: signed, cancelled (the
officer closed NCALayer's dialog: nothing failed, the document waits), or not signed and why, with the stable code
apart for support.  A key of another officer is refused with that officer's name.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from signing.external import WrongSigner

from ...errors import NotFound, QamqorError
from ...journal import store
from .. import external
from ..auth import csrf_ok
from ..desk import declared_length, desk_of, record_failure
from ..i18n import kind_title, translator
from .queue import result

log = logging.getLogger("qamqor.web")


async def _json_call(request: Request) -> dict[str, Any]:
    if not csrf_ok(request.session, request.headers.get("x-csrf-token")):
        raise HTTPException(403, "CSRF")
    if declared_length(request) > 2_000_000:
        raise HTTPException(413)
    try:
        body = await request.json()
    except ValueError:
        raise HTTPException(400, "JSON expected") from None
    if not isinstance(body, dict):
        raise HTTPException(400, "JSON object expected")
    return body


def _failure(t: Any, document_id: str, words: str, code: str, status: int, **extra: Any) -> JSONResponse:
    return JSONResponse({"ok": False, "document_id": document_id, "error": words, "code": code,
                         "code_text": t("ncalayer.code", code=code), **extra}, status_code=status)


def _words(t: Any, err: BaseException) -> str:
    """An error of preparing or embedding, in the officer's words."""
    if isinstance(err, WrongSigner):
        return t("ncalayer.wrong_key", name=err.signer_name) if err.signer_name else t("ncalayer.wrong_key_unnamed")
    code = getattr(err, "code", "")
    if code in ("E-SIGN-REFUSED", "E-SIGN-OFFICER", "E-SIGN-ROLE", "E-SIGN-ORGANISATION", "E-SIGN-KEY-USAGE",
                "E-SIGN-VALIDITY", "E-SIGN-CHAIN", "E-SIGN-REVOKED"):
        return t("ncalayer.refused")
    if code in ("E-STATE", "E-SIGN-APPROVAL", "E-SIGN-FIELD"):
        return t("ncalayer.state")
    return t("ncalayer.not_signed")


async def external_prepare(request: Request) -> Response:
    desk = desk_of(request)
    officer = desk.officer(request)
    body = await _json_call(request)
    t = translator(desk.language(request))
    doc_id, sha = str(body.get("document_id", "")), str(body.get("sha256", ""))
    doc = desk.visible_document(officer, doc_id)
    try:
        item = await run_in_threadpool(external.prepare, desk.services, doc_id, officer, sha)
    except QamqorError as err:
        record_failure(desk, doc_id, officer, err)
        return _failure(t, doc_id, _words(t, err), err.code, 409, title=_title(doc, desk.language(request)))
    desk.prepared.put(item)
    return JSONResponse({"ok": True, "document_id": doc_id, "token": item.token, "title": _title(doc, desk.language(request)),
                         "data": _b64(item.to_be_signed), "iin": officer.iin})


def _title(doc: store.DocumentRow, language: str) -> str:
    """The document as the officer names it: its kind and number (never its internal id)."""
    title = kind_title(doc.kind, language)
    return f"{title} № {doc.number}" if doc.number else title


def _b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode()


def _answer_of(body: dict[str, Any]) -> external.Answer:
    """NCALayer's answer as the page sent it (``answer``, ``index`` in a batch); an older page sent ``cms``."""
    if "answer" in body:
        try:
            index = int(body.get("index") or 0)
        except (TypeError, ValueError):
            index = 0
        return external.read_answer(body["answer"], index)
    cms = str(body.get("cms") or "")
    if cms:
        return external.read_answer({"status": True, "body": {"result": cms}})
    return external.read_answer({"status": False, "code": str(body.get("reason") or "GENERAL_ERROR")})


async def external_finish(request: Request) -> Response:
    desk = desk_of(request)
    officer = desk.officer(request)
    body = await _json_call(request)
    lang = desk.language(request)
    t = translator(lang)
    try:
        item = desk.prepared.take(str(body.get("token", "")), officer.id)
    except NotFound as err:
        return _failure(t, "", t("ncalayer.expired"), err.code, 404)
    doc = store.get_document(desk.journal, item.document_id)
    title = _title(doc, lang) if doc else ""
    answer = _answer_of(body)
    if answer.outcome == "cancelled":
        with desk.journal.tx() as conn:  # not a failure: the officer closed the dialog, the document waits
            store.step(conn, item.document_id, "signing-cancelled", officer=officer.id, via="ncalayer")
        return JSONResponse({"ok": False, "cancelled": True, "document_id": item.document_id, "title": title,
                             "error": t("ncalayer.cancelled")})
    if answer.outcome == "failed":
        code = answer.code if answer.code in external.NCALAYER_CODES else "GENERAL_ERROR"
        err = QamqorError(f"NCALayer: {answer.code} {answer.message} {answer.details}".strip()[:1500],
                          code="E-SIGN-EXTERNAL")
        log.info("NCALayer did not sign %s: %s", item.document_id, err.message)
        record_failure(desk, item.document_id, officer, err)  # NCALayer's own details stay in the journal
        return _failure(t, item.document_id, t(f"ncalayer.error.{code}"), answer.code or code, 400, title=title)

    def run() -> dict[str, Any]:
        with desk.sign_lock:
            external.finish(desk.services, item, officer, answer.cms)
        return result(desk, item.document_id)

    try:
        outcome = await run_in_threadpool(run)
    except QamqorError as err:
        record_failure(desk, item.document_id, officer, err)
        return _failure(t, item.document_id, _words(t, err), err.code, 409, title=title)
    return JSONResponse({**outcome, "title": title, "message": t("ncalayer.signed")})

"""Signing in the browser with NCALayer (:mod:`pipeline.web.external`): the page's script asks the server to
prepare each document (JSON, CSRF token in ``X-CSRF-Token``), has NCALayer sign the returned bytes, and sends
the CMS back to be embedded, recorded and delivered."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ...errors import NotFound, QamqorError
from .. import external
from ..auth import csrf_ok
from ..desk import declared_length, desk_of, record_failure
from .queue import result


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


async def external_prepare(request: Request) -> Response:
    desk = desk_of(request)
    officer = desk.officer(request)
    body = await _json_call(request)
    doc_id, sha = str(body.get("document_id", "")), str(body.get("sha256", ""))
    desk.visible_document(officer, doc_id)
    try:
        item = await run_in_threadpool(external.prepare, desk.services, doc_id, officer, sha)
    except QamqorError as err:
        record_failure(desk, doc_id, officer, err)
        return JSONResponse({"ok": False, "document_id": doc_id, "error": err.one_line()}, status_code=409)
    desk.prepared.put(item)
    return JSONResponse({"ok": True, "document_id": doc_id, "token": item.token,
                         "data": base64.b64encode(item.to_be_signed).decode(), "iin": officer.iin})


async def external_finish(request: Request) -> Response:
    desk = desk_of(request)
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
        record_failure(desk, item.document_id, officer, err)
        return JSONResponse({"ok": False, "document_id": item.document_id, "error": err.one_line()}, status_code=400)

    def run() -> dict[str, Any]:
        with desk.sign_lock:
            external.finish(desk.services, item, officer, cms)
        return result(desk, item.document_id)

    try:
        outcome = await run_in_threadpool(run)
    except QamqorError as err:
        record_failure(desk, item.document_id, officer, err)
        return JSONResponse({"ok": False, "document_id": item.document_id, "error": err.one_line()}, status_code=409)
    return JSONResponse(outcome)

"""Public verification, no sign-in: the page a document's QR code opens (its address carries a keyed token, so
guessing ids reveals nothing), and the form where anyone uploads a PDF to have its signatures checked.

What is shown is only what the document itself prints: no IIN, no address.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from ...core.lifecycle import DocumentStatus
from ...journal import store
from ...verify_links import token_ok, verify_url
from ..desk import Desk, checked_form, declared_length, desk_of
from ..i18n import translator

log = logging.getLogger("qamqor.web")

#: a document is issued, and so publicly verifiable, once every signature is in
ISSUED = (DocumentStatus.SIGNED, DocumentStatus.DELIVERED)


def _public_report(report: Any) -> dict[str, Any]:
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
    desk = desk_of(request)
    doc_id = request.path_params["document_id"][:120]
    doc = store.get_document(desk.journal, doc_id)
    # the address from the QR code carries a keyed token: guessing ids does not reveal cases
    if not token_ok(desk.services.config, doc_id, request.query_params.get("k")):
        doc = None
    if doc is None or doc.status not in ISSUED or not doc.pdf_path:
        return desk.render(request, "verify.html", status=404, not_found=True, document_id=doc_id)
    data = Path(doc.pdf_path).read_bytes()
    report = desk.verification(data)
    return desk.render(request, "verify.html", document_id=doc_id, row={
        "kind": doc.kind, "language": doc.language, "number": doc.number, "case_id": doc.case_id,
        "sha256": hashlib.sha256(data).hexdigest()}, report=_public_report(report))


def verify_form(request: Request) -> Response:
    desk = desk_of(request)
    return desk.render(request, "upload.html", limit_mb=desk.settings.max_upload_bytes / 1_000_000)


async def verify_upload(request: Request) -> Response:
    desk = desk_of(request)
    limit = desk.settings.max_upload_bytes
    t = translator(desk.language(request))
    if declared_length(request) > limit + 65536:
        return desk.render(request, "upload.html", status=413, error=t("verify.too_large"), limit_mb=limit / 1e6)
    form = await checked_form(request)
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
    match = store.document_with_sha256(desk.journal, sha, ISSUED)
    # the uploader holds the document itself, so they may have its verification address
    link = _public_path(desk, match.document_id) if match else None
    return desk.render(request, "upload.html", report=_public_report(report), sha256=sha,
                       match=match.document_id if match else None, match_link=link, limit_mb=limit / 1e6)


def _public_path(desk: Desk, document_id: str) -> str:
    url = urlsplit(verify_url(desk.services.config, document_id))
    return url.path + (f"?{url.query}" if url.query else "")

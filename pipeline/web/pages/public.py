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
    """What the public page shows: no IIN, no address — only what the document itself prints; and the verdict:
    genuine, "signature valid, but the signer is not authorised" (#14.13), or not genuine."""
    invalid = [s for s in report.signatures if not s.ok]
    sound_but_unauthorised = bool(invalid) and all(s.authorised is False and len(s.problems) == 1 for s in invalid)
    verdict = "genuine" if report.valid else (
        "unauthorised" if sound_but_unauthorised and not report.problems else "not_genuine")
    return {
        "valid": report.valid, "verdict": verdict,
        "problems": list(report.problems),
        "signatures": [{
            "kind": s.kind, "valid": s.ok, "intact": s.intact, "trusted": s.trusted, "signer": s.signer_name,
            "time": s.timestamp or s.signing_time, "timestamped": bool(s.timestamp), "level": s.level,
            "unchanged": s.intact and (s.modification_level in (None, "NONE", "LTA_UPDATES", "FORM_FILLING")),
            "issuer": s.issuer, "authorised": s.authorised,
            # sound but for the signer's authority: the policy's finding is its only problem (#14.13)
            "sound": s.authorised is False and len(s.problems) == 1,
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
    # bounded (#14.4): fields, time, memory and concurrency; what is over a bound is refused in words
    outcome = await run_in_threadpool(desk.uploads.check, data)
    if outcome.kind != "ok":
        log.info("upload refused (%s %s %s)", outcome.kind, outcome.count or "", outcome.detail)
        status, error = {
            "too_many": (422, t("verify.too_many_signatures", count=outcome.count,
                                limit=desk.settings.upload_max_signatures)),
            "too_slow": (422, t("verify.too_slow", seconds=f"{desk.settings.upload_seconds:g}")),
            "busy": (503, t("verify.busy")),
        }.get(outcome.kind, (400, t("verify.not_pdf")))
        response = desk.render(request, "upload.html", status=status, error=error, limit_mb=limit / 1e6)
        if status == 503:
            response.headers["retry-after"] = "30"
        return response
    # the signing policy, with what the journal knows of the document the file names (#14.13)
    report = signing_policy(desk, outcome)
    sha = hashlib.sha256(data).hexdigest()
    match = store.document_with_sha256(desk.journal, sha, ISSUED)
    # the uploader holds the document itself, so they may have its verification address
    link = _public_path(desk, match.document_id) if match else None
    return desk.render(request, "upload.html", report=_public_report(report), sha256=sha,
                       match=match.document_id if match else None, match_link=link, limit_mb=limit / 1e6)


def signing_policy(desk: Desk, outcome: Any) -> Any:
    from signing.verify import apply_policy

    from ... import authorised

    return apply_policy(outcome.report, authorised.policy_for_claims(outcome.claims, desk.services))


def _public_path(desk: Desk, document_id: str) -> str:
    url = urlsplit(verify_url(desk.services.config, document_id))
    return url.path + (f"?{url.query}" if url.query else "")

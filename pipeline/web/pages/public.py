"""The citizen's check page, no sign-in (issue 15 #8): the page a document's QR code opens, and the upload check.

The QR address carries a keyed token (:mod:`pipeline.verify_links`): only someone holding the document, or its QR
code, has it, and guessing ids reveals nothing.  With it the page says, in the reader's language, who issued the
document, what it is, its number and date, who signed it and when (on Kazakhstan's clock), and whether it is
genuine — in words, never a hash or a signature level.  The page's language is the one the reader chose, else the
document's.

A copy of the document (its pages, and the PDF) is shown only for what the Rules hand to the applicant and which
names no child: the receipts of the Public Service Center (¶4, ¶5) and the portal's notices (¶7, ¶9).  The order
and the reasoned refusal (¶11, ¶12) name the children, their IINs and birth dates, and the inspection act (¶10) the
household: their copies stay in the applicant's personal cabinet and the case file, and this page shows only the
facts above, whoever holds the address.

Anyone may upload a PDF on the same page to check its signatures (bounded, :mod:`pipeline.web.uploads`); a file
identical to an issued document shows that document's facts, since its holder holds the document itself.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from forms.catalogue import describe

from ...core.lifecycle import DocumentStatus
from ...core.rules import local_date
from ...journal import store
from ...verify_links import token_ok, verify_url
from ..auth import csrf_token
from ..desk import Desk, checked_form, declared_length, desk_of
from ..i18n import LANGUAGES, kind_title, translator
from ..previews import page_count, page_png
from ..words import official_date, official_datetime, word

log = logging.getLogger("qamqor.web")

#: a document is issued, and so publicly verifiable, once every signature is in
ISSUED = (DocumentStatus.SIGNED, DocumentStatus.DELIVERED)

#: the documents whose copy the check page shows (module docstring): what the applicant receives and names no child
PUBLIC_COPY = frozenset({
    "acceptance_receipt",  # ¶4
    "refusal_receipt",  # ¶5, appendix 3
    "acceptance_notice",  # ¶7
    "portal_refusal",  # ¶9
    "provider_refusal",  # ¶9 (through the PSC)
})
#: where the withheld copy is: the results go to the applicant's personal cabinet (¶12), the act stays in the case
WITHHELD = {"order": "result", "reasoned_refusal": "result", "inspection_act": "case_file"}


# --- the verdict, in words -------------------------------------------------------------------------------------


def _reasons(s: Any) -> list[str]:
    """Why one signature does not hold, read from the report's fields (never its English lines)."""
    why = []
    if not s.intact or s.modification_level == "OTHER" or s.docmdp_ok is False:
        why.append("changed")
    if s.intact and not s.valid:
        why.append("broken")
    if s.valid and not s.trusted:
        why.append("revoked" if str(s.revocation).startswith("REVOKED") else "untrusted")
    if s.timestamp_valid is False:
        why.append("timestamp")
    if s.authorised is False:
        why.append("unauthorised")
    return why or (["other"] if s.problems else [])


def verdict(report: Any) -> dict[str, Any]:
    """``key`` of the headline (``public.verdict.<key>``) and the reasons, worst first."""
    if not report.signatures:
        return {"key": "unsigned", "valid": False, "reasons": []}
    if report.valid:
        return {"key": "genuine", "valid": True, "reasons": []}
    reasons: list[str] = []
    for s in report.signatures:
        for r in _reasons(s):
            if r not in reasons:
                reasons.append(r)
    order = ("changed", "broken", "revoked", "untrusted", "timestamp", "unauthorised", "other")
    reasons.sort(key=order.index)
    return {"key": reasons[0] if reasons else "other", "valid": False, "reasons": reasons}


# --- the facts of a document ---------------------------------------------------------------------------------


def _application(desk: Desk, case_id: str) -> dict[str, Any]:
    found = store.submitted_applications(desk.journal, [case_id])
    return found[0].tree.get("data", {}) if found else {}


def document_date(desk: Desk, doc: store.DocumentRow) -> dt.date | None:
    """The date the document carries: its event's day in Kazakhstan; the order's own date (as rendered)."""
    event = store.get_event(desk.journal, doc.event_id)
    if event is None:
        return None
    order_date = event.tree.get("data", {}).get("order_date") if doc.kind == "order" else None
    if order_date:
        return dt.date.fromisoformat(order_date)
    return local_date(dt.datetime.fromisoformat(event.occurred_at))


def _positions(desk: Desk, doc: store.DocumentRow, lang: str) -> dict[str, str]:
    """Signer name → position, for the officers the journal says signed."""
    out = {}
    for entry in doc.signed_by:
        officer = next((o for o in desk.config.officers if o.id == entry.get("officer")), None)
        position = getattr(officer, f"position_{lang}", None) if officer else None
        if position and entry.get("name"):
            out[entry["name"]] = position
    return out


def facts(desk: Desk, doc: store.DocumentRow, report: Any, lang: str) -> dict[str, Any]:
    """What the check page says of a document: no IIN, no address — only what the document itself prints."""
    app = _application(desk, doc.case_id)
    try:
        issuer = describe(doc.kind).issuer
    except LookupError:
        issuer = "provider"
    body = app.get(issuer) or {}
    positions = _positions(desk, doc, lang)
    signers = [{"name": s.signer_name, "position": positions.get(s.signer_name, ""),
                "time": official_datetime(s.timestamp or s.signing_time, lang) if (s.timestamp or s.signing_time)
                else "—"} for s in report.signatures if s.kind == "signature"]
    date = document_date(desk, doc)
    return {
        "issuer": body.get(f"name_{lang}") or body.get("name_kk") or body.get("name_ru") or "",
        "kind": kind_title(doc.kind, lang), "kind_lang": lang,
        "language": word("language", doc.language, lang) if doc.language != lang else "",
        "number": doc.number or "", "date": official_date(date, lang) if date else "—",
        "signers": signers,
    }


# --- rendering -------------------------------------------------------------------------------------------------


def _language(request: Request, fallback: str) -> str:
    lang = request.session.get("lang")
    return lang if lang in LANGUAGES else fallback


def _render(request: Request, name: str, lang: str, status: int = 200, **context: Any) -> Response:
    desk = desk_of(request)
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return desk.templates.TemplateResponse(request, name, {
        "t": translator(lang), "lang": lang, "csrf": csrf_token(request.session), "path": path,
        "limit_mb": desk.settings.max_upload_bytes / 1_000_000, **context}, status_code=status)


def _issued(desk: Desk, doc_id: str, token: str | None) -> store.DocumentRow | None:
    doc = store.get_document(desk.journal, doc_id)
    if doc is None or not token_ok(desk.services.config, doc_id, token):
        return None
    if doc.status not in ISSUED or not doc.pdf_path or not Path(doc.pdf_path).exists():
        return None
    return doc


def public_document(request: Request) -> Response:
    """``/v/<document>?k=<token>``: the check page; ``&page=N`` one page of the copy (PNG), ``&file=pdf`` the PDF,
    for the documents whose copy may be shown."""
    desk = desk_of(request)
    doc_id = request.path_params["document_id"][:120]
    token = request.query_params.get("k")
    doc = _issued(desk, doc_id, token)
    if doc is None:
        lang = _language(request, desk.settings.language)
        return _render(request, "verify.html", lang, status=404, not_found=True)
    copy = doc.kind in PUBLIC_COPY
    if "page" in request.query_params or "file" in request.query_params:
        return _copy_file(desk, doc, request) if copy else Response(status_code=404)
    lang = _language(request, doc.language)
    report = desk.verification(Path(doc.pdf_path or "").read_bytes())
    base = f"/v/{doc.document_id}?k={token or ''}"
    pages = [f"{base}&page={n}" for n in range(1, page_count(doc) + 1)] if copy else []
    return _render(request, "verify.html", lang, doc=facts(desk, doc, report, lang), verdict=verdict(report),
                   pages=pages, pdf=f"{base}&file=pdf" if copy else None,
                   withheld=None if copy else WITHHELD.get(doc.kind, "result"),
                   expect={"document": doc.document_id, "k": token or ""})


def _copy_file(desk: Desk, doc: store.DocumentRow, request: Request) -> Response:
    if request.query_params.get("file") == "pdf":
        return FileResponse(doc.pdf_path or "", media_type="application/pdf",
                            headers={"Content-Disposition": f'inline; filename="{doc.number or "document"}.pdf"'})
    try:
        page = int(request.query_params.get("page") or 0)
    except ValueError:
        raise HTTPException(404) from None
    if not 1 <= page <= page_count(doc):
        raise HTTPException(404)
    return FileResponse(page_png(desk.previews, doc, page), media_type="image/png")


# --- the upload check ------------------------------------------------------------------------------------------


def verify_form(request: Request) -> Response:
    desk = desk_of(request)
    return _render(request, "upload.html", _language(request, desk.settings.language))


async def verify_upload(request: Request) -> Response:
    desk = desk_of(request)
    limit = desk.settings.max_upload_bytes
    lang = _language(request, desk.settings.language)
    t = translator(lang)

    def refuse(status: int, key: str, **values: Any) -> Response:
        return _render(request, "upload.html", lang, status=status, error=t(key, **values))

    if declared_length(request) > limit + 65536:
        return refuse(413, "verify.too_large")
    form = await checked_form(request)
    expected = _expected(desk, form)
    if expected is not None:  # sent from a document's check page: that page's language, unless one was chosen
        lang = _language(request, expected.language)
        t = translator(lang)
    upload = form.get("pdf")
    if not isinstance(upload, UploadFile):
        return refuse(400, "verify.no_file")
    data = await upload.read(limit + 1)
    if len(data) > limit:
        return refuse(413, "verify.too_large")
    if not data.startswith(b"%PDF-"):
        return refuse(400, "verify.not_pdf")
    # bounded (#14.4): fields, time, memory and concurrency; what is over a bound is refused in words
    outcome = await run_in_threadpool(desk.uploads.check, data)
    if outcome.kind != "ok":
        log.info("upload refused (%s %s %s)", outcome.kind, outcome.count or "", outcome.detail)
        if outcome.kind == "too_many":
            return refuse(422, "verify.too_many_signatures", count=outcome.count,
                          limit=desk.settings.upload_max_signatures)
        if outcome.kind == "too_slow":
            return refuse(422, "verify.too_slow", seconds=f"{desk.settings.upload_seconds:g}")
        if outcome.kind == "busy":
            response = refuse(503, "verify.busy")
            response.headers["retry-after"] = "30"
            return response
        return refuse(400, "verify.not_pdf")
    # the signing policy, with what the journal knows of the document the file names (#14.13)
    report = signing_policy(desk, outcome)
    sha = hashlib.sha256(data).hexdigest()
    match = store.document_with_sha256(desk.journal, sha, ISSUED)
    # the uploader holds the document itself, so they may have its facts and its check page
    doc = facts(desk, match, report, lang) if match else None
    same = None if expected is None else (match is not None and match.document_id == expected.document_id)
    return _render(request, "upload.html", lang, checked=True, verdict=verdict(report), doc=doc,
                   match_link=_public_path(desk, match.document_id) if match else None, same=same,
                   expected=kind_title(expected.kind, lang) if expected else None)


def _expected(desk: Desk, form: Any) -> store.DocumentRow | None:
    """The document whose check page the upload came from (its id and token in the form), if it is issued."""
    doc_id = str(form.get("document") or "")[:120]
    return _issued(desk, doc_id, str(form.get("k") or "")) if doc_id else None


def signing_policy(desk: Desk, outcome: Any) -> Any:
    from signing.verify import apply_policy

    from ... import authorised

    return apply_policy(outcome.report, authorised.policy_for_claims(outcome.claims, desk.services))


def _public_path(desk: Desk, document_id: str) -> str:
    url = urlsplit(verify_url(desk.services.config, document_id))
    return url.path + (f"?{url.query}" if url.query else "")

"""Stage 5, render: a requested document becomes its PDF/A work file.

:func:`job` builds a :class:`RenderJob` from the journal (the templates' context is data only: the case's
event trees and what the rules computed; the document's date is its event's, never the wall clock, so the same
event renders the same bytes); :func:`run` renders it in a worker process — pure compute, no journal, in
:mod:`pipeline.stages.render_worker` — and, for a document signed automatically with a key file, signs it there
too (the signature is only *stored* by :mod:`pipeline.stages.sign`); :func:`store_result` writes the work file and
journals it.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from ..cluster import fencing
from ..core import lifecycle
from ..core.events import Event
from ..core.rules import KZ_TZ, DocumentRequest, local_date
from ..errors import NotFound
from ..faults import checkpoint
from ..journal import store
from ..outbox import atomic_write, sha256
from ..services import Services
from ..verify_links import verify_url
from .render_worker import RenderJob, RenderResult, SealJob, WorkerSignature, run, warm  # noqa: F401 - the worker's half

log = logging.getLogger("qamqor.render")

#: the event trees the templates read, by event type
SERVICE_EVENTS = {
    "application.submitted": "application",
    "documents.checked": "check",
    "inspection.completed": "inspection",
    "decision.made": "decision",
}


# --- in the main process: the job ----------------------------------------------------------------------------


def case_trees(services: Services, case_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The newest applied payload of each event type that templates read, and the application's envelope."""
    trees: dict[str, Any] = {v: None for v in SERVICE_EVENTS.values()}
    envelope: dict[str, Any] = {}
    for r in store.applied_events(services.journal, case_id):
        if r.event in SERVICE_EVENTS:
            trees[SERVICE_EVENTS[r.event]] = r.tree["data"]
        if r.event == "application.submitted":
            envelope = r.tree
    return trees, envelope


def organisation_bin(doc: store.DocumentRow, application: dict[str, Any] | None) -> str | None:
    """The BIN the signer's certificate must carry.  The PSC's BIN is not in the case events (contract.md),
    so an operator's organisation is not checked."""
    if doc.signer_role == "operator":
        return None
    return ((application or {}).get("provider") or {}).get("bin")


def context(services: Services, doc: store.DocumentRow) -> tuple[dict[str, Any], tuple[tuple[str, bytes, str], ...]]:
    source = store.get_event(services.journal, doc.event_id)
    if source is None:
        raise NotFound(f"event {doc.event_id} of document {doc.document_id} is not in the journal")
    moment = dt.datetime.fromisoformat(source.occurred_at).astimezone(KZ_TZ)
    trees, envelope = case_trees(services, doc.case_id)
    computed = dict(doc.context)
    app = trees["application"] or {}
    if "children" in computed and app:
        by_iin = {c["iin"]: c for c in app.get("children", [])}
        computed["children"] = [{**by_iin.get(c["iin"], {}), **c} for c in computed["children"]]
    decision = trees["decision"]
    if not dated_by_its_event(doc.kind) and decision:
        date = dt.date.fromisoformat(decision.get("order_date") or local_date(moment).isoformat())
    else:
        date = local_date(moment)
    number = doc.number or register(services, doc, date.year)
    ctx = {
        "document": {
            "kind": doc.kind, "id": doc.document_id, "number": number or doc.document_id,
            "date": date.isoformat(), "datetime": moment.isoformat(), "language": doc.language,
            "verify_url": verify_url(services.config, doc.document_id),
        },
        "case": {"case_id": doc.case_id, "channel": app.get("channel"), "submitted_at": envelope.get("occurred_at")},
        **trees,
        "computed": computed,
    }
    attachments: tuple[tuple[str, bytes, str], ...] = ()
    input_path = services.dirs.inputs / source.input_id
    if input_path.exists():
        data = input_path.read_bytes()
        xml = data[:200].lstrip().startswith(b"<")
        attachments = ((f"event-{doc.event_id}{'.xml' if xml else '.json'}", data,
                        "application/xml" if xml else "application/json"),)
    return ctx, attachments


def dated_by_its_event(kind: str) -> bool:
    """A document is dated by the event that ordered it (in Kazakhstan's time), except the order: by its
    decision's order date."""
    return kind != "order"


def number_ordered(conn: Connection, ordered: list[tuple[str, DocumentRequest]], event: Event) -> None:
    """Issue 11 #9: a receipt, notice or refusal that ``event`` ordered gets its office's registration number
    (service.toml ``[registration]``) in the transaction that applies the event, in the events' order — the
    year its date's (:func:`context`), so no render waits for a transaction of its own to number it (issue 10:
    on PostgreSQL its round trips, on SQLite its file sync).  Every ordered document is rendered (an attempt
    that fails keeps its number), so the sequence has no gap this opens.  A number the event gave stays; an
    order, dated by its decision, and what a term's transition orders are numbered at their first render
    (:func:`register`)."""
    from forms.catalogue import registration

    fmt, kinds = registration()
    for doc_id, request in ordered:
        if request.kind not in kinds or request.number or not dated_by_its_event(request.kind):
            continue
        if request.event_id == event.event_id:
            occurred = event.occurred_at
        else:
            source = store.get_event(conn, request.event_id)
            if source is None:
                continue  # numbered at its render, which reports the missing event
            occurred = dt.datetime.fromisoformat(source.occurred_at)
        store.register_document(conn, doc_id, office=request.office, year=local_date(occurred.astimezone(KZ_TZ)).year,
                                fmt=fmt)


def register(services: Services, doc: store.DocumentRow, year: int) -> str | None:
    """Issue 11 #9: a receipt, notice or refusal gets its office's registration number (service.toml
    ``[registration]``) as its event is applied (:func:`number_ordered`), else the first time it is rendered;
    kinds not listed there (the order, the act) keep the numbers their events give.  None: the kind is not
    registered so."""
    from forms.catalogue import registration

    fmt, kinds = registration()
    if doc.kind not in kinds:
        return None
    with services.journal.tx() as conn:
        return store.register_document(conn, doc.document_id, office=doc.office, year=year, fmt=fmt)


def job(services: Services, doc: store.DocumentRow, *, seal: bool = True) -> RenderJob:
    ctx, attachments = context(services, doc)
    seal_job = None
    if seal and doc.signed_automatically and services.config.signing.auto_seal:
        officer = services.signatures.auto_officer(doc.signer_role, doc.office, doc.named_signer)
        if officer is not None and officer.backend == "pkcs12":  # tokens sign in the main process, one at a time
            seal_job = SealJob(services.config, officer.id, organisation_bin(doc, ctx.get("application")))
    return RenderJob(doc.document_id, doc.kind, doc.language, ctx, attachments, seal_job)


def due(services: Services, now: dt.datetime, skip: set[str]) -> list[store.DocumentRow]:
    """Requested documents whose (next) attempt is due, oldest first."""
    return [d for d in store.documents_to_render(services.journal)
            if d.due_now(now) and d.document_id not in skip]


# --- back in the main process: the store ---------------------------------------------------------------------


def work_file(services: Services, doc: store.DocumentRow) -> Path:
    """Where a render of ``doc`` is written.  Several nodes (issue 10): the name carries this job's fencing token,
    so a stale node's file is never the one the journal names (its transaction is fenced out); no round trip to
    ask first."""
    return services.dirs.documents / f"{doc.document_id}{fencing.tag()}.pdf"


def store_result(services: Services, doc: store.DocumentRow, result: RenderResult) -> bool:
    """Write the work file and journal it; a failure is counted (and retried with backoff) instead.  True when
    the document was rendered."""
    if result.failure is not None or result.pdf is None:
        failed(services, doc, result.failure or "no PDF", transient=result.transient)
        return False
    path = work_file(services, doc)
    atomic_write(path, result.pdf)
    checkpoint("rendered-written")
    with services.journal.tx() as conn:
        store.store_render(conn, doc, pdf_path=str(path), pdf_sha256=sha256(result.pdf),
                           fields=list(result.fields), pages=result.pages)
    checkpoint("rendered")
    return True


#: a document whose render fails this many times is set aside as failed (a poison input is not retried forever)
MAX_ATTEMPTS = 3


def failed(services: Services, doc: store.DocumentRow, error: str, *, transient: bool = False) -> None:
    from .. import clock

    attempts = doc.attempts + (0 if transient else 1)
    final = attempts >= MAX_ATTEMPTS
    with services.journal.tx() as conn:
        store.render_failed(conn, doc.document_id, attempts=attempts, error=error, final=final,
                            next_attempt_at=lifecycle.retry_at(clock.now(), attempts, base=10))
    log.error("rendering %s failed (%d/%d): %s", doc.document_id, attempts, MAX_ATTEMPTS, error)

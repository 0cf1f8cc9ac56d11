"""Every read and write of the journal, by name: the only module that writes SQL.

Rows come back as small frozen types (:mod:`.rows`) (:class:`InputRow`, :class:`EventRow`, :class:`CaseRow`,
:class:`DocumentRow`, :class:`DeliveryRow`) with their JSON columns already parsed and their statuses as the
enums of :mod:`pipeline.core.lifecycle`.  A read takes ``db``: the :class:`~pipeline.journal.Journal` (a
connection is opened for it) or a connection inside a transaction (``with journal.tx() as conn``).  A write
takes the transaction's connection, so the stage that calls it decides what commits together; each write
journals its step in the same transaction (:meth:`Journal.step`), before the stage's effect on disk.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import asdict
from typing import Any

from sqlalchemy import Connection, func, select, update

from ..core.events import Event
from ..core.lifecycle import (
    AUTO_ROLES,
    AWAITING_SIGNATURE,
    IN_QUEUE,
    RESULT_KINDS,
    DeliveryStatus,
    DocumentStatus,
    EventStatus,
    InputStatus,
    can_move,
)
from ..core.rules import DocumentRequest, Outcome, Transition
from ..errors import StateConflict
from . import Journal, now_utc
from .rows import (  # noqa: F401 - the row types are part of the store's interface
    CaseRow,
    DeadlineRow,
    DeliveryRow,
    DocumentRow,
    EventRow,
    InputRow,
    _all,
    _case,
    _deadline,
    _delivery,
    _document,
    _dumps,
    _event,
    _first,
    _input,
    _reading,
    _upsert,
)
from .tables import case_log, cases, deadlines, deliveries, documents, events, inputs

step = Journal.step

# --- inputs --------------------------------------------------------------------------------------------------


def get_input(db: Journal | Connection, input_id: str) -> InputRow | None:
    m = _first(db, select(inputs).where(inputs.c.input_id == input_id))
    return _input(m) if m else None


def record_input(conn: Connection, input_id: str, *, original: str, sha256: str, size: int) -> bool:
    """Journal a claimed input (once: a second call for the same id changes nothing).  True if new."""
    stmt = _upsert(conn)(inputs).values(input_id=input_id, original_name=original, sha256=sha256, size=size,
                                        status=InputStatus.CLAIMED, claimed_at=now_utc())
    stmt = stmt.on_conflict_do_nothing(index_elements=[inputs.c.input_id]).returning(inputs.c.input_id)
    if conn.execute(stmt).first() is None:  # (RETURNING: an INSERT's rowcount is -1 on psycopg)
        return False  # one statement: the row is there already (#13: no read before each insert)
    step(conn, input_id, "claimed", original=original)
    return True


def inputs_to_accept(db: Journal | Connection) -> list[InputRow]:
    """Inputs claimed but not parsed yet, and rejections whose copy to the outbox may not be done."""
    stmt = select(inputs).where(inputs.c.status.in_((InputStatus.CLAIMED, InputStatus.REJECTING)))
    return [_input(m) for m in _all(db, stmt.order_by(inputs.c.input_id))]


def _set_input(conn: Connection, input_id: str, status: InputStatus, **values: Any) -> None:
    # one statement, as _move: the update applies only from a state the lifecycle allows; the state is read only
    # to say why it did not
    sources = [old for old in InputStatus if can_move(old, status)]
    stmt = update(inputs).where(inputs.c.input_id == input_id, inputs.c.status.in_(sources))
    if conn.execute(stmt.values(status=status, **values)).rowcount != 1:
        old = conn.execute(select(inputs.c.status).where(inputs.c.input_id == input_id)).scalar_one()
        raise StateConflict(f"input {input_id} cannot go from {old} to {status}")


def get_event(db: Journal | Connection, event_id: str) -> EventRow | None:
    m = _first(db, select(events).where(events.c.event_id == event_id))
    return _event(m) if m else None


def mark_duplicate(conn: Connection, input_id: str, event: Event) -> None:
    """The same event again (same id, same bytes): nothing changes and nothing new is issued."""
    _set_input(conn, input_id, InputStatus.DUPLICATE, event_id=event.event_id, case_id=event.case_id,
               finished_at=now_utc())
    step(conn, input_id, "duplicate", event_id=event.event_id)


def record_event(conn: Connection, input_id: str, event: Event, sha256: str) -> None:
    conn.execute(events.insert().values(
        event_id=event.event_id, case_id=event.case_id, event=event.event,
        occurred_at=event.occurred_at.isoformat(), sha256=sha256, input_id=input_id, raw=_dumps(event.raw),
        status=EventStatus.PENDING, recorded_at=now_utc()))
    _set_input(conn, input_id, InputStatus.PARSED, event_id=event.event_id, case_id=event.case_id)
    step(conn, input_id, "event-recorded", event_id=event.event_id, case_id=event.case_id)


def mark_rejecting(conn: Connection, input_id: str, report: dict[str, Any]) -> None:
    """Journal the rejection report (and so where the original will go) before anything is copied."""
    _set_input(conn, input_id, InputStatus.REJECTING, error=_dumps(report))
    step(conn, input_id, "rejecting", code=report.get("code"))


def mark_rejected(conn: Connection, input_id: str, report: dict[str, Any]) -> None:
    _set_input(conn, input_id, InputStatus.REJECTED, finished_at=now_utc())
    step(conn, input_id, "rejected", code=report.get("code"), path=report.get("path"))


def input_counts(db: Journal | Connection) -> dict[str, int]:
    rows = _all(db, select(inputs.c.status, func.count().label("n")).group_by(inputs.c.status))
    return {r["status"]: r["n"] for r in rows}


# --- events and cases ----------------------------------------------------------------------------------------


def pending_events(db: Journal | Connection) -> list[EventRow]:
    stmt = select(events).where(events.c.status == EventStatus.PENDING).order_by(events.c.case_id,
                                                                                 events.c.occurred_at)
    return [_event(m) for m in _all(db, stmt)]


def applied_events(db: Journal | Connection, case_id: str) -> list[EventRow]:
    """The case's applied events, in the order they were applied."""
    stmt = (select(events).where(events.c.case_id == case_id, events.c.status == EventStatus.APPLIED)
            .order_by(events.c.seq))
    return [_event(m) for m in _all(db, stmt)]


def case_history(db: Journal | Connection, case_id: str) -> list[Event | Transition]:
    """The case's log, the events and the shell's transitions in the order they were applied (the rules' fold
    rebuilds the case from it)."""
    # one statement, the log joined to its events' bytes (issue 10: a round trip fewer for every event applied)
    stmt = (select(case_log.c.event_id, case_log.c.transition, case_log.c.day, events.c.raw)
            .select_from(case_log.outerjoin(events, events.c.event_id == case_log.c.event_id))
            .where(case_log.c.case_id == case_id).order_by(case_log.c.id))
    return [Event.from_dict(json.loads(r["raw"])) if r["event_id"] else Transition(r["transition"], r["day"])
            for r in _all(db, stmt)]


def reject_event(conn: Connection, event_id: str) -> None:
    conn.execute(update(events).where(events.c.event_id == event_id).values(status=EventStatus.REJECTED))


def write_outcome(conn: Connection, outcome: Outcome, *, event: Event | None = None,
                  transition: Transition | None = None) -> list[tuple[str, DocumentRequest]]:
    """Write what the rules decided: the event applied (or the transition logged), the case, its deadlines, the
    documents requested and the actions — in the caller's transaction.  The documents ordered: (id, request)."""
    s = outcome.state
    if event is not None:
        seq = _next_seq(conn)
        conn.execute(update(events).where(events.c.event_id == event.event_id).values(
            status=EventStatus.APPLIED, seq=seq))
        conn.execute(update(inputs).where(inputs.c.event_id == event.event_id,
                                          inputs.c.status == InputStatus.PARSED).values(
            status=InputStatus.APPLIED, finished_at=now_utc()))
        conn.execute(case_log.insert().values(case_id=s.case_id, event_id=event.event_id, at=now_utc()))
    elif transition is not None:
        conn.execute(case_log.insert().values(case_id=s.case_id, transition=transition.name, day=transition.day,
                                              at=now_utc()))
    values = dict(status=s.status, channel=s.channel, language=s.language, provider=s.provider, psc=s.psc,
                  applicant_iin=s.applicant_iin, submitted_on=s.submitted_on, result_at=s.result_at,
                  updated_at=now_utc())
    upsert = _upsert(conn)(cases).values(case_id=s.case_id, **values)
    conn.execute(upsert.on_conflict_do_update(index_elements=[cases.c.case_id], set_=values))
    conn.execute(deadlines.delete().where(deadlines.c.case_id == s.case_id))
    if s.deadlines:
        conn.execute(deadlines.insert(), [
            {"case_id": s.case_id, "key": d.key, "term": d.term, "paragraph": d.paragraph,
             "opened_on": d.opened_on, "due": d.due, "closed_on": d.closed_on} for d in s.deadlines])
    ordered = [(_request_document(conn, request), request) for request in outcome.documents]
    journaled = [(doc_id, "ordered", {"kind": request.kind}) for doc_id, request in ordered]
    journaled += [(s.case_id, f"action:{action}", {}) for action in outcome.actions]
    name = event.event if event is not None else transition.name if transition is not None else "outcome"
    Journal.steps(conn, [*journaled, (s.case_id, f"applied:{name}", {"status": s.status})])
    return ordered


def _next_seq(conn: Connection) -> int:
    """The next applied event's place in the journal.  Inside :meth:`Journal.tx` the last one given is kept for
    the transaction (a scan applies its batch in one: one read of the highest, not one per event, issue 10);
    events are applied by one scan at a time, so nothing else gives a place meanwhile."""
    kept = conn.info.get(Journal.SEQ, 0)
    last = kept if kept else (conn.execute(select(func.max(events.c.seq))).scalar() or 0)
    if Journal.SEQ in conn.info:
        conn.info[Journal.SEQ] = last + 1
    return last + 1


def _request_document(conn: Connection, request: DocumentRequest) -> str:
    """Insert the requested document (under a new id if its id is taken); its id."""
    values = {"case_id": request.case_id, "kind": request.kind, "language": request.language,
              "event_id": request.event_id, "signer_role": request.signer_role, "office": request.office,
              "signers": _dumps([asdict(s) for s in request.signers]), "routes": json.dumps(list(request.routes)),
              "number": request.number, "status": DocumentStatus.ORDERED, "order": _dumps(request.computed),
              "signatures_done": 0, "attempts": 0, "created_at": now_utc(), "updated_at": now_utc()}
    doc_id, n = request.document_id, 1
    # one statement for a new id (#13: no read before the insert); a taken id tries the next suffix
    while conn.execute(_upsert(conn)(documents).values(document_id=doc_id, **values)
                       .on_conflict_do_nothing(index_elements=[documents.c.document_id])
                       .returning(documents.c.document_id)).first() is None:  # RETURNING, as record_input
        n += 1
        doc_id = f"{request.document_id}-{n}"
    return doc_id


def get_case(db: Journal | Connection, case_id: str) -> CaseRow | None:
    m = _first(db, select(cases).where(cases.c.case_id == case_id))
    return _case(m) if m else None


def all_cases(db: Journal | Connection) -> list[CaseRow]:
    return [_case(m) for m in _all(db, select(cases).order_by(cases.c.case_id))]


def case_deadlines(db: Journal | Connection, case_id: str) -> list[DeadlineRow]:
    stmt = select(deadlines).where(deadlines.c.case_id == case_id).order_by(deadlines.c.due)
    return [_deadline(m) for m in _all(db, stmt)]


def open_deadlines(db: Journal | Connection) -> list[DeadlineRow]:
    stmt = select(deadlines).where(deadlines.c.closed_on.is_(None)).order_by(deadlines.c.due)
    return [_deadline(m) for m in _all(db, stmt)]


def first_open_due(db: Journal | Connection, case_ids: Iterable[str]) -> dict[str, dt.date]:
    """The earliest open deadline of each case (one query for a whole queue page)."""
    ids = list(set(case_ids))
    if not ids:
        return {}
    stmt = (select(deadlines.c.case_id, func.min(deadlines.c.due).label("due"))
            .where(deadlines.c.case_id.in_(ids), deadlines.c.closed_on.is_(None)).group_by(deadlines.c.case_id))
    out = {}
    for r in _all(db, stmt):
        due = r["due"]
        out[r["case_id"]] = due if isinstance(due, dt.date) else dt.date.fromisoformat(str(due))
    return out


def cases_with_expired_storage(db: Journal | Connection, today: dt.date) -> list[str]:
    """¶14: PSC cases whose month of storage ran out (an index on the open deadlines keeps this cheap)."""
    stmt = select(deadlines.c.case_id).where(deadlines.c.key == "storage", deadlines.c.closed_on.is_(None),
                                             deadlines.c.due < today)
    return [r["case_id"] for r in _all(db, stmt)]


def cases_with_return_requested(db: Journal | Connection) -> list[str]:
    stmt = select(deadlines.c.case_id).where(deadlines.c.key == "return", deadlines.c.closed_on.is_(None))
    return [r["case_id"] for r in _all(db, stmt)]


# --- documents -----------------------------------------------------------------------------------------------


def get_document(db: Journal | Connection, document_id: str) -> DocumentRow | None:
    m = _first(db, select(documents).where(documents.c.document_id == document_id))
    return _document(m) if m else None


def documents_in(db: Journal | Connection, statuses: Iterable[DocumentStatus], *,
                 case_id: str | None = None, kinds: Iterable[str] | None = None,
                 roles: Iterable[str] | None = None) -> list[DocumentRow]:
    """Documents in any of ``statuses`` (oldest first), optionally of one case, some kinds or signer roles."""
    stmt = select(documents).where(documents.c.status.in_(list(statuses)))
    if case_id is not None:
        stmt = stmt.where(documents.c.case_id == case_id)
    if kinds is not None:
        stmt = stmt.where(documents.c.kind.in_(list(kinds)))
    if roles is not None:
        stmt = stmt.where(documents.c.signer_role.in_(list(roles)))
    return [_document(m) for m in _all(db, stmt.order_by(documents.c.created_at, documents.c.document_id))]


def case_documents(db: Journal | Connection, case_id: str) -> list[DocumentRow]:
    stmt = select(documents).where(documents.c.case_id == case_id).order_by(documents.c.created_at)
    return [_document(m) for m in _all(db, stmt)]


def documents_to_render(db: Journal | Connection) -> list[DocumentRow]:
    return documents_in(db, (DocumentStatus.ORDERED,))


def documents_to_sign_automatically(db: Journal | Connection) -> list[DocumentRow]:
    return documents_in(db, (DocumentStatus.RENDERED, DocumentStatus.SIGNING), roles=AUTO_ROLES)


def documents_to_deliver(db: Journal | Connection) -> list[DocumentRow]:
    return documents_in(db, (DocumentStatus.SIGNED,))


def queued_documents(db: Journal | Connection) -> list[DocumentRow]:
    return documents_in(db, IN_QUEUE)


def act_statuses(db: Journal | Connection, case_id: str) -> list[str]:
    stmt = select(documents.c.status).where(documents.c.case_id == case_id, documents.c.kind == "inspection_act")
    return [r["status"] for r in _all(db, stmt)]


def delivered_results(db: Journal | Connection, case_id: str) -> list[DocumentRow]:
    return documents_in(db, (DocumentStatus.DELIVERED,), case_id=case_id, kinds=RESULT_KINDS)


def document_counts(db: Journal | Connection) -> dict[str, int]:
    """Documents per status: the one count every report uses."""
    rows = _all(db, select(documents.c.status, func.count().label("n")).group_by(documents.c.status))
    return {r["status"]: r["n"] for r in rows}


def _move(conn: Connection, document_id: str, status: DocumentStatus, *, expect: Iterable[DocumentStatus] = (),
          **values: Any) -> None:
    """Move a document to ``status`` (checked against the lifecycle); with ``expect``, only if it is still in
    one of those states (a conditional store: another process may have moved it meanwhile).  One statement: the
    update applies only from a state the lifecycle allows; the state is read only to say why it did not."""
    sources = [old for old in (tuple(expect) or tuple(DocumentStatus)) if can_move(old, status)]
    stmt = update(documents).where(documents.c.document_id == document_id, documents.c.status.in_(sources))
    if conn.execute(stmt.values(status=status, updated_at=now_utc(), **values)).rowcount != 1:
        old = conn.execute(select(documents.c.status).where(documents.c.document_id == document_id)).scalar_one()
        raise StateConflict(f"{document_id} is {old}: it cannot become {status} now", remedy="look at it again")


def store_render(conn: Connection, doc: DocumentRow, *, pdf_path: str, pdf_sha256: str,
                 fields: list[dict[str, Any]], pages: int) -> DocumentStatus:
    """The rendered work file is on disk: automatic ones wait to be signed, the others join the queue."""
    status = DocumentStatus.RENDERED if doc.signed_automatically else DocumentStatus.QUEUED
    stored = {**doc.context, "_fields": fields, "_pages": pages}
    _move(conn, doc.document_id, status, expect=(DocumentStatus.ORDERED,), pdf_path=pdf_path,
          pdf_sha256=pdf_sha256, attempts=0, next_attempt_at=None, error=None, order=_dumps(stored))
    step(conn, doc.document_id, "rendered", pages=pages)
    return status


def render_failed(conn: Connection, document_id: str, *, attempts: int, error: str, final: bool,
                  next_attempt_at: dt.datetime | None) -> None:
    status = DocumentStatus.FAILED if final else DocumentStatus.ORDERED
    _move(conn, document_id, status, expect=(DocumentStatus.ORDERED,), attempts=attempts, error=error,
          next_attempt_at=None if final else next_attempt_at.isoformat() if next_attempt_at else None)
    step(conn, document_id, "render-failed", error=error, attempts=attempts, final=final)


def hold_in_queue(conn: Connection, document_id: str, error: str, *, step_name: str | None = None) -> None:
    """An automatic signature that cannot be made (no key, a refused certificate): an officer looks at it."""
    _move(conn, document_id, DocumentStatus.QUEUED, error=error)
    if step_name:
        step(conn, document_id, step_name, error=error)


def retry_later(conn: Connection, document_id: str, *, attempts: int, at: dt.datetime, error: str) -> None:
    """A transient failure of an automatic signature (TSA down…): back to rendered, tried again at ``at``."""
    _move(conn, document_id, DocumentStatus.RENDERED, attempts=attempts, next_attempt_at=at.isoformat(),
          error=error)
    step(conn, document_id, "retry-later", error=error, attempts=attempts)


def start_signing(conn: Connection, doc: DocumentRow, *, field: str, officer: str) -> None:
    _move(conn, doc.document_id, DocumentStatus.SIGNING, expect=AWAITING_SIGNATURE)
    step(conn, doc.document_id, "signing", field=field, officer=officer)


def signing_failed(conn: Connection, doc: DocumentRow) -> None:
    """Nothing half-signed: the work file is untouched, the document waits where it waited."""
    back = DocumentStatus.RENDERED if doc.signed_automatically else DocumentStatus.QUEUED
    _move(conn, doc.document_id, back)


def store_signature(conn: Connection, doc: DocumentRow, *, pdf_path: str, pdf_sha256: str,
                    entry: dict[str, Any], adopted: bool) -> DocumentRow:
    """Journal a signature — only if no other signature was stored since ``doc`` was read (a conditional
    update on the number of signatures done).  The document as it is now (the update's RETURNING: not read
    again)."""
    done = doc.signatures_done
    complete = done + 1 >= len(doc.fields)
    status = DocumentStatus.SIGNED if complete else DocumentStatus.QUEUED
    stmt = update(documents).where(
        documents.c.document_id == doc.document_id, documents.c.signatures_done == done,
        documents.c.status.in_(list(AWAITING_SIGNATURE)))
    changed = conn.execute(stmt.values(
        status=status, pdf_path=pdf_path, pdf_sha256=pdf_sha256, signatures_done=done + 1,
        signed_by=_dumps([*doc.signed_by, entry]), signed_at=entry.get("signed_at"),
        signature_level=entry.get("level"), error=None, attempts=0, next_attempt_at=None,
        updated_at=now_utc()).returning(documents)).mappings().first()
    if changed is None:
        raise StateConflict(f"{doc.document_id} changed while it was being signed", remedy="look at it again")
    step(conn, doc.document_id, "signed", field=entry.get("field"), officer=entry.get("officer"), adopted=adopted)
    return _document(changed)


def note_error(conn: Connection, document_id: str, error: str) -> None:
    conn.execute(update(documents).where(documents.c.document_id == document_id).values(
        error=error, updated_at=now_utc()))
    step(conn, document_id, "error", error=error)


def reject_document(conn: Connection, document_id: str, *, officer: str, reason: str) -> None:
    _move(conn, document_id, DocumentStatus.REJECTED, expect=(DocumentStatus.QUEUED,), rejected_reason=reason)
    step(conn, document_id, "rejected-by-officer", officer=officer, reason=reason)


def order_again(conn: Connection, document_id: str) -> None:
    """A document set aside as failed gets another chance (``qamqor queue retry``)."""
    _move(conn, document_id, DocumentStatus.ORDERED, expect=(DocumentStatus.FAILED,), attempts=0,
          next_attempt_at=None, error=None)
    step(conn, document_id, "retry-ordered")


# --- deliveries ----------------------------------------------------------------------------------------------


def plan_deliveries(conn: Connection, document_id: str, planned: Iterable[tuple[str, str]]) -> list[DeliveryRow]:
    """Journal where each copy goes, before any file is written (a crash leaves planned rows).  Returns every
    delivery of the document, by route: those a crashed run planned (or finished) as they are, the new ones."""
    stmt = select(deliveries).where(deliveries.c.document_id == document_id)
    rows = {d.route: d for d in map(_delivery, conn.execute(stmt).mappings())}
    new = [DeliveryRow(document_id, route, path, DeliveryStatus.PLANNED, now_utc())
           for route, path in planned if route not in rows]
    if new:
        conn.execute(deliveries.insert(), [asdict(d) for d in new])
    step(conn, document_id, "delivery-planned")
    return sorted([*rows.values(), *new], key=lambda d: d.route)


def deliveries_of(db: Journal | Connection, document_id: str) -> list[DeliveryRow]:
    stmt = select(deliveries).where(deliveries.c.document_id == document_id).order_by(deliveries.c.route)
    return [_delivery(m) for m in _all(db, stmt)]


def finish_delivery(conn: Connection, document_id: str, done: Iterable[DeliveryRow]) -> None:
    """Every route written: the routes done and the document delivered, in this one transaction."""
    routes = {d.route: d.path for d in done}
    if routes:
        conn.execute(update(deliveries).where(deliveries.c.document_id == document_id,
                                              deliveries.c.route.in_(list(routes))).values(
            status=DeliveryStatus.DONE, at=now_utc()))
        Journal.steps(conn, [(document_id, "delivered", {"route": route, "path": path})
                             for route, path in routes.items()])
    _move(conn, document_id, DocumentStatus.DELIVERED, expect=(DocumentStatus.SIGNED,))


# --- read models of the desk and the reports (in .reads) ----------------------------------------------------

# --- the areas kept in their own modules, one door all the same ------------------------------------------------
from .anchors import *  # noqa: E402, F401, F403 - the journal's past, the audit chain's anchors (#14.3, #14.9)
from .desk import *  # noqa: E402, F401, F403 - sessions, lock-outs, prepared signatures (issues 14, 10)
from .nodes import *  # noqa: E402, F401, F403 - fencing tokens and nodes (issue 10)
from .numbers import *  # noqa: E402, F401, F403 - registration numbers (issue 11)
from .reads import *  # noqa: E402, F401, F403 - the one door to the journal
from .renewals import *  # noqa: E402, F401, F403 - the archive's renewals (issue 12)

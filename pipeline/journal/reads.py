"""Read models of the desk and the reports: named reads over the journal that only the front ends need (the
stages use :mod:`.store`).  Re-exported by :mod:`.store`, which stays the one door to the journal."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select

from ..core.lifecycle import DocumentStatus, EventStatus
from . import Journal
from .rows import (
    CaseRow,
    DeliveryRow,
    DocumentRow,
    EventRow,
    InputRow,
    _all,
    _case,
    _delivery,
    _document,
    _event,
    _first,
    _input,
)
from .tables import cases, deliveries, documents, events, inputs
from .tables import steps as _steps

# --- read models of the desk ---
# What the web desk's pages read (pipeline/web).  The import stays here, with this section, while the top of
# the module is being reworked (#9.6); it can join the others later.


@dataclass(frozen=True)
class StepRow:
    """One journaled step of a subject (a document, a case, an input)."""

    at: str
    subject: str
    step: str
    detail: dict[str, Any] | None


def _chunks(ids: Iterable[str], size: int = 500) -> Iterator[list[str]]:
    # SQLite allows a limited number of bound parameters in one IN (…)
    ordered = sorted(set(ids))
    for i in range(0, len(ordered), size):
        yield ordered[i:i + size]


def submitted_applications(db: Journal | Connection, case_ids: Iterable[str]) -> list[EventRow]:
    """The applied ``application.submitted`` events of these cases (the applicants' names on every page)."""
    out: list[EventRow] = []
    for chunk in _chunks(case_ids):
        stmt = select(events).where(events.c.case_id.in_(chunk), events.c.event == "application.submitted",
                                    events.c.status == EventStatus.APPLIED)
        out += [_event(m) for m in _all(db, stmt)]
    return out


def office_cases(db: Journal | Connection, *, provider: str | None = None, psc: str | None = None) -> list[CaseRow]:
    """The cases of one office (a provider's, or a PSC's), the newest submission first."""
    stmt = select(cases)
    if provider is not None:
        stmt = stmt.where(cases.c.provider == provider)
    if psc is not None:
        stmt = stmt.where(cases.c.psc == psc)
    return [_case(m) for m in _all(db, stmt.order_by(cases.c.submitted_on.desc(), cases.c.case_id))]


def steps_of(db: Journal | Connection, subjects: Iterable[str]) -> list[StepRow]:
    """The steps of these subjects, in the order they were journaled."""
    out: list[tuple[int, StepRow]] = []
    for chunk in _chunks(subjects):
        for m in _all(db, select(_steps).where(_steps.c.subject.in_(chunk))):
            out.append((m["id"], StepRow(m["at"], m["subject"], m["step"],
                                         json.loads(m["detail"]) if m["detail"] else None)))
    return [row for _id, row in sorted(out, key=lambda x: x[0])]


def step_counts(db: Journal | Connection, names: Iterable[str]) -> dict[str, int]:
    """How many times each of these steps was journaled (the failure counters of the metrics)."""
    names = list(names)
    rows = _all(db, select(_steps.c.step, func.count().label("n")).where(_steps.c.step.in_(names))
                .group_by(_steps.c.step))
    return {r["step"]: r["n"] for r in rows}


def oldest_created_at(db: Journal | Connection, statuses: Iterable[DocumentStatus]) -> str | None:
    """When the oldest document in any of ``statuses`` was requested (the queue's age), or None."""
    m = _first(db, select(func.min(documents.c.created_at).label("at"))
               .where(documents.c.status.in_(list(statuses))))
    return m["at"] if m else None


def document_with_sha256(db: Journal | Connection, sha256: str,
                         statuses: Iterable[DocumentStatus]) -> DocumentRow | None:
    """A document in one of ``statuses`` whose current file has this SHA-256 (an uploaded copy's match)."""
    m = _first(db, select(documents).where(documents.c.pdf_sha256 == sha256,
                                           documents.c.status.in_(list(statuses))))
    return _document(m) if m else None


def write_lock_problem(journal: Journal) -> str | None:
    """None when the journal takes a write lock now (it writes nothing); otherwise what went wrong."""
    raw = journal.engine.raw_connection()
    try:
        cur = raw.cursor()
        if journal.engine.dialect.name == "sqlite":
            cur.execute("PRAGMA busy_timeout=2000")
            cur.execute("BEGIN IMMEDIATE")  # takes the write lock, writes nothing
            cur.execute("ROLLBACK")
            cur.execute("PRAGMA busy_timeout=30000")
        else:
            cur.execute("SELECT 1")
        return None
    except Exception as e:  # any failure is "not ready"; the message says which
        return f"{type(e).__name__}: {e}"
    finally:
        raw.close()


# --- read models of the reports ------------------------------------------------------------------------------
# (``qamqor status``, ``qamqor deadlines``: pipeline/reports.py)


def case_counts(db: Journal | Connection) -> dict[str, int]:
    """Cases per status."""
    rows = _all(db, select(cases.c.status, func.count().label("n")).group_by(cases.c.status))
    return {r["status"]: r["n"] for r in rows}


def case_events(db: Journal | Connection, case_id: str) -> list[EventRow]:
    """Every event of a case, whatever became of it, in the order they happened."""
    stmt = select(events).where(events.c.case_id == case_id).order_by(events.c.occurred_at)
    return [_event(m) for m in _all(db, stmt)]


def case_deliveries(db: Journal | Connection, case_id: str) -> list[DeliveryRow]:
    """Every planned or done copy of every document of a case (one query for a case's page)."""
    stmt = (select(deliveries).join(documents, documents.c.document_id == deliveries.c.document_id)
            .where(documents.c.case_id == case_id).order_by(deliveries.c.document_id, deliveries.c.route))
    return [_delivery(m) for m in _all(db, stmt)]


def all_inputs(db: Journal | Connection) -> list[InputRow]:
    """Every input ever taken, in the order taken (a full listing: the crash tests check each has one outcome)."""
    return [_input(m) for m in _all(db, select(inputs).order_by(inputs.c.input_id))]


def all_documents(db: Journal | Connection) -> list[DocumentRow]:
    """Every document, whatever its status, oldest first."""
    stmt = select(documents).order_by(documents.c.created_at, documents.c.document_id)
    return [_document(m) for m in _all(db, stmt)]

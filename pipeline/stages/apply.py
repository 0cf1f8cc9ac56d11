"""Stage 3, apply: each case's pending events, in ``occurred_at`` order, through the rules core
(:func:`pipeline.core.rules.apply`); the outcome — the case, its deadlines, the documents requested — is written
in the same transaction as the event's new status.  An event the rules refuse is rejected with its report.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection

from .. import clock
from ..cases import load_case
from ..core import rules
from ..errors import InputError
from ..faults import checkpoint
from ..journal import store
from ..rejections import finish_rejection, journal_rejection
from ..services import Services
from . import render


def apply(services: Services) -> None:
    by_case: dict[str, list[store.EventRow]] = {}
    for row in store.pending_events(services.journal):
        by_case.setdefault(row.case_id, []).append(row)
    ordered = []
    for rows in by_case.values():
        # contract.md, "Time": the events of one case that wait together apply in occurred_at order
        rows.sort(key=lambda r: (dt.datetime.fromisoformat(r.occurred_at), r.recorded_at))
        ordered.extend(rows)
    if not ordered:
        return
    # issue 10: the events in one transaction (a commit, and on PostgreSQL its round trips, for a scan's events
    # rather than one each); each reads its case as the ones before it left it
    rejected, applied = [], 0
    with services.journal.tx() as conn:
        for row in ordered:
            if apply_one(services, conn, row):
                applied += 1
            else:
                rejected.append(row.input_id)
    for input_id in rejected:
        finish_rejection(services, input_id)
    for _ in range(applied):
        checkpoint("applied")


def apply_one(services: Services, conn: Connection, row: store.EventRow) -> bool:
    """One event through the rules, its outcome written (True), or its rejection journaled (False: the
    report's copy to the outbox follows the commit)."""
    event = row.to_event()
    state = load_case(conn, services.rules, event.case_id)
    try:
        rules.check_clock(event, clock.now())  # ¶10, ¶11 (issue 11 #4): nothing dated after the service's clock
        outcome = rules.apply(state, event, services.rules)
    except InputError as err:
        store.reject_event(conn, event.event_id)
        journal_rejection(services, conn, row.input_id, err)
        return False
    render.number_ordered(conn, store.write_outcome(conn, outcome, event=event), event)  # issue 11 #9
    return True

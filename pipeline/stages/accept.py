"""Stage 2, accept: each claimed input becomes a recorded event, or is rejected with its report.

The bytes are read and parsed once (:mod:`pipeline.ingest`); a known ``event_id`` with the same bytes is a
duplicate (nothing changes, nothing new is issued), with other bytes a conflict (rejected).  Rejections whose
copy to ``outbox/rejected/`` a crash interrupted are finished here.
"""

from __future__ import annotations

from ..core.lifecycle import InputStatus
from ..errors import InputError, Where
from ..faults import checkpoint
from ..ingest import parse_event, read_input
from ..journal import store
from ..outbox import sha256
from ..rejections import finish_rejection, reject
from ..services import Services


def accept(services: Services) -> None:
    """Every claimed input parsed; the events journaled in one transaction (issue 10: a commit, and on
    PostgreSQL its round trips, for a scan's inputs rather than one each), each input then rejected or
    counted as recorded."""
    parsed = []
    for row in store.inputs_to_accept(services.journal):
        if row.status == InputStatus.REJECTING:
            finish_rejection(services, row.input_id)
            continue
        try:
            data = read_input(services.dirs.inputs / row.input_id, row.original_name,
                              services.config.max_event_bytes)
            event = parse_event(data, filename=row.original_name, max_bytes=services.config.max_event_bytes)
        except InputError as err:
            reject(services, row.input_id, err)
            continue
        parsed.append((row.input_id, event, sha256(data)))
    if not parsed:
        return
    recorded, conflicts = 0, []
    with services.journal.tx() as conn:
        for input_id, event, digest in parsed:  # in order: a second input of the same event sees the first
            known = store.get_event(conn, event.event_id)
            if known is None:
                store.record_event(conn, input_id, event, digest)
                recorded += 1
            elif known.sha256 == digest:
                store.mark_duplicate(conn, input_id, event)
            else:
                conflicts.append((input_id, InputError("E-EVENT-CONFLICT", event.event_id,
                                                       Where(pointer="/event_id"))))
    for input_id, conflict in conflicts:
        reject(services, input_id, conflict)
    for _ in range(recorded):
        checkpoint("event-recorded")

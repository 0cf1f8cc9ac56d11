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
        digest = sha256(data)
        conflict = None
        with services.journal.tx() as conn:
            known = store.get_event(conn, event.event_id)
            if known is None:
                store.record_event(conn, row.input_id, event, digest)
            elif known.sha256 == digest:
                store.mark_duplicate(conn, row.input_id, event)
            else:
                conflict = InputError("E-EVENT-CONFLICT", event.event_id, Where(pointer="/event_id"))
        if conflict is not None:
            reject(services, row.input_id, conflict)
        elif known is None:
            checkpoint("event-recorded")

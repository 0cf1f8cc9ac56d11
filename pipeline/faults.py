"""Fault injection for the crash tests (issue 5): ``QAMQOR_FAULT=<step>`` kills the process with SIGKILL the
first time it reaches the checkpoint named ``<step>`` (``<step>:N``: the N-th time; ``<step>:N:stop``: SIGSTOP).  Costs one dict lookup
when unset; never set in production."""

from __future__ import annotations

import os
import signal

_counts: dict[str, int] = {}

#: Every checkpoint, in the order a document passes them; the crash test iterates over this list.
CHECKPOINTS = (
    "claimed",            # the file was renamed into the state folder, not yet journaled
    "input-recorded",     # the journal knows the input
    "event-recorded",     # the event is in the journal, not yet applied
    "rejecting",          # a rejection is journaled, the original not yet copied to outbox/rejected
    "rejected-copied",    # the original is in outbox/rejected, the report not yet written
    "applied",            # the case moved; documents ordered, none rendered
    "rendered-written",   # the PDF is in the work folder, the journal does not know yet
    "rendered",           # journaled as rendered
    "signed-written",     # the signed PDF is in the work folder, the journal does not know yet
    "signed",             # journaled as signed
    "delivery-planned",   # the routes are journaled, no file written
    "delivered-pdf",      # every route's PDF (and the archive's report) in place, no manifest yet
    "delivered-route",    # every route's manifest in place, the journal does not know yet
    "delivered",          # the document is journaled as delivered
)


def checkpoint(name: str) -> None:
    target = os.environ.get("QAMQOR_FAULT")
    if not target:
        return
    step, _, rest = target.partition(":")
    if step != name:
        return
    nth, _, action = rest.partition(":")
    _counts[name] = _counts.get(name, 0) + 1
    if _counts[name] == int(nth or 1):
        # ``<step>:N:stop`` freezes the process instead (SIGSTOP): a node stalled mid-job, for the fencing tests
        os.kill(os.getpid(), signal.SIGSTOP if action == "stop" else signal.SIGKILL)

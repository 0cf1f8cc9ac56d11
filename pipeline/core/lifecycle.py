"""The lifecycles of what the journal holds: inputs, events, documents and deliveries, as enums with their
allowed moves, and the few facts about document kinds that every stage needs.

The stored values are the enums' values (``StrEnum``), so the journal's rows are unchanged.  A stage asks
:func:`can_move` before it writes a new status; the store refuses a move this module does not allow, so a status
can no longer drift from the code's idea of it.

Pure: no files, no clock, no database.  Who signs which kind comes from ``forms/catalogue/documents.toml``
(:func:`forms.catalogue.signers_by_role`), handed in by the shell.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from enum import StrEnum


class InputStatus(StrEnum):
    """A file taken from the inbox."""

    CLAIMED = "claimed"  # journaled; its bytes are kept under <state>/work/inputs/
    PARSED = "parsed"  # a valid event, recorded in ``events``; waits to be applied
    APPLIED = "applied"  # its event changed the case
    DUPLICATE = "duplicate"  # the same event_id with the same bytes as one already taken: nothing changes
    REJECTING = "rejecting"  # the rejection report is journaled; the copy to outbox/rejected/ may not be done
    REJECTED = "rejected"  # the original and its report are in outbox/rejected/


class EventStatus(StrEnum):
    PENDING = "pending"  # recorded, not applied yet (waits for the apply stage)
    APPLIED = "applied"
    REJECTED = "rejected"  # the rules refused it (out of order, inconsistent with the case)


class DocumentStatus(StrEnum):
    """A document the rules asked for, from its request to its delivery."""

    ORDERED = "ordered"  # requested by the rules; waits to be rendered (or for its next attempt)
    RENDERED = "rendered"  # rendered; signed automatically next (no officer approves it)
    QUEUED = "queued"  # rendered (and maybe signed by some of its signers); waits for an officer
    SIGNING = "signing"  # a signature is being made: a crash here is recovered by adopting or signing again
    SIGNED = "signed"  # every signature is in; waits for delivery
    DELIVERED = "delivered"  # on every route, with its manifest
    REJECTED = "rejected"  # returned by an officer with a reason (the back office sends a corrected event)
    FAILED = "failed"  # set aside after too many failed renders (`qamqor queue retry` orders it again)


class DeliveryStatus(StrEnum):
    PLANNED = "planned"  # journaled before any file is written
    DONE = "done"


IS, D = InputStatus, DocumentStatus

#: The allowed moves.  A move to the same status is always allowed (a stage run twice changes nothing).
INPUT_MOVES: Mapping[InputStatus, frozenset[InputStatus]] = {
    IS.CLAIMED: frozenset({IS.PARSED, IS.DUPLICATE, IS.REJECTING}),
    IS.PARSED: frozenset({IS.APPLIED, IS.REJECTING}),
    IS.REJECTING: frozenset({IS.REJECTED}),
    IS.APPLIED: frozenset(),
    IS.DUPLICATE: frozenset(),
    IS.REJECTED: frozenset(),
}

DOCUMENT_MOVES: Mapping[DocumentStatus, frozenset[DocumentStatus]] = {
    D.ORDERED: frozenset({D.RENDERED, D.QUEUED, D.FAILED}),
    D.RENDERED: frozenset({D.SIGNING, D.QUEUED}),
    D.QUEUED: frozenset({D.SIGNING, D.REJECTED}),
    # a signature ends signed, or (more signers to come, or it failed) back in the queue or rendered
    D.SIGNING: frozenset({D.SIGNED, D.QUEUED, D.RENDERED, D.REJECTED}),
    D.SIGNED: frozenset({D.DELIVERED}),
    D.DELIVERED: frozenset(),
    D.REJECTED: frozenset(),
    D.FAILED: frozenset({D.ORDERED}),
}

#: Waiting for a signature: the states in which a signature step may start.
AWAITING_SIGNATURE = frozenset({D.RENDERED, D.QUEUED, D.SIGNING})
#: In an officer's queue ("signing": a signature was interrupted; approving again adopts or signs anew).
IN_QUEUE = frozenset({D.QUEUED, D.SIGNING})
#: Done with signing: what an order's act must be before the head may sign (¶10–11).
ACT_SETTLED = frozenset({D.SIGNED, D.DELIVERED, D.REJECTED})


def can_move(old: DocumentStatus | InputStatus | str, new: DocumentStatus | InputStatus | str) -> bool:
    """Whether a document (or an input) may go from ``old`` to ``new``."""
    if old == new:
        return True
    if old in DocumentStatus.__members__.values() and new in DocumentStatus.__members__.values():
        return DocumentStatus(new) in DOCUMENT_MOVES[DocumentStatus(old)]
    if old in InputStatus.__members__.values() and new in InputStatus.__members__.values():
        return InputStatus(new) in INPUT_MOVES[InputStatus(old)]
    return False


# --- document kinds ------------------------------------------------------------------------------------------

#: Roles whose documents are signed automatically, without an officer approving them: the PSC operator's
#: receipts (¶4–¶5, the operator named on the receipt) and the provider's system seal on portal notices (¶7, ¶9).
AUTO_ROLES = frozenset({"operator", "provider_seal"})
#: The results of the service (¶11): the order, or the reasoned refusal.
RESULT_KINDS = frozenset({"order", "reasoned_refusal"})
#: The inspection act (¶10), on which the result rests.
ACT_KIND = "inspection_act"


def signed_automatically(role: str) -> bool:
    return role in AUTO_ROLES


def may_sign(role: str, office: str, kind: str, doc_office: str, signers: Mapping[str, frozenset[str]]) -> bool:
    """An officer acts only within their role and office (an inspector cannot sign an order); ``signers`` is
    the catalogue's map of who signs what."""
    return kind in signers.get(role, frozenset()) and office == doc_office


def waits_for_act(kind: str, act_statuses: list[str]) -> str | None:
    """¶10–11: the decision rests on the act, so the order or the refusal is signed only after the inspectors
    have signed the act.  Returns the status of the first unsigned act, or None."""
    if kind not in RESULT_KINDS:
        return None
    unsigned = [s for s in act_statuses if s not in ACT_SETTLED]
    return unsigned[0] if unsigned else None


def retry_at(now: dt.datetime, attempts: int, *, base: float = 10.0, cap: float = 3600.0) -> dt.datetime:
    """When to try again after ``attempts`` failures: exponential backoff, capped at an hour.  The attempts are
    kept in the journal (a restart does not reset them), hence no in-process retry library."""
    return now + dt.timedelta(seconds=min(cap, base * 2 ** min(attempts, 16)))

"""What the journal says about its own past and about the audit log that mirrors its steps (#14.3, #14.9): part
of :mod:`.store`."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, select

from . import Journal, now_utc
from .rows import _all, _first

AUDIT_ANCHOR = "audit-anchored"  #: the step that anchors the audit chain (subject ``audit``), never mirrored


def has_past(db: Journal | Connection) -> bool:
    """Whether the journal has recorded anything at all (a new journal has not)."""
    from .tables import steps

    return _first(db, select(steps.c.id).limit(1)) is not None


def anchor_audit(conn: Connection, seq: int, digest: str) -> None:
    """Record the audit log's head (sequence number and hash) in the journal's steps: the chain's outside anchor.
    Written without a mirror line in the audit log (the anchor is what the log is checked against)."""
    from .tables import steps

    conn.execute(steps.insert().values(at=now_utc(), subject="audit", step=AUDIT_ANCHOR,
                                       detail=json.dumps({"seq": seq, "hash": digest})))


def audit_anchors(db: Journal | Connection) -> list[tuple[int, str]]:
    """Every anchor of the audit chain, oldest first: (sequence number, hash)."""
    from .tables import steps

    stmt = select(steps.c.detail).where(steps.c.step == AUDIT_ANCHOR).order_by(steps.c.id)
    return [(int(d["seq"]), str(d["hash"])) for d in (json.loads(m["detail"]) for m in _all(db, stmt))]


def mirrored_steps(db: Journal | Connection) -> list[tuple[str, str, str, Any]]:
    """Every step the audit log mirrors, as (at, subject, step, detail), oldest first."""
    from .tables import steps

    stmt = select(steps.c.at, steps.c.subject, steps.c.step, steps.c.detail).where(
        steps.c.step != AUDIT_ANCHOR).order_by(steps.c.id)
    return [(m["at"], m["subject"], m["step"], json.loads(m["detail"]) if m["detail"] else None)
            for m in _all(db, stmt)]

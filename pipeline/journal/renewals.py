"""The archive's renewals (issue 12 #3), journaled: part of :mod:`.store`."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, and_, select

from . import Journal
from .rows import _all, _first

step = Journal.step


# --- the archive's renewals (issue 12 #3) ---------------------------------------------------------------------
# Each renewal of an archived PDF (a DSS update and a new document timestamp) is one row, journaled with its
# step in the same transaction, after the renewed bytes are in place (the file is the evidence; the row says
# when and why it changed, and lets the next run see that nothing changed since).



@dataclass(frozen=True)
class RenewalRow:
    id: int
    path: str
    document_id: str | None
    at: str
    status: str  # renewed / completed (status data after the newest timestamp added) / failed
    previous_timestamp: str | None
    previous_tsa_valid_until: str | None
    new_timestamp: str | None
    new_tsa_valid_until: str | None
    sha256_before: str
    sha256_after: str | None
    report: str | None
    error: str | None


def record_renewal(conn: Connection, *, path: str, document_id: str | None, at: str, status: str,
                   sha256_before: str, previous_timestamp: str | None = None,
                   previous_tsa_valid_until: str | None = None, new_timestamp: str | None = None,
                   new_tsa_valid_until: str | None = None, sha256_after: str | None = None,
                   report: str | None = None, error: str | None = None) -> None:
    from .tables import archive_renewals

    values = dict(path=path, document_id=document_id, at=at, status=status, sha256_before=sha256_before,
                  previous_timestamp=previous_timestamp, previous_tsa_valid_until=previous_tsa_valid_until,
                  new_timestamp=new_timestamp, new_tsa_valid_until=new_tsa_valid_until, sha256_after=sha256_after,
                  report=report, error=error)
    conn.execute(archive_renewals.insert().values(**values))
    name = {"renewed": "archive-renewed", "completed": "archive-evidence-completed"}.get(status,
                                                                                     "archive-renewal-failed")
    step(conn, document_id or path, name,
         path=path, previous_timestamp=previous_timestamp, new_timestamp=new_timestamp, error=error)


def renewals(db: Journal | Connection, path: str | None = None) -> list[RenewalRow]:
    """Every renewal (of one archived file, when ``path``), oldest first."""
    from .tables import archive_renewals

    stmt = select(archive_renewals).order_by(archive_renewals.c.id)
    if path is not None:
        stmt = stmt.where(archive_renewals.c.path == path)
    return [RenewalRow(**dict(m)) for m in _all(db, stmt)]


def last_renewed_sha256(db: Journal | Connection, path: str) -> str | None:
    """The bytes (their SHA-256) the last successful renewal of ``path`` left there."""
    from .tables import archive_renewals

    stmt = (select(archive_renewals.c.sha256_after)
            .where(and_(archive_renewals.c.path == path, archive_renewals.c.status == "renewed"))
            .order_by(archive_renewals.c.id.desc()).limit(1))
    m = _first(db, stmt)
    return m["sha256_after"] if m else None

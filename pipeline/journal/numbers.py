"""Registration numbers of the office (issue 11 #9): part of :mod:`.store`."""

from __future__ import annotations

from sqlalchemy import Connection, and_, select, update

from . import Journal, now_utc
from .tables import documents

step = Journal.step


# --- registration numbers of the office (issue 11 #9) ------------------------------------------------------------
# Receipts, notices and refusals carry the office's registration number, a sequence per office and year kept in
# the journal; it is given once — as the event that orders the document is applied, else at its first render
# (pipeline/stages/render.py: number_ordered, register) — and stored as the document's number, so a re-render
# prints the same number and the sequence has no gaps a render retry could open.


def next_registration_number(conn: Connection, office: str, year: int) -> int:
    """The office's next number in ``year`` (1, 2, …), counted in the caller's transaction (a rollback gives the
    number back)."""
    from .tables import registration_numbers as rn

    if conn.dialect.name in ("sqlite", "postgresql"):
        # one statement, so two nodes counting at once cannot both take the first number of a year
        if conn.dialect.name == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as upsert
        else:
            from sqlalchemy.dialects.postgresql import insert as upsert
        stmt = upsert(rn).values(office=office, year=year, last=1)
        stmt = stmt.on_conflict_do_update(index_elements=[rn.c.office, rn.c.year], set_={"last": rn.c.last + 1})
        return int(conn.execute(stmt.returning(rn.c.last)).scalar_one())
    where = and_(rn.c.office == office, rn.c.year == year)
    if conn.execute(update(rn).where(where).values(last=rn.c.last + 1)).rowcount == 0:
        conn.execute(rn.insert().values(office=office, year=year, last=1))
    return int(conn.execute(select(rn.c.last).where(where)).scalar_one())


def register_document(conn: Connection, document_id: str, *, office: str, year: int, fmt: str) -> str:
    """Give a document without a number the office's registration number (``fmt``: service.toml
    ``[registration] format``) and store it as its number; a document that has one keeps it.  The number."""
    from ..core.case import registration_number

    current = conn.execute(select(documents.c.number).where(documents.c.document_id == document_id)).scalar()
    if current:
        return str(current)
    number = registration_number(fmt, office, year, next_registration_number(conn, office, year))
    conn.execute(update(documents).where(documents.c.document_id == document_id, documents.c.number.is_(None))
                 .values(number=number, updated_at=now_utc()))
    step(conn, document_id, "registered", number=number, office=office, year=year)
    return number

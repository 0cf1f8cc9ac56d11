"""The desk's shared state (issues 14 and 10): sessions, lock-outs and prepared NCALayer signatures: part of :mod:`.store`."""

from __future__ import annotations

from sqlalchemy import Connection, select, update

from . import Journal
from .rows import _first, _upsert

step = Journal.step


# --- the desk: sessions and lock-outs (#14.11, #14.12, #14.20; issue 10 #4) --------------------------------------
# Shared by every desk process on this journal.  Times are the desk's clock (seconds since the epoch).


def open_desk_session(conn: Connection, sid_hash: str, officer: str, *, now: float, expires_at: float) -> None:
    """A signed-in session (its id's SHA-256: the journal never holds a usable cookie); expired ones go."""
    from .tables import desk_sessions as t

    conn.execute(t.delete().where(t.c.expires_at <= now))
    conn.execute(t.insert().values(sid_hash=sid_hash, officer=officer, created_at=now, expires_at=expires_at))


def desk_session_officer(db: Journal | Connection, sid_hash: str, *, now: float) -> str | None:
    """The officer of a live session (None: unknown, ended by a logout, or expired)."""
    from .tables import desk_sessions as t

    m = _first(db, select(t.c.officer).where(t.c.sid_hash == sid_hash, t.c.expires_at > now))
    return m["officer"] if m else None


def end_desk_session(conn: Connection, sid_hash: str) -> None:
    from .tables import desk_sessions as t

    conn.execute(t.delete().where(t.c.sid_hash == sid_hash))


def count_sign_in(conn: Connection, key: str, *, now: float, limit: int, window: float) -> float:
    """Count one sign-in attempt for ``key`` *before* its password is checked, in this one transaction (#14.11):
    the count and the check are one step, so a burst of concurrent guesses is cut at ``limit`` however slowly
    each is verified.  Returns the seconds of a lock-out still to run (0: this attempt may be verified)."""
    from .tables import desk_attempts as t

    ins = _upsert(conn)(t).values(key=key, count=1, window_start=now, locked_until=0.0)
    conn.execute(ins.on_conflict_do_update(index_elements=[t.c.key], set_={"count": t.c.count + 1}))
    row = conn.execute(select(t).where(t.c.key == key)).mappings().one()
    if row["locked_until"] > now:
        return float(row["locked_until"] - now)
    if row["locked_until"] or now - row["window_start"] >= window:  # a lock-out or a window ran out: anew
        conn.execute(update(t).where(t.c.key == key).values(count=1, window_start=now, locked_until=0.0))
        return 0.0
    if row["count"] > limit:  # more attempts than the window allows: locked from now on, unverified
        conn.execute(update(t).where(t.c.key == key).values(count=0, window_start=now, locked_until=now + window))
        return float(window)
    return 0.0


def sign_in_failed(conn: Connection, key: str, *, now: float, limit: int, window: float) -> float:
    """After a wrong password (already counted): lock ``key`` once the window holds ``limit`` failures.  Returns
    the seconds of the lock-out (0: not locked)."""
    from .tables import desk_attempts as t

    row = conn.execute(select(t).where(t.c.key == key)).mappings().first()
    if row is None:
        return 0.0
    if row["locked_until"] > now:
        return float(row["locked_until"] - now)
    if row["count"] >= limit:
        conn.execute(update(t).where(t.c.key == key).values(count=0, window_start=now, locked_until=now + window))
        return float(window)
    return 0.0


def sign_in_succeeded(conn: Connection, key: str, *, now: float, forget: bool) -> None:
    """A right password: ``forget`` the key's failures (an account; a lock-out that other attempts of the same
    burst set meanwhile stays), or only give back this attempt (a client, whose other failures still count)."""
    from .tables import desk_attempts as t

    if forget:
        conn.execute(t.delete().where(t.c.key == key, t.c.locked_until <= now))
    else:
        conn.execute(update(t).where(t.c.key == key, t.c.count > 0).values(count=t.c.count - 1))




# --- prepared NCALayer signatures (issue 10 #4) -------------------------------------------------------------------


def put_prepared(conn: Connection, token_hash: str, *, officer_id: str, document_id: str, base_sha256: str,
                 prepared: str, now: float, ttl: float) -> None:
    from .tables import prepared_signatures as t

    conn.execute(t.delete().where(t.c.created_at < now - ttl))
    conn.execute(t.insert().values(token_hash=token_hash, officer_id=officer_id, document_id=document_id,
                                   base_sha256=base_sha256, prepared=prepared, created_at=now))


def take_prepared(conn: Connection, token_hash: str, officer_id: str, *, now: float, ttl: float) -> dict | None:
    """Take (and remove) a prepared signature: once only, whichever desk process asks — the delete decides."""
    from .tables import prepared_signatures as t

    row = conn.execute(select(t).where(t.c.token_hash == token_hash)).mappings().first()
    if row is None or row["officer_id"] != officer_id or now - row["created_at"] > ttl:
        return None
    if conn.execute(t.delete().where(t.c.token_hash == token_hash)).rowcount != 1:
        return None  # another desk process took it at the same moment
    return dict(row)

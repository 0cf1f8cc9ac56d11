"""The desk's shared state (issues 14 and 10): sessions, lock-outs and prepared NCALayer signatures: part of :mod:`.store`."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, func, select, update

from . import Journal
from .rows import _all, _first, _upsert

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


# --- the desk's queue, reads and the day's work (issue 15 #2, #4) ------------------------------------------------


def desk_queue(db: Journal | Connection, *, office: str, kinds: Iterable[str]) -> list[dict[str, Any]]:
    """The documents waiting for an officer of ``office`` who signs ``kinds`` — in ONE query, whatever the
    queue's length: each row carries its case's earliest open deadline (``due``) and how many of its case's
    inspection acts are not signed yet (``acts_open``: ¶10–11, the order waits for the act), and the case's
    PSC and channel (the office filter).  No JSON is parsed
    but the signers' list; the render's fields are counted from the stored order's ``_fields``."""
    from ..core.lifecycle import ACT_KIND, ACT_SETTLED, IN_QUEUE
    from .tables import cases as c
    from .tables import deadlines as dl
    from .tables import documents as d

    settled = [str(x) for x in ACT_SETTLED]
    due = (select(dl.c.case_id, func.min(dl.c.due).label("due")).where(dl.c.closed_on.is_(None))
           .group_by(dl.c.case_id).subquery("due"))
    acts = d.alias("acts")
    open_acts = (select(acts.c.case_id, func.count().label("n"))
                 .where(acts.c.kind == ACT_KIND, acts.c.status.not_in(settled))
                 .group_by(acts.c.case_id).subquery("open_acts"))
    stmt = (select(d.c.document_id, d.c.case_id, d.c.kind, d.c.language, d.c.signer_role, d.c.office,
                   d.c.number, d.c.status, d.c.pdf_sha256, d.c.signatures_done, d.c.signers, d.c.signed_by,
                   d.c.order, d.c.error, d.c.updated_at, due.c.due, func.coalesce(open_acts.c.n, 0).label("acts_open"),
                   c.c.psc, c.c.channel)
            .select_from(d.outerjoin(c, c.c.case_id == d.c.case_id)
                         .outerjoin(due, due.c.case_id == d.c.case_id)
                         .outerjoin(open_acts, open_acts.c.case_id == d.c.case_id))
            .where(d.c.status.in_([str(x) for x in IN_QUEUE]), d.c.office == office, d.c.kind.in_(list(kinds)))
            .order_by(d.c.created_at, d.c.document_id))
    return [dict(m) for m in _all(db, stmt)]


def queue_version(db: Journal | Connection) -> Any:
    """A cheap stamp of what the queue shows (the journal's newest step: one index lookup): every change of a
    document, a deadline or a case journals a step, so a desk may keep the rows it read until it changes."""
    from .tables import steps as s

    m = _first(db, select(func.max(s.c.id).label("step")))
    return m["step"] if m else None


def queue_fingerprint(db: Journal | Connection) -> tuple[Any, ...]:
    """How many documents wait, and when one of them last changed: a second look, now and then, for changes
    that journal no step."""
    from ..core.lifecycle import IN_QUEUE
    from .tables import documents as d

    m = _first(db, select(func.count().label("n"), func.max(d.c.updated_at).label("at"))
               .where(d.c.status.in_([str(x) for x in IN_QUEUE])))
    return (m["n"], m["at"]) if m else ()


def documents_named(db: Journal | Connection, ids: Iterable[str]) -> dict[str, Any]:
    """Documents by id, in one query (the queue's "done today")."""
    from .rows import _document
    from .tables import documents as d

    ids = list(dict.fromkeys(ids))
    if not ids:
        return {}
    return {m["document_id"]: _document(m) for m in _all(db, select(d).where(d.c.document_id.in_(ids)))}


def record_read(conn: Connection, document_id: str, *, officer: str, sha256: str) -> None:
    """The officer opened the document's pages (issue 15 #4): journaled, with the bytes shown, once per file."""
    from .tables import steps as s

    detail = _read_detail(officer, sha256)
    seen = conn.execute(select(s.c.id).where(s.c.subject == document_id, s.c.step == "read",
                                             s.c.detail == detail).limit(1)).first()
    if seen is None:
        step(conn, document_id, "read", officer=officer, sha256=sha256)


def _read_detail(officer: str, sha256: str) -> str:
    # exactly as Journal.step writes it, so that a read is found by its detail
    return json.dumps({"officer": officer, "sha256": sha256}, ensure_ascii=False, default=str)


def read_by(db: Journal | Connection, officer: str, documents: Iterable[tuple[str, str]]) -> set[str]:
    """Which of ``documents`` (id, SHA-256 of the file shown) this officer has opened as they are now."""
    from .tables import steps as s

    wanted = {doc_id: _read_detail(officer, sha) for doc_id, sha in documents}
    if not wanted:
        return set()
    stmt = select(s.c.subject, s.c.detail).where(s.c.subject.in_(list(wanted)), s.c.step == "read")
    return {m["subject"] for m in _all(db, stmt) if wanted.get(m["subject"]) == m["detail"]}


def officer_steps_since(db: Journal | Connection, officer: str, since: str,
                        names: Iterable[str] = ("signed", "rejected-by-officer")) -> list[dict[str, Any]]:
    """What one officer did since ``since`` (a UTC ISO time): the signatures and returns of the day, newest
    first (one query; the steps' own time is the real clock's)."""
    from .tables import steps as s

    stmt = (select(s.c.at, s.c.subject, s.c.step, s.c.detail)
            .where(s.c.at >= since, s.c.step.in_(list(names))).order_by(s.c.id.desc()))
    out = []
    for m in _all(db, stmt):
        detail = json.loads(m["detail"]) if m["detail"] else {}
        if detail.get("officer") == officer:
            out.append({"at": m["at"], "document_id": m["subject"], "step": m["step"], "detail": detail})
    return out


def last_failure(db: Journal | Connection, document_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The latest ``signing-failed`` step of each document (the results page says why it was not signed)."""
    from .tables import steps as s

    ids = list(dict.fromkeys(document_ids))
    if not ids:
        return {}
    stmt = (select(s.c.subject, s.c.detail, s.c.at).where(s.c.subject.in_(ids), s.c.step == "signing-failed")
            .order_by(s.c.id))
    return {m["subject"]: {"at": m["at"], **(json.loads(m["detail"]) if m["detail"] else {})}
            for m in _all(db, stmt)}

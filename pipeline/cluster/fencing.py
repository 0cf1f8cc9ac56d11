"""Fencing tokens (issue 10 #2): a node that stalled and woke up after another took its work over can neither
sign nor deliver a second time.

Taking a piece of work (``scan``, ``doc:<id>``) bumps its token in the journal (:func:`store.take_fence`).  While
a job runs inside :func:`fenced`, every transaction it opens checks, just before it commits and holding the
token's row shared, that the token is still its own (:func:`check`, installed as the journal's
``before_commit``); a newer holder makes the commit fail with :class:`~pipeline.errors.FencedOut`, so nothing
the stale node does reaches the journal.  Its files cannot either: outputs are written under deterministic names
with the journaled bytes, and :func:`still_mine` is asked before each one.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection

from ..errors import FencedOut
from ..journal import Journal, store

_held = threading.local()


def install(journal: Journal) -> None:
    journal.before_commit = check


def current() -> tuple[str, int] | None:
    return getattr(_held, "fence", None)


@contextmanager
def fenced(journal: Journal, name: str, holder: str) -> Iterator[int]:
    """Hold ``name`` for the block: the token taken; every commit in this thread checks it."""
    if journal.reads is journal.engine:  # SQLite
        with journal.tx() as conn:
            token = store.take_fence(conn, name, holder)
    else:  # PostgreSQL: one statement in autocommit, its own transaction, one round trip
        with journal.reads.connect() as conn:
            token = store.take_fence(conn, name, holder)
    outer = current()
    _held.fence = (name, token)
    try:
        yield token
    finally:
        _held.fence = outer


def check(conn: Connection) -> None:
    held = current()
    if held is None:
        return
    name, token = held
    now = store.fence_value(conn, name, lock=True)
    if now != token:
        raise FencedOut(f"{name} was taken over by another node (token {now}, this node holds {token})",
                        remedy="nothing to do: the node holding the newer token finishes the work")


def still_mine(journal: Journal) -> bool:
    """Before an effect outside the journal (a file in outbox/): is the token still this node's?"""
    held = current()
    if held is None:
        return True
    with journal.reads.connect() as conn:
        return store.fence_value(conn, held[0]) == held[1]


def ensure_mine(journal: Journal) -> None:
    """:func:`still_mine`, or :class:`FencedOut`."""
    if not still_mine(journal):
        name, token = current() or ("?", 0)
        raise FencedOut(f"{name} was taken over by another node (this node holds token {token})",
                        remedy="nothing to do: the node holding the newer token finishes the work")


def tag() -> str:
    """A work file's name part while a token is held (``.f3``): two nodes that both rendered or sealed a document
    (one of them stale) never write the same work file; the journal names the one that counts."""
    held = current()
    return f".f{held[1]}" if held else ""

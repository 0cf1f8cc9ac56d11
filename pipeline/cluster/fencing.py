"""Fencing tokens (issue 10 #2): a node that stalled and woke up after another took its work over can neither
sign nor deliver a second time.

Taking a piece of work (``scan``, ``doc:<id>``) bumps its token in the journal (:func:`store.take_fence`).  While
a job runs inside :func:`fenced`, every transaction it opens starts by reading the token and holding its row
shared until it commits (:func:`opening`, installed as the journal's ``opening``, sent with the BEGIN): a newer
holder fails the transaction with :class:`~pipeline.errors.FencedOut` before it writes, and no node can take the
work over between the check and the commit (taking it needs the row the transaction holds), so nothing the
stale node does reaches the journal.  Nor do its files: each file in outbox/ is written under a deterministic
name with the journaled bytes, :func:`still_mine` asked first; work files carry the token in their names
(:func:`tag`), so a stale node's work file is never the one the journal names.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ..errors import FencedOut
from ..journal import Journal, store

_held = threading.local()


def install(journal: Journal) -> None:
    """Fence every transaction of ``journal`` (PostgreSQL: several nodes) by the token its thread holds."""
    assert journal.engine.dialect.name == "postgresql", "fencing tokens guard several nodes on PostgreSQL"
    journal.opening = opening


def current() -> tuple[str, int] | None:
    return getattr(_held, "fence", None)


@contextmanager
def fenced(journal: Journal, name: str, holder: str) -> Iterator[int]:
    """Hold ``name`` for the block: the token taken; every transaction of this thread checks it."""
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


def opening() -> tuple[str, Callable[[Any], None]] | None:
    """What a transaction of this thread opens with: the held token's row, read and locked, and its check."""
    held = current()
    if held is None:
        return None
    name, token = held

    def check(row: Any) -> None:
        now = None if row is None else int(row[0])
        if now != token:
            raise FencedOut(f"{name} was taken over by another node (token {now}, this node holds {token})",
                            remedy="nothing to do: the node holding the newer token finishes the work")

    return store.fence_lock_sql(name), check


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

"""Locks between processes on one machine: one ``qamqor run`` per state folder, and one signer or deliverer of a
document at a time (``qamqor run``, ``queue approve`` and the desk alike).

Both are advisory locks on files: a process that dies releases them, so a crash never leaves anything locked.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import Busy, StateConflict


class StateLock:
    """One ``qamqor run`` per state folder: a second one refuses to start with a clear message."""

    def __init__(self, state: Path, name: str = "run"):
        state.mkdir(parents=True, exist_ok=True)
        self.path = state / f"{name}.lock"  # a node of a cluster holds its own: run-<node>.lock (issue 10)
        self._fh: Any = None

    def acquire(self) -> StateLock:
        fh = open(self.path, "a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            fh.close()
            raise Busy(f"another qamqor run ({holder}) is working on {self.path.parent}",
                       remedy="stop it first, or give this one another state folder") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}")
        fh.flush()
        self._fh = fh
        return self

    def release(self) -> None:
        if self._fh:
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None

    def __enter__(self) -> StateLock:
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()


@contextmanager
def document_lock(documents_dir: Path, document_id: str) -> Iterator[None]:
    """Hold the document for one signature or one delivery; another holder makes this a StateConflict.

    On a node, in a job holding the document's fencing token (issue 10), the token is the lock: a file lock would
    stay with a node frozen in the middle (SIGSTOP) for as long as it is frozen, while the token passes to the
    node that retries the job and fences the frozen one's writes out."""
    from .cluster import fencing

    held = fencing.current()
    if held is not None and held[0] == f"doc:{document_id}":
        yield
        return
    path = documents_dir / f".{document_id}.lock"
    with open(path, "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StateConflict(f"{document_id} is being signed or delivered by another process right now",
                                remedy="try again in a moment") from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)

"""Where stage work runs, behind one small protocol (:class:`Dispatcher`): in this process, in a pool of warm
worker processes, or (next) as jobs of a job engine on several machines — the driver does not change.

What is dispatched is a plain module-level function of picklable arguments returning a picklable result
(:func:`pipeline.stages.render_worker.run`); it does no journal or outbox I/O (the driver does that around it), so
running it twice is harmless.

Scratch files stay in the state folder (#14.18): a pool given ``scratch`` (``<state>/tmp``) points each worker's
temporary folder there — WeasyPrint writes about 2 MB of font subsets per worker into it — and every worker's
folder is removed when the worker exits, and whatever a killed worker left when the pool closes.
"""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any, Protocol


class Dispatcher(Protocol):
    """Runs stage work and hands back futures; ``workers`` says how much may be in flight usefully."""

    workers: int

    def submit(self, fn: Callable[[Any], Any], item: Any) -> Future:
        """Start ``fn(item)``; the future holds its result."""

    def restart(self) -> None: ...

    def close(self) -> None: ...


class InlineDispatcher:
    """Runs every stage in this process: tests, small backlogs, debugging."""

    workers = 1

    def submit(self, fn: Callable[[Any], Any], item: Any) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(item))
        except BaseException as exc:  # noqa: BLE001 - delivered through the future, as a pool would
            future.set_exception(exc)
        return future

    def restart(self) -> None:
        pass

    def close(self) -> None:
        pass


class ProcessDispatcher:
    """A pool of warm worker processes (one per core by default); ``initializer`` warms each worker once
    (fonts, stylesheets, templates).  The runner keeps at most ``8 × workers`` items in flight, so memory stays
    flat whatever the backlog."""

    #: a worker is replaced after this many documents, so whatever a long run leaves in a worker's caches is
    #: given back (memory stays flat over 10,000s of documents)
    tasks_per_worker = 1000

    def __init__(self, workers: int = 0, initializer: Callable[[], None] | None = None, *,
                 scratch: Path | None = None):
        self.workers = workers or os.cpu_count() or 1
        self.scratch = Path(scratch) if scratch is not None else None
        init = initializer or warm_worker
        self._initializer = functools.partial(_in_scratch, str(self.scratch), init) if self.scratch else init
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        import multiprocessing

        # "spawn": fresh interpreters (recycling workers needs it), started with nothing of the runner's state
        pool = ProcessPoolExecutor(
            max_workers=self.workers, initializer=self._initializer,
            mp_context=multiprocessing.get_context("spawn"), max_tasks_per_child=self.tasks_per_worker,
        )
        # every worker started and warming now, while the driver opens the journal and reads the first batch,
        # rather than at the first documents (a pool starts a process per submit that finds none idle; #13)
        for _ in range(self.workers):
            pool.submit(_ready)
        return pool

    def restart(self) -> None:
        """A worker died and broke the pool: start a fresh one (the runner resubmits what was lost)."""
        if not getattr(self._pool, "_broken", False):
            return  # already replaced (every future of the broken pool reports the break)
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = self._new_pool()

    def submit(self, fn: Callable[[Any], Any], item: Any) -> Future:
        return self._pool.submit(fn, item)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        if self.scratch is not None and self.scratch.is_dir():
            for leftover in self.scratch.glob("worker-*"):  # a worker that was killed could not clean up
                shutil.rmtree(leftover, ignore_errors=True)


def _ready() -> None:
    """Nothing: what starts a worker (its initializer warms it)."""


def _in_scratch(scratch: str, initializer: Callable[[], None]) -> None:
    """Worker initializer: this worker's temporary files go to its own folder under ``scratch``, removed at
    exit (WeasyPrint's font folder would otherwise stay in the system's temporary folder for ever)."""
    import atexit
    import tempfile

    Path(scratch).mkdir(mode=0o700, parents=True, exist_ok=True)
    mine = tempfile.mkdtemp(prefix=f"worker-{os.getpid()}-", dir=scratch)
    tempfile.tempdir = mine
    atexit.register(shutil.rmtree, mine, True)
    initializer()


def die_with_parent() -> None:
    """A worker must not outlive the runner: if the runner is killed (SIGKILL leaves no chance to clean up), the
    kernel kills its workers too (Linux ``PR_SET_PDEATHSIG``), so no orphan holds memory, locks or pipes."""
    import ctypes
    import multiprocessing
    import signal

    parent = multiprocessing.parent_process()
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except OSError:
        return
    if parent is not None and os.getppid() != parent.pid:  # the parent died before the call
        os._exit(1)


def warm_worker() -> None:
    """Worker initializer: die with the runner; load fonts, stylesheets and templates once per process."""
    import multiprocessing

    if multiprocessing.parent_process() is not None:
        die_with_parent()
    from .stages.render_worker import warm  # not .render: a worker never imports the journal (#13)

    warm()

"""Stage work behind one small interface, so the same stages can later run as procrastinate jobs on several
machines (research/scale-out.md) without the runner changing.

A stage is a plain module-level function of picklable arguments returning a picklable result; it does no
journal or outbox I/O (the runner does that around it), so running it twice is harmless.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, Protocol


class Dispatcher(Protocol):
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
    (fonts, stylesheets, templates).  The runner keeps at most ``4 × workers`` items in flight, so memory stays
    flat whatever the backlog."""

    #: a worker is replaced after this many documents, so whatever a long run leaves in a worker's caches is
    #: given back (memory stays flat over 10,000s of documents)
    tasks_per_worker = 1000

    def __init__(self, workers: int = 0, initializer: Callable[[], None] | None = None):
        self.workers = workers or os.cpu_count() or 1
        self._initializer = initializer
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        import multiprocessing

        # "spawn": fresh interpreters (recycling workers needs it), started with nothing of the runner's state
        return ProcessPoolExecutor(
            max_workers=self.workers, initializer=self._initializer,
            mp_context=multiprocessing.get_context("spawn"), max_tasks_per_child=self.tasks_per_worker,
        )

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

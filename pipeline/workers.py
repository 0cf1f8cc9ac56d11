"""Where stage work runs, behind one small protocol (:class:`Dispatcher`): in this process, in a pool of warm
worker processes, or (next) as jobs of a job engine on several machines — the driver does not change.

What is dispatched is a plain module-level function of picklable arguments returning a picklable result
(:func:`pipeline.stages.render_worker.run`); it does no journal or outbox I/O (the driver does that around it), so
running it twice is harmless.

Scratch files stay in the state folder (#14.18): a pool given ``scratch`` (``<state>/tmp``) points each worker's
temporary folder there — WeasyPrint writes about 2 MB of font subsets per worker into it — and every worker's
folder is removed when the worker exits, and whatever a killed worker left when the pool closes.

Workers are forks of a forkserver that has imported WeasyPrint, the forms, pyHanko and the report's engine once
(``PRELOAD``; #13): two workers warm in 1.5 s of CPU in all instead of 2.3 s, and a worker recycled after
``tasks_per_worker`` documents starts in a fifth of the time.  A killed runner still takes its workers with it
(:func:`die_with_parent`).
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
        # forks of a forkserver (recycling workers needs a start method other than "fork"): a fresh interpreter,
        # started with nothing of the runner's state, that has imported what a worker runs once for all workers
        # (#13: ≈1.2 s of a worker's start), given the runner's environment and folder as they are now
        initializer = functools.partial(_as_runner, dict(os.environ), os.getcwd(), self._initializer)
        pool = ProcessPoolExecutor(
            max_workers=self.workers, initializer=initializer, mp_context=_forkserver(),
            max_tasks_per_child=self.tasks_per_worker,
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


#: what every worker imports, loaded once in the forkserver (WeasyPrint and the forms, pyHanko, the archive
#: report's engine) rather than in each worker; never the journal (a worker starts without SQLAlchemy)
PRELOAD = ("pipeline.stages.render_worker", "forms.render", "pipeline.signatures", "pipeline.archive",
           "signing.ltv", "pyhanko.sign.validation.report.tools")


def _forkserver() -> Any:
    import multiprocessing

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(PRELOAD))  # if this process's forkserver runs already, it stays as it is
    return context


def _as_runner(environ: dict[str, str], cwd: str, initializer: Callable[[], None]) -> None:
    """Every pool worker's first step, whatever warms it: die with the runner (:func:`die_with_parent`), take the
    runner's environment and folder at the pool's start (the forkserver's are those of its own start), then the
    worker's own warming."""
    die_with_parent()
    os.environ.clear()
    os.environ.update(environ)
    os.chdir(cwd)
    initializer()


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
    kernel kills its workers too (Linux ``PR_SET_PDEATHSIG``), so no orphan holds memory, locks or pipes.

    A worker's parent is the runner's forkserver, which exits once every holder of the write end of its "alive"
    pipe is gone: the runner and every process it forked, which multiprocessing gives a copy so that they could
    start processes of their own through it.  A worker starts none, so it closes its copy: the runner's death
    ends the forkserver, whose death kills the workers."""
    import ctypes
    import signal

    forked_by = os.getppid()
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except OSError:
        return
    if os.getppid() != forked_by:  # the parent died before the call
        os._exit(1)
    # a runner that died before the call: the forkserver waits for this worker's copy of the pipe, closed below
    from multiprocessing import forkserver

    server = forkserver._forkserver  # the module's own instance (no public way to give the pipe back)
    if server._forkserver_alive_fd is not None:  # set in a fork of the forkserver only
        os.close(server._forkserver_alive_fd)
        server._forkserver_alive_fd = None


def warm_worker() -> None:
    """Worker initializer: load fonts, stylesheets and templates once per process."""
    from .stages.render_worker import warm  # not .render: a worker never imports the journal (#13)

    warm()

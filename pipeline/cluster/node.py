"""One node of an installation on PostgreSQL: ``qamqor run --node NAME`` (issue 10).

A node is one process and one procrastinate worker whose jobs render in ``[pipeline] workers`` warm worker
processes (default: one per core; :mod:`pipeline.workers`), as ``qamqor run`` does on SQLite — with one worker
too: a render in the job's thread would hold the interpreter lock the node's other jobs (storing, sealing,
delivering) and its loop need.  Beside the worker its loop: every ``poll_seconds`` it defers an inbox scan (at
most one waits in the whole installation); every ``heartbeat_seconds`` it reaps the jobs of nodes that stopped
beating (:mod:`.reaper`) and beats its own heartbeat in the journal's ``nodes`` table, which ``qamqor status``
reads.  The reaper also runs once at start-up (procrastinate #1495).  SIGTERM or SIGINT: the node stops taking
jobs, finishes the one it runs, and says so in the journal; SIGKILL: its job is retried by another node after
``stall_seconds``.

Nodes share the inbox, the outbox and the state folder (keys, kept inputs, work files, the audit log) — one
folder tree, local or on a network share — and the PostgreSQL journal, which decides every claim.
"""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import logging
import os
import secrets
import signal
import socket
import time
import weakref
from typing import Any

import psycopg_pool
from procrastinate import App, PsycopgConnector
from procrastinate.exceptions import AlreadyEnqueued
from procrastinate.worker import Worker

from ..config import Config
from ..journal import Journal, store
from ..locks import StateLock
from ..services import Services
from ..stages import claim, render
from ..workers import ProcessDispatcher
from . import conninfo, fencing, metrics, tasks
from .reaper import Lost, reap

log = logging.getLogger("qamqor.cluster.node")

#: an advisory lock key: one node at a time installs procrastinate's schema
SCHEMA_LOCK = 7355609
#: seconds without a heartbeat after which a worker's row is deleted (housekeeping, not stall detection)
PRUNE_WORKERS_AFTER = 3600.0


def ensure_schema(journal: Journal) -> bool:
    """Install procrastinate's tables in the journal's database if they are not there.  True when installed."""
    from procrastinate.schema import SchemaManager

    with journal.engine.begin() as conn:
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK})")
        if conn.exec_driver_sql("SELECT to_regclass('procrastinate_jobs')").scalar() is not None:
            return False
        with conn.connection.dbapi_connection.cursor() as cur:  # no parameters: its % signs are plain SQL
            cur.execute(SchemaManager.get_schema())
        return True


def _outcome(task: asyncio.Task) -> str:
    if task.cancelled():
        return "cancelled"
    exc = task.exception()
    return f"{type(exc).__name__}: {exc}" if exc else "ended"


_returned: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()


async def _note_returned(conn: Any) -> None:
    _returned[conn] = time.monotonic()


async def _check_when_idle(conn: Any) -> None:
    """procrastinate's pool checks every connection it hands out (a round trip per query of the job engine);
    this one only those idle a second or more, as the journal's pool does (:mod:`pipeline.journal`).  A broken
    connection fails its query, the pool drops it, and the node starts its worker again."""
    if time.monotonic() - _returned.get(conn, 0.0) >= 1.0:
        await psycopg_pool.AsyncConnectionPool.check_connection(conn)


async def _autocommit(conn: Any) -> None:
    """Every query of the job engine is one statement (a call of one of its functions): in autocommit it is one
    round trip, not BEGIN, the query and COMMIT — two of every three of its round trips saved (issue 10)."""
    await conn.set_autocommit(True)


def _pool(**kwargs: Any) -> psycopg_pool.AsyncConnectionPool:
    return psycopg_pool.AsyncConnectionPool(**{**kwargs, "check": _check_when_idle, "reset": _note_returned,
                                               "configure": _autocommit})


def make_app(url: str) -> App:
    app = App(connector=PsycopgConnector(conninfo=conninfo(url), min_size=1, max_size=4, pool_factory=_pool))
    tasks.register(app)
    return app


class Node:
    def __init__(self, config: Config, name: str | None = None, workers: int | None = None,
                 metrics_port: int | None = None):
        self.config = config
        self.metrics_port = metrics_port
        #: jobs at once, each rendering in its own warm process: [pipeline] workers (0: one per core)
        self.workers = (workers if workers is not None else config.workers) or os.cpu_count() or 1
        self.settings = config.file.cluster
        self.name = name or socket.gethostname().split(".")[0]
        # unique per process start, never reused (procrastinate #1518): a restarted node is a new node
        self.id = f"{self.name}-{os.getpid()}-{secrets.token_hex(3)}"
        self._stop: asyncio.Event | None = None
        self._beaten = 0
        self._last_beat = self._last_prune = 0.0  # (monotonic) set when the loop starts
        self._last_failure = -float("inf")  #: when the journal last did not answer this node
        #: the jobs this node's worker runs, and those the journal says it runs that it does not
        self._lost = Lost(grace=self.settings.stall_seconds)

    def run(self, *, once: bool = False) -> dict[str, Any]:
        faulthandler.register(signal.SIGUSR1, all_threads=True)  # `kill -USR1`: what every thread is doing
        with StateLock(self.config.state, name=f"run-{self.name}"):
            services = Services.build(self.config)
            fencing.install(services.journal)
            if self.config.demo:  # the demo's TSA and OCSP, from this process rather than a render worker
                from ..demo import ensure_services

                ensure_services(self.config)
            if self.metrics_port:
                metrics.serve(self.metrics_port, self.settings.metrics_host)
            try:
                ensure_schema(services.journal)
                with services.journal.tx() as conn:
                    store.register_node(conn, self.id, name=self.name, host=socket.gethostname(), pid=os.getpid())
                tasks.here.services, tasks.here.node_id = services, self.id
                tasks.here.dispatcher = ProcessDispatcher(self.workers, scratch=self.config.state / "tmp")
                asyncio.run(self._main(services, once))
                return {"node": self.id, "jobs": tasks.here.done,
                        **{f"documents_{k}": v for k, v in store.document_counts(services.journal).items()}}
            finally:
                if tasks.here.dispatcher is not None:
                    tasks.here.dispatcher.close()
                    tasks.here.dispatcher = None
                with contextlib.suppress(Exception), services.journal.tx() as conn:
                    store.node_stopped(conn, self.id)
                services.close()

    # --- the loop -------------------------------------------------------------------------------------------

    async def _main(self, services: Services, once: bool) -> None:
        s = self.settings
        app = make_app(self.config.journal_url)
        tasks.here.app = app
        self._stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop.set)
        async with app.open_async():
            await reap(app, stall_seconds=s.stall_seconds, keep_hours=s.keep_finished_hours, prune=True)
            if once:
                await self._until_idle(app, services)
                return
            worker, running = self._start_worker(app)
            self._last_beat = self._last_prune = time.monotonic()
            while not self._stop.is_set():
                if running.done():
                    # the database went away under the worker (a restart, a failover): start it again; what it
                    # ran is retried by the reaper, fenced
                    log.warning("the job worker stopped (%s): starting it again", _outcome(running))
                    await asyncio.sleep(s.poll_seconds)
                    worker, running = self._start_worker(app)
                try:
                    await self._defer_scan(app)
                    # the reaper and the heartbeat every heartbeat, not every poll: a stall is seen within
                    # heartbeat + stall seconds either way, and the journal is not asked 2 more things a poll
                    if time.monotonic() - self._last_beat >= s.heartbeat_seconds:
                        await self._heartbeat(app, services, worker)
                except Exception as exc:  # noqa: BLE001 - the database restarting: the node waits and goes on
                    self._last_failure = time.monotonic()
                    log.warning("the journal is not answering (%s): trying again", type(exc).__name__)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), timeout=s.poll_seconds)
            running.cancel()  # procrastinate stops taking jobs and lets the running ones finish
            with contextlib.suppress(asyncio.CancelledError):
                await running

    async def _heartbeat(self, app: App, services: Services, worker: Worker) -> None:
        """Beat the worker's heartbeat and the node's, retry what the node's worker lost (:class:`.reaper.Lost`),
        and reap the jobs of nodes that stopped beating — unless this node could not beat for a stall itself (the
        journal away, or the node frozen): every node's heartbeat lagged with its own, so the others are judged
        once they had ``stall_seconds`` to beat again, not the moment the journal is back."""
        s = self.settings
        if time.monotonic() - self._last_beat > s.stall_seconds:
            self._last_failure = time.monotonic()
        await self._beat_worker(app, worker)
        await self._lost.sweep(app, worker.worker_id, time.monotonic())
        if time.monotonic() - self._last_failure > s.stall_seconds:
            prune = time.monotonic() - self._last_prune > 600
            await reap(app, stall_seconds=s.stall_seconds, keep_hours=s.keep_finished_hours, prune=prune)
            if prune:
                self._last_prune = time.monotonic()
        await asyncio.to_thread(self._beat, services)
        self._last_beat = time.monotonic()

    def _start_worker(self, app: App) -> tuple[Worker, asyncio.Task]:
        worker = Worker(app=app, **self._worker_options(wait=True))  # built here, so the node knows its id
        return worker, asyncio.create_task(worker.run(), name="worker")

    @staticmethod
    async def _beat_worker(app: App, worker: Worker) -> None:
        """The worker's heartbeat, from the node's loop as well as procrastinate's own side task.  That task is
        the first thing a stopping worker cancels (a listener that lost the database stops it), while it still
        waits for its running jobs: without this beat they would look stalled and be retried elsewhere while
        they run.  A worker whose row is gone (pruned by a node that started while this one could not beat)
        has jobs that look stalled too: it is stopped, and started again under a new id."""
        if worker.worker_id is None:
            return
        rows = await app.connector.execute_query_all_async(
            "UPDATE procrastinate_workers SET last_heartbeat = NOW() WHERE id = %(id)s RETURNING id",
            id=worker.worker_id)
        if not rows:
            log.warning("the job worker %s was taken for dead: starting it again", worker.worker_id)
            worker.stop()

    async def _until_idle(self, app: App, services: Services) -> None:
        """``--once``: work until the inbox is empty and nothing is left to render or deliver."""
        assert self._stop is not None
        seen: set[str] | None = None
        while not self._stop.is_set():
            await self._defer_scan(app)
            await app.run_worker_async(**self._worker_options(wait=False))
            await asyncio.to_thread(self._beat, services)
            left = await asyncio.to_thread(self._work_left, services)
            if left is None or left == seen:
                return  # nothing, or only files still being written (as `qamqor run --once` leaves them)
            seen = left
            await reap(app, stall_seconds=self.settings.stall_seconds)
            await asyncio.sleep(self.settings.poll_seconds)

    def _worker_options(self, *, wait: bool) -> dict[str, Any]:
        s = self.settings
        # two jobs per render process (one renders while the other stores, seals and delivers, as the one-process
        # driver keeps its workers fed) and one more for the scan
        return {"name": self.id, "concurrency": 2 * self.workers + 1, "wait": wait, "install_signal_handlers": False,
                "delete_jobs": "always", "update_heartbeat_interval": s.heartbeat_seconds,
                # procrastinate deletes the rows of workers silent this long when a worker starts, and a deleted
                # row makes its running jobs look stalled (worker_id NULL).  Stalls are the reaper's business, at
                # stall_seconds; this is housekeeping, long enough that the first node back after the database
                # was away does not delete the rows of the others, still running their jobs
                "stalled_worker_timeout": max(PRUNE_WORKERS_AFTER, 10 * s.stall_seconds),
                "fetch_job_polling_interval": s.poll_seconds,
                "abort_job_polling_interval": max(s.poll_seconds, 5.0), "shutdown_graceful_timeout": 60.0,
                "listen_notify": True, "worker_middleware": [self._lost.middleware]}

    @staticmethod
    async def _defer_scan(app: App) -> None:
        with contextlib.suppress(AlreadyEnqueued):
            await app.tasks["qamqor.scan"].configure(lock="scan", queueing_lock="scan").defer_async()

    def _beat(self, services: Services) -> None:
        metrics.HEARTBEAT.set_to_current_time()
        done, self._beaten = tasks.here.done - self._beaten, tasks.here.done
        with services.journal.tx() as conn:
            store.node_heartbeat(conn, self.id, current_job=tasks.here.current, done=done)

    def _work_left(self, services: Services) -> set[str] | None:
        """What is left to do: the inbox's names (empty when only documents are), or None for nothing."""
        from .. import clock

        names = {p.name for p in claim.scan(self.config.inbox)} | set(os.listdir(services.dirs.claimed))
        if names:
            return names
        busy = render.due(services, clock.now(), set()) or store.documents_to_deliver(services.journal)
        return {f"#{len(busy)}"} if busy else None

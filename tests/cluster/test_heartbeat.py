"""A live node's jobs are never taken for stalled (issue 10 #3), on a real PostgreSQL and procrastinate's real
worker and tables, in this process: a worker that stopped its own heartbeat while it waits for its running jobs,
a worker whose row another node deleted, and a worker that starts while the others' heartbeats lag (the database
was away) — the failures behind the reapers retrying a running job again and again after a PostgreSQL restart."""

from __future__ import annotations

import asyncio
from pathlib import Path

from procrastinate.worker import Worker

from pipeline.cluster.node import Node, ensure_schema, make_app
from pipeline.cluster.reaper import Lost, reap
from pipeline.config import Config
from pipeline.journal import Journal
from tests.cluster.conftest import journal_url

STALL = 4.0


def _node(site: Path) -> Node:
    return Node(Config.load(site / "qamqor.toml"), name="t", workers=1)


async def _idle_worker(app, **options) -> tuple[Worker, asyncio.Task]:
    """A real worker on a queue nothing is deferred to (it takes no job), its own heartbeat task all but off."""
    worker = Worker(app=app, **{"queues": ["idle"], "wait": True, "install_signal_handlers": False,
                                "listen_notify": False, "fetch_job_polling_interval": 0.1,
                                "update_heartbeat_interval": 3600.0, **options})
    task = asyncio.create_task(worker.run())
    for _ in range(200):
        if worker.worker_id is not None:
            return worker, task
        await asyncio.sleep(0.05)
    raise AssertionError("the worker did not register")


async def _running_job(app, worker: Worker) -> int:
    """A render job deferred and taken by ``worker`` (``doing``, its worker_id), as a running job is."""
    job_id = await app.tasks["qamqor.render"].configure(lock="doc:D-1").defer_async(document_id="D-1")
    job = await app.job_manager.fetch_job(queues=None, worker_id=worker.worker_id)
    assert job is not None and job.id == job_id
    return job_id


async def _lag(app, worker_id: int, seconds: float) -> None:
    await app.connector.execute_query_async(
        "UPDATE procrastinate_workers SET last_heartbeat = NOW() - make_interval(secs => %(s)s) WHERE id = %(id)s",
        s=seconds, id=worker_id)


def _on_app(site: Path, body) -> None:
    """Run ``body(app)`` with a procrastinate app open on the site's journal, its schema installed."""
    url = journal_url(site)
    j = Journal(url)
    ensure_schema(j)
    j.close()

    async def go():
        app = make_app(url)
        async with app.open_async():
            await body(app)

    asyncio.run(go())


def test_a_running_job_whose_worker_stopped_its_own_heartbeat_is_not_reaped_while_the_node_beats(site: Path):
    async def body(app):
        worker, task = await _idle_worker(app)
        job_id = await _running_job(app, worker)
        # the worker's heartbeat task is gone (a stopping worker cancels it first) and the job still runs
        await _lag(app, worker.worker_id, 2 * STALL)
        stalled = [j.id for j in await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=STALL)]
        assert stalled == [job_id]  # what the reapers would see without the node's own beat
        await Node._beat_worker(app, worker)
        reaped = await reap(app, stall_seconds=STALL)
        assert reaped.retried == [] and reaped.ended == []
        # and a node that is gone for good stops beating: then its job is retried
        await _lag(app, worker.worker_id, 2 * STALL)
        assert (await reap(app, stall_seconds=STALL)).retried == [job_id]
        worker.stop()
        await asyncio.wait_for(task, 30)

    _on_app(site, body)


def test_a_worker_whose_row_was_deleted_is_stopped(site: Path):
    async def body(app):
        worker, task = await _idle_worker(app)
        await app.connector.execute_query_async("DELETE FROM procrastinate_workers WHERE id = %(id)s",
                                                id=worker.worker_id)
        await Node._beat_worker(app, worker)  # its beat updates nothing: the node stops it
        await asyncio.wait_for(task, 30)
        assert task.exception() is None and worker.worker_id is None

    _on_app(site, body)


def test_a_worker_starting_after_the_database_was_away_leaves_the_lagging_workers_rows(site: Path):
    options = _node(site)._worker_options(wait=True)

    async def body(app):
        other, other_task = await _idle_worker(app)
        await _running_job(app, other)
        await _lag(app, other.worker_id, 120.0)  # the database was away two minutes; the other still runs
        first_back, first_task = await _idle_worker(
            app, stalled_worker_timeout=options["stalled_worker_timeout"])
        rows = await app.connector.execute_query_all_async("SELECT id FROM procrastinate_workers")
        assert other.worker_id in {r["id"] for r in rows}, "the first worker back deleted a live one's row"
        await Node._beat_worker(app, other)  # the other beats again: its job is its own
        assert (await reap(app, stall_seconds=STALL)).retried == []
        for w, t in ((other, other_task), (first_back, first_task)):
            w.stop()
            await asyncio.wait_for(t, 30)

    _on_app(site, body)


def test_a_job_left_doing_under_the_live_worker_that_the_node_does_not_run_is_retried(site: Path):
    """The database went away as the job's end was recorded (or as it was fetched): the job stays ``doing`` under
    a worker that beats, so no reaper sees it stalled; the node sees it does not run it and retries it."""

    async def body(app):
        worker, task = await _idle_worker(app)
        lost = Lost(grace=STALL)
        job_id = await _running_job(app, worker)
        assert (await lost.sweep(app, worker.worker_id, now=100.0)).retried == []  # a moment's grace
        assert (await lost.sweep(app, worker.worker_id, now=100.0 + STALL - 0.1)).retried == []
        assert (await lost.sweep(app, worker.worker_id, now=100.0 + STALL)).retried == [job_id]
        (job,) = await app.job_manager.list_jobs_async(id=job_id)
        assert job.status == "todo"  # waiting for any node again

        # a job the node does run (its worker's middleware saw it start) is never taken from it
        again = await app.job_manager.fetch_job(queues=None, worker_id=worker.worker_id)
        assert again is not None and again.id == job_id
        lost.running.add(job_id)
        for t in (200.0, 200.0 + 10 * STALL):
            assert (await lost.sweep(app, worker.worker_id, now=t)).retried == []
        worker.stop()
        await asyncio.wait_for(task, 30)

    _on_app(site, body)

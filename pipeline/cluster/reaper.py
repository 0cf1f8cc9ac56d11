"""Jobs of dead or frozen nodes given to the living (issue 10 #3), written against procrastinate's known failures.

procrastinate leaves a job whose worker died in ``doing`` for good; recovery is the application's
(``docs/howto/production/retry_stalled_jobs.md``).  Every node runs :func:`reap` in its own loop, at start-up and
every heartbeat — not as a periodic task, which a kill can stop for good (procrastinate #1495) — and:

- retries each qamqor job whose worker's heartbeat is older than ``stall_seconds`` (heartbeat-based, never the
  deprecated ``nb_seconds``, which retries live jobs);
- when the retry of a stalled job with a ``queueing_lock`` hits the unique index because a sibling already waits
  (#1446), ends the stalled duplicate as aborted instead of leaving it ``doing`` and its ``lock`` held forever;
- never mistakes a restarted worker for a live one: procrastinate gives each worker start a new id, and the
  node's own id is ``<name>-<pid>-<random>`` (#1518);
- retries a job left ``doing`` under this node's own live worker that the node does not run (:class:`Lost`): the
  database went away as the job was fetched or ended;
- prunes finished jobs older than ``keep_finished_hours`` (the jobs run with ``delete_jobs="always"`` too), so a
  large jobs table never slows a worker's start (#1454).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from procrastinate import App
from procrastinate.exceptions import UniqueViolation
from procrastinate.jobs import Job, Status

from .metrics import REAPED

log = logging.getLogger("qamqor.cluster.reaper")


@dataclass
class Reaped:
    retried: list[int] = field(default_factory=list)
    ended: list[int] = field(default_factory=list)  #: stalled duplicates of a waiting job (#1446)
    pruned: bool = False


async def reap(app: App, *, stall_seconds: float, keep_hours: float = 0.0, prune: bool = False) -> Reaped:
    out = Reaped()
    manager = app.job_manager
    for job in await manager.get_stalled_jobs(seconds_since_heartbeat=stall_seconds):
        if job.task_name.startswith("qamqor."):
            await _retry(app, job, out, "stalled on a dead or frozen node")
    if prune and keep_hours > 0:
        await manager.delete_old_jobs(nb_hours=max(1, int(keep_hours)), include_failed=True, include_aborted=True,
                                      include_cancelled=True)
        out.pruned = True
    return out


class Lost:
    """Jobs the journal says this node's live worker runs, that no thread of the node runs.

    procrastinate marks a job ``doing`` under the worker that fetched it and ends it when the job returns; when the
    database goes away at either moment (a restart, a failover) the fetch's answer or the job's end is lost, the
    worker goes on, and the job stays ``doing`` under a worker that beats its heartbeat: never stalled, never
    done, its document never delivered.  The node's worker runs :meth:`middleware` around every job, so the node
    knows what it runs; :meth:`sweep` (every heartbeat) retries a job left ``doing`` under the worker and not
    running for ``grace`` seconds (a job's end being recorded takes milliseconds)."""

    def __init__(self, grace: float):
        self.grace = grace
        self.running: set[int] = set()
        self._since: dict[int, float] = {}

    async def middleware(self, call_next: Any, context: Any, worker: Any) -> Any:
        self.running.add(context.job.id)
        try:
            return await call_next()
        finally:
            self.running.discard(context.job.id)

    async def sweep(self, app: App, worker_id: int | None, now: float) -> Reaped:
        out = Reaped()
        if worker_id is None:
            return out
        doing = await app.job_manager.list_jobs_async(status="doing", worker_id=worker_id)
        lost = {int(j.id or 0): j for j in doing if j.id not in self.running and j.task_name.startswith("qamqor.")}
        self._since = {job_id: self._since.get(job_id, now) for job_id in lost}  # forget those that ended
        for job_id, job in lost.items():
            if now - self._since[job_id] >= self.grace:
                await _retry(app, job, out, "left running by this node when the database went away")
                del self._since[job_id]
        return out


async def _retry(app: App, job: Job, out: Reaped, why: str) -> None:
    manager = app.job_manager
    try:
        await manager.retry_job(job)
        out.retried.append(int(job.id or 0))
        REAPED.labels(action="retried").inc()
        log.warning("job %s (%s %s) %s: retried", job.id, job.task_name, job.task_kwargs, why)
    except UniqueViolation:
        # #1446: the same work already waits (its queueing_lock): this one is a duplicate, end it
        await manager.finish_job(job, status=Status.ABORTED, delete_job=True)
        out.ended.append(int(job.id or 0))
        REAPED.labels(action="ended").inc()
        log.warning("job %s (%s) %s while the same work already waits: ended", job.id, job.task_name, why)

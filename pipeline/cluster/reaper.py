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
- prunes finished jobs older than ``keep_finished_hours`` (the jobs run with ``delete_jobs="always"`` too), so a
  large jobs table never slows a worker's start (#1454).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from procrastinate import App
from procrastinate.exceptions import UniqueViolation
from procrastinate.jobs import Status

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
        if not job.task_name.startswith("qamqor."):
            continue
        try:
            await manager.retry_job(job)
            out.retried.append(int(job.id or 0))
            REAPED.labels(action="retried").inc()
            log.warning("job %s (%s %s) stalled on a dead or frozen node: retried", job.id, job.task_name,
                        job.task_kwargs)
        except UniqueViolation:
            # #1446: the same work already waits (its queueing_lock): this one is a duplicate, end it
            await manager.finish_job(job, status=Status.ABORTED, delete_job=True)
            out.ended.append(int(job.id or 0))
            REAPED.labels(action="ended").inc()
            log.warning("job %s (%s) stalled while the same work already waits: ended", job.id, job.task_name)
    if prune and keep_hours > 0:
        await manager.delete_old_jobs(nb_hours=max(1, int(keep_hours)), include_failed=True, include_aborted=True,
                                      include_cancelled=True)
        out.pruned = True
    return out

"""The stages as procrastinate jobs (issue 10 #2): what one ``qamqor run`` pass does, cut at the document.

- ``qamqor.scan`` — stages 1–4 and the automatic signatures a token needs (:func:`scan`): claim the settled
  inbox files, accept, apply, transfer (¶14); then it defers a ``render`` job per document due and a
  ``deliver`` job per signed one.  ``lock`` and ``queueing_lock`` ``scan``: one runs at a time in the whole
  installation and at most one waits, whoever defers it.
- ``qamqor.render`` — stages 5–7 for one document (:func:`render_document`): render it here, store it, seal
  it if it needs no officer, deliver it.  ``lock`` ``doc:<id>``, shared with ``deliver``.
- ``qamqor.seal`` — stage 6 for one document that needs no officer and that no render job signed (a token's key,
  a retry that is due, a seal a crash interrupted), then 7.  Never from the scan itself: a document another job
  holds (rendered, its worker's signature on its way) would be signed twice, once in this process.
- ``qamqor.deliver`` — stage 7 for one signed document (an officer's approval, a token's seal).

Every job of a document has the ``lock`` ``doc:<id>``, so they run one after the other, and the scan defers none
for a document one already waits or runs for (:func:`next_steps`): one job does a document's next steps once.

Each job holds the fencing token of its work (``scan``, ``doc:<id>``) while it runs, so a node that stalled past
the stall timeout, whose job the reaper gave to another node, writes nothing when it wakes up
(:mod:`.fencing`).  Retried jobs start from the journal, as a restarted ``qamqor run`` does.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from procrastinate import App
from procrastinate.exceptions import AlreadyEnqueued

from .. import clock
from ..core.lifecycle import AUTO_ROLES, DocumentStatus
from ..errors import QamqorError, StateConflict
from ..journal import store
from ..journal.rows import attempt_due
from ..runner import deliver_or_note, store_rendered
from ..services import Services
from ..stages import accept, apply, claim, render, sign, transfers
from .fencing import fenced

log = logging.getLogger("qamqor.cluster")

#: inputs one scan job claims; it defers the next scan when there were more.  16, not the one-process driver's 64:
#: a burst's first renders start once 16 events are applied, and the next scan runs beside them (issue 10: the
#: node's first notice at most 0.3 s after the SQLite driver's, not 0.7–1.0 s)
BATCH = 16


class Context:
    """What the jobs of this process run with (set by :class:`pipeline.cluster.node.Node`)."""

    services: Services | None = None
    node_id: str = ""
    app: App | None = None
    dispatcher: Any = None  #: the node's render processes (pipeline.workers), or None: render in the job's thread
    current: str | None = None  #: the job running now, for the node's heartbeat
    done: int = 0


here = Context()


def register(app: App) -> None:
    app.task(name="qamqor.scan", queue="ingest", lock="scan", queueing_lock="scan")(scan)
    app.task(name="qamqor.render", queue="documents")(render_document)
    app.task(name="qamqor.seal", queue="documents")(seal_document)
    app.task(name="qamqor.deliver", queue="documents")(deliver_document)


def _defer(name: str, *, lock: str | None = None, queueing_lock: str | None = None, **kwargs: Any) -> bool:
    """Defer a job unless one with the same queueing lock already waits; True when deferred."""
    assert here.app is not None
    task = here.app.tasks[name]
    try:
        task.configure(lock=lock, queueing_lock=queueing_lock).defer(**kwargs)
    except AlreadyEnqueued:
        return False
    return True


def defer_scan() -> bool:
    return _defer("qamqor.scan", lock="scan", queueing_lock="scan")


def _job(name: str):
    """A job's bracket: what the node's heartbeat and its /metrics say it is doing."""
    from . import metrics

    class _Running:
        def __enter__(self) -> None:
            here.current = name
            self.started = time.monotonic()
            metrics.IN_FLIGHT.inc()

        def __exit__(self, kind: Any, *exc: Any) -> None:
            here.current = None
            here.done += 1
            task = name.split()[0]
            metrics.IN_FLIGHT.dec()
            metrics.JOBS.labels(task=task, outcome="failed" if kind else "done").inc()
            metrics.SECONDS.labels(task=task).observe(time.monotonic() - self.started)

    return _Running()


# --- the jobs ------------------------------------------------------------------------------------------------


def scan() -> None:
    s = here.services
    assert s is not None
    with _job("scan"), fenced(s.journal, "scan", here.node_id):
        claimed = claim.claim(s, settle=True, limit=BATCH)  # 1
        accept.accept(s)  # 2
        apply.apply(s)  # 3
        transfers.transfers(s)  # 4 (¶14)
    _defer_documents(next_steps(s, clock.now()))
    if claimed >= BATCH:
        defer_scan()


#: a document's next job by its status: 5 (then 6 and 7), 6 for what a token signs or a retry, 7
_NEXT = {DocumentStatus.ORDERED: "render", DocumentStatus.RENDERED: "seal", DocumentStatus.SIGNING: "seal",
         DocumentStatus.SIGNED: "deliver"}


def next_steps(s: Services, now: dt.datetime) -> list[tuple[str, str]]:
    """The jobs the scan defers, (task, document id), oldest document first: each document ordered and due,
    rendered (or interrupted while signing) with no officer to sign it, or signed — unless a job of the
    installation waits or runs for it (its ``lock`` ``doc:<id>``): that job does its next steps.  One query
    that returns only those, not every document waiting (a scan every 16 inputs of a burst would read the
    burst's whole backlog again each time)."""
    statuses = [status.value for status in _NEXT]
    with s.journal.reads.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT d.document_id, d.status, d.signer_role, d.next_attempt_at FROM documents d "
            "WHERE d.status = ANY(%(statuses)s) AND NOT EXISTS (SELECT 1 FROM procrastinate_jobs j "
            "WHERE j.lock = 'doc:' || d.document_id AND j.status IN ('todo', 'doing')) "
            "ORDER BY d.created_at, d.document_id", {"statuses": statuses}).all()
    wanted = []
    for document_id, status, role, next_attempt_at in rows:
        task = _NEXT[DocumentStatus(status)]
        if task == "render" and not attempt_due(next_attempt_at, now):
            continue  # its next attempt is not due yet
        if task == "seal" and role not in AUTO_ROLES:
            continue  # an officer signs it, from the desk
        wanted.append((task, document_id))
    return wanted


def _defer_documents(wanted: list[tuple[str, str]]) -> None:
    """The scan's document jobs in one statement (procrastinate's batch deferral) rather than one each: a round
    trip and a hop to the event loop per document saved.  A batch is all or nothing, so when one of its jobs
    already waits (a queueing lock taken meanwhile: a desk's approval, a reaped retry) each is deferred alone."""
    assert here.app is not None
    jobs = [here.app.tasks[f"qamqor.{name}"].configure(lock=f"doc:{doc_id}", queueing_lock=f"{name}:{doc_id}")
            .make_new_job(document_id=doc_id) for name, doc_id in wanted]
    if not jobs:
        return
    try:
        here.app.job_manager.batch_defer_jobs(jobs)
    except AlreadyEnqueued:
        for name, doc_id in wanted:
            _defer(f"qamqor.{name}", lock=f"doc:{doc_id}", queueing_lock=f"{name}:{doc_id}", document_id=doc_id)


def render_document(document_id: str) -> None:
    s = here.services
    assert s is not None
    with _job(f"render {document_id}"), fenced(s.journal, f"doc:{document_id}", here.node_id):
        doc = store.get_document(s.journal, document_id)
        if doc is None or doc.status != DocumentStatus.ORDERED:
            return  # rendered meanwhile (a retried job, a second deferral): nothing to do
        try:
            job = render.job(s, doc, seal=True)
        except QamqorError as err:
            render.failed(s, doc, err.one_line())
            return
        try:
            result = _render(job)  # 5
        except BrokenProcessPool:
            render.failed(s, doc, "a render worker died while rendering this document")
            here.dispatcher.restart()
            return
        try:
            if (signed := store_rendered(s, doc, result)) is not None:  # 5, 6
                deliver_or_note(s, signed)  # 7
        except StateConflict as err:  # FencedOut, or another node finished it meanwhile: nothing of ours counts
            log.warning("%s: %s", document_id, err.one_line())


def _render(job: render.RenderJob) -> render.RenderResult:
    if here.dispatcher is None:
        return render.run(job)
    return here.dispatcher.submit(render.run, job).result()  # a warm worker process; this thread waits


def seal_document(document_id: str) -> None:
    s = here.services
    assert s is not None
    with _job(f"seal {document_id}"), fenced(s.journal, f"doc:{document_id}", here.node_id):
        doc = store.get_document(s.journal, document_id)
        if doc is None or not doc.signed_automatically or doc.status not in (DocumentStatus.RENDERED,
                                                                                 DocumentStatus.SIGNING):
            return  # signed meanwhile (by the render job that held it, a retried job): nothing to do
        sign.automatic(s, doc)  # 6
        signed = store.get_document(s.journal, document_id)
        if signed is not None and signed.status == DocumentStatus.SIGNED:
            _deliver(s, document_id)  # 7


def deliver_document(document_id: str) -> None:
    s = here.services
    assert s is not None
    with _job(f"deliver {document_id}"), fenced(s.journal, f"doc:{document_id}", here.node_id):
        _deliver(s, document_id)


def _deliver(s: Services, document_id: str) -> None:
    deliver_or_note(s, document_id)

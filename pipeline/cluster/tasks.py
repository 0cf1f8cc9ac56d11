"""The stages as procrastinate jobs (issue 10 #2): what one ``qamqor run`` pass does, cut at the document.

- ``qamqor.scan`` — stages 1–4 and the automatic signatures a token needs (:func:`scan`): claim the settled
  inbox files, accept, apply, transfer (¶14); then it defers a ``render`` job per document due and a
  ``deliver`` job per signed one.  ``lock`` and ``queueing_lock`` ``scan``: one runs at a time in the whole
  installation and at most one waits, whoever defers it.
- ``qamqor.render`` — stages 5–7 for one document (:func:`render_document`): render it here, store it, seal
  it if it needs no officer, deliver it.  ``lock`` ``doc:<id>``, shared with ``deliver``.
- ``qamqor.deliver`` — stage 7 for one signed document (an officer's approval, a token's seal).

Each job holds the fencing token of its work (``scan``, ``doc:<id>``) while it runs, so a node that stalled past
the stall timeout, whose job the reaper gave to another node, writes nothing when it wakes up
(:mod:`.fencing`).  Retried jobs start from the journal, as a restarted ``qamqor run`` does.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from procrastinate import App
from procrastinate.exceptions import AlreadyEnqueued

from .. import clock
from ..core.lifecycle import DocumentStatus
from ..errors import QamqorError, StateConflict
from ..journal import store
from ..runner import after_render, deliver_or_note
from ..services import Services
from ..stages import accept, apply, claim, render, sign, transfers
from .fencing import fenced

log = logging.getLogger("qamqor.cluster")

#: inputs one scan job claims; it defers the next scan when there were more
BATCH = 64


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
        sign.automatic_all(s)  # 6, for what a token signs (a worker's key file signs in render_document)
    for doc in render.due(s, clock.now(), set()):
        _defer("qamqor.render", lock=f"doc:{doc.document_id}", queueing_lock=f"render:{doc.document_id}",
               document_id=doc.document_id)
    for doc in store.documents_to_deliver(s.journal):
        _defer("qamqor.deliver", lock=f"doc:{doc.document_id}", queueing_lock=f"deliver:{doc.document_id}",
               document_id=doc.document_id)
    if claimed >= BATCH:
        defer_scan()


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
            if render.store_result(s, doc, result) and after_render(s, doc, result):
                _deliver(s, document_id)  # 7
        except StateConflict as err:  # FencedOut, or another node finished it meanwhile: nothing of ours counts
            log.warning("%s: %s", document_id, err.one_line())


def _render(job: render.RenderJob) -> render.RenderResult:
    if here.dispatcher is None:
        return render.run(job)
    return here.dispatcher.submit(render.run, job).result()  # a warm worker process; this thread waits


def deliver_document(document_id: str) -> None:
    s = here.services
    assert s is not None
    with _job(f"deliver {document_id}"), fenced(s.journal, f"doc:{document_id}", here.node_id):
        _deliver(s, document_id)


def _deliver(s: Services, document_id: str) -> None:
    deliver_or_note(s, document_id)

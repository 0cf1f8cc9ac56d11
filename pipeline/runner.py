"""The driver: one pass over the inbox and the journal, the stages in order (:mod:`pipeline.stages`).

Every stage reads what to do from the journal, so a process killed at any point (:mod:`pipeline.faults`)
resumes where it stopped when started again.  Rendering runs in worker processes through a dispatcher
(:mod:`pipeline.workers`) while this process claims, accepts and applies the next batch; as each render comes
back, the driver runs that document's next stages — store the render, sign it if it needs no officer,
deliver it — so the workers stay busy and outputs appear as they are ready.
"""

from __future__ import annotations

import errno
import logging
from concurrent.futures import FIRST_COMPLETED, Future, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from . import clock
from .config import Config
from .errors import FencedOut, QamqorError, TransientError
from .journal import store
from .locks import StateLock
from .progress import NullProgress, Progress
from .services import Services
from .stages import accept, apply, claim, deliver, render, sign, transfers
from .workers import Dispatcher, InlineDispatcher

log = logging.getLogger("qamqor.runner")

__all__ = ["Runner", "StateLock"]


class Runner:
    """Runs passes over one installation: ``Runner(config).run_once()``."""

    #: inputs claimed per step: the pipeline works through any backlog in bounded steps (memory stays flat).
    #: The first step of a pass takes a handful (``4 × workers``), so the first renders start without waiting
    #: for a whole batch's scan; a later step's scan (≈10 ms an input in this process) stays shorter than the
    #: renders in flight meanwhile, so the workers do not wait for it (issue 13)
    batch = 32

    def __init__(self, config: Config | Services, *, dispatcher: Dispatcher | None = None,
                 progress: Progress | None = None):
        self.services = config if isinstance(config, Services) else Services.build(config)
        #: the demo's TSA and OCSP, when its signatures need them: started here, before the workers, so it ends
        #: with this process (a server a worker started would outlive the pool's exit), and waited for only
        #: before the first render, so the first scan need not wait for its start-up
        self._demo_pending = False
        if self.services.config.demo:
            from .demo import ensure_services

            self._demo_pending = ensure_services(self.services.config, wait=False) is not None
        self.dispatcher = dispatcher or InlineDispatcher()
        self.progress = progress or NullProgress()
        self._in_flight: dict[Future, store.DocumentRow] = {}  # render jobs handed to the workers
        self._rendered = 0

    @property
    def config(self) -> Config:
        return self.services.config

    @property
    def journal(self) -> Any:
        return self.services.journal

    def run_once(self, *, settle: bool = True) -> dict[str, int]:
        """Process what is in the inbox, in batches, and finish in-flight work.

        A full disk is a transient error: the pass stops where it is (every step is journaled before its
        effect) and the next pass resumes; nothing is rejected because of it."""
        try:
            return self._pass(settle=settle)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                self.forget_in_flight()
                raise TransientError(f"no space left on the device writing {exc.filename or 'a file'}",
                                     remedy="free disk space; the next pass resumes where this one stopped") from exc
            raise

    def _pass(self, *, settle: bool) -> dict[str, int]:
        s = self.services
        claimed = 0
        limit = min(self.batch, 4 * self.dispatcher.workers)
        while True:
            n = claim.claim(s, settle=settle, limit=limit)  # 1
            claimed += n
            accept.accept(s)  # 2
            apply.apply(s)  # 3
            transfers.transfers(s)  # 4 (¶14)
            self.submit_renders()  # 5, in the workers; 6 and 7 follow as each comes back
            if n < limit:
                break
            limit = self.batch
        self.harvest(block=True)
        sign.automatic_all(s)  # 6: what a render left unsigned (a token key, a retry that is due)
        signed = store.documents_to_deliver(s.journal)
        for i, doc in enumerate(signed, 1):  # 7: whatever is signed
            self.deliver_one(doc.document_id)
            self.progress.update("deliver", i, len(signed))
        s.sync_audit()
        return {"claimed": claimed, **{f"documents_{k}": v for k, v in store.document_counts(s.journal).items()}}

    # --- 5. render, in the workers --------------------------------------------------------------------------

    def submit_renders(self, *, seal: bool = True) -> None:
        """Hand requested documents to the workers without waiting; at most ``8 × workers`` in flight, so
        memory stays bounded whatever the backlog (and enough to keep the workers busy during the next step's
        scan)."""
        if self._demo_pending:
            from .demo import ensure_services

            ensure_services(self.config)
            self._demo_pending = False
        in_flight = {d.document_id for d in self._in_flight.values()}
        limit = 8 * self.dispatcher.workers
        for doc in render.due(self.services, clock.now(), in_flight):
            while len(self._in_flight) >= limit:
                self.harvest(block=True, one=True)
            try:
                job = render.job(self.services, doc, seal=seal)
            except QamqorError as err:
                render.failed(self.services, doc, err.one_line())
                continue
            self._in_flight[self.dispatcher.submit(render.run, job)] = doc
            self.harvest(block=False)

    def harvest(self, *, block: bool, one: bool = False) -> None:
        """Take in what the workers finished: all that is done now, or (``block``) wait — for one, or for all."""
        while self._in_flight:
            if block:
                done, _ = wait(list(self._in_flight), return_when=FIRST_COMPLETED)
            else:
                done = {f for f in self._in_flight if f.done()}
                if not done:
                    return
            for future in done:
                self._finished(future)
            if one or not block:
                return

    def _finished(self, future: Future) -> None:
        doc = self._in_flight.pop(future)
        try:
            result = future.result()
        except BrokenProcessPool:
            # a worker died (out of memory, a crash in a native library): count it against the document being
            # rendered and start fresh workers, so one poison document cannot stop the pipeline
            render.failed(self.services, doc, "a render worker died while rendering this document")
            self.dispatcher.restart()
            return
        except Exception as exc:  # noqa: BLE001 - one document's failure is recorded, the pass goes on
            render.failed(self.services, doc, f"{type(exc).__name__}: {exc}")
            return
        try:
            if (signed := store_rendered(self.services, doc, result)) is not None:  # 5, 6
                deliver_or_note(self.services, signed)  # 7
        except QamqorError as err:
            log.error("%s: %s", doc.document_id, err.one_line())
        self._rendered += 1
        self.progress.update("render", self._rendered, self._rendered + len(self._in_flight))

    def forget_in_flight(self) -> None:
        """Forget render jobs in flight (their documents stay requested and are rendered again next pass)."""
        for future in list(self._in_flight):
            future.cancel()
        self._in_flight.clear()

    # --- 7. deliver -----------------------------------------------------------------------------------------

    def deliver_one(self, document_id: str) -> None:
        deliver_or_note(self.services, document_id)

    def close(self) -> None:
        self.services.sync_audit()
        self.dispatcher.close()
        self.services.close()


# --- the stages after a render, shared with the cluster's jobs (pipeline/cluster/tasks.py) ---------------------


def store_rendered(services: Services, doc: store.DocumentRow, result: render.RenderResult) -> deliver.Signed | None:
    """A render's result stored (5) and, when its worker sealed it, the seal and the delivery's plan with it in
    the same transaction (6); otherwise the document's next stage (:func:`after_render`).  The document when it
    is now signed (ready for 7), else None."""
    if _sealed_without_officer(services, doc) and result.signature is not None and result.pdf is not None \
            and result.failure is None:
        return sign.store_sealed_render(services, doc, result)
    if render.store_result(services, doc, result) and after_render(services, doc, result):
        return deliver.Signed(doc.document_id)
    return None


def after_render(services: Services, doc: store.DocumentRow, result: render.RenderResult) -> bool:
    """A document's next stage once rendered: 6, only if it needs no officer.  True when it is now signed
    (and so ready for 7)."""
    if not _sealed_without_officer(services, doc):
        return False
    return sign.store_worker_signature(services, doc.document_id, result)  # 6


def _sealed_without_officer(services: Services, doc: store.DocumentRow) -> bool:
    return doc.signed_automatically and services.config.signing.auto_seal


def deliver_or_note(services: Services, which: str | deliver.Signed) -> None:
    """Deliver one document (7); its failure (other than a full disk) is recorded and retried next pass."""
    document_id = which.document_id if isinstance(which, deliver.Signed) else which
    try:
        deliver.deliver(services, which)
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise
        _note_error(services, document_id, f"delivery failed: {exc}")
    except FencedOut as err:
        log.warning("%s: %s", document_id, err.one_line())  # another node finishes it
    except QamqorError as err:
        _note_error(services, document_id, err.one_line())


def _note_error(services: Services, document_id: str, error: str) -> None:
    with services.journal.tx() as conn:
        store.note_error(conn, document_id, error)
    log.error("%s: %s", document_id, error)

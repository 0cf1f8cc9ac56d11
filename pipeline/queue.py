"""The signature queue: documents that wait for an authorised officer (¶10 the act's inspectors, ¶11–12 the
head who signs the order or the reasoned refusal).

An officer sees and acts only on the documents of their role and office.  Approving binds the approval to the
bytes: the SHA-256 the officer was shown is the one signing checks (:func:`pipeline.stages.sign.check`, the one
check for the command line, the desk and NCALayer).  A rejection with a reason sends the document back: the case
stays open and the back office gets a report.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

from . import clock
from .cases import transition
from .config import Officer
from .core.lifecycle import IN_QUEUE, DocumentStatus
from .errors import NotFound, QamqorError, StateConflict, UsageError
from .journal import store
from .outbox import atomic_write_json, route_dir
from .services import Services
from .signatures import SignatureBackend
from .stages import deliver, sign
from .stages.sign import may_act, waiting_for

__all__ = [
    "QueueItem", "Approval", "pending", "item", "get", "may_act", "waiting_for", "approve", "approve_batch",
    "demo_officer", "reject", "retry",
]


@dataclass(frozen=True)
class QueueItem:
    document_id: str
    case_id: str
    kind: str
    language: str
    role: str
    office: str
    sha256: str
    signatures_done: int
    signatures_needed: int
    next_signer: dict[str, Any] | None
    error: str | None
    due: str | None  #: the case's earliest open deadline

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def pending(services: Services, *, officer: Officer | None = None, role: str | None = None) -> list[QueueItem]:
    """What waits in the queue (for ``officer``, or for a ``role``), oldest first; one query for the deadlines.
    "signing": a signature was interrupted (a crash); the officer approves again and a signature already written
    is adopted, never made twice."""
    docs = [d for d in store.queued_documents(services.journal)
            if (not role or d.signer_role == role) and (officer is None or may_act(services, officer, d))]
    due = store.first_open_due(services.journal, (d.case_id for d in docs))
    return [QueueItem(d.document_id, d.case_id, d.kind, d.language, d.signer_role, d.office, d.pdf_sha256 or "",
                      d.signatures_done, max(1, len(d.fields)), d.next_signer, d.error,
                      due[d.case_id].isoformat() if d.case_id in due else None) for d in docs]


def get(services: Services, document_id: str) -> store.DocumentRow:
    doc = store.get_document(services.journal, document_id)
    if doc is None:
        raise NotFound(f"no document {document_id} in the queue", remedy="see `qamqor queue list`")
    return doc


def approve(services: Services, document_id: str, officer: Officer, secret: bytes | None = None,
            approved_sha256: str | None = None, *, backend: SignatureBackend | None = None) -> dict[str, Any]:
    """Approve and sign one document as ``officer`` (with its server-side key, or the given ``backend``: the
    NCALayer path); deliver it when its last signature is in."""
    ready = sign.check(services, document_id, officer, approved_sha256, in_queue=True)
    with services.journal.tx() as conn:
        store.step(conn, document_id, "approved", officer=officer.id, sha256=ready.approved_sha256)
    backend = backend or services.signatures.backend(officer, secret)
    entry = sign.sign(services, document_id, backend, approved_sha256=ready.approved_sha256, in_queue=True)
    if get(services, document_id).status == DocumentStatus.SIGNED:
        deliver.deliver(services, document_id)
    services.sync_audit()
    return entry


def reject(services: Services, document_id: str, officer: Officer, reason: str) -> dict[str, Any]:
    doc = get(services, document_id)
    if doc.status != DocumentStatus.QUEUED:
        raise StateConflict(f"{document_id} is {doc.status}, not waiting in the queue")
    if not may_act(services, officer, doc):
        raise StateConflict(f"{officer.id} may not act on {doc.kind} of {doc.office}")
    if not reason.strip():
        raise UsageError("a rejection needs a reason", remedy="say why in --reason", code="E-REASON")
    case = store.get_case(services.journal, doc.case_id)
    assert case is not None
    folder = route_dir(services.config.outbox, "provider", case_id=doc.case_id, applicant_iin=case.applicant_iin,
                       psc=case.psc, provider=case.provider, signed_on=None)  # type: ignore[arg-type]
    report = {"format": "qamqor.returned/1", "case_id": doc.case_id, "document_id": document_id,
              "document": doc.kind, "rejected_by": {"officer": officer.id, "name": officer.name},
              "reason": reason, "source_event_id": doc.event_id,
              "next": "send a corrected event for this step; the case stays open"}
    # the report first (same name, same content if written again), then the journal: a crash in between
    # leaves the document queued and the officer's second rejection writes the same report
    atomic_write_json(folder / f"{document_id}.returned.json", report)
    with services.journal.tx() as conn:
        store.reject_document(conn, document_id, officer=officer.id, reason=reason)
    transition(services.journal, services.rules, doc.case_id, f"document_returned:{doc.kind}", clock.today())
    services.sync_audit()
    return report


def retry(services: Services, document_id: str) -> None:
    """Give a document that was set aside as failed (three failed renders) another chance, e.g. after the
    template or the font was fixed."""
    doc = get(services, document_id)
    if doc.status != DocumentStatus.FAILED:
        raise StateConflict(f"{document_id} is {doc.status}, not failed")
    with services.journal.tx() as conn:
        store.order_again(conn, document_id)


# --- batches (``qamqor queue approve``) ----------------------------------------------------------------------

#: signature rounds in one batch: an act takes its inspectors in turn, then the order its head (¶10–11)
ROUNDS = 8


def item(services: Services, doc: store.DocumentRow) -> QueueItem:
    """One document as the queue shows it (``qamqor queue show``), whatever its status."""
    due = store.first_open_due(services.journal, (doc.case_id,))
    return QueueItem(doc.document_id, doc.case_id, doc.kind, doc.language, doc.signer_role, doc.office,
                     doc.pdf_sha256 or "", doc.signatures_done, max(1, len(doc.fields)), doc.next_signer, doc.error,
                     due[doc.case_id].isoformat() if doc.case_id in due else None)


def demo_officer(services: Services, doc: store.DocumentRow) -> Officer | None:
    """In the demo, who signs ``doc`` next: the officer the event named for the next field, else one of the
    officers of the document's role and office."""
    done = doc.signatures_done
    want = doc.signers[done].get("iin") if done < len(doc.signers) else None
    candidates = [o for o in services.config.officers if may_act(services, o, doc)]
    for o in candidates:
        if want and o.iin == want:
            return o
    if not want:
        return candidates[0] if candidates else None
    return candidates[done] if done < len(candidates) else None


@dataclass(frozen=True)
class Approval:
    """What became of one document of a batch: signed (``entry``), or not (``error``, ``message``)."""

    document_id: str
    officer: Officer | None
    entry: dict[str, Any] | None = None
    error: QamqorError | None = None
    message: str | None = None

    @property
    def ok(self) -> bool:
        return self.entry is not None


def approve_batch(services: Services, document_ids: Iterable[str] | None = None, *, officer: Officer | None = None,
                  role: str | None = None, secret: Callable[[Officer], bytes | None] = lambda _o: None,
                  ) -> Iterator[Approval]:
    """Approve and sign documents — the named ones, or (``document_ids=None``) every pending one ``officer``
    may sign — yielding each outcome as it happens.

    Without ``officer`` (the demo only), each document is signed by :func:`demo_officer`.  The batch runs in
    rounds, so a document that needs several signatures (the act's inspectors in turn) and the one that waits for
    it (the order) are signed in one go.  ``secret`` is asked once per officer for the whole batch; an error it
    raises (no secret and no terminal) ends the batch."""
    every = document_ids is None
    named = [] if document_ids is None else list(document_ids)
    secrets: dict[str, bytes | None] = {}
    for n in range(ROUNDS):
        if every:
            ids = [i.document_id for i in pending(services, officer=officer, role=role)]
        else:
            ids = [d for d in named if get(services, d).status in IN_QUEUE] if n else named
        if not ids:
            return
        progressed = False
        for doc_id in ids:
            doc = get(services, doc_id)
            if every and waiting_for(services, doc):
                continue  # its turn comes in a later round (the order after the act)
            who = officer or demo_officer(services, doc)
            if who is None:
                yield Approval(doc_id, None, message=f"no demo officer may sign {doc.kind} of {doc.office}")
                continue
            if who.id not in secrets:
                secrets[who.id] = secret(who)
            try:
                entry = approve(services, doc_id, who, secrets[who.id])
            except QamqorError as err:
                yield Approval(doc_id, who, error=err, message=err.one_line())
                continue
            progressed = True
            yield Approval(doc_id, who, entry=entry)
        if not progressed or (not every and officer is not None):
            return

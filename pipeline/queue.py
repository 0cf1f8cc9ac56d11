"""The signature queue: documents that wait for an authorised officer (¶10 the act's inspectors, ¶11–12 the
head who signs the order or the reasoned refusal).

An officer sees and acts only on the documents of their role and office.  Approving binds the approval to the
bytes: the SHA-256 the officer was shown is the one signing checks.  A rejection with a reason sends the
document back: the case stays open and the back office gets a report.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from . import journal as J
from .config import Officer
from .errors import NotFound, StateConflict, UsageError
from .outbox import atomic_write_json, route_dir
from .sealing import ROLE_KINDS

WAITING = ("queued", "signing")


@dataclass
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
    due: str | None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _item(pipeline: Any, row: Any) -> QueueItem:
    order = json.loads(row["order"] or "{}")
    fields = order.get("_fields", [])
    signers = json.loads(row["signers"] or "[]")
    done = row["signatures_done"] or 0
    due = pipeline.journal.one(select(J.deadlines.c.due).where(
        J.deadlines.c.case_id == row["case_id"], J.deadlines.c.closed_on.is_(None)).order_by(J.deadlines.c.due))
    return QueueItem(
        row["document_id"], row["case_id"], row["kind"], row["language"], row["signer_role"], row["office"],
        row["pdf_sha256"], done, max(1, len(fields)), signers[done] if done < len(signers) else None, row["error"],
        due["due"].isoformat() if due else None,
    )


def may_act(officer: Officer, row: Any) -> bool:
    """An officer acts only within their role and office (an inspector cannot sign an order)."""
    return row["kind"] in ROLE_KINDS.get(officer.role, set()) and officer.office == row["office"]


def waiting_for(pipeline: Any, row: Any) -> str | None:
    """Why a document cannot be signed yet, or None.  ¶10–11: the decision rests on the act, so the order or
    the refusal is signed only after the inspectors have signed the act."""
    if row["kind"] not in ("order", "reasoned_refusal"):
        return None
    acts = pipeline.journal.all(select(J.documents.c.status).where(
        J.documents.c.case_id == row["case_id"], J.documents.c.kind == "inspection_act"))
    unsigned = [a["status"] for a in acts if a["status"] not in ("signed", "delivered", "rejected")]
    if unsigned:
        return f"the inspection act of {row['case_id']} is {unsigned[0]}, not signed yet"
    return None


def pending(pipeline: Any, *, officer: Officer | None = None, role: str | None = None) -> list[QueueItem]:
    # "signing": a signature was interrupted (a crash); the officer approves again and a signature already
    # written is adopted, never made twice (documents.sign_step)
    rows = pipeline.journal.all(select(J.documents).where(J.documents.c.status.in_(WAITING))
                                .order_by(J.documents.c.created_at))
    items = []
    for row in rows:
        if role and row["signer_role"] != role:
            continue
        if officer is not None and not may_act(officer, row):
            continue
        items.append(_item(pipeline, row))
    return items


def get(pipeline: Any, document_id: str) -> Any:
    row = pipeline.journal.one(select(J.documents).where(J.documents.c.document_id == document_id))
    if row is None:
        raise NotFound(f"no document {document_id} in the queue", remedy="see `qamqor queue list`")
    return row


def approve(pipeline: Any, document_id: str, officer: Officer, secret: bytes | None,
            approved_sha256: str | None = None) -> dict[str, Any]:
    """Approve and sign one document as ``officer``; deliver it when its last signature is in."""
    row = get(pipeline, document_id)
    if row["status"] not in WAITING:
        raise StateConflict(f"{document_id} is {row['status']}, not waiting in the queue")
    if not may_act(officer, row):
        raise StateConflict(f"{officer.id} ({officer.role}, {officer.office}) may not sign {row['kind']} of "
                            f"{row['office']}", remedy="the officer of that role and office approves it")
    blocked = waiting_for(pipeline, row)
    if blocked:
        raise StateConflict(blocked, remedy="the inspectors sign the act first")
    sha = approved_sha256 or row["pdf_sha256"]
    with pipeline.journal.tx() as conn:
        J.Journal.step(conn, document_id, "approved", officer=officer.id, sha256=sha)
    entry = pipeline.sign_document(document_id, officer, secret, approved_sha256=sha)
    row = get(pipeline, document_id)
    if row["status"] == "signed":
        from .delivery import deliver_document

        deliver_document(pipeline, row)
    _sync_audit(pipeline)
    return entry


def _sync_audit(pipeline: Any) -> None:
    audit = getattr(pipeline.journal, "audit", None)
    if audit is not None:
        audit.sync()


def reject(pipeline: Any, document_id: str, officer: Officer, reason: str) -> Any:
    row = get(pipeline, document_id)
    if row["status"] != "queued":
        raise StateConflict(f"{document_id} is {row['status']}, not waiting in the queue")
    if not may_act(officer, row):
        raise StateConflict(f"{officer.id} may not act on {row['kind']} of {row['office']}")
    if not reason.strip():
        raise UsageError("a rejection needs a reason", remedy="say why in --reason", code="E-REASON")
    case = pipeline.journal.one(select(J.cases).where(J.cases.c.case_id == row["case_id"]))
    folder = route_dir(pipeline.config.outbox, "provider", case_id=row["case_id"],
                       applicant_iin=case["applicant_iin"], psc=case["psc"], provider=case["provider"],
                       signed_on=None)  # type: ignore[arg-type]
    report = {"format": "qamqor.returned/1", "case_id": row["case_id"], "document_id": document_id,
              "document": row["kind"], "rejected_by": {"officer": officer.id, "name": officer.name},
              "reason": reason, "source_event_id": row["event_id"],
              "next": "send a corrected event for this step; the case stays open"}
    # the report first (same name, same content if written again), then the journal: a crash in between
    # leaves the document queued and the officer's second rejection writes the same report
    atomic_write_json(folder / f"{document_id}.returned.json", report)
    with pipeline.journal.tx() as conn:
        conn.execute(update(J.documents).where(J.documents.c.document_id == document_id).values(
            status="rejected", rejected_reason=reason, updated_at=J.now_utc()))
        J.Journal.step(conn, document_id, "rejected-by-officer", officer=officer.id, reason=reason)
    from . import clock

    pipeline.transition(row["case_id"], f"document_returned:{row['kind']}", clock.today())
    _sync_audit(pipeline)
    return report


def retry(pipeline: Any, document_id: str) -> None:
    """Give a document that was set aside as failed (three failed renders) another chance, e.g. after the
    template or the font was fixed."""
    row = get(pipeline, document_id)
    if row["status"] != "failed":
        raise StateConflict(f"{document_id} is {row['status']}, not failed")
    with pipeline.journal.tx() as conn:
        conn.execute(update(J.documents).where(J.documents.c.document_id == document_id).values(
            status="ordered", attempts=0, next_attempt_at=None, error=None, updated_at=J.now_utc()))
        J.Journal.step(conn, document_id, "retry-ordered")

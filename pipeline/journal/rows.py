"""The journal's rows as small frozen types, with their JSON columns parsed and their statuses as the enums of
:mod:`pipeline.core.lifecycle`; and the few helpers :mod:`.store` and :mod:`.reads` share to run a statement on
the journal or on a connection inside a transaction."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from ..core.events import Event
from ..core.lifecycle import AUTO_ROLES, DeliveryStatus, DocumentStatus, EventStatus, InputStatus
from . import Journal

# --- rows ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InputRow:
    """A file taken from the inbox."""

    input_id: str
    original_name: str
    sha256: str
    size: int
    status: InputStatus
    event_id: str | None
    case_id: str | None
    report: dict[str, Any] | None  #: the rejection report, once one is journaled
    claimed_at: str
    finished_at: str | None


@dataclass(frozen=True)
class EventRow:
    """A valid event, as it was recorded (``tree``: the validated JSON-shaped tree)."""

    event_id: str
    case_id: str
    event: str
    occurred_at: str
    sha256: str
    input_id: str
    tree: dict[str, Any]
    status: EventStatus
    seq: int | None
    recorded_at: str

    def to_event(self) -> Event:
        return Event.from_dict(self.tree)


@dataclass(frozen=True)
class CaseRow:
    case_id: str
    status: str
    channel: str
    language: str
    provider: str
    psc: str | None
    applicant_iin: str
    submitted_on: dt.date
    result_at: str | None
    updated_at: str


@dataclass(frozen=True)
class DeadlineRow:
    case_id: str
    key: str
    term: str
    paragraph: str
    opened_on: dt.date
    due: dt.date
    closed_on: dt.date | None


@dataclass(frozen=True)
class DocumentRow:
    """A document, from its request by the rules to its delivery."""

    document_id: str
    case_id: str
    kind: str
    language: str
    event_id: str  #: the event that caused it (its date is the document's date)
    signer_role: str
    office: str
    signers: tuple[dict[str, Any], ...]  #: the officials the event named, in signing order
    routes: tuple[str, ...]
    number: str | None
    status: DocumentStatus
    context: dict[str, Any]  #: what the rules computed for the templates
    fields: tuple[dict[str, Any], ...]  #: the signature fields the render reserved, in signing order
    pages: int | None
    pdf_path: str | None  #: the current work file (unsigned, or signed by some of its signers)
    pdf_sha256: str | None
    signatures_done: int
    signed_by: tuple[dict[str, Any], ...]
    signed_at: str | None
    signature_level: str | None
    rejected_reason: str | None
    attempts: int
    next_attempt_at: str | None
    error: str | None
    created_at: str
    updated_at: str

    @property
    def named_signer(self) -> str | None:
        """The IIN of the official the document names as its first signer, if the event gave one."""
        return self.signers[0].get("iin") if self.signers else None

    @property
    def next_field(self) -> dict[str, Any] | None:
        return self.fields[self.signatures_done] if self.signatures_done < len(self.fields) else None

    @property
    def next_signer(self) -> dict[str, Any] | None:
        done = self.signatures_done
        return self.signers[done] if done < len(self.signers) else None

    @property
    def signed_automatically(self) -> bool:
        return self.signer_role in AUTO_ROLES

    def due_now(self, now: dt.datetime) -> bool:
        return attempt_due(self.next_attempt_at, now)


def attempt_due(next_attempt_at: str | None, now: dt.datetime) -> bool:
    """A document's (next) attempt is due: it has none scheduled, or its time has come."""
    return not next_attempt_at or dt.datetime.fromisoformat(next_attempt_at) <= now


@dataclass(frozen=True)
class DeliveryRow:
    document_id: str
    route: str
    path: str
    status: DeliveryStatus
    at: str


def _input(m: Any) -> InputRow:
    return InputRow(m["input_id"], m["original_name"], m["sha256"], m["size"], InputStatus(m["status"]),
                    m["event_id"], m["case_id"], json.loads(m["error"]) if m["error"] else None, m["claimed_at"],
                    m["finished_at"])


def _event(m: Any) -> EventRow:
    return EventRow(m["event_id"], m["case_id"], m["event"], m["occurred_at"], m["sha256"], m["input_id"],
                    json.loads(m["raw"]), EventStatus(m["status"]), m["seq"], m["recorded_at"])


def _case(m: Any) -> CaseRow:
    return CaseRow(**{k: m[k] for k in CaseRow.__dataclass_fields__})


def _deadline(m: Any) -> DeadlineRow:
    return DeadlineRow(**{k: m[k] for k in DeadlineRow.__dataclass_fields__})


def _document(m: Any) -> DocumentRow:
    stored = json.loads(m["order"] or "{}")
    return DocumentRow(
        document_id=m["document_id"], case_id=m["case_id"], kind=m["kind"], language=m["language"],
        event_id=m["event_id"], signer_role=m["signer_role"], office=m["office"],
        signers=tuple(json.loads(m["signers"] or "[]")), routes=tuple(json.loads(m["routes"] or "[]")),
        number=m["number"], status=DocumentStatus(m["status"]),
        context={k: v for k, v in stored.items() if not k.startswith("_")},
        fields=tuple(stored.get("_fields", ())), pages=stored.get("_pages"),
        pdf_path=m["pdf_path"], pdf_sha256=m["pdf_sha256"], signatures_done=m["signatures_done"] or 0,
        signed_by=tuple(json.loads(m["signed_by"] or "[]")), signed_at=m["signed_at"],
        signature_level=m["signature_level"], rejected_reason=m["rejected_reason"], attempts=m["attempts"] or 0,
        next_attempt_at=m["next_attempt_at"], error=m["error"], created_at=m["created_at"],
        updated_at=m["updated_at"],
    )


def _delivery(m: Any) -> DeliveryRow:
    return DeliveryRow(m["document_id"], m["route"], m["path"], DeliveryStatus(m["status"]), m["at"])


@contextmanager
def _reading(db: Journal | Connection) -> Iterator[Connection]:
    if isinstance(db, Connection):
        yield db
    else:
        with db.reads.connect() as conn:  # on PostgreSQL in autocommit: one statement, one round trip
            yield conn


def _first(db: Journal | Connection, stmt: Any) -> Any:
    with _reading(db) as conn:
        return conn.execute(stmt).mappings().first()


def _all(db: Journal | Connection, stmt: Any) -> list[Any]:
    with _reading(db) as conn:
        return list(conn.execute(stmt).mappings())


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _upsert(conn: Connection) -> Any:
    """The dialect's INSERT with ON CONFLICT (SQLite and PostgreSQL spell it alike)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    return dialect_insert

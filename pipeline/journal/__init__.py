"""The journal: every input, event, case, document, delivery and step, in SQLite (WAL) through SQLAlchemy Core.

SQLite is the embedded default; the same tables run on PostgreSQL later (``research/scale-out.md``), so the
schema goes through Alembic migrations (``pipeline/journal/migrations``) and the code through SQLAlchemy Core only.
A step is recorded *before* its effect on disk; the runner's recovery reads the journal and finishes (or redoes,
idempotently) whatever a crash interrupted.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Date,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    func,
    insert,
    select,
    update,
)

metadata = MetaData()

# One row per file taken from the inbox.
inputs = Table(
    "inputs", metadata,
    Column("input_id", String(200), primary_key=True),  # the claimed name: <utc>-<sha256 prefix>-<original>
    Column("original_name", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size", Integer, nullable=False),
    # claimed → parsed → applied | rejected | duplicate | deferred (waits for an earlier event of its case)
    Column("status", String(20), nullable=False, index=True),
    Column("event_id", String(64), index=True),
    Column("case_id", String(64)),
    Column("error", Text),  # the rejection report (JSON)
    Column("claimed_at", String(40), nullable=False),
    Column("finished_at", String(40)),
)

events = Table(
    "events", metadata,
    Column("event_id", String(64), primary_key=True),
    Column("case_id", String(64), nullable=False, index=True),
    Column("event", String(40), nullable=False),
    Column("occurred_at", String(40), nullable=False),
    Column("sha256", String(64), nullable=False),  # of the input's bytes: same id + same bytes = a duplicate
    Column("input_id", String(200), nullable=False),
    Column("raw", Text, nullable=False),  # the validated JSON-shaped tree
    Column("status", String(20), nullable=False, index=True),  # pending / applied / rejected
    Column("seq", Integer, index=True),  # order of application within the journal
    Column("recorded_at", String(40), nullable=False),
)

# The case's log: the events and shell transitions, in the order they were applied (rules.fold rebuilds it).
case_log = Table(
    "case_log", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", String(64), nullable=False, index=True),
    Column("event_id", String(64)),
    Column("transition", String(40)),
    Column("day", Date),
    Column("at", String(40), nullable=False),
)

cases = Table(
    "cases", metadata,
    Column("case_id", String(64), primary_key=True),
    Column("status", String(30), nullable=False),
    Column("channel", String(10), nullable=False),
    Column("language", String(2), nullable=False),
    Column("provider", String(64), nullable=False),
    Column("psc", String(64)),
    Column("applicant_iin", String(12), nullable=False),
    Column("submitted_on", Date, nullable=False),
    Column("result_at", String(10)),
    Column("updated_at", String(40), nullable=False),
)

deadlines = Table(
    "deadlines", metadata,
    Column("case_id", String(64), primary_key=True),
    Column("key", String(80), primary_key=True),
    Column("term", String(40), nullable=False),
    Column("paragraph", String(8), nullable=False),
    Column("opened_on", Date, nullable=False),
    Column("due", Date, nullable=False),
    Column("closed_on", Date),
    Index("ix_deadlines_open", "key", "closed_on", "due"),
)

documents = Table(
    "documents", metadata,
    Column("document_id", String(120), primary_key=True),
    Column("case_id", String(64), nullable=False, index=True),
    Column("kind", String(40), nullable=False),
    Column("language", String(2), nullable=False),
    Column("event_id", String(64), nullable=False),
    Column("signer_role", String(20), nullable=False),
    Column("office", String(64), nullable=False),
    Column("signers", Text, nullable=False),  # JSON list of officials, in signing order
    Column("routes", Text, nullable=False),  # JSON list
    Column("number", String(64)),
    # ordered → rendered → queued → signing → signed → delivered; rejected (by an officer) / failed
    Column("status", String(20), nullable=False, index=True),
    Column("order", Text, nullable=False),  # the DocumentOrder's computed context (JSON)
    Column("pdf_path", Text),  # the current work file (unsigned, or signed by some of the signers)
    Column("pdf_sha256", String(64)),
    Column("signatures_done", Integer, nullable=False, default=0),
    Column("signed_by", Text),  # JSON list of {name, iin, serial, at, field}
    Column("signed_at", String(40)),
    Column("signature_level", String(8)),
    Column("rejected_reason", Text),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", String(40)),
    Column("error", Text),
    Column("created_at", String(40), nullable=False),
    Column("updated_at", String(40), nullable=False),
)

deliveries = Table(
    "deliveries", metadata,
    Column("document_id", String(120), primary_key=True),
    Column("route", String(20), primary_key=True),
    Column("path", Text, nullable=False),
    Column("status", String(20), nullable=False),  # planned → done
    Column("at", String(40), nullable=False),
)

steps = Table(
    "steps", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", String(40), nullable=False),
    Column("subject", String(200), nullable=False, index=True),
    Column("step", String(60), nullable=False),
    Column("detail", Text),
)


def now_utc() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")  # a step is on disk before its effect
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision."""
    from alembic import command
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


class Journal:
    """A handle on the journal database.  Cheap to open; one per process."""

    def __init__(self, url: str, *, create: bool = True, audit: Any = None):
        self.audit = audit  # pipeline.audit.AuditLog: every step is also appended there after its commit
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.engine = create_engine(url, future=True)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        if create:
            migrate(self.engine)

    @contextmanager
    def tx(self) -> Iterator[Connection]:
        pending: list[dict[str, Any]] = []
        with self.engine.begin() as conn:
            conn.info["audit"] = pending
            try:
                yield conn
            finally:
                conn.info.pop("audit", None)
        if pending and self.audit is not None:
            self.audit.append(pending)

    def close(self) -> None:
        self.engine.dispose()

    # --- steps -------------------------------------------------------------------------------------------------

    @staticmethod
    def step(conn: Connection, subject: str, name: str, **detail: Any) -> None:
        at = now_utc()
        text = json.dumps(detail, ensure_ascii=False, default=str) if detail else None
        conn.execute(insert(steps).values(at=at, subject=subject, step=name, detail=text))
        pending = conn.info.get("audit")
        if pending is not None:
            pending.append({"at": at, "subject": subject, "step": name, "detail": detail or None})

    # --- reads -------------------------------------------------------------------------------------------------

    def one(self, stmt: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(stmt).mappings().first()

    def all(self, stmt: Any) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(stmt).mappings())

    def next_seq(self, conn: Connection) -> int:
        return (conn.execute(select(func.max(events.c.seq))).scalar() or 0) + 1


__all__ = [
    "Journal", "metadata", "inputs", "events", "case_log", "cases", "deadlines", "documents", "deliveries",
    "steps", "now_utc", "migrate", "select", "update", "insert",
]

"""The journal's tables (SQLAlchemy Core).  Their statuses are the enums of :mod:`pipeline.core.lifecycle`;
the schema itself comes from the Alembic migrations beside this file, and a test checks that they agree."""

from __future__ import annotations

from sqlalchemy import Column, Date, Index, Integer, MetaData, String, Table, Text

metadata = MetaData()

# One row per file taken from the inbox.
inputs = Table(
    "inputs", metadata,
    Column("input_id", String(200), primary_key=True),  # the claimed name: <utc stamp>-<original, made safe>
    Column("original_name", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size", Integer, nullable=False),
    # lifecycle.InputStatus: claimed → parsed → applied; claimed → duplicate; claimed | parsed → rejecting → rejected
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
    # lifecycle.DocumentStatus (its DOCUMENT_MOVES are the allowed moves)
    Column("status", String(20), nullable=False, index=True),
    Column("order", Text, nullable=False),  # the render context the rules computed, + "_fields"/"_pages" after rendering (JSON)
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

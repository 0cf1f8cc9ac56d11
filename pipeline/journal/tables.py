"""The journal's tables (SQLAlchemy Core).  Their statuses are the enums of :mod:`pipeline.core.lifecycle`;
the schema itself comes from the Alembic migrations beside this file, and a test checks that they agree."""

from __future__ import annotations

from sqlalchemy import Column, Date, Float, Index, Integer, MetaData, String, Table, Text

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

# --- the desk (issue 14 #11, #12, #20; issue 10 #4) -------------------------------------------------------------
# Shared by every desk process on the journal: a session revoked by one (logout) is gone for all, and a lock-out
# counted by one holds in all of them and across restarts.  Times are seconds since the epoch (the desk's clock).

# One row per signed-in session; the cookie carries the session's id, the journal only its SHA-256.
desk_sessions = Table(
    "desk_sessions", metadata,
    Column("sid_hash", String(64), primary_key=True),
    Column("officer", String(64), nullable=False, index=True),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
)

# Failed (and in-flight) sign-ins per key: ``account:<officer id>`` or ``client:<address>``.
desk_attempts = Table(
    "desk_attempts", metadata,
    Column("key", String(200), primary_key=True),
    Column("count", Integer, nullable=False),
    Column("window_start", Float, nullable=False),
    Column("locked_until", Float, nullable=False),
)

# The archive's renewals (issue 12 #3): one row per archived PDF a renewal run looked at and timestamped again
# (or failed to), in the order they were made; migration 0007.
archive_renewals = Table(
    "archive_renewals", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("path", Text, nullable=False),  # the archived PDF, as the outbox names it
    Column("document_id", String(120)),  # from its manifest, when it has one
    Column("at", String(40), nullable=False),  # the pipeline's clock (QAMQOR_NOW or the system clock)
    Column("status", String(20), nullable=False),  # renewed / completed / failed
    Column("previous_timestamp", String(40)),  # the newest archive timestamp before the renewal
    Column("previous_tsa_valid_until", String(40)),
    Column("new_timestamp", String(40)),
    Column("new_tsa_valid_until", String(40)),
    Column("sha256_before", String(64), nullable=False),
    Column("sha256_after", String(64)),
    Column("report", Text),  # the ETSI TS 119 102-2 report written beside the PDF
    Column("error", Text),
    Index("ix_archive_renewals_path", "path", "id"),
)

# --- registration numbers of the office (issue 11 #9) -----------------------------------------------------------
# One row per office and year: the last registration number given to a receipt, notice or refusal of that office
# (forms/catalogue/service.toml [registration]); migration 0004.
registration_numbers = Table(
    "registration_numbers", metadata,
    Column("office", String(64), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("last", Integer, nullable=False),
)

# --- several nodes (issue 10) -----------------------------------------------------------------------------------
# A fencing token per piece of work (``scan`` for the inbox, ``doc:<id>`` for a document): whoever takes the work
# bumps ``value``; every journal write of that work checks it in its own transaction (pipeline/cluster/fencing.py),
# so a node that stalled and woke up after another took over can write nothing.  Migration 0005.
fences = Table(
    "fences", metadata,
    Column("name", String(200), primary_key=True),
    Column("value", Integer, nullable=False),
    Column("holder", String(120), nullable=False),  # the node (process start) holding it
    Column("taken_at", String(40), nullable=False),
)

# One row per node process start (``<name>-<pid>-<random>``: never reused, procrastinate #1518), its heartbeat
# and what it is doing: ``qamqor status`` lists them.
nodes = Table(
    "nodes", metadata,
    Column("node_id", String(120), primary_key=True),
    Column("name", String(64), nullable=False),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", String(40), nullable=False),
    Column("heartbeat_at", String(40), nullable=False),
    Column("stopped_at", String(40)),
    Column("jobs_done", Integer, nullable=False),
    Column("current_job", String(200)),
)

# Prepared NCALayer signatures waiting for the browser's CMS (issue 10 #4): in the journal, so the desk process
# that finishes a signature need not be the one that prepared it.  Migration 0008.
prepared_signatures = Table(
    "prepared_signatures", metadata,
    Column("token_hash", String(64), primary_key=True),  # SHA-256 of the token the browser holds
    Column("officer_id", String(64), nullable=False),
    Column("document_id", String(120), nullable=False),
    Column("base_sha256", String(64), nullable=False),
    Column("prepared", Text, nullable=False),  # signing.PreparedSignature.to_bytes()
    Column("created_at", Float, nullable=False),  # seconds since the epoch
)

"""Documents in the shell: the render job a document's context makes, and one signature step.

The context handed to the templates is data only (contract trees + the core's computed values); the document's
date is the date of the event that caused it, never the wall clock, so the same event renders the same bytes.
"""

from __future__ import annotations

import fcntl
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import select, update

from . import clock
from . import journal as J
from .errors import NotFound, StateConflict
from .faults import checkpoint
from .outbox import atomic_write, sha256
from .core.rules import KZ_TZ, local_date
from .verification import verify_url

SERVICE_EVENTS = {
    "application.submitted": "application",
    "documents.checked": "check",
    "inspection.completed": "inspection",
    "decision.made": "decision",
}


def case_trees(pipeline: Any, case_id: str) -> dict[str, Any]:
    """The newest applied payload of each event type that templates read."""
    rows = pipeline.journal.all(
        select(J.events.c.event, J.events.c.raw, J.events.c.seq)
        .where(J.events.c.case_id == case_id, J.events.c.status == "applied")
        .order_by(J.events.c.seq))
    trees: dict[str, Any] = {v: None for v in SERVICE_EVENTS.values()}
    envelope: dict[str, Any] = {}
    for r in rows:
        raw = json.loads(r["raw"])
        if r["event"] in SERVICE_EVENTS:
            trees[SERVICE_EVENTS[r["event"]]] = raw["data"]
        if r["event"] == "application.submitted":
            envelope = raw
    trees["_envelope"] = envelope
    return trees


def build_context(pipeline: Any, row: Any) -> tuple[dict[str, Any], list[tuple[str, bytes, str]]]:
    event_row = pipeline.journal.one(select(J.events).where(J.events.c.event_id == row["event_id"]))
    if event_row is None:
        raise NotFound(f"event {row['event_id']} of document {row['document_id']} is not in the journal")
    source = json.loads(event_row["raw"])
    occurred = source["occurred_at"]
    import datetime as dt

    moment = dt.datetime.fromisoformat(occurred).astimezone(KZ_TZ)
    trees = case_trees(pipeline, row["case_id"])
    envelope = trees.pop("_envelope")
    computed = {k: v for k, v in json.loads(row["order"] or "{}").items() if not k.startswith("_")}
    app = trees["application"] or {}
    if "children" in computed and app:
        by_iin = {c["iin"]: c for c in app.get("children", [])}
        computed["children"] = [{**by_iin.get(c["iin"], {}), **c} for c in computed["children"]]
    context = {
        "document": {
            "kind": row["kind"],
            "id": row["document_id"],
            "number": row["number"] or row["document_id"],
            "date": (local_date(moment) if row["kind"] != "order" or not trees["decision"]
                     else dt.date.fromisoformat(trees["decision"].get("order_date") or local_date(moment).isoformat())
                     ).isoformat(),
            "datetime": moment.isoformat(),
            "language": row["language"],
            "verify_url": verify_url(pipeline.config, row["document_id"]),
        },
        "case": {
            "case_id": row["case_id"],
            "channel": app.get("channel"),
            "submitted_at": envelope.get("occurred_at"),
        },
        **trees,
        "computed": computed,
    }
    attachments = []
    input_path = pipeline.inputs_dir / event_row["input_id"]
    if input_path.exists():
        suffix = ".xml" if input_path.read_bytes()[:200].lstrip().startswith(b"<") else ".json"
        mime = "application/xml" if suffix == ".xml" else "application/json"
        attachments.append((f"event-{row['event_id']}{suffix}", input_path.read_bytes(), mime))
    return context, attachments


def build_job(pipeline: Any, row: Any) -> dict[str, Any]:
    context, attachments = build_context(pipeline, row)
    return {"document_id": row["document_id"], "kind": row["kind"], "language": row["language"],
            "context": context, "attachments": attachments}


def signature_fields(row: Any) -> list[dict[str, Any]]:
    return json.loads(row["order"] or "{}").get("_fields", [])


@contextmanager
def document_lock(pipeline: Any, document_id: str) -> Iterator[None]:
    """One signer or deliverer of a document at a time, across processes (``qamqor run``, ``queue approve``,
    the web desk).  An advisory lock on a file: a process that dies releases it, so a crash never leaves a
    document locked.  (Several machines will use the journal's row locks instead: research/scale-out.md.)"""
    path = pipeline.docs_dir / f".{document_id}.lock"
    with open(path, "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StateConflict(f"{document_id} is being signed or delivered by another process right now",
                                remedy="try again in a moment") from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def organisation_bin(row: Any, application: dict[str, Any] | None) -> str | None:
    """The BIN the signer's certificate must carry.  The PSC's BIN is not in the case events (contract.md),
    so an operator's organisation is not checked."""
    if row["signer_role"] == "operator":
        return None
    return ((application or {}).get("provider") or {}).get("bin")


def organisation_for(pipeline: Any, row: Any) -> str | None:
    return organisation_bin(row, case_trees(pipeline, row["case_id"]).get("application"))


def sign_step(pipeline: Any, document_id: str, officer: Any, secret: bytes | None, *,
              approved_sha256: str | None = None) -> dict[str, Any]:
    """Sign the document's next reserved field as ``officer``.

    The approval is bound to the bytes: signing refuses when the work file's SHA-256 differs from the one the
    officer approved (or, for auto-sealed documents, from the one the journal recorded after rendering).
    """
    with document_lock(pipeline, document_id):
        return _sign_locked(pipeline, document_id, officer, secret, approved_sha256)


def _sign_locked(pipeline: Any, document_id: str, officer: Any, secret: bytes | None,
                 approved_sha256: str | None) -> dict[str, Any]:
    row = pipeline.journal.one(select(J.documents).where(J.documents.c.document_id == document_id))
    if row is None:
        raise NotFound(f"no document {document_id}")
    if row["status"] not in ("rendered", "queued", "signing"):
        raise StateConflict(f"document {document_id} is {row['status']}, not waiting for a signature")
    fields = signature_fields(row)
    if not fields:
        raise StateConflict(f"document {document_id} has no signature field", remedy="render it again")
    done = row["signatures_done"] or 0
    if done >= len(fields):
        raise StateConflict(f"document {document_id} is already signed by all its signers")
    field = fields[done]
    signers = json.loads(row["signers"] or "[]")
    expected = signers[done] if done < len(signers) else None
    if expected and expected.get("iin") and officer.iin != expected["iin"]:
        raise StateConflict(
            f"field {field['name']} of {document_id} is for {expected['name']} ({expected['iin']}), "
            f"not {officer.name} ({officer.iin})", remedy="the named officer approves it")
    current_path = row["pdf_path"]
    data = open(current_path, "rb").read()
    if sha256(data) != row["pdf_sha256"]:
        raise StateConflict(f"the work file of {document_id} changed on disk", remedy="render it again")
    bound = approved_sha256 or row["pdf_sha256"]
    out = pipeline.docs_dir / f"{document_id}.s{done + 1}.pdf"
    with pipeline.journal.tx() as conn:
        conn.execute(update(J.documents).where(J.documents.c.document_id == document_id).values(
            status="signing", updated_at=J.now_utc()))
        J.Journal.step(conn, document_id, "signing", field=field["name"], officer=officer.id)
    adopted = False
    if out.exists():
        previous = out.read_bytes()
        # A crash after writing: the signature is there.  Adopt it only if it is this officer's, over the bytes
        # the officer approved; anything else is discarded and signed anew.
        if (previous.startswith(data) and len(previous) > len(data) and bound == sha256(data)
                and pipeline.signing.signed_by_officer(previous, officer, secret)):
            signed, adopted = previous, True
        else:
            out.unlink()
    if not adopted:
        try:
            signed, info = pipeline.signing.sign(
                data, field=field["name"], officer=officer, secret=secret, approved_sha256=bound,
                document_kind=row["kind"], language=row["language"],
                verify_url=verify_url(pipeline.config, document_id),
                organisation_bin=organisation_for(pipeline, row),
            )
        except Exception:
            with pipeline.journal.tx() as conn:  # nothing half-signed: the work file is untouched
                conn.execute(update(J.documents).where(J.documents.c.document_id == document_id).values(
                    status="queued" if row["signer_role"] not in ("operator", "provider_seal") else "rendered",
                    updated_at=J.now_utc()))
            raise
    else:
        info = pipeline.signing.describe_signature(signed, officer)
    return store_signature(pipeline, row, field["name"], officer, signed, info, adopted=adopted)


def store_signature(pipeline: Any, row: Any, field_name: str, officer: Any, signed: bytes, info: dict[str, Any],
                    *, adopted: bool = False) -> dict[str, Any]:
    """Write the signed work file (unless a crash left it there already) and journal the signature — only if
    the document is still where ``row`` saw it (no other signature was stored meanwhile)."""
    document_id = row["document_id"]
    done = row["signatures_done"] or 0
    current = pipeline.journal.one(select(J.documents.c.signatures_done, J.documents.c.status)
                                   .where(J.documents.c.document_id == document_id))
    if current is None or (current["signatures_done"] or 0) != done or current["status"] not in (
            "rendered", "queued", "signing"):
        raise StateConflict(f"{document_id} changed while it was being signed", remedy="look at it again")
    fields = signature_fields(row)
    out = pipeline.docs_dir / f"{document_id}.s{done + 1}.pdf"
    if not adopted:
        atomic_write(out, signed)
    checkpoint("signed-written")
    entry = {**info, "field": field_name, "officer": officer.id, "service_at": clock.now().isoformat()}
    signed_by = json.loads(row["signed_by"] or "[]") + [entry]
    complete = done + 1 >= len(fields)
    with pipeline.journal.tx() as conn:
        conn.execute(update(J.documents).where(J.documents.c.document_id == document_id).values(
            status="signed" if complete else "queued", pdf_path=str(out), pdf_sha256=sha256(signed),
            signatures_done=done + 1, signed_by=json.dumps(signed_by, ensure_ascii=False),
            signed_at=entry.get("signed_at"), signature_level=info.get("level"), error=None, attempts=0,
            next_attempt_at=None, updated_at=J.now_utc()))
        J.Journal.step(conn, document_id, "signed", field=field_name, officer=officer.id, adopted=adopted)
    checkpoint("signed")
    return entry

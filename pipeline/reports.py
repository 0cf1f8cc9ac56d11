"""What ``qamqor status`` and ``qamqor deadlines`` show, read from the journal (data first, text second)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import func, select

from . import clock
from . import journal as J
from .errors import NotFound


def deadline_board(pipeline: Any, as_of: dt.date | None = None, *, overdue_only: bool = False,
                   case_id: str | None = None) -> list[dict[str, Any]]:
    """Every open deadline, in working days from ``as_of`` (the service's clock by default); overdue first."""
    today = as_of or clock.today()
    cal = pipeline.ctx.calendar
    stmt = select(J.deadlines).where(J.deadlines.c.closed_on.is_(None))
    if case_id:
        stmt = stmt.where(J.deadlines.c.case_id == case_id)
    rows = []
    for r in pipeline.journal.all(stmt):
        left = cal.working_days_between(today, r["due"])
        overdue = today > r["due"]
        if overdue_only and not overdue:
            continue
        term = pipeline.ctx.terms.get(r["term"])
        rows.append({
            "case_id": r["case_id"], "key": r["key"], "term": r["term"], "paragraph": r["paragraph"],
            "name_kk": term.name_kk if term else "", "name_ru": term.name_ru if term else "",
            "opened_on": r["opened_on"].isoformat(), "due": r["due"].isoformat(), "overdue": overdue,
            "working_days_left": left,
        })
    rows.sort(key=lambda r: (not r["overdue"], r["due"], r["case_id"], r["key"]))
    return rows


def pipeline_status(pipeline: Any) -> dict[str, Any]:
    def counts(table: Any, col: Any) -> dict[str, int]:
        return {r["status"]: r["n"] for r in pipeline.journal.all(
            select(col.label("status"), func.count().label("n")).group_by(col))}

    board = deadline_board(pipeline)
    documents = counts(J.documents, J.documents.c.status)
    return {
        "as_of": clock.today().isoformat(),
        "inputs": counts(J.inputs, J.inputs.c.status),
        "cases": counts(J.cases, J.cases.c.status),
        "documents": documents,
        "queue": documents.get("queued", 0),
        "open_deadlines": len(board),
        "overdue": sum(1 for r in board if r["overdue"]),
    }


def case_status(pipeline: Any, case_id: str) -> dict[str, Any]:
    case = pipeline.journal.one(select(J.cases).where(J.cases.c.case_id == case_id))
    if case is None:
        raise NotFound(f"no case {case_id}", remedy="see `qamqor status` for the cases known")
    docs = pipeline.journal.all(select(J.documents).where(J.documents.c.case_id == case_id)
                                .order_by(J.documents.c.created_at))
    events = pipeline.journal.all(select(J.events.c.event_id, J.events.c.event, J.events.c.occurred_at,
                                         J.events.c.status).where(J.events.c.case_id == case_id)
                                  .order_by(J.events.c.occurred_at))
    deliveries = pipeline.journal.all(select(J.deliveries).where(
        J.deliveries.c.document_id.in_([d["document_id"] for d in docs])))
    all_deadlines = pipeline.journal.all(select(J.deadlines).where(J.deadlines.c.case_id == case_id)
                                         .order_by(J.deadlines.c.due))
    return {
        "case_id": case_id,
        "status": case["status"],
        "channel": case["channel"],
        "language": case["language"],
        "provider": case["provider"],
        "psc": case["psc"],
        "result_at": case["result_at"],
        "events": [dict(e) for e in events],
        "documents": [
            {"document_id": d["document_id"], "kind": d["kind"], "status": d["status"],
             "signatures": f"{d['signatures_done']}", "rejected_reason": d["rejected_reason"], "error": d["error"],
             "signed_by": [s.get("name") for s in json.loads(d["signed_by"] or "[]")],
             "delivered_to": [x["path"] for x in deliveries if x["document_id"] == d["document_id"]
                              and x["status"] == "done"]}
            for d in docs
        ],
        "deadlines": [
            {"key": d["key"], "paragraph": d["paragraph"], "opened_on": d["opened_on"].isoformat(),
             "due": d["due"].isoformat(), "closed_on": d["closed_on"].isoformat() if d["closed_on"] else None}
            for d in all_deadlines
        ],
        "open_deadlines": deadline_board(pipeline, case_id=case_id),
    }


def format_status(data: dict[str, Any]) -> str:
    if "case_id" not in data:
        lines = [f"as of {data['as_of']}"]
        for key in ("inputs", "cases", "documents"):
            lines.append(f"{key:10} " + (", ".join(f"{k} {v}" for k, v in sorted(data[key].items())) or "none"))
        lines.append(f"queue      {data['queue']} waiting for an officer")
        lines.append(f"deadlines  {data['open_deadlines']} open, {data['overdue']} overdue")
        return "\n".join(lines)
    lines = [f"case {data['case_id']}: {data['status']} ({data['channel']}, {data['language']}, "
             f"provider {data['provider']}" + (f", PSC {data['psc']}" if data["psc"] else "") + ")"]
    lines.append("events:")
    lines += [f"  {e['occurred_at']}  {e['event']:22} {e['status']}" for e in data["events"]]
    lines.append("documents:")
    for d in data["documents"]:
        extra = f" — {d['rejected_reason']}" if d["rejected_reason"] else (f" — {d['error']}" if d["error"] else "")
        lines.append(f"  {d['document_id']:40} {d['kind']:18} {d['status']}{extra}")
        lines += [f"      → {p}" for p in d["delivered_to"]]
    lines.append("deadlines:")
    for d in data["deadlines"]:
        state = f"closed {d['closed_on']}" if d["closed_on"] else "open"
        lines.append(f"  {d['key']:24} {d['paragraph']:4} due {d['due']}  {state}")
    return "\n".join(lines)

"""What ``qamqor status`` and ``qamqor deadlines`` show, read from the journal through its store (data first,
text second)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from . import clock
from .core.lifecycle import DeliveryStatus, DocumentStatus
from .errors import NotFound
from .journal import store
from .services import Services


def deadline_board(services: Services, as_of: dt.date | None = None, *, overdue_only: bool = False,
                   case_id: str | None = None) -> list[dict[str, Any]]:
    """Every open deadline, in working days from ``as_of`` (the service's clock by default); overdue first."""
    today = as_of or clock.today()
    cal = services.rules.calendar
    if case_id:
        open_ = [d for d in store.case_deadlines(services.journal, case_id) if d.closed_on is None]
    else:
        open_ = store.open_deadlines(services.journal)
    rows = []
    for d in open_:
        overdue = today > d.due
        if overdue_only and not overdue:
            continue
        term = services.rules.terms.get(d.term)
        rows.append({
            "case_id": d.case_id, "key": d.key, "term": d.term, "paragraph": d.paragraph,
            "name_kk": term.name_kk if term else "", "name_ru": term.name_ru if term else "",
            "opened_on": d.opened_on.isoformat(), "due": d.due.isoformat(), "overdue": overdue,
            "working_days_left": cal.working_days_between(today, d.due),
        })
    rows.sort(key=lambda r: (not r["overdue"], r["due"], r["case_id"], r["key"]))
    return rows


def pipeline_status(services: Services) -> dict[str, Any]:
    board = deadline_board(services)
    documents = store.document_counts(services.journal)
    return {
        "as_of": clock.today().isoformat(),
        "inputs": store.input_counts(services.journal),
        "cases": store.case_counts(services.journal),
        "documents": documents,
        "queue": documents.get(DocumentStatus.QUEUED, 0),
        "open_deadlines": len(board),
        "overdue": sum(1 for r in board if r["overdue"]),
        "nodes": nodes(services),
    }


def nodes(services: Services) -> list[dict[str, Any]]:
    """The nodes of a PostgreSQL installation (issue 10 #6) that ran in the last day: alive (a heartbeat within
    the stall timeout, not stopped), the job in flight, the jobs done, the last heartbeat."""
    import datetime as dt

    if services.journal.engine.dialect.name != "postgresql":
        return []
    now = dt.datetime.now(dt.UTC)
    stall = services.config.file.cluster.stall_seconds
    out = []
    for n in store.list_nodes(services.journal, since=(now - dt.timedelta(days=1)).isoformat()):
        beat = dt.datetime.fromisoformat(n["heartbeat_at"])
        alive = n["stopped_at"] is None and (now - beat).total_seconds() <= stall
        out.append({"node": n["node_id"], "host": n["host"], "pid": n["pid"],
                    "state": "alive" if alive else ("stopped" if n["stopped_at"] else "silent"),
                    "in_flight": n["current_job"], "jobs_done": n["jobs_done"], "heartbeat_at": n["heartbeat_at"]})
    return out


def case_status(services: Services, case_id: str) -> dict[str, Any]:
    """One case's timeline: its events, documents (where each went) and deadlines."""
    case = store.get_case(services.journal, case_id)
    if case is None:
        raise NotFound(f"no case {case_id}", remedy="see `qamqor status` for the cases known")
    docs = store.case_documents(services.journal, case_id)
    events = store.case_events(services.journal, case_id)
    delivered: dict[str, list[str]] = {}
    for x in store.case_deliveries(services.journal, case_id):
        if x.status == DeliveryStatus.DONE:
            delivered.setdefault(x.document_id, []).append(x.path)
    return {
        "case_id": case_id,
        "status": case.status,
        "channel": case.channel,
        "language": case.language,
        "provider": case.provider,
        "psc": case.psc,
        "result_at": case.result_at,
        "events": [{"event_id": e.event_id, "event": e.event, "occurred_at": e.occurred_at, "status": e.status}
                   for e in events],
        "documents": [
            {"document_id": d.document_id, "kind": d.kind, "status": d.status,
             "signatures": f"{d.signatures_done}", "rejected_reason": d.rejected_reason, "error": d.error,
             "signed_by": [s.get("name") for s in d.signed_by],
             "delivered_to": delivered.get(d.document_id, [])}
            for d in docs
        ],
        "deadlines": [
            {"key": d.key, "paragraph": d.paragraph, "opened_on": d.opened_on.isoformat(),
             "due": d.due.isoformat(), "closed_on": d.closed_on.isoformat() if d.closed_on else None}
            for d in store.case_deadlines(services.journal, case_id)
        ],
        "open_deadlines": deadline_board(services, case_id=case_id),
    }


def format_pass(services: Services, counts: dict[str, int]) -> str:
    """What ``qamqor run --once`` prints: the inputs journaled so far, and the documents after the pass
    (``counts``: :meth:`pipeline.runner.Runner.run_once`'s ``documents_<status>`` entries)."""
    inputs = ", ".join(f"{k} {v}" for k, v in store.input_counts(services.journal).items()) or "none"
    docs = ", ".join(f"{k.removeprefix('documents_')} {v}" for k, v in sorted(counts.items())
                     if k.startswith("documents_")) or "none"
    return f"inputs: {inputs}\ndocuments: {docs}"


def format_status(data: dict[str, Any]) -> str:
    if "case_id" not in data:
        lines = [f"as of {data['as_of']}"]
        for key in ("inputs", "cases", "documents"):
            lines.append(f"{key:10} " + (", ".join(f"{k} {v}" for k, v in sorted(data[key].items())) or "none"))
        lines.append(f"queue      {data['queue']} waiting for an officer")
        lines.append(f"deadlines  {data['open_deadlines']} open, {data['overdue']} overdue")
        for n in data.get("nodes", ()):
            lines.append(f"node       {n['node']:32} {n['state']:7} {n['jobs_done']:6} jobs  last heartbeat "
                         f"{n['heartbeat_at'][:19]}" + (f"  now: {n['in_flight']}" if n["in_flight"] else ""))
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

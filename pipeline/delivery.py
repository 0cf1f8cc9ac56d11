"""Delivery: signed documents to their routes (¶12, ¶13), each file atomically with its manifest; ¶14 moves
between the PSC and the provider; the ¶16 hand-off to the allowance service.

The routes of a document are journaled (``deliveries``, status ``planned``) before any file is written; a
crash leaves planned rows that the next pass writes again — the same bytes to the same names.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from . import clock
from .core import rules
from . import journal as J
from .faults import checkpoint
from .outbox import atomic_write, atomic_write_json, route_dir, sha256

HANDOFF_ROUTE = "provider-handoff"  # ¶16: not a copy of the document, a hand-off for the allowance service


def manifest(row: Any, route: str, pdf_sha: str) -> dict[str, Any]:
    """The sidecar of contract.md: case_id, document, language, sha256, signed_by, signed_at,
    signature_level, source_event_id, route."""
    signatures = json.loads(row["signed_by"] or "[]")
    last = signatures[-1] if signatures else {}
    return {
        "case_id": row["case_id"],
        "document": row["kind"],
        "document_id": row["document_id"],
        "language": row["language"],
        "sha256": pdf_sha,
        "signed_by": {"name": last.get("name"), "iin": last.get("iin"), "certificate_serial": last.get("serial")},
        "signatures": [
            {"name": s.get("name"), "iin": s.get("iin"), "certificate_serial": s.get("serial"),
             "signed_at": s.get("signed_at"), "field": s.get("field")} for s in signatures
        ],
        "signed_at": last.get("signed_at"),
        "signature_level": row["signature_level"],
        "source_event_id": row["event_id"],
        "route": route,
    }


def _case(pipeline: Any, case_id: str) -> Any:
    return pipeline.journal.one(select(J.cases).where(J.cases.c.case_id == case_id))


def _signed_on(row: Any) -> dt.date:
    signatures = json.loads(row["signed_by"] or "[]")
    at = signatures[-1].get("service_at") if signatures else None
    return dt.datetime.fromisoformat(at).date() if at else clock.today()


def plan(pipeline: Any, row: Any) -> list[tuple[str, Path]]:
    case = _case(pipeline, row["case_id"])
    routes = json.loads(row["routes"])
    signed_on = _signed_on(row)
    out = []
    for route in routes:
        folder = route_dir(pipeline.config.outbox, route, case_id=row["case_id"], applicant_iin=case["applicant_iin"],
                           psc=case["psc"], provider=case["provider"], signed_on=signed_on)
        out.append((route, folder / f"{row['document_id']}.pdf"))
    if row["kind"] == "order":
        state = pipeline.load_case(row["case_id"])
        if state is not None and state.application.one_application_benefit:
            folder = route_dir(pipeline.config.outbox, "provider", case_id=row["case_id"],
                               applicant_iin=case["applicant_iin"], psc=case["psc"], provider=case["provider"],
                               signed_on=signed_on)
            out.append((HANDOFF_ROUTE, folder / f"{row['case_id']}-allowance-handoff.json"))
    return out


def handoff(pipeline: Any, row: Any, pdf_sha: str) -> dict[str, Any]:
    """¶16: the "one application" principle — the allowance service starts from the signed order."""
    state = pipeline.load_case(row["case_id"])
    decision = state.decision
    return {
        "format": "qamqor.handoff/1",
        "service": "allowance_for_child_maintenance",
        "paragraph": "¶16",
        "case_id": row["case_id"],
        "applicant_iin": state.applicant_iin,
        "children": list(decision.children) if decision else [],
        "order": {"document_id": row["document_id"], "number": decision.order_number if decision else None,
                  "date": decision.order_date.isoformat() if decision and decision.order_date else None,
                  "sha256": pdf_sha},
        "provider": state.provider,
    }


def deliver_document(pipeline: Any, row: Any) -> None:
    """Deliver a signed document to its routes — one process at a time, and only while it is still signed
    and not yet delivered."""
    from .documents import document_lock

    with document_lock(pipeline, row["document_id"]):
        row = pipeline.journal.one(select(J.documents).where(J.documents.c.document_id == row["document_id"]))
        if row is None or row["status"] != "signed":
            return
        _deliver_locked(pipeline, row)


def _deliver_locked(pipeline: Any, row: Any) -> None:
    doc_id = row["document_id"]
    data = Path(row["pdf_path"]).read_bytes()
    pdf_sha = sha256(data)
    with pipeline.journal.tx() as conn:
        have = {r.route for r in conn.execute(select(J.deliveries.c.route).where(J.deliveries.c.document_id == doc_id))}
        for route, path in plan(pipeline, row):
            if route not in have:
                conn.execute(J.deliveries.insert().values(document_id=doc_id, route=route, path=str(path),
                                                          status="planned", at=J.now_utc()))
        J.Journal.step(conn, doc_id, "delivery-planned")
    checkpoint("delivery-planned")
    rows = pipeline.journal.all(select(J.deliveries).where(J.deliveries.c.document_id == doc_id))
    done = []
    for d in rows:
        if d["status"] == "done":
            continue
        path = Path(d["path"])
        if d["route"] == HANDOFF_ROUTE:
            atomic_write_json(path, handoff(pipeline, row, pdf_sha))
        else:
            if not (path.exists() and sha256(path.read_bytes()) == pdf_sha):
                atomic_write(path, data)
            checkpoint("delivered-pdf")
            atomic_write_json(path.with_suffix(".json"), manifest(row, d["route"], pdf_sha))
        done.append(d)
        checkpoint("delivered-route")
    # One transaction for every route and the document: the planned rows already say where each file goes, so
    # a crash before it only makes the next pass write the same bytes to the same names again.
    with pipeline.journal.tx() as conn:
        for d in done:
            conn.execute(update(J.deliveries).where(J.deliveries.c.document_id == doc_id,
                                                    J.deliveries.c.route == d["route"]).values(
                status="done", at=J.now_utc()))
            J.Journal.step(conn, doc_id, "delivered", route=d["route"], path=d["path"])
        conn.execute(update(J.documents).where(J.documents.c.document_id == doc_id).values(
            status="delivered", updated_at=J.now_utc()))
        if row["kind"] in ("order", "reasoned_refusal"):
            state = pipeline.load_case(row["case_id"], conn)
            t = rules.Transition("result_delivered", clock.today())
            outcome = rules.step(state, t, pipeline.ctx)
            pipeline._store_outcome(conn, None, outcome, t)
    checkpoint("delivered")


def move_result(pipeline: Any, state: rules.CaseState, *, to: str, day: dt.date) -> None:
    """¶14: an unclaimed result goes from the PSC to the provider after a month (``to="provider"``), and back
    to the PSC when the applicant asks for it (``to="psc"``), with a transfer record beside it."""
    src_route = "psc" if to == "provider" else "provider"
    docs = pipeline.journal.all(select(J.documents).where(
        J.documents.c.case_id == state.case_id, J.documents.c.kind.in_(("order", "reasoned_refusal")),
        J.documents.c.status == "delivered"))
    case = _case(pipeline, state.case_id)
    for row in docs:
        data = Path(row["pdf_path"]).read_bytes()
        pdf_sha = sha256(data)
        kw = dict(case_id=state.case_id, applicant_iin=case["applicant_iin"], psc=case["psc"],
                  provider=case["provider"], signed_on=_signed_on(row))
        src = route_dir(pipeline.config.outbox, src_route, **kw) / f"{row['document_id']}.pdf"
        dst = route_dir(pipeline.config.outbox, to, **kw) / f"{row['document_id']}.pdf"
        if not (dst.exists() and sha256(dst.read_bytes()) == pdf_sha):
            atomic_write(dst, data)
        atomic_write_json(dst.with_suffix(".json"), manifest(row, to, pdf_sha))
        record = {
            "format": "qamqor.transfer/1", "paragraph": "¶14", "case_id": state.case_id,
            "document_id": row["document_id"], "sha256": pdf_sha, "from": src_route, "to": to,
            "on": day.isoformat(),
            "reason": "unclaimed_for_one_month" if to == "provider" else "requested_by_applicant",
        }
        atomic_write_json(dst.with_name(f"{row['document_id']}.transfer-{to}.json"), record)
        for stale in (src, src.with_suffix(".json")):
            if stale.exists():
                os.unlink(stale)
        with pipeline.journal.tx() as conn:
            J.Journal.step(conn, row["document_id"], f"moved-to-{to}", on=day.isoformat())
    pipeline.transition(state.case_id, "transferred" if to == "provider" else "returned", day)

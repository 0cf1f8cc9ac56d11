"""Stage 7, deliver: a signed document to its routes (¶12, ¶13), each file atomically with its manifest; the
¶16 hand-off to the allowance service beside a signed order.

The routes of a document are journaled (``deliveries``, status ``planned``) before any file is written; a crash
leaves planned rows that the next run writes again — the same bytes to the same names.  A delivered result (the
order or the reasoned refusal) moves its case on (¶12–14).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from .. import clock
from ..cases import advance, load_case
from ..cluster.fencing import ensure_mine
from ..core.lifecycle import RESULT_KINDS, DeliveryStatus, DocumentStatus
from ..faults import checkpoint
from ..journal import store
from ..locks import document_lock
from ..outbox import atomic_write_all, json_bytes, route_dir, sha256
from ..services import Services
from ..verify_links import verify_url

log = logging.getLogger("qamqor.deliver")

HANDOFF_ROUTE = "provider-handoff"  # ¶16: not a copy of the document, a hand-off for the allowance service


@dataclass(frozen=True)
class Signed:
    """A document signed and ready for 7.  With ``doc`` and ``deliveries``: its row and its routes as the
    signature's own transaction journaled them (:func:`pipeline.stages.sign.store_sealed_render`, :func:`plan_in`),
    so the delivery neither reads them again nor plans them in a transaction of its own (issue 10: on PostgreSQL
    a transaction and two reads fewer a document, on SQLite a commit's file sync fewer)."""

    document_id: str
    doc: store.DocumentRow | None = None
    deliveries: list[store.DeliveryRow] | None = None


def manifest(doc: store.DocumentRow, route: str, pdf_sha: str, verify: str | None = None) -> dict[str, Any]:
    """The sidecar of contract.md: case_id, document, language, sha256, signed_by, signed_at,
    signature_level, source_event_id, route; and ``verify_url``, the address the document's QR code prints
    (issue 15 #8: a consumer can hand it on without reading the PDF)."""
    last = doc.signed_by[-1] if doc.signed_by else {}
    return {
        "case_id": doc.case_id,
        "document": doc.kind,
        "document_id": doc.document_id,
        "language": doc.language,
        "sha256": pdf_sha,
        "signed_by": {"name": last.get("name"), "iin": last.get("iin"), "certificate_serial": last.get("serial")},
        "signatures": [
            {"name": s.get("name"), "iin": s.get("iin"), "certificate_serial": s.get("serial"),
             "signed_at": s.get("signed_at"), "field": s.get("field")} for s in doc.signed_by
        ],
        "signed_at": last.get("signed_at"),
        "signature_level": doc.signature_level,
        "source_event_id": doc.event_id,
        "route": route,
        "verify_url": verify,
    }


def signed_on(doc: store.DocumentRow) -> dt.date:
    at = doc.signed_by[-1].get("service_at") if doc.signed_by else None
    return dt.datetime.fromisoformat(at).date() if at else clock.today()


def route_folder(services: Services, case: store.CaseRow, route: str, day: dt.date) -> Path:
    return route_dir(services.config.outbox, route, case_id=case.case_id, applicant_iin=case.applicant_iin,
                     psc=case.psc, provider=case.provider, signed_on=day)


def plan(services: Services, doc: store.DocumentRow, db: Connection | None = None) -> list[tuple[str, Path]]:
    """Where each copy of signed ``doc`` goes (its routes, ¶12–13; the ¶16 hand-off beside an order); ``db``:
    the transaction to read the case in (else the journal)."""
    source = db if db is not None else services.journal
    case = store.get_case(source, doc.case_id)
    assert case is not None
    day = signed_on(doc)
    out = [(route, route_folder(services, case, route, day) / f"{doc.document_id}.pdf") for route in doc.routes]
    if doc.kind == "order":
        state = load_case(source, services.rules, doc.case_id)
        if state is not None and state.application.one_application_benefit:
            folder = route_folder(services, case, "provider", day)
            out.append((HANDOFF_ROUTE, folder / f"{doc.case_id}-allowance-handoff.json"))
    return out


def plan_in(conn: Connection, services: Services, doc: store.DocumentRow) -> list[store.DeliveryRow]:
    """Journal the routes of signed ``doc`` in the caller's transaction, before any file is written: those a
    crashed run planned stay as they are (:func:`pipeline.journal.store.plan_deliveries`)."""
    return store.plan_deliveries(conn, doc.document_id, [(route, str(path)) for route, path in plan(services, doc, conn)])


def handoff(services: Services, doc: store.DocumentRow, pdf_sha: str) -> dict[str, Any]:
    """¶16: the "one application" principle — the allowance service starts from the signed order."""
    state = load_case(services.journal, services.rules, doc.case_id)
    assert state is not None
    decision = state.decision
    return {
        "format": "qamqor.handoff/1",
        "service": "allowance_for_child_maintenance",
        "paragraph": "¶16",
        "case_id": doc.case_id,
        "applicant_iin": state.applicant_iin,
        "children": list(decision.children) if decision else [],
        "order": {"document_id": doc.document_id, "number": decision.order_number if decision else None,
                  "date": decision.order_date.isoformat() if decision and decision.order_date else None,
                  "sha256": pdf_sha},
        "provider": state.provider,
    }


def archive_report(services: Services, path: Path, data: bytes, work_file: Path) -> tuple[Path, bytes] | None:
    """The archive route keeps the ETSI TS 119 102-2 validation report beside each PDF (issue 12 #4), against
    the configured trust roots: the one the render worker made as it signed (beside the signed work file, #13),
    else made now; renewals write it again.  Returns where it goes and its bytes.  A report that cannot be made
    is logged and the delivery goes on (the PDF is the evidence, the report a reading of it)."""
    from ..archive import REPORT_SUFFIX, etsi_report, ready_report

    roots = list(services.config.signing.trust_roots)
    if not roots:
        return None
    try:
        ready = ready_report(work_file)
        xml = ready.read_bytes() if ready.exists() else (etsi_report(data, roots) or "").encode("utf-8")
    except Exception:  # noqa: BLE001 - never lose a delivery over its report
        log.warning("no ETSI report for %s", path, exc_info=True)
        return None
    return (path.with_name(path.name + REPORT_SUFFIX), xml) if xml else None


def deliver(services: Services, which: str | Signed) -> None:
    """Deliver a signed document to its routes — one process at a time, and only while it is still signed
    and not yet delivered.  ``which``: its id, or what the transaction that signed it journaled (:class:`Signed`:
    this process wrote it a moment ago, under the document's fencing token on several nodes)."""
    signed = which if isinstance(which, Signed) else Signed(which)
    with document_lock(services.dirs.documents, signed.document_id):
        doc = signed.doc or store.get_document(services.journal, signed.document_id)
        if doc is None or doc.status != DocumentStatus.SIGNED:
            return
        _deliver_locked(services, doc, signed.deliveries)


def _deliver_locked(services: Services, doc: store.DocumentRow, planned: list[store.DeliveryRow] | None) -> None:
    doc_id = doc.document_id
    data = Path(doc.pdf_path or "").read_bytes()
    pdf_sha = sha256(data)
    if planned is None:
        with services.journal.tx() as conn:
            planned = plan_in(conn, services, doc)
    checkpoint("delivery-planned")
    done = [d for d in planned if d.status != DeliveryStatus.DONE]
    # every route's PDF (and the archive's report) first, then the manifests that announce them: a consumer that
    # sees a manifest finds its PDF complete; each group written with its syncs together (#13)
    files, manifests = [], []
    for d in done:
        path = Path(d.path)
        if d.route == HANDOFF_ROUTE:
            manifests.append((path, json_bytes(handoff(services, doc, pdf_sha))))
            continue
        if not (path.exists() and sha256(path.read_bytes()) == pdf_sha):
            files.append((path, data))
        if d.route == "archive" and (report := archive_report(services, path, data, Path(doc.pdf_path or ""))):
            files.append(report)
        manifests.append((path.with_suffix(".json"),
                          json_bytes(manifest(doc, d.route, pdf_sha, verify_url(services.config, doc.document_id)))))
    ensure_mine(services.journal)  # several nodes: a node another took over from writes nothing (issue 10)
    atomic_write_all(files)
    checkpoint("delivered-pdf")
    ensure_mine(services.journal)
    atomic_write_all(manifests)
    checkpoint("delivered-route")
    # One transaction for every route and the document: the planned rows already say where each file goes, so
    # a crash before it only makes the next run write the same bytes to the same names again.
    with services.journal.tx() as conn:
        store.finish_delivery(conn, doc_id, done)
        if doc.kind in RESULT_KINDS:
            advance(conn, services.rules, doc.case_id, "result_delivered", clock.today())
    checkpoint("delivered")

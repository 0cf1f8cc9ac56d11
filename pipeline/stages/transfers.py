"""Stage 4, transfers (¶14): a result unclaimed at the Public Service Center for its month goes to the
provider, and goes back to the PSC within one working day when the applicant asks for it — each move with a
transfer record beside the copy.  Reads only the open deadlines that are due (an index), so it stays cheap
however many cases there are."""

from __future__ import annotations

import datetime as dt
import os

from .. import clock
from ..cases import load_case, transition
from ..core import rules
from ..journal import store
from ..outbox import atomic_write, atomic_write_json, sha256
from ..services import Services
from ..verify_links import verify_url
from .deliver import manifest, route_folder, signed_on


def transfers(services: Services) -> None:
    today = clock.today()
    for case_id in store.cases_with_expired_storage(services.journal, today):
        state = load_case(services.journal, services.rules, case_id)
        if state is not None and rules.storage_expired(state, today):
            move_result(services, state, to="provider", day=today)
    for case_id in store.cases_with_return_requested(services.journal):
        state = load_case(services.journal, services.rules, case_id)
        if state is not None and state.result_at == rules.AT_PROVIDER:
            move_result(services, state, to="psc", day=today)


def move_result(services: Services, state: rules.CaseState, *, to: str, day: dt.date) -> None:
    """Move the case's delivered results to ``to`` ("provider" or "psc"), then record the case's transition."""
    src_route = "psc" if to == "provider" else "provider"
    case = store.get_case(services.journal, state.case_id)
    assert case is not None
    for doc in store.delivered_results(services.journal, state.case_id):
        data = open(doc.pdf_path or "", "rb").read()
        pdf_sha = sha256(data)
        src = route_folder(services, case, src_route, signed_on(doc)) / f"{doc.document_id}.pdf"
        dst = route_folder(services, case, to, signed_on(doc)) / f"{doc.document_id}.pdf"
        if not (dst.exists() and sha256(dst.read_bytes()) == pdf_sha):
            atomic_write(dst, data)
        atomic_write_json(dst.with_suffix(".json"),
                          manifest(doc, to, pdf_sha, verify_url(services.config, doc.document_id)))
        record = {
            "format": "qamqor.transfer/1", "paragraph": "¶14", "case_id": state.case_id,
            "document_id": doc.document_id, "sha256": pdf_sha, "from": src_route, "to": to,
            "on": day.isoformat(),
            "reason": "unclaimed_for_one_month" if to == "provider" else "requested_by_applicant",
        }
        atomic_write_json(dst.with_name(f"{doc.document_id}.transfer-{to}.json"), record)
        for stale in (src, src.with_suffix(".json")):
            if stale.exists():
                os.unlink(stale)
        with services.journal.tx() as conn:
            store.step(conn, doc.document_id, f"moved-to-{to}", on=day.isoformat())
    transition(services.journal, services.rules, state.case_id, "transferred" if to == "provider" else "returned",
               day)

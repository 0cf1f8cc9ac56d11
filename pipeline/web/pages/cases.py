"""Cases: the office's list with its open deadlines, and one case's page (status, deadlines in working days,
documents with their signers and routes, the timeline of events and of the documents' steps)."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from ... import clock, reports
from ...journal import store
from ..auth import case_filter, sees_case
from ..desk import desk_of

#: the documents' steps the case's history shows
HISTORY_STEPS = ("rendered", "read", "approved", "signed", "delivered", "rejected-by-officer", "signing-failed",
                 "seal-failed")


def cases_page(request: Request) -> Response:
    desk = desk_of(request)
    officer = desk.officer(request)
    column, office = case_filter(officer)
    rows = store.office_cases(desk.journal, **{column: office})
    names = desk.applicants([r.case_id for r in rows])
    mine = {r.case_id for r in rows}
    board = [d for d in reports.deadline_board(desk.services) if d["case_id"] in mine]
    return desk.render(request, "cases.html", cases=rows, names=names, board=board, title_key="cases.title",
                       **_calendar_warning(request, desk.language(request)))


def _calendar_warning(request: Request, lang: str) -> dict[str, Any]:
    """Issue 11 #11: while the running or the next year has no confirmed decree moving days off, the deadlines
    may be a day off — the desk says so in the flash slot of the page (unless a message of its own is waiting)."""
    from forms.catalogue import calendar_warning

    text = calendar_warning(lang, clock.today())
    if not text or request.session.get("flash"):
        return {}
    return {"flash": {"kind": "warning", "text": text}}


def case_page(request: Request) -> Response:
    desk = desk_of(request)
    officer = desk.officer(request)
    case_id = request.path_params["case_id"]
    if not sees_case(officer, desk.case_row(case_id)):
        raise HTTPException(404)
    status = reports.case_status(desk.services, case_id)
    docs = store.case_documents(desk.journal, case_id)
    doc_ids = [d.document_id for d in docs]
    history = [{"at": s.at, "document_id": s.subject, "step": s.step}
               for s in store.steps_of(desk.journal, doc_ids) if s.step in HISTORY_STEPS]
    routes: dict[str, list[str]] = {}
    for d in store.case_deliveries(desk.journal, case_id):
        routes.setdefault(d.document_id, []).append(d.route)
    names = desk.applicants([case_id])
    by_id = {d.document_id: d for d in docs}
    return desk.render(request, "case.html", case=status, applicant=names.get(case_id, ""), history=history,
                       routes=routes, docs=docs, by_id=by_id, today=clock.today(),
                       deadlines=case_deadlines(desk, case_id), office_names=desk.office_names(),
                       title_text=f"{case_id}", **_calendar_warning(request, desk.language(request)))


def case_deadlines(desk, case_id: str) -> list[dict[str, Any]]:
    """The case's terms in date order, each by its name in the Rules (open and closed alike)."""
    today = clock.today()
    cal = desk.services.rules.calendar
    out = []
    for d in sorted(store.case_deadlines(desk.journal, case_id), key=lambda d: (d.due, d.key)):
        term = desk.services.rules.terms.get(d.term)
        left = None if d.closed_on else cal.working_days_between(today, d.due)
        out.append({"key": d.key, "paragraph": d.paragraph, "opened_on": d.opened_on, "due": d.due,
                    "closed_on": d.closed_on, "name_kk": term.name_kk if term else "",
                    "name_ru": term.name_ru if term else "", "days_left": left,
                    "overdue": d.closed_on is None and today > d.due})
    return out

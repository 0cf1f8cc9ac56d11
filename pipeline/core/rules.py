"""The service's Rules as a pure core: no files, no clock, no database.

Given a case's state, an event and the calendar, :func:`apply` says the new state, the documents to issue and
the deadlines that open or close.  Everything the core needs from outside comes in a :class:`RulesContext`
(the working-day calendar, the standard's list of documents, the terms), built by
:func:`forms.catalogue.load_rules_context`.  The shell (:mod:`pipeline.runner`)
does the I/O around it.  Each rule cites the paragraph of the Rules (appendix 3 to order No. 158) it implements;
``docs/rules-map.md`` maps every paragraph to its code and test.

A case is a fold of its accepted events: ``state = apply(apply(None, e1, ctx).state, e2, ctx).state …``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Any

from .calendar import WorkCalendar, add_months
from ..errors import InputError, Where
from .events import (
    ApplicationSubmitted,
    ComplaintFiled,
    ComplaintResolved,
    DecisionMade,
    DocumentsChecked,
    DocumentsDelivered,
    Event,
    InspectionCompleted,
    Official,
    ResultIssued,
    ResultRequested,
)

#: Kazakhstan's time (UTC+05:00): the service's dates are local dates.
KZ_TZ = dt.timezone(dt.timedelta(hours=5))

GUARDIANSHIP_AGE = 14  # Code art. 1 p.1 sub.21: опека / қорғаншылық under 14
MAJORITY_AGE = 18  # Code art. 1 p.1 sub.8: a child is under 18
CHILD_OPINION_AGE = 10  # Code art. 62
CLOSE_RELATIONS = ("grandchild", "sibling")  # Code art. 1 p.1 sub.13, art. 122 p.1 item 13

REQUIREMENT_CONDITIONS = ("always", "channel_psc", "married", "not_close_relative", "child_10_or_older", "never")

# States of a case, in the order of the Rules.
ACCEPTED = "accepted"  # ¶4 / ¶7: package accepted (PSC: waiting for the courier; portal: waiting for the check)
DELIVERED = "delivered"  # ¶6: the package reached the provider
CHECKED = "checked"  # ¶8: complete; the inspection follows
INSPECTED = "inspected"  # ¶10: the act is drawn up
DECIDED = "decided"  # ¶11: order or reasoned refusal issued
REFUSED_ACCEPTANCE = "refused_acceptance"  # ¶5 / ¶9: incomplete or expired package, the end of the case
CLOSED = "closed"  # ¶14: the result was handed out

# Where the signed result of a PSC case is (¶14).
AT_PSC = "psc"
AT_PROVIDER = "provider"


# --- configuration the core reads (pure data) --------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    key: str
    paragraph: str
    working_days: int = 0
    months: int = 0
    name_kk: str = ""
    name_ru: str = ""
    ready_time: str | None = None


@dataclass(frozen=True)
class Requirement:
    code: str
    required_when: str
    name_kk: str
    name_ru: str


@dataclass(frozen=True)
class RulesContext:
    calendar: WorkCalendar
    requirements: tuple[Requirement, ...]
    terms: dict[str, Term]


# --- state ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Deadline:
    """A term of the Rules running for one case: opened on a day, due on a working day, closed or not."""

    key: str  # term key, or "complaint:<id>"
    term: str
    paragraph: str
    opened_on: dt.date
    due: dt.date
    closed_on: dt.date | None = None

    def overdue(self, today: dt.date) -> bool:
        return self.closed_on is None and today > self.due

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key, "term": self.term, "paragraph": self.paragraph,
            "opened_on": self.opened_on.isoformat(), "due": self.due.isoformat(),
            "closed_on": self.closed_on.isoformat() if self.closed_on else None,
        }


@dataclass(frozen=True)
class DocumentOrder:
    """A document the core asks the shell to render, have signed and deliver."""

    case_id: str
    kind: str
    language: str
    event_id: str
    signer_role: str  # operator / provider_seal / inspector / head
    office: str  # the office whose officers sign it (PSC code for operator, provider code otherwise)
    signers: tuple[Official, ...]  # who signs, in order (the act: each inspector)
    routes: tuple[str, ...]  # cabinet / psc / provider / archive (¶12, ¶13; archive: every signed document)
    number: str | None = None
    computed: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def document_id(self) -> str:
        return f"{self.case_id}-{self.kind}"


@dataclass(frozen=True)
class CaseState:
    case_id: str
    status: str
    channel: str
    language: str
    provider: str
    psc: str | None
    applicant_iin: str
    submitted_on: dt.date
    application: ApplicationSubmitted
    check: DocumentsChecked | None = None
    inspection: InspectionCompleted | None = None
    decision: DecisionMade | None = None
    result_delivered_on: dt.date | None = None
    result_at: str | None = None  # AT_PSC / AT_PROVIDER for PSC cases after delivery (¶14)
    open_complaints: tuple[str, ...] = ()
    all_complaints: tuple[str, ...] = ()
    deadlines: tuple[Deadline, ...] = ()
    event_ids: tuple[str, ...] = ()

    def deadline(self, key: str) -> Deadline | None:
        for d in self.deadlines:
            if d.key == key:
                return d
        return None

    def open_deadlines(self) -> tuple[Deadline, ...]:
        return tuple(d for d in self.deadlines if d.closed_on is None)


@dataclass(frozen=True)
class Outcome:
    state: CaseState
    documents: tuple[DocumentOrder, ...] = ()
    opened: tuple[Deadline, ...] = ()
    closed: tuple[Deadline, ...] = ()
    actions: tuple[str, ...] = ()  # for the shell: "transfer_to_provider", "return_to_psc", "benefit_handoff"


# --- helpers -------------------------------------------------------------------------------------------------


def local_date(moment: dt.datetime) -> dt.date:
    return moment.astimezone(KZ_TZ).date()


def _reject(code: str, detail: str, pointer: str = "/event") -> InputError:
    return InputError(code, detail, Where(pointer=pointer))


def _open(ctx: RulesContext, key: str, start: dt.date, term_key: str | None = None) -> Deadline:
    term = ctx.terms[term_key or key]
    if term.months:
        due = ctx.calendar.on_or_after(add_months(start, term.months))
    else:
        due = ctx.calendar.add_working_days(start, term.working_days)
    return Deadline(key=key, term=term.key, paragraph=term.paragraph, opened_on=start, due=due)


def _with_deadlines(
    state: CaseState, opened: tuple[Deadline, ...] = (), close: tuple[str, ...] = (), on: dt.date | None = None
) -> tuple[CaseState, tuple[Deadline, ...]]:
    closed = []
    out = []
    for d in state.deadlines:
        if d.key in close and d.closed_on is None:
            d = replace(d, closed_on=on)
            closed.append(d)
        out.append(d)
    keys = {d.key for d in opened}
    out = [d for d in out if d.key not in keys] + list(opened)
    return replace(state, deadlines=tuple(out)), tuple(closed)


def required_documents(app: ApplicationSubmitted, on: dt.date, ctx: RulesContext) -> tuple[Requirement, ...]:
    """¶3, ¶4: the standard's list of documents that this package must contain (appendix 2)."""
    married = app.applicant.marital_status == "married"
    close_only = all(c.relation_to_applicant in CLOSE_RELATIONS for c in app.children)
    older = any(c.age_on(on) >= CHILD_OPINION_AGE for c in app.children)
    conditions = {
        "always": True,
        "channel_psc": app.channel == "psc",
        "married": married,
        "not_close_relative": not close_only,
        "child_10_or_older": older,
        "never": False,
    }
    return tuple(r for r in ctx.requirements if conditions[r.required_when])


def check_package(app: ApplicationSubmitted, on: dt.date, ctx: RulesContext) -> tuple[list[str], list[str]]:
    """¶4, ¶5, ¶9: (missing, expired) codes.  Empty lists mean the package is complete."""
    presented = {d.code: d for d in app.documents}
    missing, expired = [], []
    for req in required_documents(app, on, ctx):
        doc = presented.get(req.code)
        if doc is None or not doc.presented:
            missing.append(req.code)
        elif doc.valid_until is not None and doc.valid_until < on:
            expired.append(req.code)
    return missing, expired


def care_kind(age: int) -> str:
    """Code art. 1: guardianship (опека / қорғаншылық) under 14, trusteeship (попечительство / қамқоршылық) 14–17."""
    return "guardianship" if age < GUARDIANSHIP_AGE else "trusteeship"


def forbidding_grounds(state: CaseState) -> list[str]:
    """Code art. 122 p.1 (and Law art. 19-1 p.2) grounds that the case's data shows: a grant is then forbidden."""
    grounds: list[str] = []
    app = state.application
    records = state.check.records if state.check else None
    if records is not None:
        if records.incapable:
            grounds.append("code122.1")
        if records.parental_rights_limited:
            grounds.append("code122.2")
        if records.removed_as_guardian:
            grounds.append("code122.3")
        if records.adoption_cancelled_by_fault:
            grounds.append("code122.4")
        if not records.permanent_residence:
            grounds.append("code122.6")
        if records.criminal_record == "intentional_unexpunged":
            grounds.append("code122.7")
        if records.dispensary_registered:
            grounds.append("code122.11")
        if records.criminal_record == "listed_grave":
            grounds.append("code122.12")
    if app.applicant.citizenship == "stateless":
        grounds.append("code122.8")
    if not app.consent_to_secret_data:
        grounds.append("law19-1.6")  # ¶9: no consent to use legally protected secrets
    if state.inspection is not None and state.inspection.conclusion == "not_possible":
        grounds.append("inspection.negative")  # Law art. 19-1 p.2 item 3: a negative conclusion
    return grounds


def _result_routes(state: CaseState) -> tuple[str, ...]:
    # ¶12: to the personal cabinet; ¶13: also to the State Corporation when the case came that way; archive.
    return ("cabinet", "psc", "archive") if state.channel == "psc" else ("cabinet", "archive")


def _ready_at(ctx: RulesContext, due: dt.date) -> str:
    hh, mm = (ctx.terms["result"].ready_time or "18:30").split(":")
    return dt.datetime.combine(due, dt.time(int(hh), int(mm)), KZ_TZ).isoformat()


# --- the events ------------------------------------------------------------------------------------------------


def apply(state: CaseState | None, event: Event, ctx: RulesContext) -> Outcome:
    """Apply one event to a case (``None``: no case yet).  Raises :class:`InputError` when the event does not
    fit the case's state; the case is then unchanged."""
    if state is None:
        if event.event != "application.submitted":
            raise _reject("E-UNKNOWN-CASE", event.case_id, "/case_id")
        return _application(event, ctx)
    if event.case_id != state.case_id:
        raise _reject("E-INCONSISTENT", f"event for case {event.case_id} applied to {state.case_id}", "/case_id")
    handler = _HANDLERS[event.event]
    out = handler(state, event, ctx)
    return replace(out, state=replace(out.state, event_ids=state.event_ids + (event.event_id,)))


def _application(event: Event, ctx: RulesContext) -> Outcome:
    app: ApplicationSubmitted = event.data  # type: ignore[assignment]
    day = local_date(event.occurred_at)
    for i, child in enumerate(app.children):
        if child.age_on(day) >= MAJORITY_AGE:
            raise _reject("E-INCONSISTENT", f"child {child.iin} is 18 or older", f"/data/children/{i}/birth_date")
    state = CaseState(
        case_id=event.case_id, status=ACCEPTED, channel=app.channel, language=event.language,
        provider=app.provider.code, psc=app.psc.code if app.psc else None, applicant_iin=app.applicant.iin,
        submitted_on=day, application=app, event_ids=(event.event_id,),
    )
    missing, expired = check_package(app, day, ctx)
    if missing or expired:
        # ¶5 (PSC: refusal receipt, appendix 3) / ¶9 (portal: refusal to accept in the personal cabinet)
        kind, role, office, signers, routes = (
            ("refusal_receipt", "operator", state.psc, (app.received_by,), ("psc", "archive"))
            if app.channel == "psc"
            else ("portal_refusal", "provider_seal", state.provider, (), ("cabinet", "archive"))
        )
        doc = DocumentOrder(
            event.case_id, kind, event.language, event.event_id, role, office or "", tuple(s for s in signers if s),
            routes, computed={"missing": missing, "expired": expired},
        )
        return Outcome(replace(state, status=REFUSED_ACCEPTANCE), documents=(doc,))
    # ¶15: 19 working days in all, the day of acceptance not counted (¶6).
    opened = [_open(ctx, "result", day)]
    if app.channel == "psc":
        opened.append(_open(ctx, "delivery", day))  # ¶6: the courier within 1 working day
        kind, role, office, signers, routes = (
            "acceptance_receipt", "operator", state.psc or "", (app.received_by,), ("psc", "archive"),
        )
    else:
        opened.append(_open(ctx, "check", day))  # ¶8: the portal package is at the provider at once
        kind, role, office, signers, routes = "acceptance_notice", "provider_seal", state.provider, (), ("cabinet", "archive")
    state, _ = _with_deadlines(state, tuple(opened))
    result = state.deadline("result")
    doc = DocumentOrder(
        event.case_id, kind, event.language, event.event_id, role, office, tuple(s for s in signers if s), routes,
        computed={"result_due": _ready_at(ctx, result.due)},  # ¶7: the date and time the result is ready
    )
    return Outcome(state, documents=(doc,), opened=tuple(opened))


def _require(state: CaseState, allowed: tuple[str, ...], what: str) -> None:
    if state.status not in allowed:
        raise _reject("E-OUT-OF-ORDER", f"{what} while the case is {state.status}", "/event")


def _delivered(state: CaseState, event: Event, ctx: RulesContext) -> Outcome:
    data: DocumentsDelivered = event.data  # type: ignore[assignment]
    if state.channel != "psc":
        raise _reject("E-OUT-OF-ORDER", "documents.delivered on a portal case (no courier, ¶6)")
    _require(state, (ACCEPTED,), "documents.delivered")
    day = local_date(data.delivered_at)
    new, closed = _with_deadlines(state, (_open(ctx, "check", day),), close=("delivery",), on=day)  # ¶6, ¶8
    return Outcome(replace(new, status=DELIVERED), opened=(new.deadline("check"),), closed=closed)


def _checked(state: CaseState, event: Event, ctx: RulesContext) -> Outcome:
    data: DocumentsChecked = event.data  # type: ignore[assignment]
    _require(state, (DELIVERED,) if state.channel == "psc" else (ACCEPTED,), "documents.checked")
    day = local_date(event.occurred_at)
    if data.complete and (data.missing or data.expired):
        raise _reject("E-INCONSISTENT", "complete is true but documents are missing or expired", "/data/complete")
    if not data.complete:
        if not (data.missing or data.expired):
            raise _reject("E-INCONSISTENT", "complete is false but nothing is missing or expired", "/data/missing")
        # ¶9: the provider refuses to accept an incomplete or expired package; the term ends here.
        new, closed = _with_deadlines(state, close=("check", "result"), on=day)
        routes = ("cabinet", "psc", "archive") if state.channel == "psc" else ("cabinet", "archive")
        doc = DocumentOrder(
            state.case_id, "portal_refusal", state.language, event.event_id, "provider_seal", state.provider, (),
            routes, computed={"missing": list(data.missing), "expired": list(data.expired)},
        )
        return Outcome(replace(new, status=REFUSED_ACCEPTANCE, check=data), documents=(doc,), closed=closed)
    new, closed = _with_deadlines(state, (_open(ctx, "inspection", day),), close=("check",), on=day)  # ¶8, ¶10
    return Outcome(replace(new, status=CHECKED, check=data), opened=(new.deadline("inspection"),), closed=closed)


def _inspected(state: CaseState, event: Event, ctx: RulesContext) -> Outcome:
    data: InspectionCompleted = event.data  # type: ignore[assignment]
    _require(state, (CHECKED,), "inspection.completed")
    day = data.act_date
    new, closed = _with_deadlines(state, (_open(ctx, "decision", day),), close=("inspection",), on=day)  # ¶10, ¶11
    # ¶10: the act (appendix 4) is signed by each inspector in turn; it stays in the case file and the archive.
    doc = DocumentOrder(
        state.case_id, "inspection_act", state.language, event.event_id, "inspector", state.provider,
        data.inspectors, ("archive",), number=data.act_number,
    )
    return Outcome(replace(new, status=INSPECTED, inspection=data), documents=(doc,),
                   opened=(new.deadline("decision"),), closed=closed)


def _decided(state: CaseState, event: Event, ctx: RulesContext) -> Outcome:
    data: DecisionMade = event.data  # type: ignore[assignment]
    if state.decision is not None or state.status in (DECIDED, CLOSED):
        raise _reject("E-OUT-OF-ORDER", "a decision was already made on this case (¶11)")
    if state.status in (ACCEPTED, DELIVERED, CHECKED):
        raise _reject("E-OUT-OF-ORDER", "a decision before the inspection act (¶10, ¶11)")
    _require(state, (INSPECTED,), "decision.made")
    day = local_date(event.occurred_at)
    computed: dict[str, Any] = {}
    if data.outcome == "granted":
        grounds = forbidding_grounds(state)
        if grounds:
            raise _reject("E-DECISION-FORBIDDEN", ", ".join(grounds), "/data/outcome")
        known = {c.iin: c for c in state.application.children}
        children = []
        for i, iin in enumerate(data.children):
            child = known.get(iin)
            if child is None:
                raise _reject("E-INCONSISTENT", f"child {iin} is not in the application", f"/data/children/{i}")
            age = child.age_on(data.order_date)
            if age >= MAJORITY_AGE:
                raise _reject("E-INCONSISTENT", f"child {iin} is {age} on the order date", f"/data/children/{i}")
            # Code art. 1 / art. 130: decided per child, by age on the order's date.
            children.append({"iin": iin, "age": age, "care": care_kind(age)})
        computed["children"] = children
        kind, number = "order", data.order_number
        day = data.order_date or day
    else:
        computed["grounds"] = [{"code": g.code, "text_kk": g.text_kk, "text_ru": g.text_ru} for g in data.grounds]
        kind, number = "reasoned_refusal", None
    opened = (_open(ctx, "result_delivery", day),)  # ¶12
    new, closed = _with_deadlines(state, opened, close=("decision",), on=day)
    doc = DocumentOrder(
        state.case_id, kind, state.language, event.event_id, "head", state.provider, (data.signatory,),
        _result_routes(state), number=number, computed=computed,
    )
    return Outcome(replace(new, status=DECIDED, decision=data), documents=(doc,), opened=opened, closed=closed)


def result_delivered(state: CaseState, day: dt.date, ctx: RulesContext) -> Outcome:
    """¶12–14: the signed result reached the cabinet (and the PSC).  Called by the shell, not by an event."""
    if state.status != DECIDED or state.result_delivered_on is not None:
        return Outcome(state)
    opened: tuple[Deadline, ...] = ()
    result_at = None
    if state.channel == "psc":
        opened = (_open(ctx, "storage", day),)  # ¶14: kept at the PSC for one month
        result_at = AT_PSC
    new, closed = _with_deadlines(state, opened, close=("result_delivery", "result"), on=day)
    actions = ("benefit_handoff",) if (
        state.application.one_application_benefit and state.decision and state.decision.outcome == "granted"
    ) else ()  # ¶16: the allowance service starts once guardianship is established
    return Outcome(replace(new, result_delivered_on=day, result_at=result_at), opened=opened, closed=closed,
                   actions=actions)


def storage_expired(state: CaseState, today: dt.date) -> bool:
    """¶14: a result unclaimed at the PSC for a month goes to the provider."""
    d = state.deadline("storage")
    return state.result_at == AT_PSC and d is not None and d.closed_on is None and today > d.due


def transferred(state: CaseState, day: dt.date) -> Outcome:
    """¶14: the result moved from the PSC to the provider for storage (the shell did the move)."""
    new, closed = _with_deadlines(state, close=("storage",), on=day)
    return Outcome(replace(new, result_at=AT_PROVIDER), closed=closed)


def returned(state: CaseState, day: dt.date) -> Outcome:
    """¶14: the result is back at the PSC after the applicant's request."""
    new, closed = _with_deadlines(state, close=("return",), on=day)
    return Outcome(replace(new, result_at=AT_PSC), closed=closed)


def document_returned(state: CaseState, kind: str, day: dt.date) -> Outcome:
    """An officer returned a document unsigned, with a reason (issue 5 ¶6): the step it came from is open again,
    so the back office can send a corrected event — a new act (¶10) or a new decision (¶11) — within the term
    that was running."""
    def reopen(st: CaseState, key: str, drop: tuple[str, ...]) -> CaseState:
        kept = tuple(replace(d, closed_on=None) if d.key == key else d for d in st.deadlines if d.key not in drop)
        return replace(st, deadlines=kept)

    if kind in ("order", "reasoned_refusal") and state.status == DECIDED and state.result_delivered_on is None:
        new = reopen(state, "decision", ("result_delivery",))
        return Outcome(replace(new, status=INSPECTED, decision=None))
    if kind == "inspection_act" and state.status == INSPECTED:
        new = reopen(state, "inspection", ("decision",))
        return Outcome(replace(new, status=CHECKED, inspection=None))
    return Outcome(state)


def _issued(state: CaseState, event: Event, ctx: RulesContext) -> Outcome:
    data: ResultIssued = event.data  # type: ignore[assignment]
    _require(state, (DECIDED,), "result.issued")
    if state.result_delivered_on is None:
        raise _reject("E-OUT-OF-ORDER", "result.issued before the signed result was delivered (¶12–14)")
    day = local_date(data.issued_at)
    new, closed = _with_deadlines(state, close=("storage", "result_delivery", "result", "return"), on=day)  # ¶14
    return Outcome(replace(new, status=CLOSED), closed=closed)


def _requested(state: CaseState, event: Event, ctx: RulesContext) -> Outcome:
    data: ResultRequested = event.data  # type: ignore[assignment]
    _require(state, (DECIDED,), "result.requested")
    if state.channel != "psc" or state.result_at != AT_PROVIDER:
        raise _reject("E-OUT-OF-ORDER", "result.requested but the result was not passed to the provider (¶14)")
    day = local_date(data.requested_at)
    opened = (_open(ctx, "return", day),)  # ¶14: back to the PSC within 1 working day
    new, _ = _with_deadlines(state, opened)
    return Outcome(new, opened=opened, actions=("return_to_psc",))


def _complaint(state: CaseState, event: Event, ctx: RulesContext) -> Outcome:
    data: ComplaintFiled = event.data  # type: ignore[assignment]
    if data.complaint_id in state.all_complaints:
        raise _reject("E-INCONSISTENT", f"complaint {data.complaint_id} was already filed", "/data/complaint_id")
    day = local_date(data.registered_at)
    # ¶21: 5 working days for the head of the provider, 15 for the quality-control body.
    deadline = _open(ctx, f"complaint:{data.complaint_id}", day, f"complaint_{data.addressee}")
    new, _ = _with_deadlines(state, (deadline,))
    new = replace(new, open_complaints=new.open_complaints + (data.complaint_id,),
                  all_complaints=new.all_complaints + (data.complaint_id,))
    return Outcome(new, opened=(deadline,))


def _complaint_resolved(state: CaseState, event: Event, ctx: RulesContext) -> Outcome:
    data: ComplaintResolved = event.data  # type: ignore[assignment]
    if data.complaint_id not in state.open_complaints:
        raise _reject("E-INCONSISTENT", f"no open complaint {data.complaint_id}", "/data/complaint_id")
    day = local_date(data.resolved_at)
    new, closed = _with_deadlines(state, close=(f"complaint:{data.complaint_id}",), on=day)
    new = replace(new, open_complaints=tuple(c for c in new.open_complaints if c != data.complaint_id))
    return Outcome(new, closed=closed)


def _second_application(state: CaseState, event: Event, ctx: RulesContext) -> Outcome:
    raise _reject("E-CASE-EXISTS", state.case_id, "/case_id")


_HANDLERS = {
    "application.submitted": _second_application,
    "documents.delivered": _delivered,
    "documents.checked": _checked,
    "inspection.completed": _inspected,
    "decision.made": _decided,
    "result.issued": _issued,
    "result.requested": _requested,
    "complaint.filed": _complaint,
    "complaint.resolved": _complaint_resolved,
}


# --- replay: events and the shell's transitions ---------------------------------------------------------------


@dataclass(frozen=True)
class Transition:
    """A step the shell took that changes a case without an event: ``result_delivered`` (¶12),
    ``transferred`` to the provider and ``returned`` to the PSC (¶14)."""

    name: str
    day: dt.date


def step(state: CaseState | None, item: Event | Transition, ctx: RulesContext) -> Outcome:
    if isinstance(item, Event):
        return apply(state, item, ctx)
    if state is None:
        raise ValueError(f"transition {item.name} without a case")
    if item.name == "result_delivered":
        return result_delivered(state, item.day, ctx)
    if item.name == "transferred":
        return transferred(state, item.day)
    if item.name == "returned":
        return returned(state, item.day)
    if item.name.startswith("document_returned:"):
        return document_returned(state, item.name.split(":", 1)[1], item.day)
    raise ValueError(f"unknown transition {item.name}")


def fold(items: list[Event | Transition], ctx: RulesContext) -> CaseState | None:
    """Rebuild a case from its log: the accepted events and transitions, in the order they were applied."""
    state: CaseState | None = None
    for item in items:
        state = step(state, item, ctx).state
    return state

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
from dataclasses import replace
from typing import Any

from ..errors import InputError, Where
from .calendar import add_months
from .case import (  # the case's values, re-exported: rules.CaseState, rules.Transition, …
    ACCEPTED,
    AT_PROVIDER,
    AT_PSC,
    CHECKED,
    CLOSED,
    DECIDED,
    DELIVERED,
    HAND_OVER_TO_APPLICANT,
    INSPECTED,
    KZ_TZ,
    MAJORITY_AGE,
    REFUSED_ACCEPTANCE,
    REQUIREMENT_CONDITIONS,  # noqa: F401 - re-exported
    CaseState,
    Deadline,
    DocumentRequest,
    Outcome,
    RulesContext,
    Term,  # noqa: F401 - re-exported
    Transition,
    local_date,
    local_time,  # noqa: F401 - re-exported
    registration_number,  # noqa: F401 - re-exported
)
from .checks import (  # the checks of a package and a decision, re-exported: rules.forbidding_grounds, …
    CLOCK_SKEW,  # noqa: F401 - re-exported
    applicant_is_single_man,  # noqa: F401 - re-exported
    check_clock,  # noqa: F401 - re-exported
    check_order_date,
    check_package,
    clock_problems,  # noqa: F401 - re-exported
    forbidding_grounds,
    granted_children,
    missing_records,
    officer_flags,
    opinion_grounds,
    order_problems,  # noqa: F401 - re-exported
    psych_training_required,  # noqa: F401 - re-exported
    refusal_problems,
    required_documents,  # noqa: F401 - re-exported
)
from .events import (
    ApplicationSubmitted,
    ComplaintFiled,
    ComplaintResolved,
    DecisionMade,
    DocumentsChecked,
    DocumentsDelivered,
    Event,
    InspectionCompleted,
    ResultIssued,
    ResultRequested,
)

# --- helpers -------------------------------------------------------------------------------------------------


def _reject(code: str, detail: str, pointer: str = "/event") -> InputError:
    return InputError(code, detail, Where(pointer=pointer))


def _open(ctx: RulesContext, key: str, start: dt.date, term_key: str | None = None,
          cap: Deadline | None = None) -> Deadline:
    """Open a term on ``start``.  ``cap``: the running ¶15 term, which no step before the result may outrun."""
    term = ctx.terms[term_key or key]
    if term.months:
        due = ctx.calendar.on_or_after(add_months(start, term.months))
    else:
        due = ctx.calendar.add_working_days(start, term.working_days)
    paragraph = term.paragraph
    if cap is not None and cap.closed_on is None and due > cap.due:
        # ¶15 against ¶6 + ¶8 + ¶10 + ¶11 + ¶12 = 20 working days for a PSC case (issue 11 #6): the total term
        # binds, so the step is due on the ¶15 day; the paragraph shows both, for the board and the report.
        due, paragraph = cap.due, f"{term.paragraph}/{cap.paragraph}"
    return Deadline(key=key, term=term.key, paragraph=paragraph, opened_on=start, due=due)


def _step(ctx: RulesContext, state: CaseState, key: str, start: dt.date) -> Deadline:
    """A step of the service (¶6, ¶8, ¶10, ¶11, ¶12), capped at the ¶15 date."""
    return _open(ctx, key, start, cap=state.deadline("result"))


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
        kind, office, signers, routes = (
            ("refusal_receipt", state.psc, (app.received_by,), ("psc", "archive"))
            if app.channel == "psc"
            else ("portal_refusal", state.provider, (), ("cabinet", "archive"))
        )
        doc = DocumentRequest(
            event.case_id, kind, event.language, event.event_id, ctx.signer_of(kind), office or "", tuple(s for s in signers if s),
            routes, computed={"missing": missing, "expired": expired},
        )
        return Outcome(replace(state, status=REFUSED_ACCEPTANCE), documents=(doc,))
    # ¶15: 19 working days in all, the day of acceptance not counted (¶6).
    total = _open(ctx, "result", day)
    opened = [total]
    if app.channel == "psc":
        opened.append(_open(ctx, "delivery", day, cap=total))  # ¶6: the courier within 1 working day
        kind, office, signers, routes = "acceptance_receipt", state.psc or "", (app.received_by,), ("psc", "archive")
    else:
        opened.append(_open(ctx, "check", day, cap=total))  # ¶8: the portal package is at the provider at once
        kind, office, signers, routes = "acceptance_notice", state.provider, (), ("cabinet", "archive")
    state, _ = _with_deadlines(state, tuple(opened))
    computed: dict[str, Any] = {"result_due": _ready_at(ctx, total.due)}  # ¶7: the date and time of the result
    flags = officer_flags(state)
    if flags:
        computed["officer_flags"] = flags
    doc = DocumentRequest(
        event.case_id, kind, event.language, event.event_id, ctx.signer_of(kind), office,
        tuple(s for s in signers if s), routes, computed=computed,
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
    new, closed = _with_deadlines(state, (_step(ctx, state, "check", day),), close=("delivery",), on=day)  # ¶6, ¶8
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
        # ¶9: the provider refuses to accept an incomplete or expired package; the term ends here.  ¶9 gives
        # that refusal for the portal; for a PSC case the Rules are silent (docs/rules-map.md): the provider's
        # refusal then goes through the PSC, with words for that channel (issue 11 #7), flagged for the officer.
        new, closed = _with_deadlines(state, close=("check", "result"), on=day)
        if state.channel == "psc":
            kind, routes = "provider_refusal", ("cabinet", "psc", "archive")
            computed: dict[str, Any] = {"officer_flags": [
                "¶9: the Rules give no refusal for a PSC package found incomplete by the provider"]}
        else:
            kind, routes, computed = "portal_refusal", ("cabinet", "archive"), {}
        computed.update(missing=list(data.missing), expired=list(data.expired))
        doc = DocumentRequest(
            state.case_id, kind, state.language, event.event_id, ctx.signer_of(kind), state.provider, (),
            routes, computed=computed,
        )
        return Outcome(replace(new, status=REFUSED_ACCEPTANCE, check=data), documents=(doc,), closed=closed)
    new, closed = _with_deadlines(state, (_step(ctx, state, "inspection", day),), close=("check",), on=day)  # ¶8, ¶10
    return Outcome(replace(new, status=CHECKED, check=data), opened=(new.deadline("inspection"),), closed=closed)


def _inspected(state: CaseState, event: Event, ctx: RulesContext) -> Outcome:
    data: InspectionCompleted = event.data  # type: ignore[assignment]
    _require(state, (CHECKED,), "inspection.completed")
    day = data.act_date
    checked_on = state.deadline("inspection").opened_on if state.deadline("inspection") else state.submitted_on
    # ¶10: the act follows the check; it opens the ¶11 term, so a date out of order would move that term.
    if day < checked_on:
        raise _reject("E-INCONSISTENT", f"act_date {day} is before the documents were checked ({checked_on}, ¶10)",
                      "/data/act_date")
    if day > local_date(event.occurred_at):
        raise _reject("E-INCONSISTENT", f"act_date {day} is after the event that reports the act "
                      f"({local_date(event.occurred_at)})", "/data/act_date")
    new, closed = _with_deadlines(state, (_step(ctx, state, "decision", day),), close=("inspection",), on=day)  # ¶10, ¶11
    # ¶10: the act (appendix 4) is signed by each inspector in turn; it stays in the case file and the archive.
    doc = DocumentRequest(
        state.case_id, "inspection_act", state.language, event.event_id, ctx.signer_of("inspection_act"),
        state.provider,
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
    if data.grounds:
        problems = refusal_problems(state, data)
        if problems:
            raise _reject("E-INCONSISTENT", "; ".join(problems), "/data/grounds")
    documents: list[DocumentRequest] = []
    flags = officer_flags(state, data, ctx)
    if data.outcome == "granted":
        day = check_order_date(state, data, day)
        missing = missing_records(state)
        if missing:  # ¶9, fail closed: "checked and clean" must be told from "never checked"
            raise _reject("E-DECISION-FORBIDDEN", "records not obtained (¶9): " + ", ".join(missing),
                          "/data/outcome")
        grounds = forbidding_grounds(state, data, ctx)
        children = granted_children(state, data)
        grounds += opinion_grounds(state, children)
        if grounds:
            raise _reject("E-DECISION-FORBIDDEN", ", ".join(grounds), "/data/outcome")
        computed: dict[str, Any] = {"children": children}
        if flags:
            computed["officer_flags"] = flags
        documents.append(DocumentRequest(
            state.case_id, "order", state.language, event.event_id, ctx.signer_of("order"), state.provider,
            (data.signatory,), _result_routes(state), number=data.order_number, computed=computed))
        if data.refused_children:
            # ¶11, Law art. 19-1 p.1: every child named in the application gets an answer — the order for some,
            # the reasoned refusal, with this case's reasons, for the others.
            documents.append(_refusal(state, event, ctx, data, list(data.refused_children), flags))
    else:
        documents.append(_refusal(state, event, ctx, data, [c.iin for c in state.application.children], flags))
    opened = (_step(ctx, state, "result_delivery", day),)  # ¶12
    new, closed = _with_deadlines(state, opened, close=("decision",), on=day)
    return Outcome(replace(new, status=DECIDED, decision=data), documents=tuple(documents), opened=opened,
                   closed=closed)


def _refusal(state: CaseState, event: Event, ctx: RulesContext, data: DecisionMade, children: list[str],
             flags: list[str]) -> DocumentRequest:
    if not data.grounds:
        raise _reject("E-INCONSISTENT", "the refused children need the grounds of their refusal (¶11)",
                      "/data/grounds")
    computed: dict[str, Any] = {
        "grounds": [{"code": g.code, "text_kk": g.text_kk, "text_ru": g.text_ru} for g in data.grounds],
        "children": [{"iin": iin} for iin in children],
    }
    if flags:
        computed["officer_flags"] = flags
    return DocumentRequest(
        state.case_id, "reasoned_refusal", state.language, event.event_id, ctx.signer_of("reasoned_refusal"),
        state.provider, (data.signatory,), _result_routes(state), computed=computed)


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
    if data.to != HAND_OVER_TO_APPLICANT and data.power_of_attorney is None:
        # ¶14: «… не нотариалды расталған сенімхат бойынша оның өкілі»
        raise _reject("E-INCONSISTENT", "a result handed to a representative needs the notarised power of "
                      "attorney: its number, date and notary (¶14)", "/data/power_of_attorney")
    poa = data.power_of_attorney
    if poa is not None and poa.date > local_date(data.issued_at):
        raise _reject("E-INCONSISTENT", f"the power of attorney is dated {poa.date}, after the hand-over (¶14)",
                      "/data/power_of_attorney/date")
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

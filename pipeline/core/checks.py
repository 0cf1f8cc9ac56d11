"""What the Rules and the Code require of a package and a decision, as pure checks (issue 11): the standard's
list of documents (¶3, ¶4), the records of ¶9, the grounds of the Code's art. 122 p.1 that the case's data shows,
the consistency of a refusal's grounds and of an order with the case (¶11), and the service's clock (injected).

:mod:`.rules` applies them as events arrive; each cites the paragraph or the article it implements, and
``docs/rules-map.md`` says which are enforced and which are flagged for the officer.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ..errors import InputError, Where
from .case import (
    CHILD_OPINION_AGE,
    CLOSE_RELATIONS,
    GUARDIANSHIP_AGE,
    MAJORITY_AGE,
    TRAIN_WITHIN_A_YEAR,
    CaseState,
    Requirement,
    RulesContext,
    local_date,
)
from .events import ApplicationSubmitted, DecisionMade, Event
from .iin import sex_from_iin


def _reject(code: str, detail: str, pointer: str = "/event") -> InputError:
    return InputError(code, detail, Where(pointer=pointer))


def psych_training_required(app: ApplicationSubmitted) -> bool:
    """Code art. 122 p.1 item 13: binds citizens of Kazakhstan (permanently resident: checked with the records);
    not the child's close relatives; relatives and step-parents may train within a year (its p.2), so the
    certificate is not a condition of acceptance for them either."""
    if app.applicant.citizenship != "KZ":
        return False
    exempt = CLOSE_RELATIONS + TRAIN_WITHIN_A_YEAR
    return not all(c.relation_to_applicant in exempt for c in app.children)


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
        "psych_training": psych_training_required(app),
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


def missing_records(state: CaseState) -> list[str]:
    """¶9: the records a grant needs that the provider has not obtained — fail closed, an unknown is not clean."""
    married = state.application.applicant.marital_status == "married"
    records = state.check.records if state.check else None
    if records is None:
        return ["records"]
    return [f"records.{k}" for k in records.missing(married)]


def applicant_is_single_man(app: ApplicationSubmitted) -> bool:
    """Code art. 122 p.1 item 9: a man (the IIN's century/sex digit) not in a registered marriage."""
    return sex_from_iin(app.applicant.iin) == "M" and app.applicant.marital_status != "married"


def forbidding_grounds(state: CaseState, decision: DecisionMade | None = None,
                       ctx: RulesContext | None = None) -> list[str]:
    """Code art. 122 p.1 (and Law art. 19-1 p.2) grounds that the case's data shows: a grant is then forbidden.

    ``decision`` and ``ctx`` (the granted decision being checked) add the grounds that depend on it: the single
    man's exception (item 9) and the income for the wards it names (item 10)."""
    grounds: list[str] = []
    app = state.application
    if app.applicant.age_on(decision.order_date if decision and decision.order_date else state.submitted_on) \
            < MAJORITY_AGE:
        grounds.append("code122.adult")  # art. 122 p.1, the lead: only adults may be guardians
    records = state.check.records if state.check else None
    if records is not None:
        if records.health_restriction:
            grounds.append("code122.5")
        if records.incapable:
            grounds.append("code122.1")
        if records.parental_rights_limited:
            grounds.append("code122.2")
        if records.removed_as_guardian:
            grounds.append("code122.3")
        if records.adoption_cancelled_by_fault:
            grounds.append("code122.4")
        if records.permanent_residence is False:
            grounds.append("code122.6")
        if records.criminal_record == "intentional_unexpunged":
            grounds.append("code122.7")
        if records.dispensary_registered:
            grounds.append("code122.11")
        if records.criminal_record == "listed_grave":
            grounds.append("code122.12")
    if app.applicant.citizenship == "stateless":
        grounds.append("code122.8")
    if applicant_is_single_man(app):
        exception = decision.single_father_exception if decision else None
        if exception is None or exception.years_raised < 3:
            grounds.append("code122.9")  # the officer records the three-years exception, or the grant waits
    if decision is not None and ctx is not None and state.inspection is not None and decision.order_date:
        grounds.extend(_income_grounds(state, decision, ctx))
    if not app.consent_to_secret_data:
        grounds.append("law19-1.6")  # ¶9: no consent to use legally protected secrets
    if state.inspection is not None and state.inspection.conclusion == "not_possible":
        grounds.append("inspection.negative")  # Law art. 19-1 p.2 item 3: a negative conclusion
    return grounds


def _income_grounds(state: CaseState, decision: DecisionMade, ctx: RulesContext) -> list[str]:
    """Code art. 122 p.1 item 10: the act's monthly income per person of the household with the wards, against
    the year's subsistence minimum (``terms.toml`` ``[terms.subsistence_minimum]``; a year not yet configured takes
    the latest earlier year's, flagged for the officer).  No minimum at all, or no income in the act, blocks
    (fail closed): the report says which."""
    assert state.inspection is not None and decision.order_date is not None
    _, minimum = ctx.subsistence_minimum_for(decision.order_date.year)
    income = state.inspection.monthly_income
    if minimum is None:
        return ["code122.10 (no subsistence minimum configured: terms.toml [terms.subsistence_minimum])"]
    if income is None:
        return ["code122.10 (the act records no income)"]
    people = state.inspection.household_size + len(decision.children)
    return ["code122.10"] if income < minimum * people else []


def officer_flags(state: CaseState, decision: DecisionMade | None = None,
                  ctx: RulesContext | None = None) -> list[str]:
    """What the core cannot decide and the officer must, shown beside the document (docs/rules-map.md)."""
    app = state.application
    flags: list[str] = []
    if app.applicant.age_on(state.submitted_on) < MAJORITY_AGE:
        flags.append("code122.adult: the applicant is under 18; a grant is impossible")
    if applicant_is_single_man(app):
        flags.append("code122.9: an unmarried man; record the three-years exception or refuse")
    presented = {d.code for d in app.documents if d.presented}
    if app.applicant.citizenship == "KZ" and "psych_training_certificate" not in presented and any(
            c.relation_to_applicant in TRAIN_WITHIN_A_YEAR for c in app.children):
        flags.append("code122.13: psychological training within one year of the appointment (art. 122 p.1 "
                     "item 13 p.2)")
    if decision is not None and decision.refused_children and decision.children:
        flags.append("code119.3: the application's children are separated; state why it is in their interest")
    if decision is not None and state.inspection is not None and state.inspection.raw.get("household"):
        flags.append("code122.10: the household of the act plus the wards counted for the subsistence minimum")
    if decision is not None and decision.order_date is not None and ctx is not None:
        year, minimum = ctx.subsistence_minimum_for(decision.order_date.year)
        if minimum is not None and year != decision.order_date.year:
            flags.append(f"code122.10: no subsistence minimum configured for {decision.order_date.year}; "
                         f"{year}'s ({minimum:g}) was used")
    return flags


def refusal_problems(state: CaseState, decision: DecisionMade) -> list[str]:
    """Law art. 19-1 p.1: a reasoned refusal's grounds must agree with the case, and each must carry this case's
    own reasons in the document's language (the statute's text alone does not reason a refusal)."""
    app = state.application
    problems = []
    for i, g in enumerate(decision.grounds):
        if not (g.text_kk if state.language == "kk" else g.text_ru):
            problems.append(f"/data/grounds/{i}: {g.code} carries no reasons of this case (text_{state.language})")
        if g.code == "inspection.negative" and (state.inspection is None or state.inspection.conclusion != "not_possible"):
            problems.append(f"/data/grounds/{i}: inspection.negative but the act concludes "
                            f"{state.inspection.conclusion if state.inspection else 'nothing'}")
        elif g.code == "code122.13" and not psych_training_required(app):
            problems.append(f"/data/grounds/{i}: code122.13 does not bind this applicant (a foreign citizen, or "
                            "the child's close relative, relative or step-parent)")
        elif g.code == "code122.8" and app.applicant.citizenship != "stateless":
            problems.append(f"/data/grounds/{i}: code122.8 but the applicant's citizenship is "
                            f"{app.applicant.citizenship}")
        elif g.code == "code122.9" and not applicant_is_single_man(app):
            problems.append(f"/data/grounds/{i}: code122.9 but the applicant is not an unmarried man")
        elif g.code == "code122.adult" and app.applicant.age_on(state.submitted_on) >= MAJORITY_AGE:
            problems.append(f"/data/grounds/{i}: code122.adult but the applicant is an adult")
        elif g.code == "law19-1.6" and app.consent_to_secret_data:
            problems.append(f"/data/grounds/{i}: law19-1.6 but the applicant gave consent (¶9)")
    return problems


def order_problems(state: CaseState, children: list[dict[str, Any]], day: dt.date) -> list[str]:
    """¶11, Code art. 1 and 130: the order takes effect on signing, so each ward's band and the under-18 check must
    still hold on ``day``, the day the head signs.  The shell calls this before it stores the head's signature;
    a non-empty answer returns the order (issue 5 ¶6) for a new decision."""
    known = {c.iin: c for c in state.application.children}
    problems = []
    for c in children:
        child = known.get(c["iin"])
        if child is None:
            continue
        age = child.age_on(day)
        if age >= MAJORITY_AGE:
            problems.append(f"child {c['iin']} is {age} on {day}: no guardianship over an adult")
        elif care_kind(age) != c["care"]:
            problems.append(f"child {c['iin']} is {age} on {day}: {care_kind(age)}, not {c['care']} (Code art. 1)")
    return problems


# --- the service's clock (injected: the core reads none) --------------------------------------------------------

#: how far ahead of the service's clock an event may be dated (a back office's clock running a little fast)
CLOCK_SKEW = dt.timedelta(minutes=5)


def clock_problems(event: Event, now: dt.datetime) -> list[str]:
    """¶10, ¶11 (#11.4): no event, and no date or moment it reports (the act's date, the order's date, a delivery,
    a hand-over, a power of attorney), lies after the service's clock ``now`` — a date in the future would move a
    term, or put a child's age band on a day not yet come.  Pure: the shell passes its clock (pipeline.clock);
    a replay of accepted events never asks it."""
    limit, today = now + CLOCK_SKEW, local_date(now + CLOCK_SKEW)
    problems = []
    if event.occurred_at > limit:
        problems.append(f"/occurred_at: {event.occurred_at.isoformat()} is after the service's clock ({now.isoformat()})")
    data = event.data
    for name in ("delivered_at", "issued_at", "requested_at", "registered_at", "resolved_at"):
        moment = getattr(data, name, None)
        if moment is not None and moment > limit:
            problems.append(f"/data/{name}: {moment.isoformat()} is after the service's clock")
    for name in ("act_date", "order_date"):
        day = getattr(data, name, None)
        if day is not None and day > today:
            problems.append(f"/data/{name}: {day} is after the service's today ({today})")
    poa = getattr(data, "power_of_attorney", None)
    if poa is not None and poa.date > today:
        problems.append(f"/data/power_of_attorney/date: {poa.date} is after the service's today ({today})")
    return problems


def check_clock(event: Event, now: dt.datetime) -> None:
    """:func:`clock_problems` as the rejection the shell journals (E-INCONSISTENT, at the first field named)."""
    problems = clock_problems(event, now)
    if problems:
        raise _reject("E-INCONSISTENT", "; ".join(problems), problems[0].split(":", 1)[0])


def check_order_date(state: CaseState, data: DecisionMade, day: dt.date) -> dt.date:
    """¶10, ¶11: the order's date follows the act (and so the application), and is not after the decision event
    that reports it — the event's own time is checked against the service's clock at ingest."""
    order_date = data.order_date or day
    act_date = state.inspection.act_date if state.inspection else state.submitted_on
    if order_date < act_date:
        raise _reject("E-INCONSISTENT", f"order_date {order_date} is before the act of {act_date} (¶10, ¶11)",
                      "/data/order_date")
    if order_date > day:
        raise _reject("E-INCONSISTENT", f"order_date {order_date} is after the decision event ({day})",
                      "/data/order_date")
    return order_date


def granted_children(state: CaseState, data: DecisionMade) -> list[dict[str, Any]]:
    """¶11: each child of the application is granted or refused, never left out; Code art. 1 / 130: the band of
    each granted child on the order's date (and again on the signing day: :func:`order_problems`)."""
    known = {c.iin: c for c in state.application.children}
    for field_name, iins in (("children", data.children), ("refused_children", data.refused_children)):
        for i, iin in enumerate(iins):
            if iin not in known:
                raise _reject("E-INCONSISTENT", f"child {iin} is not in the application", f"/data/{field_name}/{i}")
    both = sorted(set(data.children) & set(data.refused_children))
    if both:
        raise _reject("E-INCONSISTENT", f"child {both[0]} is both granted and refused", "/data/refused_children")
    unanswered = [iin for iin in known if iin not in data.children and iin not in data.refused_children]
    if unanswered:
        raise _reject("E-INCONSISTENT", "children of the application without an answer (¶11, Law art. 19-1 p.1): "
                      + ", ".join(unanswered) + "; grant them or list them in refused_children", "/data/children")
    order_date = data.order_date or state.submitted_on
    children = []
    for i, iin in enumerate(data.children):
        age = known[iin].age_on(order_date)
        if age >= MAJORITY_AGE:
            raise _reject("E-INCONSISTENT", f"child {iin} is {age} on the order date; list the child in "
                          "refused_children", f"/data/children/{i}")
        children.append({"iin": iin, "age": age, "care": care_kind(age)})
    return children


def opinion_grounds(state: CaseState, children: list[dict[str, Any]]) -> list[str]:
    """Code art. 62: the opinion of each ward aged 10 or more on the order's date must be on file before a grant
    (the package's child_opinion document, or the act's record) — also for a child who turned 10 since."""
    if not any(c["age"] >= CHILD_OPINION_AGE for c in children):
        return []
    presented = any(d.code == "child_opinion" and d.presented for d in state.application.documents)
    recorded = state.inspection is not None and state.inspection.child_opinion is not None
    return [] if presented or recorded else ["code62 (no opinion of a child aged 10 or more)"]

"""A case as the Rules see it: its state, its running terms, what the rules decide (an :class:`Outcome`), and
the data the core reads from outside (:class:`RulesContext`).  Pure values; :mod:`.rules` computes them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from .calendar import WorkCalendar
from .events import (
    ApplicationSubmitted,
    DecisionMade,
    DocumentsChecked,
    InspectionCompleted,
    Official,
)

#: Kazakhstan's time (UTC+05:00): the service's dates are local dates.
KZ_TZ = dt.timezone(dt.timedelta(hours=5))

GUARDIANSHIP_AGE = 14  # Code art. 1 p.1 sub.21: опека / қорғаншылық under 14
MAJORITY_AGE = 18  # Code art. 1 p.1 sub.8: a child is under 18
CHILD_OPINION_AGE = 10  # Code art. 62
CLOSE_RELATIONS = ("grandchild", "sibling")  # Code art. 1 p.1 sub.13, art. 122 p.1 item 13
#: Code art. 122 p.1 item 13 p.2: relatives and step-parents appointed urgently may train within one year
TRAIN_WITHIN_A_YEAR = ("niece_nephew", "other_relative", "stepchild")
#: ¶14: whom a result may be handed to without a power of attorney
HAND_OVER_TO_APPLICANT = "applicant"

REQUIREMENT_CONDITIONS = (
    "always", "channel_psc", "married", "not_close_relative", "psych_training", "child_10_or_older", "never",
)

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
    #: a per-year amount instead of a term (``[terms.subsistence_minimum]``: Code art. 122 p.1 item 10)
    amounts: dict[str, float] = field(default_factory=dict, compare=False)


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
    #: who signs each document kind (``signer =`` in forms/catalogue/documents.toml): the one map of it
    signers: dict[str, str] = field(default_factory=dict)

    def subsistence_minimum(self, year: int) -> float | None:
        """Code art. 122 p.1 item 10: the subsistence minimum per person and month in ``year`` (None: not set)."""
        term = self.terms.get("subsistence_minimum")
        value = term.amounts.get(str(year)) if term else None
        return float(value) if value is not None else None

    def subsistence_minimum_for(self, year: int) -> tuple[int | None, float | None]:
        """The minimum of ``year``, or of the latest earlier year configured: (that year, the amount)."""
        term = self.terms.get("subsistence_minimum")
        years = sorted(int(y) for y in (term.amounts if term else {}) if int(y) <= year)
        if not years:
            return None, None
        return years[-1], self.subsistence_minimum(years[-1])

    def signer_of(self, kind: str) -> str:
        try:
            return self.signers[kind]
        except KeyError:
            from ..errors import ConfigError

            raise ConfigError(f"documents.toml names no signer for the document kind {kind!r}",
                              remedy="add the kind with its signer to forms/catalogue/documents.toml") from None


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
class DocumentRequest:
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
    documents: tuple[DocumentRequest, ...] = ()
    opened: tuple[Deadline, ...] = ()
    closed: tuple[Deadline, ...] = ()
    actions: tuple[str, ...] = ()  # for the shell: "transfer_to_provider", "return_to_psc", "benefit_handoff"



def local_date(moment: dt.datetime) -> dt.date:
    return moment.astimezone(KZ_TZ).date()


def local_time(moment: dt.datetime) -> dt.datetime:
    """The moment on Kazakhstan's clock (UTC+05:00): what every document prints, whatever offset the event
    carried (issue 11 #9), so the printed day is the day the core counts."""
    return moment.astimezone(KZ_TZ)


#: the fields a registration number's format may use (service.toml ``[registration] format``)
REGISTRATION_FIELDS = ("office", "year", "seq")


def registration_number(fmt: str, office: str, year: int, seq: int) -> str:
    """An office's registration number of an issued receipt or refusal (issue 11 #9): ``fmt`` uses ``{office}``,
    ``{year}`` and ``{seq}`` (the journal's sequence per office and year) only — never a case's internal id."""
    import string

    used = {name for _, name, _, _ in string.Formatter().parse(fmt) if name is not None}
    unknown = sorted(used - set(REGISTRATION_FIELDS))
    if unknown or "seq" not in used:
        raise ValueError(f"registration format {fmt!r}: uses {', '.join(unknown) or 'no {seq}'}; "
                         f"allowed: {', '.join(REGISTRATION_FIELDS)} (with seq)")
    return fmt.format(office=office, year=year, seq=seq)


@dataclass(frozen=True)
class Transition:
    """A step the shell took that changes a case without an event: ``result_delivered`` (¶12),
    ``transferred`` to the provider and ``returned`` to the PSC (¶14)."""

    name: str
    day: dt.date

"""The typed model of case events (contract.md, "Case events").

:mod:`pipeline.ingest` turns a file (JSON or XML) into one JSON-shaped ``dict`` that has passed the schema and
the semantic checks; :meth:`Event.from_dict` turns that dict into these frozen dataclasses.  The rules core
(:mod:`pipeline.rules`) works only on these types.  Templates get ``Event.raw``: the same tree as the contract
names it, so a template author reads contract.md, not Python.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

FORMAT = "qamqor.case-event/1"
XML_NAMESPACE = "urn:kz:qamqor:case-event:1"

EVENT_TYPES = (
    "application.submitted",
    "documents.delivered",
    "documents.checked",
    "inspection.completed",
    "decision.made",
    "result.issued",
    "result.requested",
    "complaint.filed",
    "complaint.resolved",
)

DOCUMENT_CODES = (
    "identity",
    "health_certificate",
    "spouse_health_certificate",
    "spouse_consent",
    "care_loss_proof",
    "income_proof",
    "housing_right",
    "marriage_certificate",
    "psych_training_certificate",
    "child_opinion",
)

CARE_LOSS_REASONS = (
    "parents_deceased",
    "parental_rights_deprived",
    "parental_rights_restricted",
    "parents_missing",
    "parents_incapable",
    "parent_imprisoned",
    "parents_searched",
    "child_removed",
    "parents_long_treatment",
    "abandoned",
    "refused",
)

RELATIONS = ("grandchild", "sibling", "niece_nephew", "other_relative", "stepchild", "none")

GROUND_CODES = tuple(f"law19-1.{i}" for i in range(1, 7)) + ("code122.adult",) + tuple(
    f"code122.{i}" for i in range(1, 14)) + ("inspection.negative",)

#: what ¶9 has the provider *obtain* (and Code art. 122 p.1 reads) besides the applicant's criminal-record
#: certificate: each must be known before a grant (fail closed); the spouse's certificate only when married
RECORD_FLAGS = (
    "spouse_criminal_record",
    "incapable",
    "parental_rights_limited",
    "removed_as_guardian",
    "adoption_cancelled_by_fault",
    "dispensary_registered",
    "permanent_residence",
    "health_restriction",
    "housing_owned",
    "social_payments",
)


def _date(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def _datetime(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


@dataclass(frozen=True)
class Person:
    iin: str
    surname: str
    given_name: str
    birth_date: dt.date
    patronymic: str | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Person:
        return cls(d["iin"], d["surname"], d["given_name"], _date(d["birth_date"]), d.get("patronymic"))

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.surname, self.given_name, self.patronymic) if p)

    def age_on(self, day: dt.date) -> int:
        """Full years on ``day`` (a person born on 29 February has a birthday on 1 March in common years)."""
        years = day.year - self.birth_date.year
        if (day.month, day.day) < (self.birth_date.month, self.birth_date.day):
            years -= 1
        return years


@dataclass(frozen=True)
class Office:
    code: str
    name_kk: str
    name_ru: str
    address_kk: str | None = None
    address_ru: str | None = None
    bin: str | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Office:
        return cls(d["code"], d["name_kk"], d["name_ru"], d.get("address_kk"), d.get("address_ru"), d.get("bin"))


@dataclass(frozen=True)
class Official:
    name: str
    position_kk: str
    position_ru: str
    iin: str | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> Official | None:
        if d is None:
            return None
        return cls(d["name"], d["position_kk"], d["position_ru"], d.get("iin"))


@dataclass(frozen=True)
class Child(Person):
    status: str = "orphan"
    care_loss_reason: str = ""
    relation_to_applicant: str = "none"
    residence: str = ""

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Child:
        p = Person.from_dict(d)
        return cls(
            p.iin, p.surname, p.given_name, p.birth_date, p.patronymic,
            d["status"], d["care_loss_reason"], d["relation_to_applicant"], d["residence"],
        )


@dataclass(frozen=True)
class Applicant(Person):
    address: str = ""
    citizenship: str = "KZ"
    marital_status: str = "single"
    phone: str | None = None
    email: str | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Applicant:
        p = Person.from_dict(d)
        return cls(
            p.iin, p.surname, p.given_name, p.birth_date, p.patronymic,
            d["address"], d["citizenship"], d["marital_status"], d.get("phone"), d.get("email"),
        )


@dataclass(frozen=True)
class PresentedDocument:
    code: str
    presented: bool
    valid_until: dt.date | None = None
    number: str | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PresentedDocument:
        return cls(d["code"], bool(d["presented"]), _date(d.get("valid_until")), d.get("number"))


# --- payloads -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApplicationSubmitted:
    channel: str
    provider: Office
    applicant: Applicant
    children: tuple[Child, ...]
    documents: tuple[PresentedDocument, ...]
    consent_to_secret_data: bool
    one_application_benefit: bool
    psc: Office | None = None
    spouse: Person | None = None
    received_by: Official | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ApplicationSubmitted:
        return cls(
            channel=d["channel"],
            provider=Office.from_dict(d["provider"]),
            applicant=Applicant.from_dict(d["applicant"]),
            children=tuple(Child.from_dict(c) for c in d["children"]),
            documents=tuple(PresentedDocument.from_dict(x) for x in d["documents"]),
            consent_to_secret_data=bool(d["consent_to_secret_data"]),
            one_application_benefit=bool(d["one_application_benefit"]),
            psc=Office.from_dict(d["psc"]) if d.get("psc") else None,
            spouse=Person.from_dict(d["spouse"]) if d.get("spouse") else None,
            received_by=Official.from_dict(d.get("received_by")),
        )


@dataclass(frozen=True)
class DocumentsDelivered:
    delivered_at: dt.datetime

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DocumentsDelivered:
        return cls(_datetime(d["delivered_at"]))


@dataclass(frozen=True)
class Records:
    """What the provider obtained from the state information systems (¶9), and the health certificate's
    conclusion (Code art. 122 p.1 item 5).  ``None`` means *not obtained*: never read as "clean" (issue 11 #1)."""

    criminal_record: str | None = None  # none / intentional_unexpunged / listed_grave
    spouse_criminal_record: str | None = None  # ¶9: the spouse's certificate, when the applicant is married
    incapable: bool | None = None
    parental_rights_limited: bool | None = None
    removed_as_guardian: bool | None = None
    adoption_cancelled_by_fault: bool | None = None
    dispensary_registered: bool | None = None
    permanent_residence: bool | None = None
    health_restriction: bool | None = None  # art. 122 p.1 item 5: a condition of the Ministry of Health's list
    housing_owned: bool | None = None  # ¶9: ownership of housing (applicant and spouse), as obtained
    social_payments: bool | None = None  # ¶9: state social allowances and other social payments, as obtained

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> Records | None:
        if d is None:
            return None
        return cls(**{k: d[k] for k in ("criminal_record", *RECORD_FLAGS) if k in d})

    def missing(self, married: bool) -> list[str]:
        """¶9: the records the grant needs that were not obtained (the spouse's certificate only if married)."""
        need = [k for k in ("criminal_record", *RECORD_FLAGS) if married or k != "spouse_criminal_record"]
        return [k for k in need if getattr(self, k) is None]


@dataclass(frozen=True)
class DocumentsChecked:
    complete: bool
    missing: tuple[str, ...]
    expired: tuple[str, ...]
    checked_by: Official
    records: Records | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DocumentsChecked:
        return cls(
            bool(d["complete"]), tuple(d.get("missing", ())), tuple(d.get("expired", ())),
            Official.from_dict(d["checked_by"]), Records.from_dict(d.get("records")),
        )


@dataclass(frozen=True)
class InspectionCompleted:
    act_number: str
    act_date: dt.date
    inspectors: tuple[Official, ...]
    conclusion: str  # possible / not_possible
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> InspectionCompleted:
        return cls(
            d["act_number"], _date(d["act_date"]), tuple(Official.from_dict(o) for o in d["inspectors"]),
            d["conclusion"], d,
        )

    @property
    def monthly_income(self) -> float | None:
        """Code art. 122 p.1 item 10: the household's income per month, as the act records it."""
        income = self.raw.get("income")
        if not isinstance(income, dict):
            return None
        return float(sum(income.get(k) or 0 for k in ("applicant_monthly", "spouse_monthly", "other_monthly")))

    @property
    def household_size(self) -> int:
        """The people the act lists in the household (the applicant at least)."""
        return max(len(self.raw.get("household") or ()), 1)

    @property
    def child_opinion(self) -> str | None:
        """Code art. 62: the child's opinion as the act records it."""
        return self.raw.get("child_opinion") or None


@dataclass(frozen=True)
class Ground:
    code: str
    text_kk: str | None = None
    text_ru: str | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Ground:
        return cls(d["code"], d.get("text_kk"), d.get("text_ru"))


@dataclass(frozen=True)
class DecisionMade:
    outcome: str  # granted / refused
    signatory: Official
    order_number: str | None = None
    order_date: dt.date | None = None
    children: tuple[str, ...] = ()
    child_housing_retained: bool | None = None
    supervisor: Official | None = None
    grounds: tuple[Ground, ...] = ()
    #: ¶11, Law art. 19-1 p.1: the application's children a granted decision refuses (the grounds are ``grounds``)
    refused_children: tuple[str, ...] = ()
    #: Code art. 122 p.1 item 9: the officer's record that an unmarried man raised the child 3+ years
    single_father_exception: SingleFatherException | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DecisionMade:
        return cls(
            outcome=d["outcome"],
            signatory=Official.from_dict(d["signatory"]),
            order_number=d.get("order_number"),
            order_date=_date(d.get("order_date")),
            children=tuple(d.get("children", ())),
            child_housing_retained=d.get("child_housing_retained"),
            supervisor=Official.from_dict(d.get("supervisor")),
            grounds=tuple(Ground.from_dict(g) for g in d.get("grounds", ())),
            refused_children=tuple(d.get("refused_children", ())),
            single_father_exception=SingleFatherException.from_dict(d.get("single_father_exception")),
        )


@dataclass(frozen=True)
class SingleFatherException:
    """Code art. 122 p.1 item 9, the exception: he has in fact raised the child for at least three years after
    the mother's death (``mother_deceased``) or her loss of parental rights (``mother_deprived``)."""

    years_raised: int
    basis: str

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> SingleFatherException | None:
        return cls(int(d["years_raised"]), d["basis"]) if d else None


@dataclass(frozen=True)
class PowerOfAttorney:
    """¶14: the notarised power of attorney a representative shows."""

    number: str
    date: dt.date
    notary: str

    @classmethod
    def from_dict(cls, d: Any) -> PowerOfAttorney | None:
        if not isinstance(d, dict):
            return None  # the contract's old free-text line carries none of the three: not a power of attorney
        return cls(d["number"], _date(d["date"]), d["notary"])


@dataclass(frozen=True)
class ResultIssued:
    issued_at: dt.datetime
    to: str
    power_of_attorney: PowerOfAttorney | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ResultIssued:
        return cls(_datetime(d["issued_at"]), d["to"], PowerOfAttorney.from_dict(d.get("power_of_attorney")))


@dataclass(frozen=True)
class ResultRequested:
    requested_at: dt.datetime

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ResultRequested:
        return cls(_datetime(d["requested_at"]))


@dataclass(frozen=True)
class ComplaintFiled:
    complaint_id: str
    addressee: str  # provider_head / quality_authority
    registered_at: dt.datetime
    text: str

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ComplaintFiled:
        return cls(d["complaint_id"], d["addressee"], _datetime(d["registered_at"]), d["text"])


@dataclass(frozen=True)
class ComplaintResolved:
    complaint_id: str
    resolved_at: dt.datetime
    outcome: str

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ComplaintResolved:
        return cls(d["complaint_id"], _datetime(d["resolved_at"]), d["outcome"])


PAYLOADS: dict[str, type] = {
    "application.submitted": ApplicationSubmitted,
    "documents.delivered": DocumentsDelivered,
    "documents.checked": DocumentsChecked,
    "inspection.completed": InspectionCompleted,
    "decision.made": DecisionMade,
    "result.issued": ResultIssued,
    "result.requested": ResultRequested,
    "complaint.filed": ComplaintFiled,
    "complaint.resolved": ComplaintResolved,
}

Payload = (
    ApplicationSubmitted | DocumentsDelivered | DocumentsChecked | InspectionCompleted | DecisionMade
    | ResultIssued | ResultRequested | ComplaintFiled | ComplaintResolved
)


@dataclass(frozen=True)
class Event:
    """One case event: the envelope, the typed payload, and the JSON-shaped tree it came from."""

    event_id: str
    event: str
    case_id: str
    occurred_at: dt.datetime
    language: str  # kk / ru: the language of the documents issued
    data: Payload
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Event:
        """Build from a dict that :mod:`pipeline.ingest` has validated (schema and semantics)."""
        return cls(
            event_id=d["event_id"],
            event=d["event"],
            case_id=d["case_id"],
            occurred_at=_datetime(d["occurred_at"]),
            language=d["language"],
            data=PAYLOADS[d["event"]].from_dict(d["data"]),
            raw=d,
        )

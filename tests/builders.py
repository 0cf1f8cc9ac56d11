"""Builders of contract-shaped case events for tests (JSON trees, as a back office would send them)."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from typing import Any

from pipeline.core.events import Event
from pipeline.core.iin import make_iin

_serial = itertools.count(1)
PROVIDER = {"code": "ED-TEST", "name_kk": "Тест ауданының білім бөлімі", "name_ru": "Отдел образования тестового района",
            "bin": "990340000017", "address_kk": "Алматы қ., Абай даңғ., 1", "address_ru": "г. Алматы, пр. Абая, 1"}
PSC = {"code": "PSC-TEST", "name_kk": "№7 ХҚКО", "name_ru": "ЦОН №7"}
OPERATOR = {"name": "Иванова Мария", "position_kk": "Оператор", "position_ru": "Оператор"}
HEAD = {"name": "Сейітов Ерлан Болатұлы", "position_kk": "Бөлім басшысы", "position_ru": "Руководитель отдела"}


def person(birth: dt.date, sex: str = "F", surname: str = "Әбенова", given: str = "Гүлнұр") -> dict[str, Any]:
    return {"iin": make_iin(birth, sex, next(_serial)), "surname": surname, "given_name": given,
            "patronymic": "Маратқызы", "birth_date": birth.isoformat()}


def child(birth: dt.date, relation: str = "niece_nephew", **kw: Any) -> dict[str, Any]:
    return {**person(birth, **kw), "status": "orphan", "care_loss_reason": "parents_deceased",
            "relation_to_applicant": relation, "residence": "Алматы қ."}


def envelope(event: str, case_id: str, occurred: dt.datetime, data: dict[str, Any], language: str = "kk",
             event_id: str | None = None) -> dict[str, Any]:
    return {"format": "qamqor.case-event/1", "event_id": event_id or str(uuid.uuid4()), "event": event,
            "case_id": case_id, "occurred_at": occurred.isoformat(), "language": language, "data": data}


KZ = dt.timezone(dt.timedelta(hours=5))


def at(y: int, m: int, d: int, hh: int = 10) -> dt.datetime:
    return dt.datetime(y, m, d, hh, 0, tzinfo=KZ)


ALL_DOCS = ("identity", "health_certificate", "spouse_health_certificate", "spouse_consent", "care_loss_proof",
            "income_proof", "psych_training_certificate", "child_opinion")


def application(case_id: str = "C-1", *, channel: str = "psc", married: bool = False,
                children: list[dict[str, Any]] | None = None, documents: list[dict[str, Any]] | None = None,
                when: dt.datetime | None = None, benefit: bool = False, consent: bool = True,
                citizenship: str = "KZ", language: str = "kk") -> dict[str, Any]:
    when = when or at(2026, 12, 14)
    data: dict[str, Any] = {
        "channel": channel,
        "provider": PROVIDER,
        "applicant": {**person(dt.date(1985, 3, 2)), "address": "Алматы қ., Төле би к., 5", "citizenship": citizenship,
                      "marital_status": "married" if married else "single"},
        "children": children if children is not None else [child(dt.date(2017, 5, 1))],
        "documents": documents if documents is not None else [
            {"code": c, "presented": True, "valid_until": "2027-12-31"} for c in ALL_DOCS],
        "consent_to_secret_data": consent,
        "one_application_benefit": benefit,
    }
    if channel == "psc":
        data["psc"] = PSC
        data["received_by"] = OPERATOR
    if married:
        data["spouse"] = person(dt.date(1984, 1, 9), "M", "Әбенов", "Марат")
    return envelope("application.submitted", case_id, when, data, language)


def delivered(case_id: str = "C-1", when: dt.datetime | None = None) -> dict[str, Any]:
    when = when or at(2026, 12, 15)
    return envelope("documents.delivered", case_id, when, {"delivered_at": when.isoformat()})


def checked(case_id: str = "C-1", when: dt.datetime | None = None, *, complete: bool = True,
            missing: tuple[str, ...] = (), records: dict[str, Any] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"complete": complete, "missing": list(missing), "expired": [], "checked_by": HEAD}
    if records is not None:
        data["records"] = records
    return envelope("documents.checked", case_id, when or at(2026, 12, 17), data)


def inspected(case_id: str = "C-1", act_date: dt.date = dt.date(2026, 12, 21), conclusion: str = "possible",
              inspectors: int = 2) -> dict[str, Any]:
    data = {
        "act_number": "17", "act_date": act_date.isoformat(), "address": "Алматы қ., Төле би к., 5",
        "inspectors": [{"name": f"Инспектор {i}", "position_kk": "Маман", "position_ru": "Специалист"}
                       for i in range(1, inspectors + 1)],
        "applicant_employment": "мұғалім",
        "household": [{"full_name": "Әбенова Гүлнұр", "birth_date": "1985-03-02", "relation": "өтініш беруші",
                       "occupation": "мұғалім"}],
        "housing": {"type": "apartment", "total_area_m2": 64.5, "living_area_m2": 40, "rooms": 3, "ownership": "own",
                    "utilities": ["water", "heating"], "sanitary_state": "жақсы"},
        "child_conditions": "бөлек бөлме", "income": {"applicant_monthly": 350000},
        "family_characteristics": "тату отбасы", "conclusion": conclusion, "conclusion_text": "мүмкін",
    }
    return envelope("inspection.completed", case_id, dt.datetime.combine(act_date, dt.time(15), KZ), data)


def granted(case_id: str, children_iins: list[str], order_date: dt.date = dt.date(2027, 1, 5)) -> dict[str, Any]:
    data = {"outcome": "granted", "order_number": "14-12/0123", "order_date": order_date.isoformat(),
            "children": children_iins, "supervisor": HEAD, "signatory": HEAD}
    return envelope("decision.made", case_id, dt.datetime.combine(order_date, dt.time(11), KZ), data)


def refused(case_id: str, grounds: tuple[str, ...] = ("code122.10",), day: dt.date = dt.date(2027, 1, 5)) -> dict[str, Any]:
    data = {"outcome": "refused", "grounds": [{"code": g} for g in grounds], "signatory": HEAD}
    return envelope("decision.made", case_id, dt.datetime.combine(day, dt.time(11), KZ), data)


def event(tree: dict[str, Any]) -> Event:
    return Event.from_dict(tree)

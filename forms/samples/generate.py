"""Writes the example contexts of every document, kk and ru (``<kind>.<language>.json``), beside this file.

The contexts follow contract.md (the trees the pipeline passes to ``Renderer.render``); names are realistic,
IINs are valid (check digit computed below, birth date and sex agree with the IIN). Free texts of the events
(employment, conclusions, household relations) are written in the document's language, as a back office would.
Run ``python -m forms.samples.generate`` after changing the data; tests and ``forms.preview`` read the JSON.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORDER_DATE = dt.date(2026, 12, 14)
SUBMITTED = dt.date(2026, 11, 3)


def result_due() -> str:
    """¶7, ¶15: the date and time of the result as the core computes it (19 working days from the submission, the
    day itself not counted, at terms.toml's ready_time) — never a hand-written date (issue 11 #6)."""
    from forms.catalogue import load_rules_context
    from pipeline.core.case import KZ_TZ

    ctx = load_rules_context()
    term = ctx.terms["result"]
    hh, mm = (term.ready_time or "18:30").split(":")
    due = ctx.calendar.add_working_days(SUBMITTED, term.working_days)
    return dt.datetime.combine(due, dt.time(int(hh), int(mm)), KZ_TZ).isoformat()


def registered(office: str, seq: int) -> str:
    """Issue 11 #9: the office's registration number, in service.toml's format (what the journal would give)."""
    from forms.catalogue import registration
    from pipeline.core.case import registration_number

    return registration_number(registration()[0], office, SUBMITTED.year, seq)


def iin(birth: str, sex: str, serial: int = 1) -> str:
    """A valid IIN for a birth date (YYYY-MM-DD) and sex ('M'/'F'): YYMMDD, century/sex digit, serial, check."""
    d = dt.date.fromisoformat(birth)
    century = {18: 1, 19: 3, 20: 5}[d.year // 100] + (sex == "F")
    while True:
        first = f"{d:%y%m%d}{century}{serial:04d}"
        digits = [int(c) for c in first]
        check = sum(x * (i + 1) for i, x in enumerate(digits)) % 11
        if check == 10:
            check = sum(x * w for x, w in zip(digits, [3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2], strict=True)) % 11
        if check != 10:
            return first + str(check)
        serial += 1


def age_on(birth: str, day: dt.date) -> int:
    b = dt.date.fromisoformat(birth)
    return day.year - b.year - ((day.month, day.day) < (b.month, b.day))


def person(surname, given, patronymic, birth, sex, serial=1, fixed_iin=None):
    return {"iin": fixed_iin or iin(birth, sex, serial), "surname": surname, "given_name": given,
            "patronymic": patronymic, "birth_date": birth}


PSC = {
    "code": "PSC-ALM-AUE-02",
    "name_kk": "«Азаматтарға арналған үкімет» мемлекеттік корпорациясы» коммерциялық емес акционерлік қоғамының "
               "Алматы қаласы бойынша филиалының Халыққа қызмет көрсету бойынша Әуезов аудандық № 2 бөлімі",
    "name_ru": "Отдел № 2 Ауэзовского района по обслуживанию населения филиала некоммерческого акционерного "
               "общества «Государственная корпорация «Правительство для граждан» по городу Алматы",
    "address_kk": "Алматы қаласы, Әуезов ауданы, Жетісу-1 шағын ауданы, 24",
    "address_ru": "г. Алматы, Ауэзовский район, микрорайон Жетысу-1, 24",
}
PROVIDER = {
    "code": "EDU-ALM", "bin": "990240003412",
    "name_kk": "«Алматы қаласы Білім басқармасы» коммуналдық мемлекеттік мекемесі",
    "name_ru": "Коммунальное государственное учреждение «Управление образования города Алматы»",
    "address_kk": "Алматы қаласы, Абай даңғылы, 52, тел. 8 727 271 65 00",
    "address_ru": "г. Алматы, проспект Абая, 52, тел. 8 727 271 65 00",
}
APPLICANT = person("Сейітова", "Айгүл", "Болатқызы", "1990-01-01", "F", fixed_iin="900101400013") | {
    "address": "Алматы қаласы, Әуезов ауданы, Жандосов көшесі, 58-үй, 14-пәтер",
    "phone": "+7 701 234 56 78", "email": "aigul.seitova@example.kz", "citizenship": "KZ",
    "marital_status": "married",
}
SPOUSE = person("Сейітов", "Ержан", "Маратұлы", "1988-05-15", "M")
CHILDREN = [
    person("Әбдіқадырова", "Әсем", "Нұрланқызы", "2012-03-15", "F", fixed_iin="120315600125") | {
        "status": "orphan", "care_loss_reason": "parents_deceased", "relation_to_applicant": "niece_nephew",
        "residence": "Алматы қаласы, Бостандық ауданы, Өтеген батыр көшесі, 11-үй"},
    person("Әбдіқадыров", "Ілияс", "Нұрланұлы", "2016-07-20", "M") | {
        "status": "orphan", "care_loss_reason": "parents_deceased", "relation_to_applicant": "niece_nephew",
        "residence": "Алматы қаласы, Бостандық ауданы, Өтеген батыр көшесі, 11-үй"},
]
RECEIVED_BY = {"name": "Ермекова Дана Серікқызы", "iin": iin("1995-03-03", "F", 8),
               "position_kk": "Мемлекеттік корпорация бөлімінің маманы",
               "position_ru": "специалист отдела Государственной корпорации"}
SIGNATORY = {"name": "Жұмабеков Ерлан Сәкенұлы", "iin": iin("1975-10-02", "M", 3),
             "position_kk": "Басқарма басшысы", "position_ru": "Руководитель управления"}
SUPERVISOR = {"name": "Ибраева Жанар Қайратқызы", "position_kk": "басшының орынбасары",
              "position_ru": "заместителя руководителя управления"}
INSPECTORS = [
    {"name": "Омарова Гүлнар Серікқызы", "iin": iin("1984-04-12", "F", 5),
     "position_kk": "қорғаншылық және қамқоршылық бөлімінің бас маманы",
     "position_ru": "главный специалист отдела опеки и попечительства"},
    {"name": "Тұрсынбаев Дәурен Асқарұлы", "iin": iin("1991-08-30", "M", 6),
     "position_kk": "қорғаншылық және қамқоршылық бөлімінің маманы",
     "position_ru": "специалист отдела опеки и попечительства"},
]
DOCUMENTS = [
    {"code": "identity", "presented": True, "number": "048123456"},
    {"code": "health_certificate", "presented": True, "valid_until": "2027-05-30", "number": "035/у-1187"},
    {"code": "spouse_health_certificate", "presented": True, "valid_until": "2027-05-30", "number": "035/у-1188"},
    {"code": "spouse_consent", "presented": True, "number": "НК-2026-44127"},
    {"code": "care_loss_proof", "presented": True, "number": "СЗ-0098812"},
    {"code": "income_proof", "presented": True},
    {"code": "child_opinion", "presented": True},
]

TEXTS = {
    "ru": {
        "employment": "ТОО «Алатау Сервис», главный бухгалтер, рабочий телефон 8 727 300 11 22",
        "household": [
            ("Сейітов Ержан Маратұлы", SPOUSE["birth_date"], "супруг", "АО «КазТрансОйл», инженер"),
            ("Сейітова Аружан Ержанқызы", "2019-06-02", "дочь", "детский сад № 112"),
        ],
        "child_conditions": "Для детей выделена отдельная комната площадью 14 кв. м с двумя спальными местами, "
                            "письменным столом, шкафом для одежды и книжными полками; имеются одежда по сезону, "
                            "учебные принадлежности и игрушки. Рядом с домом школа-гимназия № 159 и поликлиника.",
        "family": "Семья благополучная, отношения между супругами доброжелательные. Заявитель — родная тетя "
                  "детей, поддерживает с ними постоянную связь после смерти их родителей; супруг дал "
                  "нотариальное согласие. Мотив — сохранить детей в кровной семье.",
        "opinion": "Әсем (14 лет) выразила желание жить в семье тети вместе с братом.",
        "conclusion": "Жилищно-бытовые условия удовлетворяют потребностям детей; доход семьи превышает "
                      "прожиточный минимум на каждого члена семьи.",
        "ground_text": "Согласно сведениям о доходах за последние 12 месяцев среднемесячный доход заявителя "
                       "составляет 41 000 тенге, что ниже прожиточного минимума на подопечных.",
        "negative": "Акт обследования № 17: жилое помещение площадью 18 кв. м без отдельного места для детей.",
        "mismatch": "Доход заявителя и жилищные условия не отвечают требованиям пункта 1 статьи 122 Кодекса и "
                    "акта обследования (пункты 1 и 2 настоящего ответа).",
    },
    "kk": {
        "employment": "«Алатау Сервис» ЖШС, бас бухгалтер, жұмыс телефоны 8 727 300 11 22",
        "household": [
            ("Сейітов Ержан Маратұлы", SPOUSE["birth_date"], "жұбайы", "«ҚазТрансОйл» АҚ, инженер"),
            ("Сейітова Аружан Ержанқызы", "2019-06-02", "қызы", "№ 112 балабақша"),
        ],
        "child_conditions": "Балаларға екі төсек орны, жазу үстелі, киім шкафы және кітап сөрелері бар 14 шаршы "
                            "метрлік жеке бөлме бөлінген; маусымдық киім, оқу құралдары мен ойыншықтар бар. "
                            "Үйдің жанында № 159 мектеп-гимназия және емхана орналасқан.",
        "family": "Отбасы салауатты, ерлі-зайыптылардың қарым-қатынасы жақсы. Өтініш беруші — балалардың туған "
                  "апасы, олардың ата-анасы қайтыс болғаннан кейін балалармен үнемі байланыста; жұбайы нотариат "
                  "куәландырған келісім берді. Мақсаты — балаларды туған отбасында сақтау.",
        "opinion": "Әсем (14 жаста) інісімен бірге апасының отбасында тұруға ниет білдірді.",
        "conclusion": "Тұрғын үй-тұрмыстық жағдайлары балалардың қажеттіліктеріне сай; отбасының табысы "
                      "отбасының әр мүшесіне шаққанда ең төмен күнкөріс деңгейінен жоғары.",
        "ground_text": "Соңғы 12 айдағы табыс туралы мәліметтерге сәйкес өтініш берушінің орташа айлық табысы "
                       "41 000 теңгені құрайды, бұл қамқорлыққа алынушылардың ең төмен күнкөріс деңгейінен төмен.",
        "negative": "№ 17 тексеру актісі: балаларға жеке орын жоқ, алаңы 18 шаршы метр тұрғын үй.",
        "mismatch": "Өтініш берушінің табысы мен тұрғын үй жағдайлары Кодекстің 122-бабының 1-тармағының және "
                    "тексеру актісінің талаптарына сай келмейді (осы жауаптың 1 және 2-тармақтары).",
    },
}


def base(kind: str, lang: str, channel: str, number: str, when: str) -> dict:
    case_id = "QMQ-2026-C-1001" if channel == "psc" else "QMQ-2026-P-2002"
    doc_id = f"{case_id}-{kind}-1"
    application = {
        "channel": channel, "provider": PROVIDER, "applicant": APPLICANT, "spouse": SPOUSE,
        "children": CHILDREN, "documents": DOCUMENTS, "consent_to_secret_data": True,
        "one_application_benefit": True,
    }
    if channel == "psc":
        application |= {"psc": PSC, "received_by": RECEIVED_BY}
    return {
        "document": {"kind": kind, "id": doc_id, "number": number, "date": when[:10], "datetime": when,
                     "language": lang, "verify_url": f"https://qamqor.example.kz/v/{doc_id}"},
        "case": {"case_id": case_id, "channel": channel, "submitted_at": "2026-11-03T11:20:00+05:00"},
        "application": copy.deepcopy(application), "check": None, "inspection": None, "decision": None,
        "computed": {},
    }


def inspection(lang: str) -> dict:
    t = TEXTS[lang]
    return {
        "act_number": "17", "act_date": "2026-11-20",
        "address": APPLICANT["address"], "inspectors": INSPECTORS, "applicant_employment": t["employment"],
        "household": [{"full_name": n, "birth_date": b, "relation": r, "occupation": o} for n, b, r, o in t["household"]],
        "housing": {"type": "apartment", "total_area_m2": 78.5, "living_area_m2": 52.0, "rooms": 3,
                    "ownership": "own", "utilities": ["water", "sewerage", "central_heating", "gas", "electricity"],
                    "sanitary_state": "good"},
        "child_conditions": t["child_conditions"],
        "income": {"applicant_monthly": 420000, "spouse_monthly": 385000},
        "family_characteristics": t["family"], "child_opinion": t["opinion"],
        "conclusion": "possible", "conclusion_text": t["conclusion"],
    }


def computed_children(children: list[dict], day: dt.date) -> list[dict]:
    """As the pipeline computes it: age on the order's date → guardianship (<14) or trusteeship (14–17)."""
    out = []
    for c in children:
        age = age_on(c["birth_date"], day)
        out.append(c | {"age": age, "care": "guardianship" if age < 14 else "trusteeship"})
    return out


def contexts(lang: str) -> dict[str, dict]:
    t = TEXTS[lang]
    out = {}
    c = base("acceptance_receipt", lang, "psc", registered(PSC["code"], 1471), "2026-11-03T11:24:00+05:00")
    c["computed"] = {"result_due": result_due()}
    out["acceptance_receipt"] = c

    c = base("refusal_receipt", lang, "psc", registered(PSC["code"], 1472), "2026-11-03T11:24:00+05:00")
    docs = c["application"]["documents"]
    docs[:] = [d for d in docs if d["code"] != "spouse_consent"] + [{"code": "spouse_consent", "presented": False}]
    for d in docs:
        if d["code"] == "health_certificate":
            d["valid_until"] = "2026-10-30"
    c["computed"] = {"missing": ["spouse_consent"], "expired": ["health_certificate"]}
    out["refusal_receipt"] = c

    c = base("acceptance_notice", lang, "portal", registered(PROVIDER["code"], 9001), "2026-11-03T11:21:00+05:00")
    c["computed"] = {"result_due": result_due()}
    out["acceptance_notice"] = c

    c = base("portal_refusal", lang, "portal", registered(PROVIDER["code"], 3388), "2026-11-05T15:40:00+05:00")
    c["check"] = {"complete": False, "missing": ["psych_training_certificate"], "expired": ["income_proof"],
                  "checked_by": INSPECTORS[0]}
    c["computed"] = {"missing": ["psych_training_certificate"], "expired": ["income_proof"]}
    out["portal_refusal"] = c

    # ¶9 / issue 11 #7: the provider finds a package that came through a PSC incomplete
    c = base("provider_refusal", lang, "psc", registered(PROVIDER["code"], 3389), "2026-11-05T15:45:00+05:00")
    c["check"] = {"complete": False, "missing": ["spouse_consent"], "expired": [], "checked_by": INSPECTORS[0]}
    c["computed"] = {"missing": ["spouse_consent"], "expired": []}
    out["provider_refusal"] = c

    c = base("inspection_act", lang, "psc", "17", "2026-11-20T16:00:00+05:00")
    c["inspection"] = inspection(lang)
    out["inspection_act"] = c

    c = base("order", lang, "psc", "14-12/0123", "2026-12-14T10:30:00+05:00")
    c["inspection"] = inspection(lang)
    c["decision"] = {"outcome": "granted", "order_number": "14-12/0123", "order_date": ORDER_DATE.isoformat(),
                     "children": [ch["iin"] for ch in CHILDREN], "child_housing_retained": True,
                     "supervisor": SUPERVISOR, "signatory": SIGNATORY}
    c["computed"] = {"children": computed_children(CHILDREN, ORDER_DATE)}
    out["order"] = c

    c = base("reasoned_refusal", lang, "portal", registered(PROVIDER["code"], 124), "2026-12-14T10:45:00+05:00")
    c["inspection"] = inspection(lang) | {"conclusion": "not_possible"}
    grounds = [{"code": "code122.10", f"text_{lang}": t["ground_text"]},
               {"code": "inspection.negative", f"text_{lang}": t["negative"]},
               {"code": "law19-1.2", f"text_{lang}": t["mismatch"]}]  # Law art. 19-1 p.1: each with this case's reasons
    c["decision"] = {"outcome": "refused", "grounds": grounds, "signatory": SIGNATORY}
    c["computed"] = {"grounds": grounds}
    out["reasoned_refusal"] = c
    return out


def main():
    for lang in ("kk", "ru"):
        for kind, context in contexts(lang).items():
            path = HERE / f"{kind}.{lang}.json"
            path.write_text(json.dumps(context, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
            print(path)


if __name__ == "__main__":
    main()

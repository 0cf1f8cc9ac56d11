"""The Rules as a pure core (pipeline/core/rules.py): no files written, no clock, no database, no sleeps."""

from __future__ import annotations

import datetime as dt

import pytest

from forms.catalogue import load_rules_context
from pipeline.core import rules
from pipeline.core.calendar import WorkCalendar
from pipeline.errors import InputError
from tests import builders as B

CTX = load_rules_context(calendar=WorkCalendar())

#: ¶9: every record the provider obtains, all clean — a grant needs each of them (issue 11 #1, fail closed)
CLEAN = {"criminal_record": "none", "spouse_criminal_record": "none", "incapable": False,
         "parental_rights_limited": False, "removed_as_guardian": False, "adoption_cancelled_by_fault": False,
         "dispensary_registered": False, "permanent_residence": True, "health_restriction": False,
         "housing_owned": True, "social_payments": False}


def checked(case_id="C-1", when=None, *, records=CLEAN, **kw):
    """``B.checked`` with the ¶9 records obtained: a partial dict is laid over the clean ones; None: not obtained."""
    return B.checked(case_id, when, records=None if records is None else {**CLEAN, **records}, **kw)


def refused(case_id, grounds=("code122.10",), day=dt.date(2027, 1, 5)):
    """``B.refused`` with this case's own reasons for each ground (Law art. 19-1 p.1)."""
    tree = B.refused(case_id, grounds, day)
    for g in tree["data"]["grounds"]:
        g.update(text_kk="Осы істің себебі.", text_ru="Причина по этому делу.")
    return tree


def run(*trees):
    """Apply events in order; return the last outcome."""
    state, out = None, None
    for t in trees:
        out = rules.apply(state, B.event(t), CTX)
        state = out.state
    return out


def kinds(out):
    return [d.kind for d in out.documents]


# --- ¶3, ¶4, ¶7: channels and acceptance -------------------------------------------------------------------


def test_psc_complete_package_gets_acceptance_receipt_and_19_day_term():
    """¶4 receipt; ¶15 19 working days, the day of acceptance not counted (¶6): 14 Dec 2026 → 14 Jan 2027."""
    out = run(B.application(channel="psc", when=B.at(2026, 12, 14)))
    assert kinds(out) == ["acceptance_receipt"]
    doc = out.documents[0]
    assert doc.signer_role == "operator" and doc.office == "PSC-TEST" and doc.routes == ("psc", "archive")
    assert out.state.deadline("result").due == dt.date(2027, 1, 14)
    assert out.state.deadline("delivery").due == dt.date(2026, 12, 15)  # ¶6: 1 working day
    assert doc.computed["result_due"] == "2027-01-14T18:30:00+05:00"


def test_portal_complete_package_gets_notice_with_date_and_time():
    """¶7: the personal cabinet gets a notice with the date and time the result is ready."""
    out = run(B.application(channel="portal", when=B.at(2026, 12, 14)))
    assert kinds(out) == ["acceptance_notice"]
    assert out.documents[0].routes == ("cabinet", "archive")
    assert out.documents[0].signer_role == "provider_seal"
    assert out.documents[0].computed["result_due"].startswith("2027-01-14T")
    assert out.state.deadline("check").due == dt.date(2026, 12, 17)  # ¶8 runs at once; 16 Dec is a holiday


# --- ¶5, ¶9: incomplete or expired packages ------------------------------------------------------------------


def test_psc_missing_and_expired_documents_give_refusal_receipt_listing_them():
    """¶5: a refusal receipt (appendix 3) naming each missing or expired document."""
    docs = [{"code": c, "presented": True, "valid_until": "2027-12-31"} for c in B.ALL_DOCS if c != "spouse_consent"]
    docs = [d if d["code"] != "health_certificate" else {**d, "valid_until": "2026-12-01"} for d in docs]
    out = run(B.application(channel="psc", married=True, documents=docs))
    assert kinds(out) == ["refusal_receipt"]
    assert out.documents[0].computed == {"missing": ["spouse_consent"], "expired": ["health_certificate"]}
    assert out.state.status == rules.REFUSED_ACCEPTANCE
    assert out.state.open_deadlines() == ()


def test_portal_incomplete_package_is_refused_in_the_cabinet():
    """¶9: via the portal, an incomplete package is refused to the personal cabinet."""
    docs = [{"code": "health_certificate", "presented": True}]
    out = run(B.application(channel="portal", documents=docs))
    assert kinds(out) == ["portal_refusal"]
    assert "care_loss_proof" in out.documents[0].computed["missing"]
    assert "identity" not in out.documents[0].computed["missing"]  # shown at the counter only (psc)


def test_standard_conditions():
    """Appendix 2: spouse documents when married; psych training unless every child is a grandchild or
    sibling; the child's opinion from age 10 (Code art. 62)."""
    on = dt.date(2026, 12, 14)
    app = B.event(B.application(married=True, children=[B.child(dt.date(2015, 1, 1), relation="grandchild")])).data
    codes = {r.code for r in rules.required_documents(app, on, CTX)}
    assert {"spouse_consent", "spouse_health_certificate", "child_opinion"} <= codes
    assert "psych_training_certificate" not in codes
    app2 = B.event(B.application(children=[B.child(dt.date(2020, 1, 1), relation="none")])).data
    codes2 = {r.code for r in rules.required_documents(app2, on, CTX)}
    assert "psych_training_certificate" in codes2 and "child_opinion" not in codes2
    assert "spouse_consent" not in codes2


def test_document_valid_until_the_day_of_submission_is_not_expired():
    docs = [{"code": c, "presented": True, "valid_until": "2026-12-14"} for c in B.ALL_DOCS]
    out = run(B.application(documents=docs, when=B.at(2026, 12, 14)))
    assert kinds(out) == ["acceptance_receipt"]


# --- ¶6, ¶8, ¶10, ¶11, ¶12: the order of steps and the terms ---------------------------------------------------


def _story(case="C-1", **app_kw):
    a = B.application(case, **app_kw)
    return [a, B.delivered(case), checked(case), B.inspected(case)]


def test_full_psc_story_terms_open_and_close():
    trees = _story()
    out = run(*trees[:2])
    assert out.state.deadline("delivery").closed_on == dt.date(2026, 12, 15)  # ¶6
    assert out.state.deadline("check").due == dt.date(2026, 12, 18)  # ¶8: 2 working days (16 Dec is a holiday)
    out = run(*trees[:3])
    assert out.state.deadline("inspection").due == dt.date(2026, 12, 22)  # ¶10: 3 working days from 17 Dec
    out = run(*trees)
    assert kinds(out) == ["inspection_act"]
    assert out.documents[0].signer_role == "inspector" and len(out.documents[0].signers) == 2
    assert out.state.deadline("decision").due == dt.date(2027, 1, 11)  # ¶11: 12 working days from the act


def test_order_before_the_act_is_refused():
    """¶10–11: an order before the inspection act is rejected with the reason."""
    trees = _story()[:3]
    with pytest.raises(InputError) as err:
        run(*trees, B.granted("C-1", [trees[0]["data"]["children"][0]["iin"]]))
    assert err.value.code == "E-OUT-OF-ORDER" and "before the inspection act" in err.value.message


def test_second_decision_is_refused():
    trees = _story()
    iin = trees[0]["data"]["children"][0]["iin"]
    with pytest.raises(InputError) as err:
        run(*trees, B.granted("C-1", [iin]), refused("C-1"))
    assert err.value.code == "E-OUT-OF-ORDER" and "already" in err.value.message


def test_event_for_unknown_case_is_refused():
    with pytest.raises(InputError) as err:
        run(B.delivered("C-404"))
    assert err.value.code == "E-UNKNOWN-CASE"


def test_second_application_for_a_case_is_refused():
    with pytest.raises(InputError) as err:
        run(B.application("C-1"), B.application("C-1"))
    assert err.value.code == "E-CASE-EXISTS"


def test_check_before_delivery_on_psc_case_is_out_of_order():
    """¶6, ¶8: at a PSC the provider checks after the courier delivered the package."""
    with pytest.raises(InputError) as err:
        run(B.application("C-1"), checked("C-1"))
    assert err.value.code == "E-OUT-OF-ORDER"


def test_delivery_on_portal_case_is_out_of_order():
    with pytest.raises(InputError):
        run(B.application("C-1", channel="portal"), B.delivered("C-1"))


def test_provider_finds_package_incomplete():
    """¶9: the provider's check finds the package incomplete: refusal to accept, the terms end."""
    a = B.application("C-1", channel="portal")
    out = run(a, checked("C-1", complete=False, missing=("income_proof",)))
    assert kinds(out) == ["portal_refusal"] and out.documents[0].computed["missing"] == ["income_proof"]
    assert out.state.status == rules.REFUSED_ACCEPTANCE and out.state.open_deadlines() == ()


# --- ¶11: guardianship or trusteeship, grants and refusals -------------------------------------------------------


def test_order_decides_guardianship_or_trusteeship_per_child_on_the_order_date():
    """Code art. 1: under 14 guardianship, 14–17 trusteeship, by age on the order's date (not the application's)."""
    young = B.child(dt.date(2017, 6, 1))
    turning = B.child(dt.date(2013, 1, 3))  # 13 at the application, 14 on the order date 5 Jan 2027
    trees = _story(children=[young, turning])
    out = run(*trees, B.granted("C-1", [young["iin"], turning["iin"]], dt.date(2027, 1, 5)))
    assert kinds(out) == ["order"]
    cares = {c["iin"]: c["care"] for c in out.documents[0].computed["children"]}
    assert cares == {young["iin"]: "guardianship", turning["iin"]: "trusteeship"}
    assert out.documents[0].number == "14-12/0123"
    assert out.documents[0].routes == ("cabinet", "psc", "archive")  # ¶12, ¶13
    assert out.state.deadline("result_delivery").due == dt.date(2027, 1, 8)  # ¶12: 2 working days; 7 Jan a holiday


def test_child_turning_18_before_the_order_is_inconsistent():
    c = B.child(dt.date(2009, 1, 2))
    trees = _story(children=[c])
    with pytest.raises(InputError) as err:
        run(*trees, B.granted("C-1", [c["iin"]], dt.date(2027, 1, 5)))
    assert err.value.code == "E-INCONSISTENT"


def test_order_for_a_child_not_in_the_application_is_inconsistent():
    trees = _story()
    with pytest.raises(InputError) as err:
        run(*trees, B.granted("C-1", ["050101500010"]))
    assert err.value.code == "E-INCONSISTENT" and err.value.where.pointer == "/data/children/0"


@pytest.mark.parametrize("records,ground", [
    ({"criminal_record": "intentional_unexpunged"}, "code122.7"),
    ({"criminal_record": "listed_grave"}, "code122.12"),
    ({"incapable": True}, "code122.1"),
    ({"parental_rights_limited": True}, "code122.2"),
    ({"removed_as_guardian": True}, "code122.3"),
    ({"adoption_cancelled_by_fault": True}, "code122.4"),
    ({"permanent_residence": False}, "code122.6"),
    ({"dispensary_registered": True}, "code122.11"),
])
def test_art122_grounds_in_the_records_forbid_a_grant(records, ground):
    """Code art. 122 p.1: the records obtained under ¶9 forbid a granted decision; a refusal stays possible."""
    a = B.application("C-1")
    trees = [a, B.delivered("C-1"), checked("C-1", records=records), B.inspected("C-1")]
    with pytest.raises(InputError) as err:
        run(*trees, B.granted("C-1", [a["data"]["children"][0]["iin"]]))
    assert err.value.code == "E-DECISION-FORBIDDEN" and ground in err.value.message
    out = run(*trees, refused("C-1", (ground,)))
    assert kinds(out) == ["reasoned_refusal"] and out.documents[0].computed["grounds"][0]["code"] == ground


def test_stateless_applicant_and_missing_consent_forbid_a_grant():
    a = B.application("C-1", citizenship="stateless", consent=False)
    with pytest.raises(InputError) as err:
        run(a, B.delivered("C-1"), checked("C-1"), B.inspected("C-1"),
            B.granted("C-1", [a["data"]["children"][0]["iin"]]))
    assert "code122.8" in err.value.message and "law19-1.6" in err.value.message


def test_negative_inspection_forbids_a_grant():
    a = B.application("C-1")
    with pytest.raises(InputError) as err:
        run(a, B.delivered("C-1"), checked("C-1"), B.inspected("C-1", conclusion="not_possible"),
            B.granted("C-1", [a["data"]["children"][0]["iin"]]))
    assert "inspection.negative" in err.value.message


# --- ¶12–¶16: after the decision ---------------------------------------------------------------------------------


def _decided(benefit=False, channel="psc"):
    a = B.application("C-1", benefit=benefit, channel=channel)
    trees = [a] + ([B.delivered("C-1")] if channel == "psc" else []) + [checked("C-1"), B.inspected("C-1")]
    return run(*trees, B.granted("C-1", [a["data"]["children"][0]["iin"]])).state


def test_result_delivered_closes_terms_and_starts_the_month_at_the_psc():
    """¶12, ¶14: delivered result closes ¶12/¶15 and is kept at the PSC for a month."""
    state = _decided()
    out = rules.result_delivered(state, dt.date(2027, 1, 6), CTX)
    assert out.state.deadline("result").closed_on == dt.date(2027, 1, 6)
    assert out.state.result_at == rules.AT_PSC
    assert out.state.deadline("storage").due == dt.date(2027, 2, 8)  # 6 Feb is a Saturday → next working day
    assert not rules.storage_expired(out.state, dt.date(2027, 2, 8))
    assert rules.storage_expired(out.state, dt.date(2027, 2, 9))


def test_portal_result_has_no_psc_month():
    out = rules.result_delivered(_decided(channel="portal"), dt.date(2027, 1, 6), CTX)
    assert out.state.deadline("storage") is None and out.state.result_at is None


def test_benefit_handoff_after_a_granted_result():
    """¶16: with the "one application" principle the allowance service is handed the case."""
    assert rules.result_delivered(_decided(benefit=True), dt.date(2027, 1, 6), CTX).actions == ("benefit_handoff",)
    assert rules.result_delivered(_decided(benefit=False), dt.date(2027, 1, 6), CTX).actions == ()


def test_result_requested_after_transfer_opens_one_day_return():
    """¶14: back to the PSC within 1 working day of the request."""
    state = rules.result_delivered(_decided(), dt.date(2027, 1, 6), CTX).state
    req = B.envelope("result.requested", "C-1", B.at(2027, 2, 12), {"requested_at": B.at(2027, 2, 12).isoformat()})
    with pytest.raises(InputError):
        rules.apply(state, B.event(req), CTX)  # still at the PSC: nothing to bring back
    state = rules.transferred(state, dt.date(2027, 2, 9)).state
    out = rules.apply(state, B.event(req), CTX)
    assert out.actions == ("return_to_psc",)
    assert out.state.deadline("return").due == dt.date(2027, 2, 15)
    assert rules.returned(out.state, dt.date(2027, 2, 15)).state.result_at == rules.AT_PSC


def test_result_issued_closes_the_case():
    state = rules.result_delivered(_decided(), dt.date(2027, 1, 6), CTX).state
    ev = B.envelope("result.issued", "C-1", B.at(2027, 1, 8), {"issued_at": B.at(2027, 1, 8).isoformat(), "to": "applicant"})
    out = rules.apply(state, B.event(ev), CTX)
    assert out.state.status == rules.CLOSED and out.state.open_deadlines() == ()


# --- ¶21: complaints -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("addressee,days,due", [("provider_head", 5, dt.date(2027, 1, 14)),
                                                 ("quality_authority", 15, dt.date(2027, 1, 28))])
def test_complaint_terms(addressee, days, due):
    """¶21: 5 working days for the provider's head, 15 for the quality-control body."""
    state = _decided()
    filed = B.envelope("complaint.filed", "C-1", B.at(2027, 1, 6), {
        "complaint_id": "K-1", "addressee": addressee, "registered_at": B.at(2027, 1, 6).isoformat(), "text": "..."})
    out = rules.apply(state, B.event(filed), CTX)
    d = out.state.deadline("complaint:K-1")
    assert d.due == due and d.paragraph == "¶21"
    assert CTX.calendar.working_days_between(dt.date(2027, 1, 6), d.due) == days
    resolved = B.envelope("complaint.resolved", "C-1", B.at(2027, 1, 8), {
        "complaint_id": "K-1", "resolved_at": B.at(2027, 1, 8).isoformat(), "outcome": "upheld"})
    out2 = rules.apply(out.state, B.event(resolved), CTX)
    assert out2.state.deadline("complaint:K-1").closed_on == dt.date(2027, 1, 8)
    with pytest.raises(InputError):
        rules.apply(out2.state, B.event(resolved), CTX)  # resolving twice


def test_fold_rebuilds_the_same_state():
    trees = _story()
    items = [B.event(t) for t in trees]
    state = rules.fold(items, CTX)
    assert state == run(*trees).state


def test_result_cannot_be_issued_before_it_is_signed_and_delivered():
    """¶14: the PSC hands out a result that exists; before delivery there is none."""
    ev = B.envelope("result.issued", "C-1", B.at(2027, 1, 8), {"issued_at": B.at(2027, 1, 8).isoformat(), "to": "applicant"})
    with pytest.raises(InputError) as err:
        rules.apply(_decided(), B.event(ev), CTX)
    assert err.value.code == "E-OUT-OF-ORDER"


# --- issue 11: the Rules and the Code, second pass ------------------------------------------------------------


def _to_inspection(case="C-1", records=CLEAN, inspection=None, **app_kw):
    a = B.application(case, **app_kw)
    return a, [a, B.delivered(case), checked(case, records=records), inspection or B.inspected(case)]


def _iins(a):
    return [c["iin"] for c in a["data"]["children"]]


@pytest.mark.parametrize("records,missing", [
    (None, "records"),
    ({"criminal_record": None}, "records.criminal_record"),
    ({"health_restriction": None}, "records.health_restriction"),
    ({"social_payments": None}, "records.social_payments"),
])
def test_a_grant_without_the_records_of_p9_is_forbidden_and_says_which(records, missing):
    """¶9 (#11.1): the provider obtains the records; a grant on records never obtained is impossible."""
    rec = None if records is None else {k: v for k, v in {**CLEAN, **records}.items() if v is not None}
    a, trees = _to_inspection(records=rec)
    trees[2] = B.checked("C-1", records=rec)
    with pytest.raises(InputError) as err:
        run(*trees, B.granted("C-1", _iins(a)))
    assert err.value.code == "E-DECISION-FORBIDDEN" and missing in err.value.message and "¶9" in err.value.message


def test_the_spouses_criminal_record_is_needed_when_married():
    """¶9: the criminal-record certificate of the applicant *and the spouse* (#11.1)."""
    rec = {k: v for k, v in CLEAN.items() if k != "spouse_criminal_record"}
    a = B.application("C-1", married=True)
    trees = [a, B.delivered("C-1"), B.checked("C-1", records=rec), B.inspected("C-1")]
    with pytest.raises(InputError) as err:
        run(*trees, B.granted("C-1", _iins(a)))
    assert "records.spouse_criminal_record" in err.value.message
    single = B.application("C-1")
    out = run(single, B.delivered("C-1"), B.checked("C-1", records=rec), B.inspected("C-1"),
              B.granted("C-1", _iins(single)))
    assert kinds(out) == ["order"]


def test_every_child_of_the_application_gets_an_answer():
    """¶11, Law art. 19-1 p.1 (#11.2): a decision naming some children only is refused; the refused ones get the
    reasoned refusal beside the order, and the split is flagged (Code art. 119 p.3)."""
    one, two = B.child(dt.date(2017, 6, 1)), B.child(dt.date(2015, 2, 1))
    a, trees = _to_inspection(children=[one, two])
    with pytest.raises(InputError) as err:
        run(*trees, B.granted("C-1", [one["iin"]]))
    assert err.value.code == "E-INCONSISTENT" and two["iin"] in err.value.message
    partial = B.granted("C-1", [one["iin"]])
    partial["data"].update(refused_children=[two["iin"]], grounds=[
        {"code": "law19-1.2", "text_kk": "Себебі.", "text_ru": "Причина."}])
    out = run(*trees, partial)
    assert kinds(out) == ["order", "reasoned_refusal"]
    assert out.documents[1].computed["children"] == [{"iin": two["iin"]}]
    assert any(f.startswith("code119.3") for f in out.documents[0].computed["officer_flags"])


def test_refused_children_need_their_grounds():
    one, two = B.child(dt.date(2017, 6, 1)), B.child(dt.date(2015, 2, 1))
    a, trees = _to_inspection(children=[one, two])
    partial = B.granted("C-1", [one["iin"]])
    partial["data"]["refused_children"] = [two["iin"]]
    with pytest.raises(InputError) as err:
        run(*trees, partial)
    assert err.value.where.pointer == "/data/grounds"


def test_a_minor_applicant_cannot_be_appointed():
    """Code art. 122 p.1, the lead (#11.3): only adults; a 17-year-old is flagged at acceptance, never granted."""
    a = B.application("C-1")
    a["data"]["applicant"].update(B.person(dt.date(2009, 6, 1)))
    out = run(a)
    assert any(f.startswith("code122.adult") for f in out.documents[0].computed["officer_flags"])
    with pytest.raises(InputError) as err:
        run(a, B.delivered("C-1"), checked("C-1"), B.inspected("C-1"), B.granted("C-1", _iins(a)))
    assert "code122.adult" in err.value.message


def test_the_health_conclusion_forbids_a_grant():
    """Code art. 122 p.1 item 5 (#11.3): the certificate's conclusion, not only its presence."""
    a, trees = _to_inspection(records={"health_restriction": True})
    with pytest.raises(InputError) as err:
        run(*trees, B.granted("C-1", _iins(a)))
    assert "code122.5" in err.value.message


def _single_man(case="C-1"):
    a = B.application(case)
    a["data"]["applicant"].update(B.person(dt.date(1985, 3, 2), "M", "Сейітов", "Ерлан"))
    return a


def test_an_unmarried_man_waits_for_the_officers_record_of_the_exception():
    """Code art. 122 p.1 item 9 (#11.3): blocked unless the officer records three years of raising the child."""
    a = _single_man()
    trees = [a, B.delivered("C-1"), checked("C-1"), B.inspected("C-1")]
    assert any(f.startswith("code122.9") for f in run(a).documents[0].computed["officer_flags"])
    with pytest.raises(InputError) as err:
        run(*trees, B.granted("C-1", _iins(a)))
    assert "code122.9" in err.value.message
    short = B.granted("C-1", _iins(a))
    short["data"]["single_father_exception"] = {"years_raised": 2, "basis": "mother_deceased"}
    with pytest.raises(InputError):
        run(*trees, short)
    ok = B.granted("C-1", _iins(a))
    ok["data"]["single_father_exception"] = {"years_raised": 3, "basis": "mother_deceased"}
    assert kinds(run(*trees, ok)) == ["order"]


def test_income_below_the_subsistence_minimum_forbids_a_grant():
    """Code art. 122 p.1 item 10 (#11.3): the act's income per person of the household with the ward against
    the year's minimum (terms.toml: 50 851 tenge in 2026); 2027 not yet configured takes 2026's, flagged."""
    act = B.inspected("C-1")
    act["data"]["income"] = {"applicant_monthly": 100000}  # 2 people (applicant + ward): 101 702 needed
    a, trees = _to_inspection(inspection=act)
    with pytest.raises(InputError) as err:
        run(*trees, B.granted("C-1", _iins(a), dt.date(2026, 12, 28)))
    assert "code122.10" in err.value.message
    act["data"]["income"] = {"applicant_monthly": 60000, "spouse_monthly": 45000}
    a, trees = _to_inspection(inspection=act)
    out = run(*trees, B.granted("C-1", _iins(a), dt.date(2027, 1, 5)))
    assert any("2026's" in f for f in out.documents[0].computed["officer_flags"])


@pytest.mark.parametrize("citizenship,relation,required", [
    ("KZ", "none", True), ("RU", "none", False),  # item 13 binds citizens of Kazakhstan only
    ("KZ", "niece_nephew", False), ("KZ", "stepchild", False),  # item 13 p.2: training within a year
    ("KZ", "grandchild", False),  # close relatives
])
def test_psychological_training_binds_citizens_and_waits_a_year_for_relatives(citizenship, relation, required):
    """Code art. 122 p.1 item 13 (#11.3): a foreign applicant and an aunt are no longer refused acceptance."""
    docs = [{"code": c, "presented": True, "valid_until": "2027-12-31"} for c in B.ALL_DOCS
            if c != "psych_training_certificate"]
    out = run(B.application(citizenship=citizenship, documents=docs,
                            children=[B.child(dt.date(2017, 5, 1), relation=relation)]))
    assert kinds(out) == (["refusal_receipt"] if required else ["acceptance_receipt"])
    if relation in ("niece_nephew", "stepchild") and citizenship == "KZ":
        assert any(f.startswith("code122.13") for f in out.documents[0].computed["officer_flags"])


def test_the_order_date_is_checked_against_the_act_and_the_event():
    """¶10, ¶11 (#11.4): an order dated before the act, or after the event reporting it, is refused."""
    a, trees = _to_inspection()
    with pytest.raises(InputError) as err:
        run(*trees, B.granted("C-1", _iins(a), dt.date(2026, 12, 18)))
    assert err.value.where.pointer == "/data/order_date"
    late = B.granted("C-1", _iins(a), dt.date(2027, 1, 6))
    late["occurred_at"] = B.at(2027, 1, 5).isoformat()
    with pytest.raises(InputError) as err:
        run(*trees, late)
    assert err.value.where.pointer == "/data/order_date"


def test_the_act_date_is_checked_against_the_check():
    """¶10 (#11.4): the act follows the check of the documents (17 Dec)."""
    a = B.application("C-1")
    with pytest.raises(InputError) as err:
        run(a, B.delivered("C-1"), checked("C-1"), B.inspected("C-1", act_date=dt.date(2026, 12, 16)))
    assert err.value.where.pointer == "/data/act_date"


def test_the_band_and_the_18_limit_hold_on_the_day_the_head_signs():
    """Code art. 1, 130; the order takes effect on signing (#11.4): a child turning 14 (or 18) between the order's
    date and the signature makes the order wrong on the signing day."""
    turning = B.child(dt.date(2013, 1, 8))  # 13 on 5 Jan 2027, 14 on 8 Jan
    a, trees = _to_inspection(children=[turning])
    out = run(*trees, B.granted("C-1", [turning["iin"]]))
    children = out.documents[0].computed["children"]
    assert children[0]["care"] == "guardianship"
    assert rules.order_problems(out.state, children, dt.date(2027, 1, 7)) == []
    problems = rules.order_problems(out.state, children, dt.date(2027, 1, 8))
    assert problems and "trusteeship" in problems[0]


def test_the_opinion_of_a_child_who_turned_10_since_the_application():
    """Code art. 62 (#11.4): 9 at submission (no opinion required then), 10 on the order date: a grant needs it."""
    child = B.child(dt.date(2016, 12, 20))
    docs = [{"code": c, "presented": True, "valid_until": "2027-12-31"} for c in B.ALL_DOCS if c != "child_opinion"]
    a, trees = _to_inspection(children=[child], documents=docs)
    with pytest.raises(InputError) as err:
        run(*trees, B.granted("C-1", [child["iin"]]))
    assert "code62" in err.value.message
    act = B.inspected("C-1")
    act["data"]["child_opinion"] = "Бала апасымен тұрғысы келеді."
    a, trees = _to_inspection(children=[child], documents=docs, inspection=act)
    assert kinds(run(*trees, B.granted("C-1", [child["iin"]]))) == ["order"]


@pytest.mark.parametrize("ground,kw", [
    ("inspection.negative", {}),  # the act says "possible"
    ("code122.13", {"children": [B.child(dt.date(2017, 5, 1), relation="grandchild")]}),  # a grandparent
    ("code122.8", {}),  # a citizen of Kazakhstan
])
def test_refusal_grounds_are_checked_against_the_case(ground, kw):
    """Law art. 19-1 p.1 (#11.5): a refusal whose ground the case contradicts is refused with a report."""
    a, trees = _to_inspection(**kw)
    with pytest.raises(InputError) as err:
        run(*trees, refused("C-1", (ground,)))
    assert err.value.code == "E-INCONSISTENT" and ground in err.value.message


def test_a_reasoned_refusal_carries_the_cases_own_reasons():
    """Law art. 19-1 p.1 (#11.5): the statute's text alone does not reason a refusal."""
    a, trees = _to_inspection()
    with pytest.raises(InputError) as err:
        run(*trees, B.refused("C-1", ("law19-1.2",)))
    assert "text_kk" in err.value.message


def test_psc_sub_terms_are_capped_at_the_p15_date():
    """¶15 against ¶6+¶8+¶10+¶11+¶12 = 20 working days for a PSC case (#11.6): every step on its last day would
    breach ¶15 (14 Jan 2027); the result's delivery term is due on the ¶15 day and says so."""
    a = B.application("C-1", when=B.at(2026, 12, 14))
    trees = [a, B.delivered("C-1", B.at(2026, 12, 15)), checked("C-1", B.at(2026, 12, 18)),
             B.inspected("C-1", act_date=dt.date(2026, 12, 23))]
    out = run(*trees, B.granted("C-1", _iins(a), dt.date(2027, 1, 13)))
    total = out.state.deadline("result")
    d = out.state.deadline("result_delivery")
    assert total.due == dt.date(2027, 1, 14)
    assert d.due == total.due and d.paragraph == "¶12/¶15"  # uncapped it would be 15 Jan


def test_an_incomplete_psc_package_at_the_provider_gets_the_psc_document():
    """¶9 gives the portal refusal for the portal only (#11.7): a PSC case gets the provider's refusal for that
    channel, routed through the PSC, and the gap in the Rules is flagged."""
    out = run(B.application("C-1"), B.delivered("C-1"), checked("C-1", complete=False, missing=("income_proof",)))
    assert kinds(out) == ["provider_refusal"]
    doc = out.documents[0]
    assert doc.routes == ("cabinet", "psc", "archive") and doc.computed["missing"] == ["income_proof"]
    assert doc.computed["officer_flags"]


def _issue(to, poa=None):
    state = rules.result_delivered(_decided(), dt.date(2027, 1, 6), CTX).state
    data = {"issued_at": B.at(2027, 1, 8).isoformat(), "to": to}
    if poa is not None:
        data["power_of_attorney"] = poa
    return rules.apply(state, B.event(B.envelope("result.issued", "C-1", B.at(2027, 1, 8), data)), CTX)


def test_a_representative_needs_a_notarised_power_of_attorney():
    """¶14 (#11.8): «… не нотариалды расталған сенімхат бойынша оның өкілі»."""
    with pytest.raises(InputError) as err:
        _issue("representative")
    assert err.value.where.pointer == "/data/power_of_attorney"
    with pytest.raises(InputError):
        _issue("representative", {"number": "123", "date": "2027-01-09", "notary": "Әлиева А."})  # after hand-over
    out = _issue("representative", {"number": "123", "date": "2026-12-20", "notary": "Әлиева А."})
    assert out.state.status == rules.CLOSED


def test_times_print_in_kazakhstans_time_whatever_the_offset():
    """#11.9: an event sent in UTC prints Almaty's clock time and day, as the core counts it."""
    moment = dt.datetime(2026, 11, 3, 20, 30, tzinfo=dt.UTC)
    assert rules.local_time(moment).isoformat() == "2026-11-04T01:30:00+05:00"
    assert rules.local_date(moment) == dt.date(2026, 11, 4)


def test_registration_numbers_of_the_office():
    """#11.9: receipts and refusals carry the office's registration number, never an internal id."""
    assert rules.registration_number("{office}/{year}/{seq:05d}", "PSC-7", 2026, 42) == "PSC-7/2026/00042"
    with pytest.raises(ValueError):
        rules.registration_number("{office}-{case}", "PSC-7", 2026, 1)


def test_nothing_is_dated_after_the_services_clock():
    """¶10, ¶11 (#11.4): an event, or an order or act it reports, dated after the service's clock is refused —
    the clock is injected (no sleep, no system time)."""
    a, trees = _to_inspection()
    grant = B.event(B.granted("C-1", _iins(a), dt.date(2027, 1, 5)))
    assert rules.clock_problems(grant, B.at(2027, 1, 5, 12)) == []
    assert rules.clock_problems(grant, B.at(2027, 1, 5, 10)) != []  # the event is at 11:00, the clock says 10:00
    act = B.inspected("C-1", act_date=dt.date(2026, 12, 22))
    act["occurred_at"] = B.at(2026, 12, 23).isoformat()
    problems = rules.clock_problems(B.event(act), B.at(2026, 12, 21, 23))
    assert any(p.startswith("/data/act_date") for p in problems)
    with pytest.raises(InputError) as err:
        rules.check_clock(B.event(act), B.at(2026, 12, 21, 23))
    assert err.value.where.pointer == "/occurred_at"

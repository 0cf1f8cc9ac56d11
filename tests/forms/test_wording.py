"""Issue 11 #9, #10: what the documents say, word for word — the Rules' own titles, Russian names never inflected,
Kazakh agreement, times in Kazakhstan's time, the office's number and never an internal id.  Read from the
template's HTML text (the PDF tests in test_documents.py read the same words back from the rendered file)."""

from __future__ import annotations

import html
import re

import pytest
from formtools import context_with

from forms.catalogue import LANGUAGES, document_kinds
from forms.samples.generate import ORDER_DATE, computed_children, iin

RULES_KK = "мемлекеттік қызметті көрсету қағидалары"  # ¶1: the Rules' own title, with the accusative «қызметті»


def text(renderer, kind, lang, ctx) -> str:
    h = re.sub(r"<[^>]+>", " ", renderer.html(kind, lang, ctx))
    return re.sub(r"\s+", " ", html.unescape(h).replace("\u00a0", " ")).strip()


def sample(renderer, kind, lang, **changes) -> str:
    return text(renderer, kind, lang, context_with(kind, lang, **changes))


@pytest.mark.parametrize("kind", document_kinds())
def test_the_rules_are_named_by_their_own_title(renderer, kind):
    """¶1: every citation and appendix header says «…мемлекеттік қызметті көрсету қағидалар(ы/ына/ының)»."""
    kk = sample(renderer, kind, "kk")
    assert "мемлекеттік қызмет көрсету қағидалар" not in kk
    if "қағидалар" in kk:
        assert RULES_KK[:-1] in kk


def test_the_act_and_the_refusal_carry_the_titles_of_p10_and_p11(renderer):
    act = sample(renderer, "inspection_act", "kk")
    assert "АКТ баланы (балаларды) қорғаншылыққа немесе қамқоршылыққа алуға тілек білдірген адамдардың" in act
    assert "АКТІ" not in act and "ниет білдірген адамның" not in act
    assert "лиц, желающих принять ребенка (детей) под опеку или попечительство" in sample(renderer, "inspection_act", "ru")
    refusal = sample(renderer, "reasoned_refusal", "kk")
    assert "Мемлекеттік қызметті көрсетуден бас тарту туралы дәлелді жауап" in refusal
    assert "ДӘЛЕЛДІ БАС ТАРТУ" not in refusal


@pytest.mark.parametrize("kind", ["refusal_receipt", "portal_refusal", "provider_refusal"])
def test_refusals_to_accept_use_the_words_of_p5_without_a_double_negative(renderer, kind):
    kk = sample(renderer, kind, "kk")
    assert "толық топтамасын ұсынбауыңызға және (немесе) қолданылу мерзімі өтіп кеткен құжаттарды ұсынуыңызға" in kk
    assert "мерзімі өтпеген" not in kk


def test_russian_names_are_never_inflected_by_the_templates(renderer):
    """Issue 11 #10: «Назначить Сейітова Айгүл …» reads as a man's name; the bracket pattern does not inflect."""
    order = sample(renderer, "order", "ru")
    assert "Назначить заявителя (Сейітова Айгүл Болатқызы, ИИН 900101400013," in order
    assert "на основании заявления заявителя (Сейітова Айгүл Болатқызы" in order
    assert "возложить на должностное лицо (" in order
    assert "рассмотрев заявление заявителя (Сейітова Айгүл Болатқызы" in sample(renderer, "reasoned_refusal", "ru")
    assert "от услугополучателя (Сейітова Айгүл Болатқызы, ИИН" in sample(renderer, "acceptance_receipt", "ru")
    assert "алушының (Сейітова Айгүл Болатқызы, ЖСН" in sample(renderer, "acceptance_receipt", "kk")
    assert "Өтініш беруші (Сейітова Айгүл Болатқызы, ЖСН 900101400013, мекенжайы:" in sample(renderer, "order", "kk")


def test_not_presented_agrees_with_its_noun(renderer):
    ru = sample(renderer, "refusal_receipt", "ru")
    assert "согласие супруга (супруги) — не представлено" in ru
    assert "— не представлен;" not in ru


def test_the_kazakh_time_has_no_fixed_suffix(renderer):
    """Issue 11 #10: «сағат 11:20-де» is wrong for жиырма (-да): the suffix is dropped."""
    kk = sample(renderer, "acceptance_notice", "kk")
    assert "сағат 11:20)" in kk and not re.search(r"\d\d:\d\d-(де|да|те|та)", kk)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_times_print_in_kazakhstans_time_whatever_the_offset(renderer, lang):
    """Issue 11 #9: an event sent in UTC prints Almaty's clock and Almaty's day — the day the core counts."""
    t = sample(renderer, "acceptance_receipt", lang, case__submitted_at="2026-11-03T20:30:00Z")
    assert ("4 ноября 2026 года, 01:30" if lang == "ru" else "2026 жылғы 4 қараша, 01:30") in t
    assert "20:30" not in t


@pytest.mark.parametrize("kind", ["acceptance_receipt", "refusal_receipt", "acceptance_notice", "portal_refusal",
                                  "provider_refusal", "reasoned_refusal"])
def test_an_internal_id_is_never_printed_as_the_number(renderer, kind):
    """Issue 11 #9: the shell's fallback (the number is the document id) prints the office's registration number
    the rules computed, or no number at all — never «№ C-2026-0001-acceptance_receipt»."""
    doc_id = "C-2026-0001-" + kind
    for lang in LANGUAGES:
        ctx = context_with(kind, lang, document__id=doc_id, document__number=doc_id,
                           document__verify_url="https://qamqor.example.kz/v/x")
        assert doc_id not in text(renderer, kind, lang, ctx)
        ctx["computed"]["registration_number"] = "PSC-7-2026/00042"
        assert "№ PSC-7-2026/00042" in text(renderer, kind, lang, ctx)


def test_the_order_agrees_in_number_with_its_children(renderer):
    """Kazakh: «Он төрт жасқа толмаған балаға» (no doubled «толмаған»), «1-тармақта көрсетілген балаға» for one
    child, the wards in the plural for several; Russian: «опекуном ребенка, указанного в пункте 1»."""
    kk = sample(renderer, "order", "kk")
    assert "толмаған кәмелетке толмаған" not in kk and "Он төрт жасқа толмаған балаға қорғаншылық" in kk
    assert "1-тармақта көрсетілген балаға қорғаншы, 2-тармақта көрсетілген балаға қамқоршы" in kk
    assert "Қамқорлыққа алынушылардың бұрынғы" in kk and "олардың мүлкін" in kk
    ru = sample(renderer, "order", "ru")
    assert "опекуном ребенка, указанного в пункте 1, и попечителем ребенка, указанного в пункте 2" in ru
    one = {"iin": iin("2018-05-05", "F"), "surname": "Қасымова", "given_name": "Айша", "patronymic": "Ерланқызы",
           "birth_date": "2018-05-05", "status": "orphan", "care_loss_reason": "parents_deceased",
           "relation_to_applicant": "grandchild", "residence": "Астана қаласы"}
    kids = computed_children([one], ORDER_DATE)
    kk1 = sample(renderer, "order", "kk", computed__children=kids)
    assert "Қамқорлыққа алынушының бұрынғы" in kk1 and "оның мүлкін" in kk1
    assert "опекуном указанного ребенка" in sample(renderer, "order", "ru", computed__children=kids)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_lead_in_of_art_122_covers_its_items_only(renderer, lang):
    """«Мыналар қорғаншы (қамқоршы) бола алмайды:» / «не могут быть назначены …:» heads the art. 122 items; the
    Law's grounds follow under their own words, so none reads as a kind of person who may not be a guardian."""
    t = sample(renderer, "reasoned_refusal", lang)
    lead = "мыналар қорғаншы (қамқоршы) бола алмайды" if lang == "kk" else "не могут быть назначены опекунами"
    others = "өзге негіздері" if lang == "kk" else "Иные основания"
    law = "19-1-бабы 2-тармағының 3)" if lang == "kk" else "Подпункт 3) пункта 2 статьи 19-1"
    assert t.index(lead) < t.index("122-бабы 1-тармағының 10)" if lang == "kk" else "Подпункт 10)") \
        < t.index(others) < t.index(law)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_refusal_of_a_minor_applicant_cites_the_lead_of_art_122(renderer, lang):
    """Code art. 122 p.1, the lead (issue 11 #3): a ground the core accepts has its words in the catalogue."""
    grounds = [{"code": "code122.adult", f"text_{lang}": "17"}]
    t = sample(renderer, "reasoned_refusal", lang, computed__grounds=grounds, decision__grounds=grounds)
    assert ("тек қана кәмелетке толған адамдар" if lang == "kk" else "только совершеннолетние лица") in t

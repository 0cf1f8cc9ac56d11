"""What each document says: the law in the words (¶4, ¶5, ¶7, ¶9, ¶10, ¶11), read back from the PDF text."""

import pytest
from formtools import _render, context_with, flat

from forms import catalogue
from forms.catalogue import LANGUAGES, document_kinds
from forms.samples.generate import ORDER_DATE, computed_children, iin


def test_every_kind_renders_in_both_languages(samples):
    for kind in document_kinds():
        for lang in LANGUAGES:
            r = samples[(kind, lang)]
            assert r.doc.pdf.startswith(b"%PDF-1.7") and r.doc.pages >= 1
            text = flat(r.text())
            # issue 11 #9: the document's number is printed, never the internal id as a number
            assert f"№ {r.context['document']['number']}" in text
            assert f"№ {r.context['document']['id']}" not in text and r.context["document"]["id"] not in \
                text.replace(r.context["document"]["verify_url"], "")


@pytest.mark.parametrize("kind", ["refusal_receipt", "inspection_act", "order"])
def test_form_header_names_the_appendix(samples, kind):
    n = catalogue.describe(kind).appendix
    assert f"Приложение {n} к Правилам" in flat(samples[(kind, "ru")].text())
    assert f"қағидаларына {n}-қосымша" in flat(samples[(kind, "kk")].text())


def test_letterhead_is_bilingual_and_pages_are_numbered(samples):
    for lang in LANGUAGES:
        r = samples[("order", lang)]
        text = flat(r.text())
        assert "БІЛІМ БАСҚАРМАСЫ" in text and "УПРАВЛЕНИЕ ОБРАЗОВАНИЯ" in text
        total = r.doc.pages
        label = (f"Страница {total} из {total}" if lang == "ru" else f"{total}-бет, барлығы {total} бет")
        assert label in text


def test_order_names_guardianship_and_trusteeship_per_child(samples):
    # ¶11, Code art. 1: Әсем turned 14 before 2026-12-14 → trusteeship; Ілияс is 10 → guardianship
    ru, kk = flat(samples[("order", "ru")].text()), flat(samples[("order", "kk")].text())
    assert "Об установлении опеки и попечительства" in ru
    assert "Установить опеку над" in ru and "Установить попечительство над" in ru
    opeka, popech = ru.index("Установить опеку"), ru.index("Установить попечительство")
    assert opeka < ru.index("Ілияс") < popech < ru.index("Әсем")
    assert "Қорғаншылық және қамқоршылық белгілеу туралы" in kk
    assert kk.index("қорғаншылық белгіленсін") < kk.index("Ілияс") < kk.index("қамқоршылық белгіленсін") < kk.index("Әсем")
    assert "опекуном" in ru and "попечителем" in ru


def test_order_cites_the_code_and_the_six_month_report(samples):
    ru, kk = flat(samples[("order", "ru")].text()), flat(samples[("order", "kk")].text())
    # issue 11 #10: the order cites arts. 119, 121, 122 of the Code as acts cite them
    assert "статьями 119, 121, 122 Кодекса" in ru
    assert "не реже одного раза в шесть месяцев (пункт 5 статьи 126 Кодекса)" in ru
    assert "119, 121, 122-баптарына" in kk
    assert "кемінде алты айда бір рет" in kk and "126-бабының 5-тармағы" in kk
    assert "ПРИКАЗЫВАЮ" in ru and "БҰЙЫРАМЫН" in kk


@pytest.mark.parametrize("lang", LANGUAGES)
def test_order_for_one_young_child_says_only_guardianship(renderer, tmp_path, lang):
    child = {"iin": iin("2018-05-05", "F"), "surname": "Қасымова", "given_name": "Айша", "patronymic": "Ерланқызы",
             "birth_date": "2018-05-05", "status": "orphan", "care_loss_reason": "parents_deceased",
             "relation_to_applicant": "grandchild", "residence": "Астана қаласы"}
    ctx = context_with("order", lang, computed__children=computed_children([child], ORDER_DATE))
    text = flat(_render(renderer, tmp_path, "order", lang, ctx).text())
    if lang == "ru":
        assert "Об установлении опеки " in text and "Установить опеку над" in text
        assert "Установить попечительство" not in text and "попечителем" not in text
    else:
        assert "Қорғаншылық белгілеу туралы" in text and "қорғаншылық белгіленсін" in text
        assert "қамқоршылық белгіленсін" not in text and "қамқоршы болып" not in text


def test_reasoned_refusal_lists_each_ground_with_its_legal_text(samples):
    for lang in LANGUAGES:
        r = samples[("reasoned_refusal", lang)]
        text = flat(r.text())
        for ground in r.context["computed"]["grounds"]:
            assert flat(catalogue.ground_text(ground["code"], lang)) in text, ground["code"]
            if ground.get(f"text_{lang}"):
                assert flat(ground[f"text_{lang}"]) in text
    assert "подпункт 10) пункта 1 статьи 122" in flat(samples[("reasoned_refusal", "ru")].text()).lower()


@pytest.mark.parametrize("kind", ["refusal_receipt", "portal_refusal"])
def test_refusals_to_accept_name_each_missing_or_expired_document(samples, kind):
    # ¶5 (appendix 3) and ¶9: every missing or expired document BY NAME (standard.toml)
    for lang in LANGUAGES:
        r = samples[(kind, lang)]
        text = flat(r.text())
        codes = r.context["computed"]["missing"] + r.context["computed"]["expired"]
        assert codes
        for code in codes:
            assert flat(catalogue.document_name(code, lang)) in text, code


def test_receipt_and_notice_state_when_the_result_is_due(samples):
    # ¶4: the date; ¶7: the date AND time; ¶15: 19 working days from 3 Nov 2026, the day not counted — as the core
    # computes it for both channels (the samples take it from the core: generate.result_due)
    from forms.samples.generate import result_due

    assert result_due() == "2026-11-30T18:30:00+05:00"
    assert "30 ноября 2026 года" in flat(samples[("acceptance_receipt", "ru")].text())
    assert "2026 жылғы 30 қараша" in flat(samples[("acceptance_receipt", "kk")].text())
    ru = flat(samples[("acceptance_notice", "ru")].text())
    assert "Дата и время готовности результата: 30 ноября 2026 года, 18:30" in ru
    kk = flat(samples[("acceptance_notice", "kk")].text())
    assert "2026 жылғы 30 қараша, сағат 18:30" in kk


def test_inspection_act_has_its_sections(samples):
    ru = flat(samples[("inspection_act", "ru")].text())
    for part in ("Состав семьи", "Характеристика жилья", "78,5 / 52,0 кв. м", "420 000 тенге",  # issue 11 #9: a decimal comma
                 "Мнение ребенка", "Передача ребенка (детей) под опеку (попечительство) возможна"):
        assert part in ru, part

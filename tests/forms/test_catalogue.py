"""The catalogue (forms/catalogue/*.toml): kinds, signers, legal texts, document names, month names."""

import re

import pytest

from forms import catalogue
from forms.render import Dates
from pipeline.core.events import GROUND_CODES

KINDS = {
    # kind: (appendix, signer, paragraph)
    "acceptance_receipt": (None, "operator", "¶4"),
    "refusal_receipt": (3, "operator", "¶5"),
    "acceptance_notice": (None, "provider_seal", "¶7"),
    "portal_refusal": (None, "provider_seal", "¶9"),
    "provider_refusal": (None, "provider_seal", "¶9"),  # issue 11 #7: a PSC package the provider finds incomplete
    "inspection_act": (4, "inspector", "¶10"),
    "order": (5, "head", "¶11"),
    "reasoned_refusal": (None, "head", "¶11"),
}
#: every ground the core accepts in a decision (issue 11 #3: also the lead of art. 122 p.1, code122.adult)
GROUNDS = list(GROUND_CODES)
KAZAKH = re.compile("[әғқңөұүһі]")


def test_every_kind_of_the_service_is_catalogued():
    assert sorted(catalogue.document_kinds()) == sorted(KINDS)


@pytest.mark.parametrize("kind", KINDS)
def test_describe_gives_appendix_signer_and_paragraph(kind):
    spec = catalogue.describe(kind)
    assert (spec.appendix, spec.signer, spec.paragraph) == KINDS[kind]
    assert spec.kind == kind and spec.template == kind
    assert KAZAKH.search(spec.title_kk) and not KAZAKH.search(spec.title_ru)


def test_unknown_kind_is_a_clear_error():
    with pytest.raises(catalogue.CatalogueError, match="unknown document kind"):
        catalogue.describe("certificate")


@pytest.mark.parametrize("code", GROUNDS)
def test_every_ground_has_legal_text_in_both_languages(code):
    kk, ru = catalogue.ground_text(code, "kk"), catalogue.ground_text(code, "ru")
    assert len(kk) > 15 and len(ru) > 15 and kk != ru
    assert KAZAKH.search(kk) and not KAZAKH.search(ru)
    assert catalogue.ground_basis(code, "ru")


def test_ground_texts_are_the_law_words():
    # forms.md §5.4 (a) item 6 and §3 item 8, verified texts
    assert "отсутствие согласия услугополучателя" in catalogue.ground_text("law19-1.6", "ru")
    assert catalogue.ground_text("code122.8", "kk") == "азаматтығы жоқ адамдар"
    assert "психологиялық даярлықтан өтпеген" in catalogue.ground_text("code122.13", "kk")
    with pytest.raises(catalogue.CatalogueError):
        catalogue.ground_text("code122.14", "ru")


def test_document_names_come_from_the_standard():
    assert catalogue.document_name("spouse_consent", "ru") == \
        "Нотариально засвидетельствованное согласие супруга (супруги)"
    for code in catalogue._default().standard:
        assert KAZAKH.search(catalogue.document_name(code, "kk")) or code == "identity"
    with pytest.raises(catalogue.CatalogueError):
        catalogue.document_name("passport", "kk")


KK_ATTR = ["қаңтардағы", "ақпандағы", "наурыздағы", "сәуірдегі", "мамырдағы", "маусымдағы", "шілдедегі",
           "тамыздағы", "қыркүйектегі", "қазандағы", "қарашадағы", "желтоқсандағы"]
RU_GEN = ["января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября", "октября",
          "ноября", "декабря"]


@pytest.fixture(scope="module")
def dates():
    cat = catalogue._default()
    return Dates(cat.months, cat.service.get("dates"))


@pytest.mark.parametrize("month", range(1, 13))
def test_dates_in_the_official_style(dates, month):
    # kazakh-document-style.md §4: kk «2026 жылғы 14 желтоқсан», ru «14 декабря 2026 года»
    day = f"2026-{month:02d}-05"
    assert dates.kk(day, "attr") == f"2026\u00a0жылғы 5\u00a0{KK_ATTR[month - 1]}"
    assert dates.ru(day) == f"5\u00a0{RU_GEN[month - 1]} 2026\u00a0года"


def test_date_examples_of_the_style_guide(dates):
    assert dates.kk("2026-12-14").replace("\u00a0", " ") == "2026 жылғы 14 желтоқсан"
    assert dates.ru("2026-12-14T10:30:00+05:00").replace("\u00a0", " ") == "14 декабря 2026 года"
    assert dates.kk("2026-11-25", "loc").endswith("қарашада")
    assert dates.digits("2026-11-05") == "05.11.2026" and dates.hm("2027-01-14T18:30:00+05:00") == "18:30"

"""Long content flows across pages cleanly: 8 children, 15 household rows, long names, addresses, conclusions."""

import pytest
from formtools import flat, words_by_page

from forms.catalogue import LANGUAGES

MARGIN_TOLERANCE = 0.5


def overlaps(a, b, slack=0.6):
    return a[0] + slack < b[2] and b[0] + slack < a[2] and a[1] + slack < b[3] and b[1] + slack < a[3]


@pytest.mark.parametrize("kind", ["order", "inspection_act"])
@pytest.mark.parametrize("lang", LANGUAGES)
def test_long_documents_break_into_pages_with_all_text_inside(long_docs, kind, lang):
    r = long_docs[(kind, lang)]
    pages = words_by_page(r.path)
    assert len(pages) == r.doc.pages >= 2
    for page in pages:
        for x1, y1, x2, y2, word in page["words"]:
            assert -MARGIN_TOLERANCE <= x1 and x2 <= page["width"] + MARGIN_TOLERANCE, word
            assert -MARGIN_TOLERANCE <= y1 and y2 <= page["height"] + MARGIN_TOLERANCE, word
            # body text keeps the right margin of 10 mm (kazakh-document-style.md §2)
            assert x2 <= page["width"] - 10 * 72 / 25.4 + 1, word


@pytest.mark.parametrize("kind", ["order", "inspection_act"])
@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_words_overlap(long_docs, kind, lang):
    for number, page in enumerate(words_by_page(long_docs[(kind, lang)].path)):
        words = sorted(page["words"], key=lambda w: w[1])
        for i, a in enumerate(words):
            for b in words[i + 1:]:
                if b[1] > a[3]:
                    break
                assert not overlaps(a, b), (number, a, b)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_all_eight_children_are_in_the_order_with_their_care(long_docs, lang):
    r = long_docs[("order", lang)]
    text = flat(r.text())
    children = r.context["computed"]["children"]
    assert len(children) == 8
    for child in children:
        assert child["iin"] in text
    # a child born 2012-12-14 is 14 on the order's date 2026-12-14: trusteeship; born 2012-12-15: guardianship
    care = {c["birth_date"]: c["care"] for c in children}
    assert care["2012-12-14"] == "trusteeship" and care["2012-12-15"] == "guardianship"
    words = ("Установить опеку", "Установить попечительство") if lang == "ru" else \
            ("қорғаншылық белгіленсін", "қамқоршылық белгіленсін")
    first, second = text.index(words[0]), text.index(words[1])
    for child in children:
        at = text.index(child["iin"])
        assert (first < at < second) if child["care"] == "guardianship" else (at > second), child


@pytest.mark.parametrize("lang", LANGUAGES)
def test_household_table_header_repeats_on_each_page(long_docs, lang):
    r = long_docs[("inspection_act", lang)]
    header = "Степень родства" if lang == "ru" else "Туыстық қатынасы"
    last_row_name = "Мүше15"
    pages_with_rows = [n for n, page in enumerate(words_by_page(r.path))
                       if any(w[4].startswith("Мүше") for w in page["words"])]
    assert len(pages_with_rows) >= 2, "15 long rows should continue on another page"
    for n in pages_with_rows:
        page_text = flat(__import__("subprocess").run(
            ["pdftotext", "-raw", "-f", str(n + 1), "-l", str(n + 1), str(r.path), "-"],
            capture_output=True, text=True, check=True).stdout)
        assert header in page_text, f"page {n + 1} continues the table without its header"
    text = flat(r.text())
    assert all(f"Мүше{i} " in text for i in range(1, 16)) and last_row_name in text


def test_long_names_and_addresses_are_printed_whole(long_docs):
    from formtools import LONG_ADDRESS, LONG_NAME

    text = flat(long_docs[("order", "kk")].text())
    assert " ".join(LONG_NAME) in text
    assert LONG_ADDRESS in text

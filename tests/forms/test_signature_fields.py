"""Room for signatures (¶4, ¶5, ¶7, ¶9, ¶10, ¶11): empty AcroForm /Sig fields at reserved 80 × 30 mm boxes."""

import pytest
from formtools import words_by_page
from pypdf import PdfReader

from forms import catalogue
from forms.catalogue import LANGUAGES, document_kinds

MM = 72 / 25.4
EXPECTED = {
    "acceptance_receipt": ("operator", ["sig-operator"]),
    "refusal_receipt": ("operator", ["sig-operator"]),
    "acceptance_notice": ("provider_seal", ["sig-provider"]),
    "portal_refusal": ("provider_seal", ["sig-provider"]),
    "inspection_act": ("inspector", ["sig-inspector-1", "sig-inspector-2"]),
    "order": ("head", ["sig-official"]),
    "reasoned_refusal": ("head", ["sig-official"]),
}


def pdf_fields(path):
    reader = PdfReader(path)
    out = {}
    for number, page in enumerate(reader.pages):
        for annot in page.get("/Annots") or []:
            a = annot.get_object()
            if a.get("/FT") == "/Sig":
                out[a["/T"]] = (number, tuple(float(v) for v in a["/Rect"]), a)
    acro = reader.trailer["/Root"]["/AcroForm"]
    assert {f.get_object()["/T"] for f in acro["/Fields"]} == set(out)
    return reader, out


@pytest.mark.parametrize("kind", EXPECTED)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_fields_are_named_placed_and_reported(samples, kind, lang):
    r = samples[(kind, lang)]
    role, names = EXPECTED[kind]
    assert [f.name for f in r.doc.signature_fields] == names
    assert all(f.role == role == catalogue.describe(kind).signer for f in r.doc.signature_fields)
    reader, fields = pdf_fields(r.path)
    assert sorted(fields) == sorted(names)
    for f in r.doc.signature_fields:
        page, rect, annot = fields[f.name]
        assert page == f.page and rect == pytest.approx(f.rect, abs=0.01)
        assert annot["/Subtype"] == "/Widget" and "/V" not in annot        # empty: not signed yet
        assert "/N" in annot["/AP"]                                        # PDF/A: every widget has an appearance
        x1, y1, x2, y2 = rect
        assert x2 - x1 == pytest.approx(80 * MM, abs=1) and y2 - y1 == pytest.approx(30 * MM, abs=1)
        box = [float(v) for v in reader.pages[page].mediabox]
        assert box[0] <= x1 < x2 <= box[2] and box[1] <= y1 < y2 <= box[3]
    last = r.doc.signature_fields[-1]
    assert last.page == r.doc.pages - 1, "the (last) signature is on the last page"


@pytest.mark.parametrize("kind", document_kinds())
def test_no_text_under_a_signature_field(samples, kind):
    for lang in LANGUAGES:
        r = samples[(kind, lang)]
        pages = words_by_page(r.path)
        for f in r.doc.signature_fields:
            page = pages[f.page]
            x1, y1, x2, y2 = f.rect
            top, bottom = page["height"] - y2, page["height"] - y1       # to pdftotext's top-left origin
            under = [w for w in page["words"] if w[0] < x2 and w[2] > x1 and w[1] < bottom and w[3] > top]
            assert not under, (f.name, under)


def test_one_field_per_inspector(long_docs):
    r = long_docs[("inspection_act", "ru")]
    inspectors = r.context["inspection"]["inspectors"]
    assert len(inspectors) == 3
    assert [f.name for f in r.doc.signature_fields] == ["sig-inspector-1", "sig-inspector-2", "sig-inspector-3"]
    assert len({(f.page, f.rect) for f in r.doc.signature_fields}) == 3


def test_fields_do_not_overlap_each_other(long_docs):
    for r in long_docs.values():
        fs = r.doc.signature_fields
        for i, a in enumerate(fs):
            for b in fs[i + 1:]:
                if a.page == b.page:
                    assert a.rect[1] >= b.rect[3] or b.rect[1] >= a.rect[3] or a.rect[2] <= b.rect[0]


def test_pyhanko_sees_empty_signature_fields(samples):
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.fields import enumerate_sig_fields

    with open(samples[("order", "ru")].path, "rb") as fh:
        found = [(name, value) for name, value, _ in enumerate_sig_fields(PdfFileReader(fh))]
    assert found == [("sig-official", None)]

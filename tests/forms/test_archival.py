"""Archival PDF: PDF/A-3b with XMP, embedded shipped fonts only, exact text, attachment, byte-identical output."""

import hashlib
import io
import json
import subprocess
import sys

import pytest
from fontTools.ttLib import TTFont
from formtools import EVENT, _render, context_with, flat
from pypdf import PdfReader

from forms.catalogue import LANGUAGES, document_kinds
from forms.render import FORMS_DIR, FontFallbackError

KAZAKH_LETTERS = "ӘәҒғҚқҢңӨөҰұҮүҺһІі"
# the @font-face families of forms/styles/base.css; a system font picked by fallback would show its own name
SHIPPED_FAMILIES = {"Qamqor-Serif", "Qamqor-Serif-Bold", "Qamqor-Serif-Italic", "Qamqor-Serif-Bold-Italic",
                    "Qamqor-Serif-Fallback"}


def all_samples(samples):
    return [samples[(k, lang)] for k in document_kinds() for lang in LANGUAGES]


def test_every_sample_is_pdfa3b_with_case_metadata(samples):
    for r in all_samples(samples):
        reader = PdfReader(r.path)
        xmp = reader.trailer["/Root"]["/Metadata"].get_object().get_data().decode()
        assert 'pdfaid:part="3"' in xmp and 'pdfaid:conformance="B"' in xmp
        assert f"<qamqor:CaseId>{r.context['case']['case_id']}</qamqor:CaseId>" in xmp
        assert f"<qamqor:DocumentKind>{r.kind}</qamqor:DocumentKind>" in xmp
        assert f"<qamqor:Language>{r.language}</qamqor:Language>" in xmp
        assert "pdfaExtension:schemas" in xmp            # custom properties declared for PDF/A validators
        assert "<dc:title>" in xmp
        # the dates are the document's, not the clock's
        assert f"<xmp:CreateDate>{r.context['document']['datetime']}</xmp:CreateDate>" in xmp
        info = reader.metadata
        assert info["/CreationDate"].startswith("D:" + r.context["document"]["date"].replace("-", ""))
        assert reader.trailer["/Root"]["/OutputIntents"][0]["/S"] == "/GTS_PDFA1"


def test_source_event_is_attached_as_associated_file(samples):
    reader = PdfReader(samples[("order", "kk")].path)
    root = reader.trailer["/Root"]
    spec = root["/AF"][0].get_object()
    assert spec["/AFRelationship"] == "/Source" and spec["/F"] == "event.json"
    assert spec["/EF"]["/F"].get_object().get_data() == EVENT


def test_qpdf_check_is_clean(samples):
    for r in all_samples(samples):
        out = subprocess.run(["qpdf", "--check", str(r.path)], capture_output=True, text=True)
        assert out.returncode == 0, out.stdout + out.stderr
        assert "No syntax or stream encoding errors" in out.stdout


def test_pdffonts_lists_only_shipped_fonts_all_embedded(samples):
    for r in all_samples(samples):
        lines = subprocess.run(["pdffonts", str(r.path)], capture_output=True, text=True,
                               check=True).stdout.splitlines()[2:]
        assert lines
        for line in lines:
            name, emb = line.split()[0], line.split()[-5]
            assert emb == "yes", line
            assert name.split("+", 1)[1] in SHIPPED_FAMILIES, line


def test_every_character_of_the_text_has_a_glyph_in_the_shipped_fonts(samples):
    cmap = set()
    for path in (FORMS_DIR / "fonts").glob("*.ttf"):
        cmap |= set(TTFont(path).getBestCmap())
    for r in all_samples(samples):
        chars = set(r.text()) - set("\n\x0c")
        assert not {c for c in chars if ord(c) not in cmap}, r.path


def test_fonts_ship_with_their_licence():
    fonts = FORMS_DIR / "fonts"
    assert (fonts / "LICENSE-LiberationSerif.txt").read_text().count("SIL Open Font License") >= 1
    assert "Bitstream Vera" in (fonts / "LICENSE-DejaVu.txt").read_text()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_kazakh_letters_extract_exactly(renderer, tmp_path, lang):
    ctx = context_with("inspection_act", lang, inspection__conclusion_text=f"Әріптер: {KAZAKH_LETTERS}.")
    r = _render(renderer, tmp_path, "inspection_act", lang, ctx)
    assert f"Әріптер: {KAZAKH_LETTERS}." in flat(r.text())
    default_layout = subprocess.run(["pdftotext", str(r.path), "-"], capture_output=True, text=True).stdout
    assert KAZAKH_LETTERS in default_layout


def test_a_character_no_shipped_font_has_fails_loudly(renderer, tmp_path):
    ctx = context_with("order", "ru", application__applicant__surname="Ᏹ-Иванова")   # Cherokee: no shipped glyph
    with pytest.raises(FontFallbackError, match="U\\+13F1"):
        renderer.render("order", "ru", ctx)


def test_tenge_sign_uses_the_shipped_fallback_font(renderer, tmp_path):
    ctx = context_with("inspection_act", "kk", inspection__conclusion_text="Табыс: 420 000 ₸.")
    r = _render(renderer, tmp_path, "inspection_act", "kk", ctx)
    assert "420 000 ₸" in flat(r.text())
    fonts = subprocess.run(["pdffonts", str(r.path)], capture_output=True, text=True).stdout
    assert "Qamqor-Serif-Fallback" in fonts     # DejaVu Serif, shipped: Liberation Serif has no ₸


def test_same_input_gives_byte_identical_pdf(renderer, samples):
    r = samples[("order", "kk")]
    again = renderer.render("order", "kk", json.loads(json.dumps(r.context)),
                            attachments=[("event.json", EVENT, "application/json")])
    assert again.pdf == r.doc.pdf


def test_byte_identical_in_a_fresh_process(samples):
    r = samples[("inspection_act", "ru")]
    code = (
        "import json,sys,hashlib; from forms.render import Renderer; from forms.preview import sample_context;"
        "d=Renderer().render('inspection_act','ru',sample_context('inspection_act','ru'),"
        f"attachments=[('event.json',{EVENT!r},'application/json')]);"
        "print(hashlib.sha256(d.pdf).hexdigest())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == hashlib.sha256(r.doc.pdf).hexdigest()


def test_different_documents_differ_in_identifier(samples):
    ids = {PdfReader(samples[(k, "ru")].path).trailer["/ID"][0] for k in document_kinds()}
    assert len(ids) == len(document_kinds())


def test_pages_count_matches_the_pdf(samples):
    for r in all_samples(samples):
        assert len(PdfReader(io.BytesIO(r.doc.pdf)).pages) == r.doc.pages

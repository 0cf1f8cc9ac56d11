"""What the renderer's speed depends on (research/perf-baseline.md §0, §6) — checked, not timed."""

import weasyprint.pdf.fonts as pdf_fonts

from forms.render import harfbuzz_subsetting_available


def test_weasyprint_can_subset_fonts_with_harfbuzz():
    # Without libharfbuzz-subset0 WeasyPrint falls back to fontTools: a page costs ~6x more (548 vs 87 ms).
    assert pdf_fonts.harfbuzz_subset is not None, "apt-get install libharfbuzz-subset0"
    assert harfbuzz_subsetting_available()


def test_renderer_is_warm_and_shares_fonts_and_css(renderer):
    from weasyprint import CSS
    from weasyprint.text.fonts import FontConfiguration

    assert isinstance(renderer.font_config, FontConfiguration)
    assert isinstance(renderer.stylesheet, CSS)
    assert renderer._qr("https://qamqor.example.kz/v/x") is renderer._qr("https://qamqor.example.kz/v/x")


# ---- issue 13: the design choices that made the render as fast as Chromium's, each checked on a real document

def test_the_verification_qr_in_every_page_footer_carries_the_document_url(samples):
    # the QR is the footer's background image now (no table in the margin box): still on every page, still the
    # document's own verification URL, module for module
    import io

    from pypdf import PdfReader

    from signing import qr

    r = samples[("order", "kk")]
    url = r.context["document"]["verify_url"]
    matrix = qr.modules(url)  # the stamp draws the same code
    assert r.doc.qr == matrix
    reader = PdfReader(io.BytesIO(r.doc.pdf))
    assert len(reader.pages) == r.doc.pages >= 2
    for page in reader.pages:
        (image, *_) = [im.image.convert("L") for im in page.images]
        assert qr.read(image) == url  # a reader finds the document's own link in it
        scale = image.width // (len(matrix) + 2)                 # 1 module of quiet zone on each side
        assert image.width == image.height == scale * (len(matrix) + 2)
        for y, row in enumerate(matrix):
            for x, dark in enumerate(row):
                pixel = image.getpixel(((x + 1) * scale + scale // 2, (y + 1) * scale + scale // 2))
                assert (pixel < 128) == bool(dark), (x, y)


def test_text_without_rare_signs_is_set_in_liberation_serif_alone(samples):
    # the DejaVu fallback family costs ~10 % of a render when it is in font-family: only text that needs it
    # (₸, test_archival.py) gets it; an ordinary order embeds the four Liberation Serif faces at most
    import subprocess

    for lang in ("kk", "ru"):
        out = subprocess.run(["pdffonts", str(samples[("order", lang)].path)], capture_output=True, text=True,
                             check=True).stdout
        names = {line.split()[0].split("+", 1)[1] for line in out.splitlines()[2:]}
        assert names and names <= {"Qamqor-Serif", "Qamqor-Serif-Bold", "Qamqor-Serif-Italic",
                                   "Qamqor-Serif-Bold-Italic"}, names


def test_layout_tables_use_the_fixed_table_layout(renderer):
    # WeasyPrint's auto table layout lays every cell's text out twice more to measure it; the layout tables
    # (letterhead, number line, fields, signature blocks) give their widths instead, only data tables measure
    from weasyprint import HTML
    from weasyprint.formatting_structure import boxes

    from forms.preview import sample_context

    html = renderer.html("acceptance_receipt", "ru", sample_context("acceptance_receipt", "ru"))
    document = HTML(string=html, base_url=renderer.base_url, url_fetcher=renderer.fetcher).render(
        stylesheets=[renderer.stylesheet], font_config=renderer.font_config)
    layouts = {}
    for page in document.pages:
        for box in page._page_box.descendants():
            if isinstance(box, boxes.TableBox):
                layouts[box.element.get("class")] = box.style["table_layout"]
    assert layouts == {"letterhead": "fixed", "reqline": "fixed", "fields": "fixed", "sigblock": "fixed",
                       "data": "auto"}


def test_each_pdf_stream_is_compressed_once(renderer, monkeypatch):
    # pydyf compresses every stream a second time to hash the file for /ID; the renderer keeps the first bytes
    import zlib

    import pydyf

    from forms.preview import sample_context

    calls, compressobj = [], zlib.compressobj

    def counting(*args, **kwargs):
        calls.append(1)
        return compressobj(*args, **kwargs)

    monkeypatch.setattr(pydyf.zlib, "compressobj", counting)
    pdf = renderer.render("order", "ru", sample_context("order", "ru")).pdf
    # every compressed stream of the file once (each shows one /FlateDecode), and nothing more
    assert len(calls) == pdf.count(b"/FlateDecode")


def test_the_pdf_streams_are_deflated_at_zlibs_default_level_not_9(renderer):
    # issue 13: pydyf asks zlib for level 9; at 6 a one-page order's three font subsets and its page cost a third
    # of the CPU for 0.5 % more bytes.  Each stream of the file is what level 6 makes of its own content.
    import re
    import zlib

    from forms.preview import sample_context
    from forms.render import FLATE_LEVEL

    assert FLATE_LEVEL == 6
    pdf = renderer.render("order", "kk", sample_context("order", "kk")).pdf
    checked = 0
    for m in re.finditer(rb"/Length (\d+)>>\nstream\n", pdf):
        head = pdf[max(0, m.start() - 400):m.start()]
        if b"/FlateDecode" not in head[head.rfind(b"<<"):]:
            continue
        data = pdf[m.end():m.end() + int(m.group(1))]
        assert zlib.compress(zlib.decompress(data), FLATE_LEVEL) == data
        checked += 1
    assert checked >= 4  # the three font subsets and the page at least

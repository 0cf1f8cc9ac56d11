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

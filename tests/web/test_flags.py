"""Issue 11: what the core leaves to the officer (pipeline.core.checks.officer_flags) reaches the desk in the
officer's words, Kazakh and Russian, never as the core's English line or a raw code."""

import re
from pathlib import Path

import pytest

from pipeline.web.i18n import translator
from pipeline.web.pages.documents import flag_text

CHECKS = Path(__file__).resolve().parents[2] / "pipeline" / "core" / "checks.py"
CODES = sorted(set(re.findall(r'flags\.append\(f?"(code[\w.]+):', CHECKS.read_text())))


def test_the_core_has_flags_to_show():
    assert {"code122.adult", "code122.9", "code122.13", "code119.3", "code122.10"} <= set(CODES)


@pytest.mark.parametrize("language", ["kk", "ru"])
@pytest.mark.parametrize("code", CODES)
def test_every_flag_the_core_raises_has_words_in_both_languages(code, language):
    text = flag_text(f"{code}: the core's own line, for developers", translator(language))
    assert text and "flag." not in text and "the core" not in text and code not in text
    assert re.search("[а-яәғқңөұүһі]", text, re.I)


@pytest.mark.parametrize("language", ["kk", "ru"])
def test_the_subsistence_minimum_fallback_says_the_years_and_the_amount(language):
    text = flag_text("code122.10: no subsistence minimum configured for 2027; 2026's (85000) was used",
                     translator(language))
    assert "2027" in text and "2026" in text and "85000" in text

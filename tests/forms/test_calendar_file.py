"""The calendar file as the shell reads it (forms.catalogue.load_calendar): the shipped overrides, a missing or
malformed file."""

from __future__ import annotations

from datetime import date

import pytest

from forms.catalogue import CALENDAR_OVERRIDES, load_calendar
from pipeline.errors import ConfigError

GOOD = """\
# a comment
[[day_off]]
date = 2099-01-05
reason_kk = "ҮЛГІ"
reason_ru = "ОБРАЗЕЦ"
decree = "SAMPLE"

[[working_day]]
date = 2099-01-03
reason_kk = "ҮЛГІ"
reason_ru = "ОБРАЗЕЦ"
decree = "SAMPLE"
"""


def test_the_shipped_overrides_load():
    assert CALENDAR_OVERRIDES.is_file()
    calendar = load_calendar()
    # The sample in the file's comment must stay a comment.
    assert date(2099, 1, 5) not in calendar.extra_days_off
    assert date(2099, 1, 3) not in calendar.extra_working_days


def test_load_reads_a_file_and_tolerates_a_missing_one(tmp_path):
    path = tmp_path / "overrides.toml"
    path.write_text(GOOD, encoding="utf-8")
    calendar = load_calendar(path)
    assert calendar.extra_days_off == {date(2099, 1, 5)}
    assert calendar.is_working_day(date(2099, 1, 3))
    assert not calendar.is_working_day(date(2099, 1, 5))
    assert load_calendar(tmp_path / "absent.toml").extra_days_off == frozenset()
    path.write_text("[[day_off]]\ndate = 2099-01-05\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"{path.name}, line 1: .*missing reason_kk"):
        load_calendar(path)


def test_the_shipped_overrides_confirm_no_year_without_a_decree_found():
    """forms/calendar/overrides.toml: no decree text for 2026 or 2027 was found, so both years warn."""
    from forms.catalogue import CALENDAR_OVERRIDES
    from pipeline.core.calendar import parse_confirmed_years, unconfirmed_years

    confirmed = parse_confirmed_years(CALENDAR_OVERRIDES.read_text(encoding="utf-8"))
    assert unconfirmed_years(confirmed, date(2026, 12, 2)) == [2026, 2027]

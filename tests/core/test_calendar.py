"""Kazakhstan working days (pipeline/calendar.py): the calendar every deadline of the Rules is counted in.

Pure: calendars are built in memory (reading the file is the shell's: tests/forms/test_calendar_file.py).
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.core.calendar import WorkCalendar, add_months, parse_overrides
from pipeline.errors import ConfigError

KZ = WorkCalendar()  # one shared calendar, so the per-year cache is warm across examples

# Saturdays and Sundays only: the calendar of a year `holidays` does not know.
WEEKENDS_ONLY = WorkCalendar(holiday_source=lambda year: set())


# --- known facts --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "day",
    [
        date(2026, 12, 16),  # Independence Day (Wednesday)
        date(2027, 1, 1),  # New Year
        date(2027, 1, 4),  # New Year on Saturday 2 January, observed on Monday
        date(2027, 1, 7),  # Orthodox Christmas
        date(2027, 3, 8),  # International Women's Day (Monday)
        date(2027, 3, 22),  # Nauryz
        date(2027, 3, 23),  # Nauryz
        date(2027, 1, 9),  # Saturday
        date(2027, 1, 10),  # Sunday
    ],
)
def test_days_off(day):
    assert not KZ.is_working_day(day)


@pytest.mark.parametrize("day", [date(2026, 12, 14), date(2026, 12, 15), date(2027, 1, 5), date(2027, 1, 14)])
def test_working_days(day):
    assert KZ.is_working_day(day)


def test_nauryz_21_to_23_march_are_holidays():
    for day in (21, 22, 23):
        assert KZ.holiday_name(date(2027, 3, day)) is not None


def test_holiday_names_are_kazakh():
    assert KZ.holiday_name(date(2026, 12, 16)) == "Тәуелсіздік күні"
    assert KZ.holiday_name(date(2027, 1, 4)) is not None
    assert KZ.holiday_name(date(2027, 1, 9)) is None  # a plain Saturday
    assert KZ.holiday_name(date(2027, 1, 5)) is None  # a working day


def test_rules_example_19_working_days_from_a_psc_acceptance():
    # ¶6, ¶15: accepted at a PSC on Monday 14 December 2026; the acceptance day does not count.
    # Skipped: 16 Dec (Independence Day), 1 and 4 Jan (New Year, observed), 7 Jan (Orthodox Christmas), weekends.
    accepted = date(2026, 12, 14)
    assert KZ.add_working_days(accepted, 19) == date(2027, 1, 14)
    assert KZ.working_days_between(accepted, date(2027, 1, 14)) == 19
    assert KZ.working_days_between(date(2027, 1, 14), accepted) == -19


def test_start_day_never_counts_and_zero_returns_start():
    friday, saturday = date(2027, 1, 8), date(2027, 1, 9)
    assert KZ.add_working_days(friday, 1) == date(2027, 1, 11)
    assert KZ.add_working_days(saturday, 1) == date(2027, 1, 11)
    assert KZ.add_working_days(saturday, 0) == saturday
    assert KZ.next_working_day(date(2026, 12, 31)) == date(2027, 1, 5)
    assert KZ.on_or_after(date(2027, 1, 1)) == date(2027, 1, 5)
    assert KZ.on_or_after(date(2027, 1, 5)) == date(2027, 1, 5)
    with pytest.raises(ValueError):
        KZ.add_working_days(friday, -1)


def test_years_outside_the_holidays_package_still_work():
    # 2150: no holidays known, weekends still off.
    assert KZ.is_working_day(date(2150, 1, 1))  # a Thursday
    assert not KZ.is_working_day(date(2150, 1, 3))  # a Saturday
    assert KZ.add_working_days(date(2150, 1, 2), 1) == date(2150, 1, 5)
    assert KZ.working_days_between(date(1900, 1, 1), date(1900, 1, 8)) == 5


def test_a_long_span_crosses_years():
    start = date(2026, 12, 14)
    far = KZ.add_working_days(start, 1000)
    assert far.year >= 2030
    assert KZ.working_days_between(start, far) == 1000


# --- overrides ----------------------------------------------------------------------------------------------


def test_an_extra_day_off_shifts_the_deadline_by_one_working_day():
    decreed = WorkCalendar(extra_days_off={date(2027, 1, 8): "Демалыс"})
    assert not decreed.is_working_day(date(2027, 1, 8))
    assert decreed.holiday_name(date(2027, 1, 8)) == "Демалыс"
    assert decreed.add_working_days(date(2026, 12, 14), 19) == date(2027, 1, 15)


def test_an_extra_working_saturday_counts():
    saturday = date(2027, 1, 9)
    decreed = WorkCalendar(extra_working_days=[saturday])
    assert decreed.is_working_day(saturday)
    assert decreed.add_working_days(date(2026, 12, 14), 19) == date(2027, 1, 13)
    assert decreed.add_working_days(date(2027, 1, 8), 1) == saturday


def test_an_override_wins_over_an_estimated_holiday():
    estimated = date(2027, 5, 17)  # say the library estimated Eid al-Adha on the Monday
    source = {estimated: "Құрбан айт"}
    decreed = WorkCalendar(extra_working_days=[estimated], holiday_source=source)
    assert not WorkCalendar(holiday_source=source).is_working_day(estimated)
    assert decreed.is_working_day(estimated)
    assert decreed.holiday_name(estimated) is None


def test_a_date_cannot_be_both_off_and_working():
    with pytest.raises(ValueError, match="2027-01-09"):
        WorkCalendar(extra_days_off=[date(2027, 1, 9)], extra_working_days=[date(2027, 1, 9)])


def test_holiday_source_may_be_a_callable_returning_dates():
    source = WorkCalendar(holiday_source=lambda year: {date(year, 6, 1)})
    assert not source.is_working_day(date(2027, 6, 1))  # a Tuesday
    assert source.holiday_name(date(2027, 6, 1)) is None  # no names from a plain set
    assert source.is_working_day(date(2027, 1, 4))


# --- the overrides file -------------------------------------------------------------------------------------

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


def test_parse_overrides():
    days_off, working = parse_overrides(GOOD)
    assert days_off == {date(2099, 1, 5): "ҮЛГІ"}
    assert working == [date(2099, 1, 3)]


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("[[day_off]]\ndate = 2099-01-05\nreason_kk = \n", 3, "not valid TOML"),
        ("[[day_off]]\ndate = 2099-01-05\nreason_kk = [", 3, "not valid TOML"),  # "at end of document"
        (GOOD.replace('decree = "SAMPLE"\n\n[[working', "\n[[working"), 2, "missing decree"),
        (GOOD.replace("date = 2099-01-03", 'date = "2099-01-03"'), 8, "bare TOML date"),
        (GOOD.replace("date = 2099-01-03", "date = 2099-01-03T10:00:00"), 8, "bare TOML date"),
        (
            GOOD.replace('reason_ru = "ОБРАЗЕЦ"\ndecree = "SAMPLE"\n', 'reason_ru = ""\ndecree = "S"\n', 1),
            2,
            "reason_ru",
        ),
        (GOOD.replace('decree = "SAMPLE"\n', 'decree = "SAMPLE"\nreson = "x"\n', 1), 2, "unknown key"),
        (GOOD.replace("2099-01-03", "2099-01-05"), 8, "also listed"),
        (GOOD + GOOD.split("\n\n")[0].replace("# a comment\n", "\n"), 14, "listed twice"),
    ],
)
def test_parse_overrides_names_file_and_line(text, line, words):
    with pytest.raises(ConfigError) as caught:
        parse_overrides(text, "overrides.toml")
    message = caught.value.one_line()
    assert "overrides.toml" in message and f"line {line}" in message and words in message
    assert caught.value.remedy


def test_parse_overrides_unknown_table():
    with pytest.raises(ConfigError, match="days_off.*unknown table"):
        parse_overrides("[[days_off]]\ndate = 2099-01-05\n")


# --- add_months (¶14: a result is kept for one month) --------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2027, 1, 31), 1, date(2027, 2, 28)),
        (date(2028, 1, 31), 1, date(2028, 2, 29)),
        (date(2027, 1, 14), 1, date(2027, 2, 14)),
        (date(2026, 12, 31), 2, date(2027, 2, 28)),
        (date(2027, 3, 31), -1, date(2027, 2, 28)),
        (date(2027, 5, 31), 0, date(2027, 5, 31)),
        (date(2027, 1, 15), 12, date(2028, 1, 15)),
    ],
)
def test_add_months(day, months, expected):
    assert add_months(day, months) == expected


# --- properties ---------------------------------------------------------------------------------------------

days = st.dates(min_value=date(2015, 1, 1), max_value=date(2035, 12, 31))
wide_days = st.dates(min_value=date(1950, 1, 1), max_value=date(2150, 12, 31))
terms = st.integers(min_value=1, max_value=400)


@given(days, terms)
def test_add_working_days_lands_on_a_working_day_strictly_after(d, n):
    result = KZ.add_working_days(d, n)
    assert result > d
    assert KZ.is_working_day(result)
    assert KZ.working_days_between(d, result) == n


@given(wide_days, terms)
def test_add_working_days_agrees_with_a_day_by_day_count(d, n):
    result = KZ.add_working_days(d, n)
    counted, day = 0, d
    while counted < n:
        day += timedelta(days=1)
        counted += KZ.is_working_day(day)
    assert result == day


@given(days, terms, terms)
def test_add_working_days_is_monotone_in_n(d, a, b):
    lo, hi = sorted((a, b))
    assert KZ.add_working_days(d, lo) <= KZ.add_working_days(d, hi)
    if lo < hi:
        assert KZ.add_working_days(d, lo) < KZ.add_working_days(d, hi)


@given(days, days, terms)
def test_add_working_days_is_monotone_in_start(a, b, n):
    lo, hi = sorted((a, b))
    assert KZ.add_working_days(lo, n) <= KZ.add_working_days(hi, n)


@given(days, st.integers(min_value=0, max_value=200), st.integers(min_value=0, max_value=200))
def test_add_working_days_is_additive(d, a, b):
    assert KZ.add_working_days(KZ.add_working_days(d, a), b) == KZ.add_working_days(d, a + b)


@given(days, days)
def test_working_days_between_mirrors(a, b):
    assert KZ.working_days_between(a, b) == -KZ.working_days_between(b, a)
    assert KZ.working_days_between(a, a) == 0


@given(days)
def test_on_or_after_is_idempotent(d):
    once = KZ.on_or_after(d)
    assert once >= d and KZ.is_working_day(once)
    assert KZ.on_or_after(once) == once
    assert KZ.next_working_day(d) == KZ.add_working_days(d, 1) > d


@given(
    st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 12, 31)),
    st.integers(min_value=-1200, max_value=1200),
)
def test_add_months_never_overflows(d, months):
    result = add_months(d, months)
    assert (result.year * 12 + result.month) - (d.year * 12 + d.month) == months
    assert result.day <= d.day
    if months > 0:
        assert result >= d
    if months < 0:
        assert result <= d


@given(days, st.sets(days, max_size=10), terms)
def test_every_extra_day_off_is_skipped(d, extra, n):
    extra = {x for x in extra if x > d}
    decreed = WorkCalendar(extra_days_off=extra)
    result = decreed.add_working_days(d, n)
    assert result not in extra
    assert decreed.add_working_days(d, n) >= KZ.add_working_days(d, n)


@given(wide_days, terms)
def test_weekends_only_calendar(d, n):
    result = WEEKENDS_ONLY.add_working_days(d, n)
    assert result.weekday() < 5
    assert WEEKENDS_ONLY.working_days_between(d, result) == n


def test_years_without_a_confirmed_decree_are_reported():
    """Issue 11 #11: the running year and the next warn until their decree is entered as a [[year]]."""
    from pipeline.core.calendar import parse_confirmed_years, unconfirmed_years

    text = '[[year]]\nyear = 2026\ndecree = "2025-12-01 No. 1"\nsource = "https://adilet.zan.kz/…"\n'
    confirmed = parse_confirmed_years(text)
    assert confirmed == {2026: "2025-12-01 No. 1"}
    assert unconfirmed_years(confirmed, date(2026, 12, 2)) == [2027]
    assert unconfirmed_years({}, date(2026, 12, 2)) == [2026, 2027]
    with pytest.raises(ConfigError):
        parse_confirmed_years('[[year]]\nyear = 2026\n')


"""Kazakhstan working days: the calendar every deadline of the Rules is counted in.

Every term of the Rules is in *working days* (domain.md, "Working days"): Monday to Friday except Kazakhstan's
public holidays, with the days the Government moves off (or on) by its yearly decree.  The calendar serves:

- ¶6  — the State Corporation delivers the package to the provider within 1 working day; the day of acceptance
  does not count toward the term (hence :meth:`WorkCalendar.add_working_days` never counts its start day);
- ¶8  — the provider checks completeness within 2 working days;
- ¶10 — the housing is inspected and the act drawn up within 3 working days;
- ¶11 — the order or the reasoned refusal is prepared within 12 working days of the act;
- ¶12 — the signed result reaches the personal cabinet within 2 working days;
- ¶14 — the State Corporation keeps a result for one month (:func:`add_months`), and the provider returns it
  within 1 working day of a request;
- ¶15 — the total term is 19 working days;
- ¶21 — complaints are examined within 5 (head of the provider) or 15 (quality-control body) working days.

Public holidays come from the ``holidays`` package (``holidays.KZ``, which already includes the observed days,
e.g. 2027-01-04 for New Year on a Saturday).  Decreed changes come from ``forms/calendar/overrides.toml``.
The computations are pure: a :class:`WorkCalendar` is a value built from data; the file is read by the shell
(:func:`forms.catalogue.load_calendar`) and its text parsed here (:func:`parse_overrides`).
"""

from __future__ import annotations

import calendar as _stdlib_calendar
import datetime as dt
import re
import threading
import tomllib
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import holidays

from ..errors import ConfigError

#: Kazakh names: Kazakh is the state language and ``holidays.KZ``'s default; it has no Russian names.
_HOLIDAY_LANGUAGE = "kk"

HolidaySource = Callable[[int], Iterable[date] | Mapping[date, str]] | Mapping[date, str]


def _kz_holidays(year: int) -> Mapping[date, str]:
    # Outside the years `holidays` knows (1991–2100 in 0.109) this is empty: weekends and overrides still apply.
    return holidays.KZ(years=year, language=_HOLIDAY_LANGUAGE)


@dataclass(frozen=True, slots=True)
class _Year:
    """One year, computed once: the working days as sorted ordinals (for bisect), and the holidays' names."""

    working: tuple[int, ...]
    working_set: frozenset[int]
    names: dict[date, str | None]


class WorkCalendar:
    """Working days in Kazakhstan: weekdays, minus public holidays, with decreed overrides.

    ``extra_days_off`` are days made days off by decree (a plain iterable of dates, or a mapping date → name);
    ``extra_working_days`` are days made working days (a Saturday moved by decree; also the way to correct a
    holiday the library only *estimates*, such as Eid al-Adha).  Overrides win over the holiday source; a date
    may not be in both.  ``holiday_source`` is a callable ``year -> set[date]`` (or ``-> mapping date → name``),
    or a fixed mapping date → name; by default ``holidays.KZ``.
    """

    def __init__(
        self,
        extra_days_off: Iterable[date] = (),
        extra_working_days: Iterable[date] = (),
        holiday_source: HolidaySource | None = None,
    ):
        if isinstance(extra_days_off, Mapping):
            self._off_names: dict[date, str | None] = {_as_date(d): n for d, n in extra_days_off.items()}
        else:
            self._off_names = {_as_date(d): None for d in extra_days_off}
        self._extra_off = frozenset(self._off_names)
        self._extra_working = frozenset(_as_date(d) for d in extra_working_days)
        both = self._extra_off & self._extra_working
        if both:
            listed = ", ".join(d.isoformat() for d in sorted(both))
            raise ValueError(f"dates both a day off and a working day: {listed}")
        self._source = holiday_source if holiday_source is not None else _kz_holidays
        self._years: dict[int, _Year] = {}
        self._lock = threading.Lock()

    # --- the overrides, for display and diagnostics ---------------------------------------------------------

    @property
    def extra_days_off(self) -> frozenset[date]:
        return self._extra_off

    @property
    def extra_working_days(self) -> frozenset[date]:
        return self._extra_working

    def __repr__(self) -> str:
        return f"WorkCalendar({len(self._extra_off)} extra days off, {len(self._extra_working)} extra working days)"

    # --- queries ---------------------------------------------------------------------------------------------

    def is_working_day(self, d: date) -> bool:
        return d.toordinal() in self._year(d.year).working_set

    def add_working_days(self, start: date, n: int) -> date:
        """The ``n``-th working day after ``start``; ``start`` itself never counts (¶6, ¶15).  ``n == 0`` → start."""
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        if n == 0:
            return start
        year = start.year
        days = self._year(year).working
        i = bisect_right(days, start.toordinal())  # the first working day strictly after start
        while True:
            available = len(days) - i
            if n <= available:
                return date.fromordinal(days[i + n - 1])
            n -= available
            year += 1
            if year > dt.MAXYEAR:
                raise OverflowError(f"{n} working days after {start} is beyond {dt.MAXYEAR}")
            days, i = self._year(year).working, 0

    def next_working_day(self, d: date) -> date:
        """The first working day strictly after ``d``."""
        return self.add_working_days(d, 1)

    def on_or_after(self, d: date) -> date:
        """``d`` if it is a working day, else the next working day."""
        return d if self.is_working_day(d) else self.next_working_day(d)

    def working_days_between(self, start: date, end: date) -> int:
        """The number of working days in ``(start, end]``; the mirror (negative) if ``end < start``."""
        if end < start:
            return -self.working_days_between(end, start)
        count = bisect_right(self._year(end.year).working, end.toordinal())
        count -= bisect_right(self._year(start.year).working, start.toordinal())
        for year in range(start.year, end.year):
            count += len(self._year(year).working)
        return count

    def holiday_name(self, d: date) -> str | None:
        """The name of the public holiday or decreed day off on ``d`` (Kazakh; a decree's ``reason_kk``).

        ``None`` when ``d`` is not one (a plain weekend, a working day, a day made working by decree), or when the
        holiday source gives no names.
        """
        if d in self._extra_working:
            return None
        if d in self._off_names:
            return self._off_names[d]
        return self._year(d.year).names.get(d)

    # --- the per-year cache ----------------------------------------------------------------------------------

    def _year(self, year: int) -> _Year:
        cached = self._years.get(year)
        if cached is not None:
            return cached
        with self._lock:
            cached = self._years.get(year)
            if cached is None:
                cached = self._years[year] = self._compute_year(year)
            return cached

    def _compute_year(self, year: int) -> _Year:
        names: dict[date, str | None] = {}
        # A holiday's observed day may fall in the next year: ask the neighbours too (only on a cache miss).
        for y in (year - 1, year, year + 1):
            if dt.MINYEAR <= y <= dt.MAXYEAR:
                for d, name in self._source_items(y):
                    if d.year == year:
                        names.setdefault(d, name)
        first = date(year, 1, 1).toordinal()
        last = date(year, 12, 31).toordinal()
        working = []
        for o in range(first, last + 1):
            d = date.fromordinal(o)
            if d in self._extra_working:
                working.append(o)
            elif d.weekday() < 5 and d not in names and d not in self._extra_off:
                working.append(o)
        return _Year(tuple(working), frozenset(working), names)

    def _source_items(self, year: int) -> Iterable[tuple[date, str | None]]:
        source = self._source
        if isinstance(source, Mapping):
            if isinstance(source, holidays.HolidayBase):
                _ = date(year, 1, 1) in source  # makes an expanding `holidays` object populate the year
            return [(_as_date(d), n) for d, n in source.items() if _as_date(d).year == year]
        found = source(year)
        if isinstance(found, Mapping):
            return [(_as_date(d), n) for d, n in found.items()]
        return [(_as_date(d), None) for d in found]


def add_months(d: date, months: int) -> date:
    """``d`` plus calendar months, clipped to the month's end (31 Jan + 1 → 28/29 Feb); ¶14's one-month storage."""
    index = d.year * 12 + (d.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    if not dt.MINYEAR <= year <= dt.MAXYEAR:
        raise OverflowError(f"{d} plus {months} months is outside the calendar")
    return date(year, month, min(d.day, _stdlib_calendar.monthrange(year, month)[1]))


def _as_date(value: Any) -> date:
    if isinstance(value, dt.datetime):  # a datetime is a date subclass: reject it rather than drop the time
        raise TypeError(f"expected a date, got a datetime {value!r}")
    if not isinstance(value, date):
        raise TypeError(f"expected a date, got {value!r}")
    return value


# --- the overrides file -------------------------------------------------------------------------------------

_REMEDY = "correct forms/calendar/overrides.toml as its header comment shows"
_TABLES = ("day_off", "working_day")
_FIELDS = ("date", "reason_kk", "reason_ru", "decree")


def parse_overrides(text: str, source: str = "overrides.toml") -> tuple[dict[date, str], list[date]]:
    """Parse the overrides TOML: (days off → Kazakh reason, working days).  Pure: ``source`` is only for messages.

    Raises :class:`ConfigError` naming ``source`` and the line of the faulty entry.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # Its message ends "(at line N, column M)", or "(at end of document)" for an unfinished value.
        found = re.search(r"at line (\d+)", str(exc))
        line = int(found.group(1)) if found else max(1, len(text.splitlines()))
        raise ConfigError(f"{source}, line {line}: not valid TOML: {exc}", remedy=_REMEDY) from exc

    headers = _entry_lines(text)

    def fail(table: str, index: int | None, problem: str) -> ConfigError:
        line = headers[table][index] if index is not None and index < len(headers[table]) else None
        where = f"{source}, line {line}" if line else source
        what = f"[[{table}]] entry {index + 1}" if index is not None else table
        return ConfigError(f"{where}: {what}: {problem}", remedy=_REMEDY)

    for key in data:
        if key not in _TABLES and key != _YEARS:
            raise fail(key, None, f"unknown table; expected {', '.join(_TABLES)} or {_YEARS}")

    parsed: dict[str, dict[date, str]] = {}
    for table in _TABLES:
        entries = data.get(table, [])
        if not isinstance(entries, list):
            raise fail(table, None, f"must be an array of tables, written [[{table}]]")
        parsed[table] = {}
        for index, entry in enumerate(entries):
            if not isinstance(entry, dict):
                raise fail(table, index, "must be a table")
            unknown = sorted(set(entry) - set(_FIELDS))
            if unknown:
                raise fail(
                    table, index, f"unknown key(s) {', '.join(unknown)}; expected {', '.join(_FIELDS)}"
                )
            missing = [f for f in _FIELDS if f not in entry]
            if missing:
                raise fail(table, index, f"missing {', '.join(missing)}")
            day = entry["date"]
            if isinstance(day, dt.datetime) or not isinstance(day, date):
                raise fail(table, index, f"date must be a bare TOML date such as 2099-01-05, got {day!r}")
            for field in _FIELDS[1:]:
                if not isinstance(entry[field], str) or not entry[field].strip():
                    raise fail(table, index, f"{field} must be a non-empty string")
            if day in parsed[table]:
                raise fail(table, index, f"{day} is listed twice")
            parsed[table][day] = entry["reason_kk"]

    conflicting = sorted(set(parsed["day_off"]) & set(parsed["working_day"]))
    if conflicting:
        index = list(parsed["working_day"]).index(conflicting[0])
        raise fail("working_day", index, f"{conflicting[0]} is also listed as a [[day_off]]")
    return parsed["day_off"], list(parsed["working_day"])


_YEARS = "year"
_YEAR_FIELDS = ("year", "decree", "source")


def parse_confirmed_years(text: str, source: str = "overrides.toml") -> dict[int, str]:
    """The years whose decree moving days off has been read and entered (``[[year]]``: year, decree, source — a
    decree that moves no day is confirmed too): year → decree.  Pure, like :func:`parse_overrides`."""
    parse_overrides(text, source)  # the same file: its day entries must be valid as well
    entries = tomllib.loads(text).get(_YEARS, [])
    if not isinstance(entries, list):
        raise ConfigError(f"{source}: {_YEARS} must be an array of tables, written [[{_YEARS}]]", remedy=_REMEDY)
    confirmed: dict[int, str] = {}
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or sorted(entry) != sorted(_YEAR_FIELDS) or not isinstance(
                entry["year"], int) or not all(isinstance(entry[f], str) and entry[f].strip() for f in _YEAR_FIELDS[1:]):
            raise ConfigError(f"{source}: [[{_YEARS}]] entry {index + 1}: needs exactly {', '.join(_YEAR_FIELDS)} "
                              "(an integer year, the decree's date and number, where its text is published)",
                              remedy=_REMEDY)
        confirmed[entry["year"]] = entry["decree"]
    return confirmed


def unconfirmed_years(confirmed: Mapping[int, str], today: date) -> list[int]:
    """Issue 11 #11: the running year and the next, when no decree for them is confirmed — every deadline
    counted into such a year may move by a day; ``qamqor deadlines`` and the desk warn."""
    return [y for y in (today.year, today.year + 1) if y not in confirmed]


def _entry_lines(text: str) -> dict[str, list[int]]:
    """The line numbers of the ``[[day_off]]`` and ``[[working_day]]`` headers, in order (tomllib gives none)."""
    lines: dict[str, list[int]] = {table: [] for table in _TABLES}
    header = re.compile(r"^\s*\[\[\s*(\w+)\s*\]\]")
    for number, line in enumerate(text.splitlines(), start=1):
        match = header.match(line)
        if match and match.group(1) in lines:
            lines[match.group(1)].append(number)
    return lines

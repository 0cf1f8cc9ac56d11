"""What the desk shows in words rather than codes (issue 15 #3, #6): dates and times as Kazakh and Russian
officials write them, on Kazakhstan's clock (UTC+5); working days left or overdue; the names of states, channels,
routes, history steps and events; and errors as "what happened — what to do", their stable code kept aside for
support.  Every word comes from ``catalogue.toml`` (and the month names from ``forms/catalogue/months.toml``):
nothing here is wording.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Any

from ..core.rules import KZ_TZ
from .i18n import catalogue, translator


@lru_cache(maxsize=1)
def _months() -> dict[str, list[str]]:
    from forms.catalogue import _default

    return _default().months


def _moment(value: Any) -> dt.datetime | dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        return value
    else:
        text = str(value).strip()
        if len(text) <= 10:
            return dt.date.fromisoformat(text)
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)  # the journal's own times are UTC
    return moment.astimezone(KZ_TZ)


def official_date(value: Any, language: str) -> str:
    """«2027 жылғы 6 қаңтар» / «6 января 2027 г.» (a moment: its day in Kazakhstan)."""
    moment = _moment(value)
    if moment is None:
        return "—"
    day = moment.date() if isinstance(moment, dt.datetime) else moment
    month = _months()["kk_nom" if language == "kk" else "ru_gen"][day.month - 1]
    return translator(language)("date.pattern", year=day.year, day=day.day, month=month)


def official_datetime(value: Any, language: str) -> str:
    """«2027 жылғы 6 қаңтар, 10:00» / «6 января 2027 г., 10:00», on Kazakhstan's clock (UTC+5)."""
    moment = _moment(value)
    if moment is None:
        return "—"
    if not isinstance(moment, dt.datetime):
        return official_date(moment, language)
    return translator(language)("date.with_time", date=official_date(moment, language),
                                time=moment.strftime("%H:%M"))


def days_phrase(days_left: int | None, overdue: bool, language: str) -> str:
    """"3 working days left", "due today", or "9 working days overdue" — never "-9"."""
    t = translator(language)
    if days_left is None:
        return ""
    if overdue:
        return t("days.overdue", n=abs(days_left))
    if days_left == 0:
        return t("days.today")
    return t("days.left", n=days_left)


def word(group: str, value: Any, language: str) -> str:
    """A state, channel, route, step, event… in words (``<group>.<value>`` in the catalogue); a value the
    catalogue does not know shows as a dash with the generic word of its group, never as the raw value."""
    key = f"{group}.{value}"
    words = catalogue()
    if key in words:
        return words[key][language]
    return words.get(f"{group}._unknown", {}).get(language, "—")


#: the error codes whose words the catalogue has (``error.<code>``); any other reads as ``error.E-OTHER``
def error_words(code: str | None, language: str, **values: Any) -> dict[str, str]:
    """An error as the officer reads it: what happened and what to do (``text``), and the stable ``code``."""
    t = translator(language)
    code = code or "E-INTERNAL"
    key = f"error.{code}" if f"error.{code}" in catalogue() else "error.E-OTHER"
    try:
        text = t(key, **values)
    except (KeyError, IndexError):
        text = t("error.E-OTHER")
    return {"code": code, "text": text}


def code_of(error: BaseException | str | None) -> str | None:
    """The stable code of an error, or of an error's one line (``E-CODE: …``)."""
    if error is None:
        return None
    if isinstance(error, BaseException):
        return getattr(error, "code", None) or "E-INTERNAL"
    head = str(error).split(":", 1)[0].strip()
    return head if head.startswith(("E-", "W-")) else "E-INTERNAL"

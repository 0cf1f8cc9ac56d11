"""The IIN (ЖСН / ИИН): format, check digit, birth date and sex (research/forms.md §10).

Structure ``YYMMDD C NNNN K``: the birth date, a century-and-sex digit (1/2 → 1800s, 3/4 → 1900s, 5/6 → 2000s;
odd = male), a 4-digit serial and a check digit.  The check digit uses weights 1..11 mod 11; if that gives 10,
weights 3,4,5,6,7,8,9,10,11,1,2 mod 11; 10 again means no valid IIN exists for those 11 digits.

Written by hand: no well-kept library implements the Kazakh IIN.
"""

from __future__ import annotations

import datetime as dt

from ..errors import InputError, Where

_W1 = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
_W2 = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)

#: century-and-sex digit → (first year of the century, sex)
_CENTURY = {1: (1800, "M"), 2: (1800, "F"), 3: (1900, "M"), 4: (1900, "F"), 5: (2000, "M"), 6: (2000, "F")}


def check_digit(first11: str) -> int | None:
    """The check digit for 11 digits, or ``None`` when none exists (both weightings give 10)."""
    d = [int(ch) for ch in first11]
    c = sum(x * w for x, w in zip(d, _W1, strict=True)) % 11
    if c == 10:
        c = sum(x * w for x, w in zip(d, _W2, strict=True)) % 11
        if c == 10:
            return None
    return c


def _is_12_digits(iin: object) -> bool:
    # str.isdigit() accepts non-ASCII digits (e.g. Arabic-Indic); an IIN is ASCII only
    return isinstance(iin, str) and len(iin) == 12 and iin.isascii() and iin.isdigit()


def validate_iin(iin: object, where: Where | None = None) -> None:
    """Raise :class:`InputError` ``E-IIN-FORMAT`` or ``E-IIN-CHECKSUM`` unless ``iin`` is a valid IIN."""
    if not _is_12_digits(iin):
        raise InputError("E-IIN-FORMAT", _show(iin), where)
    c = check_digit(iin[:11])
    if c is None or c != int(iin[11]):
        raise InputError("E-IIN-CHECKSUM", iin, where)


def is_valid_iin(iin: object) -> bool:
    try:
        validate_iin(iin)
    except InputError:
        return False
    return True


def birth_date_from_iin(iin: str) -> dt.date:
    """The birth date the IIN carries.  ``ValueError`` when its 7th digit gives no century or the date is impossible.

    A 7th digit of 0 is reported for some foreigners' IINs (forms.md §10): it carries no century, so this raises;
    :func:`birth_date_agrees` still compares the YYMMDD part for them.
    """
    if not _is_12_digits(iin):
        raise ValueError(f"not an IIN: {_show(iin)}")
    digit = int(iin[6])
    if digit not in _CENTURY:
        raise ValueError(f"the 7th digit {digit} of IIN {iin} gives no century")
    century = _CENTURY[digit][0]
    return dt.date(century + int(iin[0:2]), int(iin[2:4]), int(iin[4:6]))


def sex_from_iin(iin: str) -> str:
    """``"M"`` or ``"F"`` from the 7th digit (odd = male).  A cross-check only, never a decision (forms.md §10)."""
    if not _is_12_digits(iin):
        raise ValueError(f"not an IIN: {_show(iin)}")
    digit = int(iin[6])
    if digit not in _CENTURY:
        raise ValueError(f"the 7th digit {digit} of IIN {iin} gives no sex")
    return _CENTURY[digit][1]


def birth_date_agrees(iin: str, birth_date: dt.date) -> bool:
    """Whether ``birth_date`` is the date in the IIN.  With a 7th digit of 0 (no century) only YYMMDD is compared."""
    if iin[6] == "0":
        return iin[:6] == birth_date.strftime("%y%m%d")
    try:
        return birth_date_from_iin(iin) == birth_date
    except ValueError:
        return False


def make_iin(birth_date: dt.date, sex: str, serial: int = 1) -> str:
    """A valid IIN for tests and examples.  Serials whose check digit would be 10 twice are skipped."""
    if sex not in ("M", "F"):
        raise ValueError("sex is 'M' or 'F'")
    digits = [d for d, (century, s) in _CENTURY.items() if s == sex and century <= birth_date.year < century + 100]
    if not digits:
        raise ValueError(f"no century digit for year {birth_date.year}")
    digit = digits[0]
    for n in range(serial, 10000):
        first11 = f"{birth_date:%y%m%d}{digit}{n:04d}"
        c = check_digit(first11)
        if c is not None:
            return first11 + str(c)
    raise ValueError("no serial left")


def _show(value: object) -> str:
    text = repr(value) if not isinstance(value, str) else value
    text = text.encode("unicode_escape").decode("ascii") if not text.isprintable() else text
    return text if len(text) <= 40 else text[:40] + "…"

"""The IIN (research/forms.md §10): format, check digit, birth date, sex."""

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.core.iin import (
    birth_date_agrees,
    birth_date_from_iin,
    check_digit,
    is_valid_iin,
    make_iin,
    sex_from_iin,
    validate_iin,
)
from pipeline.errors import InputError


@pytest.mark.parametrize(
    "iin, born, sex",
    [
        ("050101500010", dt.date(2005, 1, 1), "M"),
        ("900101400013", dt.date(1990, 1, 1), "F"),
        ("120315600125", dt.date(2012, 3, 15), "F"),
    ],
)
def test_valid_self_test_values(iin, born, sex):
    validate_iin(iin)
    assert birth_date_from_iin(iin) == born
    assert sex_from_iin(iin) == sex


def test_faker_docstring_example_fails_its_check_digit():
    with pytest.raises(InputError) as e:
        validate_iin("780322300455")
    assert e.value.code == "E-IIN-CHECKSUM"
    assert check_digit("78032230045") == 8


@pytest.mark.parametrize("bad", ["", "12345", "0501015000100", "05010150001a", "０５０１０１５０００１０", "٠٥٠١٠١٥٠٠٠١٠", None, 50101500010])
def test_format(bad):
    with pytest.raises(InputError) as e:
        validate_iin(bad)
    assert e.value.code == "E-IIN-FORMAT"
    assert not is_valid_iin(bad)


@pytest.mark.parametrize("digit, century", [("1", 1800), ("2", 1800), ("3", 1900), ("4", 1900), ("5", 2000), ("6", 2000)])
def test_century_digit(digit, century):
    iin = "991231" + digit + "0001"
    iin += str(check_digit(iin) if check_digit(iin) is not None else 0)
    assert birth_date_from_iin(iin).year == century + 99
    assert sex_from_iin(iin) == ("M" if int(digit) % 2 else "F")


def test_no_century_digit():
    with pytest.raises(ValueError):
        birth_date_from_iin("900101000011")
    with pytest.raises(ValueError):
        sex_from_iin("900101700011")
    # a 7th digit of 0 (reported for some foreigners) carries no century: YYMMDD alone is compared
    assert birth_date_agrees("900101000011", dt.date(1990, 1, 1))
    assert not birth_date_agrees("900101000011", dt.date(1990, 1, 2))


def test_impossible_date_in_iin_never_agrees():
    assert not birth_date_agrees("901301400011", dt.date(1990, 1, 13))


def test_double_ten_is_never_valid():
    # find 11 digits for which both weightings give 10: no IIN exists for them, whatever the 12th digit
    first11 = next(f"000101{n:05d}" for n in range(100000) if check_digit(f"000101{n:05d}") is None)
    for last in "0123456789":
        assert not is_valid_iin(first11 + last)


def test_make_iin_skips_serials_without_a_check_digit():
    born = dt.date(2000, 1, 1)
    serial = next(n for n in range(10000) if check_digit(f"000101{5}{n:04d}") is None)
    iin = make_iin(born, "M", serial)
    assert int(iin[7:11]) > serial
    validate_iin(iin)


@given(
    born=st.dates(min_value=dt.date(1800, 1, 1), max_value=dt.date(2099, 12, 31)),
    sex=st.sampled_from(["M", "F"]),
    serial=st.integers(0, 9000),
)
def test_make_iin_round_trip(born, sex, serial):
    iin = make_iin(born, sex, serial)
    validate_iin(iin)
    assert birth_date_from_iin(iin) == born
    assert sex_from_iin(iin) == sex
    assert birth_date_agrees(iin, born)


@given(st.text(alphabet="0123456789", min_size=11, max_size=11))
def test_exactly_one_check_digit_or_none(first11):
    valid = [d for d in "0123456789" if is_valid_iin(first11 + d)]
    c = check_digit(first11)
    assert valid == ([] if c is None else [str(c)])

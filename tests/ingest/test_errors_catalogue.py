"""Every input error code has a test that produces it from a bad input (issue 2, "Done when").

The codes are part of the outside contract (they appear in `.error.json` reports); this test fails when a code
is added to `pipeline.errors.INPUT_ERRORS` without a test that asserts it, or when a code is referenced that
does not exist.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipeline.errors import INPUT_ERRORS, InputError, InputErrors, Where

TESTS = Path(__file__).resolve().parents[1]  # every test of the suite, not only those beside this one
CODE = re.compile(r'"(E-[A-Z0-9-]+)"')


def _asserted_codes() -> set[str]:
    found: set[str] = set()
    for path in TESTS.rglob("test_*.py"):
        if path.name == Path(__file__).name:
            continue
        found |= set(CODE.findall(path.read_text(encoding="utf-8")))
    return found


@pytest.mark.parametrize("code", sorted(INPUT_ERRORS))
def test_every_input_error_code_is_produced_by_a_test(code):
    assert code in _asserted_codes(), f"no test produces {code} from a bad input"


def test_tests_name_only_codes_that_exist():
    unknown = {c for c in _asserted_codes() if c.startswith("E-") and c not in INPUT_ERRORS} - {
        "E-INTERNAL", "E-CONFIG", "E-NOT-FOUND", "E-STATE", "E-BUSY", "E-TRANSIENT", "E-SECRET", "E-REASON"}
    assert not {c for c in unknown if not c.startswith("E-SIGN")}, unknown


def test_an_error_reads_as_one_line_with_where_and_remedy():
    err = InputError("E-IIN-CHECKSUM", "780322300455", Where(pointer="/data/applicant/iin"))
    line = err.one_line()
    assert line.startswith("E-IIN-CHECKSUM: ") and "/data/applicant/iin" in line and "\n" not in line
    assert err.to_dict()["where"] == {"pointer": "/data/applicant/iin"} and err.to_dict()["remedy"]
    many = InputErrors([err, InputError("E-VOCABULARY", "'x'", Where(xpath="/case_event/event", line=3))])
    assert many.code == "E-IIN-CHECKSUM" and len(many.to_dict()["errors"]) == 2 and "(+1 more)" in many.one_line()


def test_unknown_code_is_a_programming_error():
    with pytest.raises(KeyError):
        InputError("E-NO-SUCH-CODE")

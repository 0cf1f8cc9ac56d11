"""The library speed-ups (signing/speedups.py, issue 13) return what the originals return, for every input (the
third, xsdata's shared metadata, is checked on a real report in test_ltv.py)."""

from __future__ import annotations

import random
from io import BytesIO

import pytest
from asn1crypto import x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.misc import PdfStreamError

from signing import speedups


def _both(data: bytes):
    """(result, position after) of the original reader and of ours, or the exception type each raised."""
    out = []
    for reader in (speedups.ORIGINAL_READ_HEX, speedups.read_hex_string_from_stream):
        stream = BytesIO(data)
        try:
            value = reader(stream)
            out.append((type(value), bytes(value.original_bytes), stream.tell()))
        except Exception as e:  # noqa: BLE001 - the exception itself is compared
            out.append((type(e), None, None))
    return out


CASES = [
    b"<>", b"<00>", b"<0>", b"<abc>", b"<ABCDEF0123456789> 1 0 R", b"<30 82\n01\r\n0a\t\x0c\x00ff>/Next",
    b"<feff0041>", b"<" + b"0" * 70000 + b">trailer",  # a reserved /Contents longer than one block
    b"<3082" + b"0" * 16379 + b">",  # the ">" right after a block's end
    b"<12 % a comment\n34>", b"<12zz>", b"<12", b"<" + b"a" * 20000,  # comment, stray byte, no end
]


@pytest.mark.parametrize("data", CASES, ids=range(len(CASES)))
def test_the_hex_reader_reads_as_pyhankos_own(data):
    original, ours = _both(data)
    assert ours == original


def test_the_hex_reader_agrees_on_random_strings():
    rng = random.Random(13)
    alphabet = b"0123456789abcdefABCDEF \n\r\t" + b"0" * 20
    for _ in range(300):
        body = bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 3000)))
        data = b"<" + body + b">" + bytes(rng.choice(b" /<>R0") for _ in range(rng.randint(0, 5)))
        original, ours = _both(data)
        assert ours == original, data[:80]


def test_the_hex_reader_and_a_bad_string_still_fail_as_before():
    assert _both(b"<12zz>")[1][0] is PdfStreamError


def test_they_are_installed_where_the_libraries_look_them_up():
    assert generic.read_hex_string_from_stream is speedups.read_hex_string_from_stream
    assert x509.NameTypeAndValue._ldap_string_prep is speedups._ldap_string_prep


@pytest.mark.parametrize("text", ["  Серікбаева   Гүлнар ", "ҚАЗАҚСТАН", "Test\u00a0CA", "ǅ ß ﬁ", "", "a\u200bb"])
def test_the_name_preparation_is_rfc_4518s(text):
    assert speedups._ldap_string_prep(None, text) == speedups.ORIGINAL_STRING_PREP(None, text)
    # and names compare as they did: case, spaces and compatibility forms folded, other letters not
    a = x509.Name.build({"common_name": "Серікбаева  Гүлнар"})
    assert a == x509.Name.build({"common_name": "серікбаева гүлнар"})
    assert a != x509.Name.build({"common_name": "Серикбаева Гульнар"})


def _names():
    """Names as certificates carry them: the same name parsed from its bytes, in other string types, case and
    spacing, other names, more attributes, and a name inside a GeneralName (its own encoding carries the
    explicit tag)."""
    build = x509.Name.build
    first = build({"common_name": "Білім бөлімі", "country_name": "KZ"})
    names = [
        first,
        x509.Name.load(first.dump()),
        build({"common_name": "БІЛІМ  БӨЛІМІ", "country_name": "KZ"}),
        build({"common_name": "Білім бөлімі"}),
        build({"common_name": "Білім бөлімі", "country_name": "KZ", "organization_name": "ED-ALM-BOS"}),
        build({"common_name": "Test CA", "country_name": "KZ"}, use_printable=True),
        build({"common_name": "test  ca", "country_name": "KZ"}),
        build({"common_name": "Test CB", "country_name": "KZ"}, use_printable=True),
    ]
    wrapped = x509.GeneralNames([x509.GeneralName(name="directory_name", value=names[0])])
    return names + [x509.GeneralNames.load(wrapped.dump())[0].chosen]


def test_names_compare_as_asn1cryptos_own():
    names = _names()
    for a in names:
        for b in names:
            assert (a == b) == speedups.ORIGINAL_NAME_EQ(a, b), (a.human_friendly, b.human_friendly)
    assert names[0] == names[1] == names[2] == names[-1] and names[0] != names[3] != names[4]
    assert names[5] == names[6] != names[7]
    assert x509.Name.__eq__ is speedups._name_eq and names[0] != "Білім бөлімі"

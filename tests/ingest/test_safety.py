"""Names and ids that are valid but unsafe (issue 14, items 14 and 15): invisible format characters in person
names and ids, and case ids that Windows reserves as device names — JSON and XML alike."""

from __future__ import annotations

import json

import pytest

from forms.tools.tree_to_xml import tree_to_xml
from pipeline.ingest import parse_event
from pipeline.ingest.safety import invisible
from tests.ingest.test_ingest import APPLICATION, base, reject


def as_json(tree) -> bytes:
    return json.dumps(tree, ensure_ascii=False, indent=2).encode()


@pytest.mark.parametrize("char", ["\u202e", "\u202d", "\u2066", "\u2069", "\u200b", "\u200d", "\u200f",
                                  "\u2028", "\ufeff", "\u00ad"])
def test_a_format_character_in_a_surname_is_refused_where_it_is(char):
    tree = base()
    tree["data"]["applicant"]["surname"] = f"Тұр{char}сынбекова"
    (err,) = reject(as_json(tree), "a.json")
    assert err.code == "E-INVISIBLE-CHAR"
    assert err.where.pointer == "/data/applicant/surname" and f"U+{ord(char):04X}" in err.message
    assert "_ptr" not in err.to_dict()


def test_a_format_character_in_an_id_is_refused():
    tree = base()
    tree["event_id"] = tree["event_id"][:3] + "\u200b" + tree["event_id"][3:]
    codes = {e.code for e in reject(as_json(tree), "a.json")}
    assert "E-INVISIBLE-CHAR" in codes or "E-SCHEMA" in codes  # the schema's pattern may say it first
    tree = base()
    tree["data"]["applicant"]["given_name"] = "Гүл\u202eнұр"
    tree["data"]["children"][0]["surname"] = "Ки\u2067м"
    found = reject(as_json(tree), "a.json")
    assert [e.code for e in found] == ["E-INVISIBLE-CHAR", "E-INVISIBLE-CHAR"]
    assert [e.where.pointer for e in found] == ["/data/applicant/given_name", "/data/children/0/surname"]


def test_the_same_is_refused_in_xml():
    tree = base()
    tree["data"]["applicant"]["surname"] = "Тұр\u202eсын"
    (err,) = reject(tree_to_xml(tree), "a.xml")
    assert err.code == "E-INVISIBLE-CHAR" and err.where.xpath and "surname" in err.where.xpath


def test_ordinary_kazakh_and_russian_names_pass():
    tree = base()
    tree["data"]["applicant"]["surname"] = "Әбілқасымова-Ғалымжанқызы"
    assert parse_event(as_json(tree), filename=APPLICATION.name).case_id == tree["case_id"]
    assert invisible("Жұмабаева Әсел Нұрланқызы") is None


@pytest.mark.parametrize("case_id", ["CON", "nul", "Aux", "PRN", "COM1", "com9", "LPT1", "LPT9", "COM0"])
def test_windows_device_names_are_refused_as_case_ids(case_id):
    tree = base()
    tree["case_id"] = case_id
    (err,) = reject(as_json(tree), "a.json")
    assert err.code == "E-CASE-ID-RESERVED" and err.where.pointer == "/case_id"
    (err,) = reject(tree_to_xml(tree), "a.xml")
    assert err.code == "E-CASE-ID-RESERVED"


@pytest.mark.parametrize("case_id", ["CONS", "COM10", "LPT", "C-2026-0001", "NUL-1"])
def test_names_that_only_look_like_devices_pass(case_id):
    tree = base()
    tree["case_id"] = case_id
    assert parse_event(as_json(tree), filename="a.json").case_id == case_id

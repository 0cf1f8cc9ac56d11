"""Hostile and broken input: ``parse_event`` yields a valid Event or an InputError — nothing else, and never hangs.

Random bytes, random JSON values, and mutated valid examples (members deleted, replaced, duplicated, retyped;
files truncated), as JSON and as XML.  Sizes are bounded; everything is in memory.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from forms.tools.tree_to_xml import tree_to_xml
from pipeline.core.events import Event
from pipeline.errors import InputError
from pipeline.ingest import parse_event

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TREES = [
    json.loads(p.read_text(encoding="utf-8"))
    for p in sorted(EXAMPLES.rglob("*.json"))
]
# QAMQOR_FUZZ_EXAMPLES=5000 for a long, random run; by default short and reproducible (keeps the suite fast)
_LONG = int(os.environ.get("QAMQOR_FUZZ_EXAMPLES", "0"))
FUZZ = settings(max_examples=_LONG or 120, deadline=2000, suppress_health_check=[HealthCheck.too_slow],
                derandomize=not _LONG)


def outcome(data: bytes, filename: str) -> Event | InputError:
    try:
        event = parse_event(data, filename=filename, max_bytes=200_000)
    except InputError as e:
        json.dumps(e.to_dict(), ensure_ascii=False)  # the rejection report can always be written
        assert e.one_line()
        return e
    assert isinstance(event, Event)
    return event


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)


@FUZZ
@given(data=st.binary(max_size=2000), suffix=st.sampled_from([".json", ".xml"]))
def test_random_bytes(data, suffix):
    outcome(data, "x" + suffix)


@FUZZ
@given(value=json_values)
def test_random_json_values(value):
    outcome(json.dumps(value).encode(), "x.json")


@FUZZ
@given(value=json_values, tree=st.sampled_from(TREES))
def test_random_payloads_in_a_valid_envelope(value, tree):
    tree = copy.deepcopy(tree)
    tree["data"] = value
    outcome(json.dumps(tree).encode(), "x.json")


def _paths(tree, prefix=()):
    yield prefix
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            yield from _paths(v, prefix + (i,))


def _flip(value):
    """The same information in another JSON type."""
    if isinstance(value, bool):
        return "true" if value else 0
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return [value] if len(value) % 2 else {"value": value}
    if isinstance(value, list):
        return {str(i): v for i, v in enumerate(value)}
    if isinstance(value, dict):
        return list(value.values())
    return ""


@st.composite
def mutated_trees(draw):
    tree = copy.deepcopy(draw(st.sampled_from(TREES)))
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(tree) if p]
        path = draw(st.sampled_from(paths))
        parent = tree
        for key in path[:-1]:
            parent = parent[key]
        key = path[-1]
        op = draw(st.sampled_from(["delete", "replace", "flip", "duplicate", "add", "text"]))
        if op == "delete":
            del parent[key]
        elif op == "replace":
            parent[key] = draw(json_values)
        elif op == "flip":
            parent[key] = _flip(parent[key])
        elif op == "duplicate" and isinstance(parent, list):
            parent.insert(key, copy.deepcopy(parent[key]))
        elif op == "add" and isinstance(parent, dict):
            parent[draw(st.sampled_from(["extra", "iin", "code", "children", "data", "birth_date"]))] = draw(json_values)
        elif op == "text":
            parent[key] = draw(st.sampled_from(
                ["", " ", "0", "true", "2026-02-30", "12345678901", "050101500010", "{{ 7*7 }}", "../..", "\x00",
                 "9" * 30, "-1", "1e400", "granted", "psc", "married"]))
    return tree


@FUZZ
@given(tree=mutated_trees())
def test_mutated_examples_as_json(tree):
    outcome(json.dumps(tree, ensure_ascii=False).encode(), "x.json")


def _xml_char(c: str) -> bool:
    o = ord(c)
    return c in "\t\n\r" or 0x20 <= o <= 0xD7FF or 0xE000 <= o <= 0xFFFD or o >= 0x10000


def _xml_safe(tree) -> bool:
    """tree_to_xml needs keys that are XML names and text that XML can carry."""
    for path in _paths(tree):
        for key in path:
            if isinstance(key, str) and not (key.isidentifier() and key.isascii()):
                return False
        value = tree
        for key in path:
            value = value[key]
        if isinstance(value, str) and not all(map(_xml_char, value)):
            return False
    return True


@FUZZ
@given(tree=mutated_trees())
def test_mutated_examples_as_xml(tree):
    if isinstance(tree, dict) and _xml_safe(tree):
        outcome(tree_to_xml(tree), "x.xml")


@st.composite
def mutated_xml(draw):
    tree = draw(st.sampled_from(TREES))
    root = etree.fromstring(tree_to_xml(tree))
    for _ in range(draw(st.integers(1, 3))):
        elements = list(root.iter())
        el = draw(st.sampled_from(elements))
        op = draw(st.sampled_from(["delete", "duplicate", "rename", "text", "nest", "attribute", "move"]))
        parent = el.getparent()
        if op == "delete" and parent is not None:
            parent.remove(el)
        elif op == "duplicate" and parent is not None:
            parent.insert(parent.index(el), copy.deepcopy(el))
        elif op == "rename":
            el.tag = "{urn:kz:qamqor:case-event:1}" + draw(
                st.sampled_from(["child", "iin", "data", "document", "member", "x", "case_event"]))
        elif op == "text":
            el.text = draw(st.text(alphabet=st.characters(blacklist_categories=["Cs", "Cc"]), max_size=15))
        elif op == "nest":
            etree.SubElement(el, "{urn:kz:qamqor:case-event:1}" + draw(st.sampled_from(["iin", "child", "x"]))).text = "1"
        elif op == "attribute":
            el.set(draw(st.sampled_from(["id", "{http://www.w3.org/2001/XMLSchema-instance}type",
                                         "{http://www.w3.org/2001/XMLSchema-instance}nil"])),
                   draw(st.sampled_from(["true", "ApplicationSubmitted", "x:y", ""])))
        elif op == "move" and parent is not None and len(elements) > 2:
            target = draw(st.sampled_from(elements))
            if el not in target.iterancestors() and el is not target:
                target.append(el)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


@FUZZ
@given(data=mutated_xml())
def test_mutated_xml(data):
    outcome(data, "x.xml")


@FUZZ
@given(tree=st.sampled_from(TREES), fmt=st.sampled_from(["json", "xml"]), cut=st.floats(0, 1),
       junk=st.binary(max_size=8))
def test_truncated_and_spliced_files(tree, fmt, cut, junk):
    data = json.dumps(tree, ensure_ascii=False).encode() if fmt == "json" else tree_to_xml(tree)
    at = int(len(data) * cut)
    outcome(data[:at] + junk, "x." + fmt)
    outcome(data[:at] + junk + data[at:], "x." + fmt)


def test_examples_survive_the_harness():
    for tree in TREES:
        assert isinstance(outcome(json.dumps(tree).encode(), "x.json"), Event)
        assert isinstance(outcome(tree_to_xml(tree), "x.xml"), Event)

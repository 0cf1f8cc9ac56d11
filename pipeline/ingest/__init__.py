"""Ingest: one file's bytes (JSON or XML) → one validated case event (contract.md, "Case events").

The stage, in order:

1. size limit (``E-FILE-TOO-LARGE``) and strict UTF-8 (``E-ENCODING``), before any parser sees the bytes
   (:mod:`.files`, which also reads a claimed file from disk for the runner: :func:`read_input`);
2. syntax: JSON with duplicate members, NaN/Infinity and over-deep nesting refused (``E-JSON-SYNTAX``,
   :mod:`.jsonread`); XML with a hardened lxml parser (no entities, no DTD, no network, no huge trees) that refuses
   any DOCTYPE, entity or processing instruction outright (``E-XML-FORBIDDEN``) and any root but ``<case_event>``
   in our namespace (``E-XML-NAMESPACE``) (:mod:`.xmlread`);
3. structure: XML against ``forms/schemas/case-event.xsd`` (XSD 1.1, xmlschema), converted to the JSON-shaped tree,
   which is validated against ``forms/schemas/case-event.schema.json`` — JSON and XML alike, so the two schemas
   cannot drift apart unnoticed (:mod:`.schemas`; the validators' errors become findings in :mod:`.findings`);
4. semantics the schemas cannot say: IIN check digits, birth dates against IINs, repeated documents or children
   (:mod:`.semantics`); names and ids that are valid but unsafe — invisible format characters, case ids Windows
   reserves (:mod:`.safety`).

Every finding says *where*: a JSON pointer for JSON, an XPath and a line for XML.  All findings of stages 3–4 are
collected and raised together (:class:`~pipeline.errors.InputErrors`, in document order; a single finding is
raised as a plain :class:`~pipeline.errors.InputError`), so a clerk fixes everything at once.

Text is data: ``{{ 7*7 }}`` in a name stays those eight characters (the renderer escapes it).
"""

from __future__ import annotations

import itertools
import json
from typing import Any

from lxml import etree

from pipeline.core.events import Event
from pipeline.errors import InputError, InputErrors

from . import safety, schemas
from .files import (
    EVENT_SUFFIXES,
    MAX_BYTES,
    MAX_DEPTH,
    MAX_FINDINGS,
    MAX_ITEMS,
    check_size,
    decode,
    kind_of,
    read_input,
)
from .findings import JsonLocator, XmlLocator, describe, xsd_findings
from .jsonread import check_depth, load_json, pointer
from .schemas import load_json_schema
from .semantics import semantic
from .xmlread import ITEM_NAMES, check_shape, event_of, load_xml, parser, xml_to_tree, xsd_errors

__all__ = [
    "EVENT_SUFFIXES", "ITEM_NAMES", "MAX_BYTES", "MAX_DEPTH", "MAX_FINDINGS", "MAX_ITEMS",
    "load_json_schema", "parse_event", "parse_tree", "read_input", "syntax_complete",
]


def parse_event(data: bytes, *, filename: str, max_bytes: int = MAX_BYTES) -> Event:
    """Read one case event file.  Raises :class:`InputError` (or :class:`InputErrors`) for any bad input."""
    return Event.from_dict(parse_tree(data, filename=filename, max_bytes=max_bytes))


def parse_tree(data: bytes, *, filename: str, max_bytes: int = MAX_BYTES) -> dict[str, Any]:
    """Read one case event file into the validated JSON-shaped tree (what :meth:`Event.from_dict` takes)."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError("parse_tree takes bytes")
    data = bytes(data)
    check_size(len(data), max_bytes)
    kind = kind_of(filename)
    text = decode(data)
    if kind == "json":
        tree = load_json(text)
        check_depth(tree)
        findings = _validate_tree(tree, JsonLocator(tree))
    else:
        findings, tree = _validate_xml(load_xml(data, text))
    if findings:
        findings.sort(key=lambda e: e.extra.pop("_order", 0))
        findings = findings[:MAX_FINDINGS]
        raise findings[0] if len(findings) == 1 else InputErrors(findings)
    return tree


def _validate_tree(tree: Any, locator: JsonLocator | XmlLocator) -> list[InputError]:
    """Stages 3–4 on the tree: every finding of the JSON Schema, then of the semantics, each said once."""
    findings: list[InputError] = []
    seen: set[tuple[str, str]] = set()
    event = tree.get("event") if isinstance(tree, dict) else None
    event = event if isinstance(event, str) else None

    def add(code: str, detail: str, parts: list[str | int]) -> None:
        key = (pointer(parts), detail)
        if key in seen:
            return
        seen.add(key)
        where, order = locator.where(parts)
        findings.append(InputError(code, detail, where, _order=order, _ptr=pointer(parts)))

    for err in itertools.islice(schemas.validator().iter_errors(tree), MAX_FINDINGS):
        for code, detail, parts in describe(err, event):
            add(code, detail, parts)

    for code, detail, parts in safety.findings(tree):  # names and ids valid but unsafe (#14.14, #14.15)
        add(code, detail, parts)
    flagged = {f.extra.get("_ptr") for f in findings}
    for f in semantic(tree, flagged):
        add(f.code, f.detail, f.extra["_parts"])
    for f in findings:
        f.extra.pop("_ptr", None)
    return findings


def _validate_xml(root: etree._Element) -> tuple[list[InputError], dict[str, Any]]:
    """Stages 3–4 for XML: attributes and sizes, the XSD, then the tree as for JSON.  Findings, and the tree."""
    locator = XmlLocator(root)
    findings = check_shape(root, locator.at)
    if findings:
        for f in findings:
            f.extra.pop("_ptr", None)  # internal: never in a report (#14.23)
        return findings, {}
    event = event_of(root)
    findings = xsd_findings(*xsd_errors(root, event), event, locator)
    tree, locator.elements = xml_to_tree(root)
    if findings:
        # the structure is wrong: still check what can be checked (IINs, birth dates) so the clerk sees it all
        flagged = {f.extra.get("_ptr") for f in findings}
        for f in semantic(tree, flagged):
            el = locator.elements.get(f.extra.pop("_ptr"), root)
            findings.append(locator.at(f.code, f.detail, el))
        for f in findings:
            f.extra.pop("_ptr", None)
        return findings, {}
    return _validate_tree(tree, locator), tree


def syntax_complete(data: bytes, name: str) -> bool:
    """Whether the bytes parse as JSON or XML at all: a cheap check for a file that may still be being copied
    into the inbox (ingest does the real one).  XML goes through the same hardened parser as ingest."""
    if name.lower().endswith(".json"):
        try:
            json.loads(data)
        except ValueError:
            return False
        except RecursionError:
            # nested far deeper than any event (#14.2): complete or not, ingest rejects it (E-JSON-SYNTAX) now
            return True
        return True
    try:
        etree.fromstring(data, parser())
    except etree.XMLSyntaxError:
        return False
    return True

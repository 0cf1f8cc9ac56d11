"""Ingest: one file's bytes (JSON or XML) → one validated case event (contract.md, "Case events").

The stage, in order:

1. size limit (``E-FILE-TOO-LARGE``) and strict UTF-8 (``E-ENCODING``), before any parser sees the bytes;
2. syntax: JSON with duplicate members, NaN/Infinity and over-deep nesting refused (``E-JSON-SYNTAX``); XML with a
   hardened lxml parser (no entities, no DTD, no network, no huge trees) that refuses any DOCTYPE, entity or
   processing instruction outright (``E-XML-FORBIDDEN``) and any root but ``<case_event>`` in our namespace
   (``E-XML-NAMESPACE``);
3. structure: XML against ``forms/schemas/case-event.xsd`` (XSD 1.1, xmlschema), converted to the JSON-shaped tree,
   which is validated against ``forms/schemas/case-event.schema.json`` — JSON and XML alike, so the two schemas
   cannot drift apart unnoticed;
4. semantics the schemas cannot say: IIN check digits, birth dates against IINs, repeated documents or children.

Every finding says *where*: a JSON pointer for JSON, an XPath and a line for XML.  All findings of stages 3–4 are
collected and raised together (:class:`~pipeline.errors.InputErrors`, in document order; a single finding is
raised as a plain :class:`~pipeline.errors.InputError`), so a clerk fixes everything at once.

Text is data: ``{{ 7*7 }}`` in a name stays those eight characters (the renderer escapes it).
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import xmlschema
from jsonschema.exceptions import ValidationError
from lxml import etree

from pipeline.core import iin as iin_mod
from pipeline.errors import InputError, InputErrors, Where
from pipeline.core.events import XML_NAMESPACE, Event

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "forms" / "schemas"
JSON_SCHEMA_PATH = SCHEMA_DIR / "case-event.schema.json"
XSD_PATH = SCHEMA_DIR / "case-event.xsd"

MAX_BYTES = 1_000_000
MAX_DEPTH = 32  # the contract's deepest member is 4 levels down; anything far deeper is an attack or an accident
MAX_FINDINGS = 100  # a clerk does not need more, and a hostile file must not make us produce millions
MAX_ITEMS = 100  # no array or object of the contract holds more (the schemas say 50 at most); checked first, cheaply

_NS = "{" + XML_NAMESPACE + "}"
_XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"

# An XML element holding an array has one child per item, named by the singular (contract.md).
ITEM_NAMES = {
    "children": "child",
    "documents": "document",
    "inspectors": "inspector",
    "household": "member",
    "utilities": "utility",
    "grounds": "ground",
    "missing": "document",
    "expired": "document",
}


# --- public API ------------------------------------------------------------------------------------------------


def parse_event(data: bytes, *, filename: str, max_bytes: int = MAX_BYTES) -> Event:
    """Read one case event file.  Raises :class:`InputError` (or :class:`InputErrors`) for any bad input."""
    return Event.from_dict(parse_tree(data, filename=filename, max_bytes=max_bytes))


def parse_tree(data: bytes, *, filename: str, max_bytes: int = MAX_BYTES) -> dict[str, Any]:
    """Read one case event file into the validated JSON-shaped tree (what :meth:`Event.from_dict` takes)."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError("parse_tree takes bytes")
    data = bytes(data)
    if len(data) > max_bytes:
        raise InputError("E-FILE-TOO-LARGE", f"{len(data)} bytes, the limit is {max_bytes}")
    kind = _kind(filename)
    text = _decode(data)
    if kind == "json":
        tree = _load_json(text)
        _check_json_depth(tree)
        findings = _validate_tree(tree, _JsonLocator(tree))
    else:
        root = _load_xml(data, text)
        findings, tree = _validate_xml(root)
    if findings:
        findings.sort(key=lambda e: e.extra.pop("_order", 0))
        findings = findings[:MAX_FINDINGS]
        raise findings[0] if len(findings) == 1 else InputErrors(findings)
    return tree


def tree_to_xml(tree: dict[str, Any]) -> bytes:
    """The XML form of a JSON-shaped event tree (contract.md): for examples, tests and back offices."""
    root = etree.Element(_NS + "case_event", nsmap={None: XML_NAMESPACE})

    def build(parent: etree._Element, key: str, value: Any) -> None:
        el = etree.SubElement(parent, _NS + key)
        if isinstance(value, dict):
            for k, v in value.items():
                build(el, k, v)
        elif isinstance(value, list):
            for item in value:
                build(el, ITEM_NAMES.get(key, "item"), item)
        elif isinstance(value, bool):
            el.text = "true" if value else "false"
        else:
            el.text = str(value)

    for k, v in tree.items():
        build(root, k, v)
    etree.indent(root, space="  ")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8") + b"\n"


def load_json_schema() -> dict[str, Any]:
    return _schema()[0]


# --- reading the bytes ----------------------------------------------------------------------------------------


def _kind(filename: str) -> str:
    name = filename.lower()
    if name.endswith(".json"):
        return "json"
    if name.endswith(".xml"):
        return "xml"
    raise InputError("E-FILE-TYPE", f"{filename!r} is neither *.json nor *.xml")


def _line_col(data: bytes | str, offset: int) -> tuple[int, int]:
    head = data[:offset]
    nl = b"\n" if isinstance(head, bytes) else "\n"
    return head.count(nl) + 1, offset - (head.rfind(nl) + 1) + 1


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line, col = _line_col(data, e.start)
        raise InputError(
            "E-ENCODING", f"byte 0x{data[e.start]:02x} at offset {e.start} is not UTF-8", Where(line=line, column=col)
        ) from None


# --- JSON -------------------------------------------------------------------------------------------------------


class _Obj(dict):
    """A JSON object that remembers which members it saw twice (found again after parsing, to say where)."""

    dups: tuple[str, ...] = ()


class _JsonReject(ValueError):
    pass


def _pairs(pairs: list[tuple[str, Any]]) -> _Obj:
    obj = _Obj(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        obj.dups = tuple(k for k, _ in pairs if k in seen or seen.add(k))
    return obj


def _no_constant(name: str) -> Any:
    raise _JsonReject(f"{name} is not a JSON number")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _JsonReject(f"the number {text[:20]} is out of range")
    return value


def _int(text: str) -> int:
    if len(text) > 40:  # also keeps clear of Python's int-parsing limit on huge digit strings
        raise _JsonReject(f"the number {text[:20]}… is too long")
    return int(text)


_CONSTANT = re.compile(r"-?Infinity|NaN")
_NUMBER = re.compile(r"-?[0-9]{41,}|-?[0-9][0-9.]*[eE][+-]?[0-9]{3,}")


def _load_json(text: str) -> Any:
    body = text[1:] if text.startswith("\ufeff") else text
    try:
        tree = json.loads(
            body, object_pairs_hook=_pairs, parse_constant=_no_constant, parse_float=_float, parse_int=_int
        )
    except json.JSONDecodeError as e:
        raise InputError("E-JSON-SYNTAX", e.msg, Where(line=e.lineno, column=e.colno)) from None
    except _JsonReject as e:
        where = Where()
        m = _CONSTANT.search(body) if "JSON number" in str(e) else _NUMBER.search(body)
        if m:
            where.line, where.column = _line_col(body, m.start())
        raise InputError("E-JSON-SYNTAX", str(e), where) from None
    except RecursionError:
        raise InputError("E-JSON-SYNTAX", "the JSON is nested too deeply", Where(pointer="")) from None
    _find_duplicates(tree)
    return tree


def _walk(tree: Any) -> Iterator[tuple[str, Any, int]]:
    """(pointer, value, depth) of every value in document order, iteratively (no recursion on hostile input)."""
    stack: list[tuple[str, Any, int]] = [("", tree, 0)]
    while stack:
        ptr, value, depth = stack.pop()
        yield ptr, value, depth
        if isinstance(value, dict):
            stack.extend((f"{ptr}/{_esc(k)}", v, depth + 1) for k, v in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend((f"{ptr}/{i}", v, depth + 1) for i, v in reversed(list(enumerate(value))))


def _find_duplicates(tree: Any) -> None:
    findings = []
    for ptr, value, _ in _walk(tree):
        for k in getattr(value, "dups", ()):
            findings.append(InputError("E-JSON-SYNTAX", f"member {_q(k)} appears twice", Where(pointer=f"{ptr}/{_esc(k)}")))
    if findings:
        raise findings[0] if len(findings) == 1 else InputErrors(findings[:MAX_FINDINGS])


def _check_json_depth(tree: Any) -> None:
    for ptr, value, depth in _walk(tree):
        if depth > MAX_DEPTH:
            raise InputError("E-SCHEMA", f"nested deeper than {MAX_DEPTH} levels", Where(pointer=ptr))
        if isinstance(value, dict | list) and len(value) > MAX_ITEMS:
            raise InputError("E-SCHEMA", f"more than {MAX_ITEMS} items or members", Where(pointer=ptr))


# --- XML --------------------------------------------------------------------------------------------------------


def _parser() -> etree.XMLParser:
    # entities, DTDs and the network off; comments dropped (they carry nothing); PIs kept so we can refuse them
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False,
        remove_comments=True, remove_pis=False, collect_ids=False, attribute_defaults=False,
    )


_FORBIDDEN = re.compile(rb"<!DOCTYPE|<!ENTITY|<\?(?!xml[\s?])", re.IGNORECASE)


def _forbidden_in_bytes(data: bytes) -> InputError | None:
    m = _FORBIDDEN.search(data)
    if m is None:
        return None
    line, col = _line_col(data, m.start())
    what = {b"<!d": "a DOCTYPE", b"<!e": "an entity declaration"}.get(m.group()[:3].lower(), "a processing instruction")
    return InputError("E-XML-FORBIDDEN", what, Where(line=line, column=col))


def _load_xml(data: bytes, text: str) -> etree._Element:
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as e:
        # a DOCTYPE or entity is the cause more often than not (an undefined entity is a syntax error): say so
        forbidden = _forbidden_in_bytes(data)
        if forbidden is not None:
            raise forbidden from None
        line, col = (e.position if e.position else (e.lineno, 0))
        msg = re.sub(r", line \d+, column \d+$", "", e.msg or "not well-formed")
        raise InputError("E-XML-SYNTAX", msg, Where(line=line or None, column=col or None)) from None
    doc = root.getroottree()
    info = doc.docinfo
    if info.doctype or info.internalDTD is not None or info.externalDTD is not None:
        m = re.search(r"<!DOCTYPE", text)
        line = _line_col(text, m.start())[0] if m else None
        raise InputError("E-XML-FORBIDDEN", "a DOCTYPE", Where(line=line))
    pis = [n for n in itertools.chain(root.itersiblings(preceding=True), root.iter(), root.itersiblings())
           if isinstance(n, etree._ProcessingInstruction)]
    if pis:
        raise InputError("E-XML-FORBIDDEN", f"a processing instruction <?{pis[0].target}?>",
                         Where(xpath=_xpath(pis[0].getparent()) if pis[0].getparent() is not None else None,
                               line=pis[0].sourceline))
    ent = next(root.iter(etree.Entity), None)
    if ent is not None:
        raise InputError("E-XML-FORBIDDEN", f"an entity reference {ent.text}", Where(line=ent.sourceline))
    encoding = (info.encoding or "UTF-8").upper().replace("_", "-")
    if encoding not in ("UTF-8", "UTF8"):
        raise InputError("E-ENCODING", f"the XML declares encoding {info.encoding}", Where(line=1))
    if root.tag != _NS + "case_event":
        q = etree.QName(root)
        raise InputError(
            "E-XML-NAMESPACE", f"found <{q.localname}> in {q.namespace or 'no namespace'}",
            Where(xpath="/" + q.localname, line=root.sourceline),
        )
    return root


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname


def _is_item(el: etree._Element) -> bool:
    parent = el.getparent()
    return parent is not None and parent.getparent() is not None and _local(parent) in ITEM_NAMES


def _location(el: etree._Element) -> tuple[list[str | int], str]:
    """The JSON pointer parts and the XPath of an element (items of arrays indexed: ``child[1]``)."""
    parts: list[str | int] = []
    steps: list[str] = []
    node = el
    while node is not None:
        name = _local(node)
        parent = node.getparent()
        if parent is None:
            steps.append(name)
            break
        same = [c for c in parent if isinstance(c.tag, str) and c.tag == node.tag]
        if _is_item(node):
            idx = [c for c in parent if isinstance(c.tag, str)].index(node)
            parts.append(idx)
            steps.append(f"{name}[{same.index(node) + 1}]")
        else:
            parts.append(name)
            steps.append(f"{name}[{same.index(node) + 1}]" if len(same) > 1 else name)
        node = parent
    return parts[::-1], "/" + "/".join(reversed(steps))


def _xpath(el: etree._Element) -> str:
    return _location(el)[1]


def _validate_xml(root: etree._Element) -> tuple[list[InputError], dict[str, Any]]:
    findings: list[InputError] = []
    order = {el: i for i, el in enumerate(root.iter())}

    def finding(code: str, detail: str, el: etree._Element) -> InputError:
        parts, xpath = _location(el)
        return InputError(code, detail, Where(xpath=xpath, line=el.sourceline),
                          _order=(el.sourceline or 0, order.get(el, 0)), _ptr=_pointer(parts))

    data_el = root.find(_NS + "data")
    event_el = root.find(_NS + "event")
    event = (event_el.text or "").strip() if event_el is not None and len(event_el) == 0 else ""
    for el in root.iter():
        if len(el) > MAX_ITEMS:
            return [finding("E-SCHEMA", f"more than {MAX_ITEMS} child elements", el)], {}
        for name in el.attrib:
            if el is data_el and name == _XSI_TYPE:
                continue
            findings.append(finding("E-SCHEMA", f"attribute {etree.QName(name).localname!r} is not part of the contract", el))
    if findings:
        return findings, {}

    # <data>'s payload type follows <event> (see the header of case-event.xsd); a sender's own xsi:type is
    # replaced, never trusted
    _, xsd, _ = _schema()
    if data_el is not None:
        data_el.attrib.pop(_XSI_TYPE, None)
    if data_el is not None and event in _event_types():
        if data_el.nsmap.get(None) == XML_NAMESPACE:
            data_el.set(_XSI_TYPE, _type_name(event))
        else:
            prefix = next(p for p, uri in data_el.nsmap.items() if uri == XML_NAMESPACE)
            data_el.set(_XSI_TYPE, f"{prefix}:{_type_name(event)}")
    seen: set[tuple[str | None, str]] = set()
    try:
        for err in itertools.islice(xsd.iter_errors(root), MAX_FINDINGS):
            f = _xsd_finding(err, event, finding)
            if (f.where.xpath, f.code) not in seen or f.code == "E-SCHEMA" and f.where.xpath.endswith("/data"):
                seen.add((f.where.xpath, f.code))
                findings.append(f)
    except xmlschema.XMLSchemaException as e:  # the validator gave up on this input: still bad input, said so
        findings.append(finding("E-SCHEMA", f"the XML cannot be validated: {str(e).splitlines()[0][:200]}", root))
    if data_el is not None:
        data_el.attrib.pop(_XSI_TYPE, None)

    tree, elements = _xml_to_tree(root)
    if findings:
        # the structure is wrong: still check what can be checked (IINs, birth dates) so the clerk sees it all
        flagged = {f.extra.get("_ptr") for f in findings}
        for f in _semantic(tree, flagged):
            el = elements.get(f.extra.pop("_ptr"), root)
            findings.append(finding(f.code, f.detail, el))
        for f in findings:
            f.extra.pop("_ptr", None)
        return findings, {}

    locator = _XmlLocator(elements, order, root)
    return _validate_tree(tree, locator), tree


def _type_name(event: str) -> str:
    return "".join(w.capitalize() for w in re.split(r"[._]", event))


def _xsd_finding(err: xmlschema.XMLSchemaValidationError, event: str, finding) -> InputError:
    el = err.elem if isinstance(getattr(err, "elem", None), etree._Element) else None
    reason = err.reason or str(err.message)
    if isinstance(err, xmlschema.XMLSchemaChildrenValidationError):
        child = err.invalid_child
        if child is not None and isinstance(child.tag, str):
            return finding("E-SCHEMA", f"unexpected element <{_local(child)}>", child)
        expected = [t.split(":")[-1] for t in err.expected_tags]
        detail = "missing " + ", ".join(f"<{t}>" for t in expected) if expected else reason
        return finding("E-SCHEMA", detail, el)
    validator = err.validator
    if type(validator).__name__ == "XsdAssert":
        return finding("E-SCHEMA", validator.annotation and str(validator.annotation) or reason, el)
    if el is None:
        return InputError("E-SCHEMA", reason, Where(), _order=(0, 0), _ptr="")
    parts, _ = _location(el)
    if "Unique" in type(validator).__name__:
        return finding("E-SCHEMA", f"{_name(parts)}: an item repeats", el)
    if len(el):  # child elements where a value belongs
        return finding("E-SCHEMA", f"{_name(parts)}: a value is expected here, not elements", el)
    code = _value_code(parts, event)
    return finding(code, _value_detail(code, parts, el.xpath("string()"), reason), el)


# (what the XSD accepts is checked; converting is then straightforward: the kinds come from the JSON Schema)


def _xml_to_tree(root: etree._Element) -> tuple[dict[str, Any], dict[str, etree._Element]]:
    kinds = _kinds()
    elements: dict[str, etree._Element] = {}

    def convert(el: etree._Element, key: str | int, ptr: str, parent_key: str) -> Any:
        elements[ptr] = el
        name = _local(el)
        kind = kinds.get(name) if isinstance(key, str) else None
        kids = [c for c in el if isinstance(c.tag, str)]
        if kind == "array":
            return [convert(c, i, f"{ptr}/{i}", name) for i, c in enumerate(kids)]
        if kind == "object" or kids:
            obj: dict[str, Any] = {}
            for c in kids:
                k = _local(c)
                if k not in obj:  # a repeated element is an XSD error already; keep the first
                    obj[k] = convert(c, k, f"{ptr}/{_esc(k)}", name)
            return obj
        text = str(el.xpath("string()"))  # a plain str, not lxml's "smart string" that keeps the tree alive
        return _coerce(text, kind)

    tree = convert(root, "", "", "")
    return (tree if isinstance(tree, dict) else {}), elements


def _coerce(text: str, kind: str | None) -> Any:
    if kind in ("boolean", "integer", "number", "date", "datetime"):
        text = text.strip()  # these XSD types collapse whitespace
    try:
        if kind == "boolean" and text in ("true", "false"):
            return text == "true"
        if kind == "integer" and re.fullmatch(r"[+-]?[0-9]{1,18}", text):
            return int(text)
        if kind == "number" and re.fullmatch(r"[+-]?([0-9]{1,18}(\.[0-9]*)?|\.[0-9]+)", text):
            return int(text) if re.fullmatch(r"[+-]?[0-9]+", text) else float(text)
    except ValueError:
        pass
    return text


# --- structure: the JSON Schema, for JSON and XML alike ----------------------------------------------------------


def _pattern(validator, pattern: str, instance: Any, schema: dict[str, Any]) -> Iterator[ValidationError]:
    # ECMA-262 '$' ends the string; Python's also matches before a final newline ("C-1\n"): anchor for real
    if not validator.is_type(instance, "string") or len(instance) > schema.get("maxLength", 1_000_000):
        return
    m = _regex(pattern).search(instance)
    if m is None or (pattern.endswith("$") and m.end() != len(instance)):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _unique(validator, unique: bool, instance: Any, schema: dict[str, Any]) -> Iterator[ValidationError]:
    # only for arrays within maxItems: comparing a hostile array of a million lists pairwise would hang
    if not (unique and validator.is_type(instance, "array")) or len(instance) > schema.get("maxItems", 1000):
        return
    seen: list[Any] = []
    for item in instance:
        if any(item == s and type(item) is type(s) for s in seen):
            yield ValidationError("items repeat")
            return
        seen.append(item)


@functools.lru_cache(maxsize=64)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


_formats = jsonschema.FormatChecker(formats=())


@_formats.checks("date", raises=ValueError)
def _is_date(value: Any) -> bool:
    if not isinstance(value, str):
        return True
    return bool(re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value)) and dt.date.fromisoformat(value) is not None


@_formats.checks("date-time", raises=ValueError)
def _is_datetime(value: Any) -> bool:
    if not isinstance(value, str):
        return True
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).tzinfo is not None


@functools.cache
def _schema() -> tuple[dict[str, Any], xmlschema.XMLSchema11, Any]:
    schema = json.loads(JSON_SCHEMA_PATH.read_text(encoding="utf-8"))
    cls = jsonschema.validators.extend(
        jsonschema.Draft202012Validator, {"pattern": _pattern, "uniqueItems": _unique}
    )
    validator = cls(schema, format_checker=_formats)
    xsd = xmlschema.XMLSchema11(str(XSD_PATH))
    return schema, xsd, validator


@functools.cache
def _event_types() -> tuple[str, ...]:
    return tuple(_schema()[0]["properties"]["event"]["enum"])


def _resolve(schema: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        node = schema["$defs"][node["$ref"].rsplit("/", 1)[1]]
    return node


@functools.cache
def _paths() -> dict[tuple[str, str | None], tuple[str | None, str | None]]:
    """For each (path pattern, event): (kind, value code).  Array items are ``*``.  Read from the JSON Schema.

    kind: object/array/boolean/integer/number/date/string; value code: the error code for a bad *value* there
    (E-DATE, E-VOCABULARY, E-IIN-FORMAT, E-CASE-ID, E-FORMAT), or None for E-SCHEMA.
    """
    schema = _schema()[0]
    out: dict[tuple[str, str | None], tuple[str | None, str | None]] = {}

    def visit(node: Any, path: str, event: str | None, ref: str = "") -> None:
        node = _resolve(schema, node)
        if not isinstance(node, dict):
            return
        t = node.get("type")
        code = None
        if "enum" in node:
            code = "E-VOCABULARY"
        elif node.get("format") in ("date", "date-time"):
            code, t = "E-DATE", "datetime" if node["format"] == "date-time" else "date"
        elif ref.endswith("/iin"):
            code = "E-IIN-FORMAT"
        out[(path, event)] = (t, code)
        for k, sub in node.get("properties", {}).items():
            visit(sub, f"{path}/{k}", event, sub.get("$ref", "") if isinstance(sub, dict) else "")
        if "items" in node:
            items = node["items"]
            visit(items, f"{path}/*", event, items.get("$ref", ""))

    for k, sub in schema["properties"].items():
        if k != "data":
            visit(sub, "/" + k, None, sub.get("$ref", ""))
    out[("/format", None)] = ("string", "E-FORMAT")
    out[("/case_id", None)] = ("string", "E-CASE-ID")
    for event in schema["properties"]["event"]["enum"]:
        visit({"$ref": f"#/$defs/data.{event}"}, "/data", event)
    return out


@functools.cache
def _kinds() -> dict[str, str]:
    """Member name → kind, for converting XML text (the schema gives each name one kind, checked here)."""
    kinds: dict[str, str] = {}
    for (path, _), (kind, _) in _paths().items():
        name = path.rsplit("/", 1)[1]
        if name == "*" or kind is None:
            continue
        if kinds.setdefault(name, kind) != kind:
            raise AssertionError(f"member {name} has two kinds in the schema: {kinds[name]}, {kind}")
    return kinds


def _pattern_of(parts: list[str | int]) -> str:
    return "".join("/*" if isinstance(p, int) else f"/{p}" for p in parts)


def _value_code(parts: list[str | int], event: str | None, value: Any = "") -> str:
    pattern = _pattern_of(parts)
    info = _paths().get((pattern, None)) or _paths().get((pattern, event))
    code = (info[1] if info else None) or "E-SCHEMA"
    if isinstance(value, dict | list) and code != "E-FORMAT":
        return "E-SCHEMA"  # a structure where a value belongs is a shape problem, not a bad value
    return code


def _pointer(parts: list[str | int]) -> str:
    return "".join(f"/{_esc(str(p))}" for p in parts)


def _esc(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _q(value: Any, limit: int = 60) -> str:
    """A value as a clerk reads it in a message: quoted, control characters escaped, cut short."""
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
    elif isinstance(value, dict | list):
        text = "an object" if isinstance(value, dict) else "an array"
    else:
        text = json.dumps(value) if isinstance(value, bool | int | float) or value is None else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


_VALUE_KEYWORDS = {"type", "enum", "const", "pattern", "format", "minLength", "maxLength", "minimum", "maximum",
                   "exclusiveMinimum", "exclusiveMaximum"}



def _name(parts: list[str | int]) -> str:
    names = [p for p in parts if isinstance(p, str)]
    if not names:
        return "the event"
    return names[-1] + (" item" if parts and isinstance(parts[-1], int) else "")


def _value_detail(code: str, parts: list[str | int], value: Any, reason: str) -> str:
    name = _name(parts)
    if code == "E-FORMAT":
        return _q(value)
    if code == "E-CASE-ID":
        return _q(value, 80)
    if code == "E-IIN-FORMAT":
        return f"{_q(value)} for {name}"
    if code == "E-DATE":
        info = _paths().get((_pattern_of(parts), None)) or (None,)
        expected = "YYYY-MM-DD" if info[0] == "date" or name.endswith("date") else "ISO 8601 with an offset, e.g. 2026-12-14T10:32:00+05:00"
        return f"{_q(value)} for {name} (expected {expected})"
    if code == "E-VOCABULARY":
        return f"{_q(value)} for {name}{_allowed(parts)}"
    return f"{name}: {reason}"


def _allowed(parts: list[str | int]) -> str:
    schema = _schema()[0]
    node: Any = schema
    for p in parts:  # follow the envelope and the payload of the event, best effort
        node = _resolve(schema, node)
        if not isinstance(node, dict):
            return ""
        if isinstance(p, int):
            node = node.get("items")
        elif p == "data" and node is schema:
            return ""
        else:
            node = node.get("properties", {}).get(p)
    node = _resolve(schema, node)
    values = node.get("enum") if isinstance(node, dict) else None
    if not values:
        return ""
    if len(values) > 20:
        return f" ({node.get('description', 'see the contract')})"
    return " (expected " + ", ".join(values) + ")"


class _JsonLocator:
    """Where a JSON pointer is, for a JSON input: the pointer itself."""

    def __init__(self, tree: Any):
        self.order = {ptr: i for i, (ptr, _, _) in enumerate(_walk(tree))}

    def where(self, parts: list[str | int]) -> tuple[Where, Any]:
        ptr = _pointer(parts)
        return Where(pointer=ptr), self._order(parts)

    def _order(self, parts: list[str | int]) -> Any:
        while parts:
            ptr = _pointer(parts)
            if ptr in self.order:
                return (self.order[ptr], len(parts))
            parts = parts[:-1]
        return (0, 0)


class _XmlLocator:
    """Where a JSON pointer is, for an XML input: the element it came from (XPath and line)."""

    def __init__(self, elements: dict[str, etree._Element], order: dict[etree._Element, int], root: etree._Element):
        self.elements, self.order_of, self.root = elements, order, root

    def where(self, parts: list[str | int]) -> tuple[Where, Any]:
        p = list(parts)
        while p and _pointer(p) not in self.elements:
            p = p[:-1]
        el = self.elements.get(_pointer(p), self.root)
        _, xpath = _location(el)
        if len(p) < len(parts):  # a member that is missing: name it below its parent
            xpath += "/" + "/".join(str(x) for x in parts[len(p):] if isinstance(x, str))
        return Where(xpath=xpath, line=el.sourceline), (el.sourceline or 0, self.order_of.get(el, 0))


def _validate_tree(tree: Any, locator: _JsonLocator | _XmlLocator) -> list[InputError]:
    _, _, validator = _schema()
    findings: list[InputError] = []
    seen: set[tuple[str, str]] = set()
    event = tree.get("event") if isinstance(tree, dict) else None
    event = event if isinstance(event, str) else None

    def add(code: str, detail: str, parts: list[str | int]) -> None:
        key = (_pointer(parts), detail)
        if key in seen:
            return
        seen.add(key)
        where, order = locator.where(parts)
        findings.append(InputError(code, detail, where, _order=order, _ptr=_pointer(parts)))

    for err in itertools.islice(validator.iter_errors(tree), MAX_FINDINGS):
        for code, detail, parts in _describe(err, event):
            add(code, detail, parts)

    flagged = {f.extra.get("_ptr") for f in findings}
    for f in _semantic(tree, flagged):
        add(f.code, f.detail, f.extra["_parts"])
    for f in findings:
        f.extra.pop("_ptr", None)
    return findings


def _describe(err: ValidationError, event: str | None) -> Iterator[tuple[str, str, list[str | int]]]:
    parts: list[str | int] = list(err.absolute_path)
    instance, schema, kw = err.instance, err.schema, err.validator
    why = schema.get("description", "") if isinstance(schema, dict) else ""
    if kw == "required":
        for name in err.validator_value:
            if isinstance(instance, dict) and name not in instance:
                if parts == [] and name == "format":
                    yield "E-FORMAT", "(the member \"format\" is missing)", parts
                else:
                    if (parts == [] and name == "case_id"):
                        yield "E-CASE-ID", "(the member \"case_id\" is missing)", parts
                        continue
                    tail = f" ({why})" if why else ""
                    yield "E-SCHEMA", f"missing member {_q(name)}{tail}", parts + [name]
        return
    if kw == "additionalProperties":
        known = schema.get("properties", {})
        for name in instance:
            if name not in known:
                yield "E-SCHEMA", f"unexpected member {_q(name)}", parts + [name]
        return
    if kw == "not":
        yield "E-SCHEMA", f"{_name(parts)} is not allowed here: {why}" if why else f"{_name(parts)} is not allowed", parts
        return
    if kw == "anyOf":
        yield "E-SCHEMA", why or err.message, parts
        return
    if kw in _VALUE_KEYWORDS:
        code = _value_code(parts, event, instance)
        if kw in ("minLength", "maxLength", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum") and \
                code in ("E-VOCABULARY",):
            code = "E-SCHEMA"
        yield code, _value_detail(code, parts, instance, _reason(kw, err)), parts
        return
    yield "E-SCHEMA", f"{_name(parts)}: {_reason(kw, err)}", parts


def _reason(kw: str, err: ValidationError) -> str:
    v = err.validator_value
    inst = err.instance
    match kw:
        case "type":
            return f"expected {v if isinstance(v, str) else ' or '.join(v)}, got {_json_type(inst)}"
        case "minLength":
            return "must not be empty" if v == 1 else f"shorter than {v} characters"
        case "maxLength":
            return f"longer than {v} characters"
        case "minimum" | "exclusiveMinimum":
            return f"{_q(inst)} is below the minimum {v}"
        case "maximum" | "exclusiveMaximum":
            return f"{_q(inst)} is above the maximum {v}"
        case "minItems":
            return "must not be empty" if v == 1 else f"needs at least {v} items"
        case "maxItems":
            return "must be empty" if v == 0 else f"has more than {v} items"
        case "uniqueItems":
            return "an item repeats"
        case "pattern":
            desc = err.schema.get("description") if isinstance(err.schema, dict) else None
            return f"{_q(inst)} does not have the expected form" + (f" ({desc})" if desc else "")
        case "enum" | "const":
            return f"{_q(inst)} is not an allowed value"
        case "format":
            return f"{_q(inst)} is not a valid {v}"
    return err.message[:200]


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    return "an object" if isinstance(value, dict) else "an array"


# --- semantics ---------------------------------------------------------------------------------------------------


def _semantic(tree: Any, flagged: set[str | None]) -> Iterator[InputError]:
    """IINs (check digit, birth date), case_id beyond its pattern, repeated documents or children.

    Skips what a schema finding already flagged: one problem, one finding.
    """
    if not isinstance(tree, dict):
        return

    def err(code: str, detail: str, parts: list[str | int]) -> InputError:
        ptr = _pointer(parts)
        return InputError(code, detail, Where(pointer=ptr), _ptr=ptr, _parts=parts)

    case_id = tree.get("case_id")
    if isinstance(case_id, str) and "/case_id" not in flagged and not re.fullmatch(r"[A-Za-z0-9-]{1,64}", case_id):
        yield err("E-CASE-ID", _q(case_id, 80), ["case_id"])

    data = tree.get("data")
    decision = tree.get("event") == "decision.made"
    stack: list[tuple[list[str | int], Any]] = [(["data"], data)]
    while stack:  # iterative: the tree may be hostile when a schema finding has already been made
        parts, value = stack.pop()
        if len(parts) > MAX_DEPTH:
            continue
        if isinstance(value, dict):
            yield from _check_person(value, parts, flagged, err)
            stack.extend((parts + [k], v) for k, v in reversed(value.items()) if isinstance(v, dict | list))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if decision and parts == ["data", "children"] and isinstance(item, str):
                    f = _check_iin(item, parts + [i], flagged, err)
                    if f:
                        yield f
                elif isinstance(item, dict | list):
                    stack.append((parts + [i], item))
            yield from _repeats(value, parts, flagged, err)


def _check_iin(value: Any, parts: list[str | int], flagged, err) -> InputError | None:
    if not isinstance(value, str) or _pointer(parts) in flagged:
        return None
    try:
        iin_mod.validate_iin(value)
    except InputError as e:
        return err(e.code, f"{_q(value)} for {_name(parts)}", parts)
    return None


def _check_person(obj: dict[str, Any], parts: list[str | int], flagged, err) -> Iterator[InputError]:
    if "iin" not in obj:
        return
    bad = _check_iin(obj["iin"], parts + ["iin"], flagged, err)
    if bad:
        yield bad
        return
    birth = obj.get("birth_date")
    if not isinstance(birth, str) or not isinstance(obj["iin"], str) or _pointer(parts + ["birth_date"]) in flagged \
            or _pointer(parts + ["iin"]) in flagged:
        return
    try:
        born = dt.date.fromisoformat(birth)
    except ValueError:
        return
    if not iin_mod.birth_date_agrees(obj["iin"], born):
        try:
            in_iin = iin_mod.birth_date_from_iin(obj["iin"]).isoformat()
        except ValueError:
            in_iin = "no valid date"
        yield err("E-IIN-BIRTHDATE", f"birth_date {birth}, IIN {obj['iin']} says {in_iin}", parts + ["birth_date"])


def _repeats(items: list[Any], parts: list[str | int], flagged, err) -> Iterator[InputError]:
    if parts == ["data", "documents"]:
        key, what = "code", "document"
    elif parts == ["data", "children"]:
        key, what = "iin", "child"
    else:
        return
    seen: set[str] = set()
    for i, item in enumerate(items):
        value = item.get(key) if isinstance(item, dict) else None
        if not isinstance(value, str):
            continue
        if value in seen and _pointer(parts + [i, key]) not in flagged:
            yield err("E-SCHEMA", f"the {what} {_q(value)} is listed twice", parts + [i, key])
        seen.add(value)

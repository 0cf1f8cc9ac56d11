"""The two schemas of a case event, loaded once, and what ingest reads out of them.

- ``forms/schemas/case-event.schema.json`` (JSON Schema 2020-12, :mod:`jsonschema`) checks the JSON-shaped tree of
  every input, JSON and XML alike; two keywords are replaced where the library's behaviour does not suit hostile
  input: ``pattern`` (ECMA-262 anchoring) and ``uniqueItems`` (bounded);
- ``forms/schemas/case-event.xsd`` (XSD 1.1, :mod:`xmlschema`) checks XML inputs before they become a tree.

From the JSON Schema also come, for each place in an event, the kind of its value (to convert XML text) and the
error code of a bad value there (E-DATE, E-VOCABULARY, …): one source, so the codes cannot drift from the schema.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema
from jsonschema.exceptions import ValidationError

if TYPE_CHECKING:
    import xmlschema

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "forms" / "schemas"
JSON_SCHEMA_PATH = SCHEMA_DIR / "case-event.schema.json"
XSD_PATH = SCHEMA_DIR / "case-event.xsd"


def load_json_schema() -> dict[str, Any]:
    """The JSON Schema of a case event, as a dict (loaded once; do not change it)."""
    return _schema()[0]


@functools.cache
def xsd() -> xmlschema.XMLSchema11:
    """The XSD, built at the first XML input (≈0.8 s of CPU: a burst of JSON events does not wait for it).
    :mod:`xmlschema` itself is imported then too (≈0.17 s of every process start otherwise, #13)."""
    import xmlschema

    return xmlschema.XMLSchema11(str(XSD_PATH))


def validator() -> Any:
    """The JSON Schema validator, with our ``pattern``, ``uniqueItems`` and date formats."""
    return _schema()[1]


# --- jsonschema extensions -------------------------------------------------------------------------------------


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
def _schema() -> tuple[dict[str, Any], Any]:
    schema = json.loads(JSON_SCHEMA_PATH.read_text(encoding="utf-8"))
    cls = jsonschema.validators.extend(
        jsonschema.Draft202012Validator, {"pattern": _pattern, "uniqueItems": _unique}
    )
    return schema, cls(schema, format_checker=_formats)


# --- what the JSON Schema says about each place ----------------------------------------------------------------


@functools.cache
def event_types() -> tuple[str, ...]:
    return tuple(_schema()[0]["properties"]["event"]["enum"])


def resolve(schema: dict[str, Any], node: Any) -> Any:
    """Follow ``$ref`` (only to ``#/$defs/…``, all our schema uses) to the node it names."""
    while isinstance(node, dict) and "$ref" in node:
        node = schema["$defs"][node["$ref"].rsplit("/", 1)[1]]
    return node


@functools.cache
def paths() -> dict[tuple[str, str | None], tuple[str | None, str | None]]:
    """For each (path pattern, event): (kind, value code).  Array items are ``*``.  Read from the JSON Schema.

    kind: object/array/boolean/integer/number/date/string; value code: the error code for a bad *value* there
    (E-DATE, E-VOCABULARY, E-IIN-FORMAT, E-CASE-ID, E-FORMAT), or None for E-SCHEMA.
    """
    schema = _schema()[0]
    out: dict[tuple[str, str | None], tuple[str | None, str | None]] = {}

    def visit(node: Any, path: str, event: str | None, ref: str = "") -> None:
        node = resolve(schema, node)
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
def kinds() -> dict[str, str]:
    """Member name → kind, for converting XML text (the schema gives each name one kind, checked here)."""
    kinds: dict[str, str] = {}
    for (path, _), (kind, _) in paths().items():
        name = path.rsplit("/", 1)[1]
        if name == "*" or kind is None:
            continue
        if kinds.setdefault(name, kind) != kind:
            raise AssertionError(f"member {name} has two kinds in the schema: {kinds[name]}, {kind}")
    return kinds


def allowed(parts: list[str | int]) -> str:
    """The allowed values at a place, for a message: `` (expected a, b)``, a description, or nothing."""
    schema = _schema()[0]
    node: Any = schema
    for p in parts:  # follow the envelope and the payload of the event, best effort
        node = resolve(schema, node)
        if not isinstance(node, dict):
            return ""
        if isinstance(p, int):
            node = node.get("items")
        elif p == "data" and node is schema:
            return ""
        else:
            node = node.get("properties", {}).get(p)
    node = resolve(schema, node)
    values = node.get("enum") if isinstance(node, dict) else None
    if not values:
        return ""
    if len(values) > 20:
        return f" ({node.get('description', 'see the contract')})"
    return " (expected " + ", ".join(values) + ")"

"""Validator errors → findings a clerk can act on: a stable ``E-…`` code, a readable detail, and where.

Both validators speak in their own terms (a jsonschema keyword and a schema path; an xmlschema reason and an
element); a clerk needs "``"2026-13-01"`` for birth_date (expected YYYY-MM-DD)" at ``/data/applicant/birth_date``.
The code of a bad value comes from the place it is in (:func:`pipeline.ingest.schemas.paths`): a date is
``E-DATE``, a word from a vocabulary ``E-VOCABULARY``, an IIN ``E-IIN-FORMAT``; any shape problem is ``E-SCHEMA``.

*Where* is said by a locator: :class:`JsonLocator` gives the JSON pointer of a JSON input, :class:`XmlLocator` the
XPath and line of the element an XML input's value came from.  Each finding also carries ``_order`` in its
``extra``, so that :func:`pipeline.ingest.parse_tree` can report them in document order.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from jsonschema.exceptions import ValidationError
from lxml import etree

from pipeline.errors import InputError, Where

from . import schemas
from .jsonread import place_name, pointer, quote, walk
from .xmlread import local, location

if TYPE_CHECKING:
    import xmlschema  # imported with the XSD, at the first XML input (schemas.xsd)

_VALUE_KEYWORDS = {"type", "enum", "const", "pattern", "format", "minLength", "maxLength", "minimum", "maximum",
                   "exclusiveMinimum", "exclusiveMaximum"}


class JsonLocator:
    """Where a JSON pointer is, for a JSON input: the pointer itself."""

    def __init__(self, tree: Any):
        self.order = {ptr: i for i, (ptr, _, _) in enumerate(walk(tree))}

    def where(self, parts: list[str | int]) -> tuple[Where, Any]:
        ptr = pointer(parts)
        return Where(pointer=ptr), self._order(parts)

    def _order(self, parts: list[str | int]) -> Any:
        while parts:
            ptr = pointer(parts)
            if ptr in self.order:
                return (self.order[ptr], len(parts))
            parts = parts[:-1]
        return (0, 0)


class XmlLocator:
    """Where a JSON pointer is, for an XML input: the element it came from (XPath and line).

    ``elements`` (JSON pointer → element) is known once the document has become a tree; :meth:`at` locates a
    finding made at an element before that.
    """

    def __init__(self, root: etree._Element):
        self.root = root
        self.order_of = {el: i for i, el in enumerate(root.iter())}
        self.elements: dict[str, etree._Element] = {}

    def at(self, code: str, detail: str, el: etree._Element) -> InputError:
        parts, xpath = location(el)
        return InputError(code, detail, Where(xpath=xpath, line=el.sourceline),
                          _order=(el.sourceline or 0, self.order_of.get(el, 0)), _ptr=pointer(parts))

    def where(self, parts: list[str | int]) -> tuple[Where, Any]:
        p = list(parts)
        while p and pointer(p) not in self.elements:
            p = p[:-1]
        el = self.elements.get(pointer(p), self.root)
        _, xpath = location(el)
        if len(p) < len(parts):  # a member that is missing: name it below its parent
            xpath += "/" + "/".join(str(x) for x in parts[len(p):] if isinstance(x, str))
        return Where(xpath=xpath, line=el.sourceline), (el.sourceline or 0, self.order_of.get(el, 0))


# --- JSON Schema errors ----------------------------------------------------------------------------------------


def describe(err: ValidationError, event: str | None) -> Iterator[tuple[str, str, list[str | int]]]:
    """One jsonschema error as findings: (code, detail, path) each; ``required`` may name several members."""
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
                    yield "E-SCHEMA", f"missing member {quote(name)}{tail}", parts + [name]
        return
    if kw == "additionalProperties":
        known = schema.get("properties", {})
        for name in instance:
            if name not in known:
                yield "E-SCHEMA", f"unexpected member {quote(name)}", parts + [name]
        return
    if kw == "not":
        name = place_name(parts)
        yield "E-SCHEMA", f"{name} is not allowed here: {why}" if why else f"{name} is not allowed", parts
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
    yield "E-SCHEMA", f"{place_name(parts)}: {_reason(kw, err)}", parts


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
            return f"{quote(inst)} is below the minimum {v}"
        case "maximum" | "exclusiveMaximum":
            return f"{quote(inst)} is above the maximum {v}"
        case "minItems":
            return "must not be empty" if v == 1 else f"needs at least {v} items"
        case "maxItems":
            return "must be empty" if v == 0 else f"has more than {v} items"
        case "uniqueItems":
            return "an item repeats"
        case "pattern":
            desc = err.schema.get("description") if isinstance(err.schema, dict) else None
            return f"{quote(inst)} does not have the expected form" + (f" ({desc})" if desc else "")
        case "enum" | "const":
            return f"{quote(inst)} is not an allowed value"
        case "format":
            return f"{quote(inst)} is not a valid {v}"
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


# --- a bad value, in either validator ------------------------------------------------------------------------------


def _pattern_of(parts: list[str | int]) -> str:
    return "".join("/*" if isinstance(p, int) else f"/{p}" for p in parts)


def _value_code(parts: list[str | int], event: str | None, value: Any = "") -> str:
    pattern = _pattern_of(parts)
    info = schemas.paths().get((pattern, None)) or schemas.paths().get((pattern, event))
    code = (info[1] if info else None) or "E-SCHEMA"
    if isinstance(value, dict | list) and code != "E-FORMAT":
        return "E-SCHEMA"  # a structure where a value belongs is a shape problem, not a bad value
    return code


def _value_detail(code: str, parts: list[str | int], value: Any, reason: str) -> str:
    name = place_name(parts)
    if code == "E-FORMAT":
        return quote(value)
    if code == "E-CASE-ID":
        return quote(value, 80)
    if code == "E-IIN-FORMAT":
        return f"{quote(value)} for {name}"
    if code == "E-DATE":
        info = schemas.paths().get((_pattern_of(parts), None)) or (None,)
        expected = "YYYY-MM-DD" if info[0] == "date" or name.endswith("date") else \
            "ISO 8601 with an offset, e.g. 2026-12-14T10:32:00+05:00"
        return f"{quote(value)} for {name} (expected {expected})"
    if code == "E-VOCABULARY":
        return f"{quote(value)} for {name}{schemas.allowed(parts)}"
    return f"{name}: {reason}"


# --- XSD errors ---------------------------------------------------------------------------------------------------


def xsd_findings(errors: list[xmlschema.XMLSchemaValidationError], gave_up: str | None, event: str,
                 locator: XmlLocator) -> list[InputError]:
    """The XSD's errors as findings, one per element and code (all of ``<data>``'s, whose payload may be wrong)."""
    findings: list[InputError] = []
    seen: set[tuple[str | None, str]] = set()
    for err in errors:
        f = _xsd_finding(err, event, locator)
        if (f.where.xpath, f.code) not in seen or f.code == "E-SCHEMA" and f.where.xpath.endswith("/data"):
            seen.add((f.where.xpath, f.code))
            findings.append(f)
    if gave_up is not None:
        findings.append(locator.at("E-SCHEMA", f"the XML cannot be validated: {gave_up}", locator.root))
    return findings


def _xsd_finding(err: xmlschema.XMLSchemaValidationError, event: str, locator: XmlLocator) -> InputError:
    import xmlschema  # loaded with the XSD that made ``err``

    el = err.elem if isinstance(getattr(err, "elem", None), etree._Element) else None
    reason = err.reason or str(err.message)
    if isinstance(err, xmlschema.XMLSchemaChildrenValidationError):
        child = err.invalid_child
        if child is not None and isinstance(child.tag, str):
            return locator.at("E-SCHEMA", f"unexpected element <{local(child)}>", child)
        expected = [t.split(":")[-1] for t in err.expected_tags]
        detail = "missing " + ", ".join(f"<{t}>" for t in expected) if expected else reason
        return locator.at("E-SCHEMA", detail, el)
    validator = err.validator
    if type(validator).__name__ == "XsdAssert":
        return locator.at("E-SCHEMA", validator.annotation and str(validator.annotation) or reason, el)
    if el is None:
        return InputError("E-SCHEMA", reason, Where(), _order=(0, 0), _ptr="")
    parts, _ = location(el)
    if "Unique" in type(validator).__name__:
        return locator.at("E-SCHEMA", f"{place_name(parts)}: an item repeats", el)
    if len(el):  # child elements where a value belongs
        return locator.at("E-SCHEMA", f"{place_name(parts)}: a value is expected here, not elements", el)
    code = _value_code(parts, event)
    return locator.at(code, _value_detail(code, parts, el.xpath("string()"), reason), el)

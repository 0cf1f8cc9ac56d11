"""Hardened XML reading: the one lxml parser, forbidden constructs, the XSD, XML → JSON-shaped tree, XPaths.

- :func:`parser` is the only XML parser configuration of ingest (and of the inbox's "is it complete yet" check):
  no entities, no DTD, no network, no huge trees;
- :func:`load_xml` refuses any DOCTYPE, entity or processing instruction outright (``E-XML-FORBIDDEN``), an
  encoding other than UTF-8 (``E-ENCODING``) and any root but ``<case_event>`` in our namespace
  (``E-XML-NAMESPACE``);
- :func:`check_shape` refuses attributes and over-wide elements before the XSD sees the document;
- :func:`xsd_errors` runs ``forms/schemas/case-event.xsd``, the payload of ``<data>`` typed by ``<event>``;
- :func:`xml_to_tree` converts to the tree a JSON input would give (contract.md), keeping which element each
  JSON pointer came from, so that findings on the tree can name an XPath and a line.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lxml import etree

from pipeline.core.events import XML_NAMESPACE
from pipeline.errors import InputError, Where

from . import schemas
from .files import MAX_FINDINGS, MAX_ITEMS, line_col
from .jsonread import esc

if TYPE_CHECKING:
    import xmlschema  # imported with the XSD, at the first XML input (schemas.xsd)

NS = "{" + XML_NAMESPACE + "}"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"

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

# a finding at an element: (code, detail, element) -> InputError, located (XPath, line) and ordered
At = Callable[[str, str, etree._Element], InputError]


def parser() -> etree.XMLParser:
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
    line, col = line_col(data, m.start())
    what = {b"<!d": "a DOCTYPE", b"<!e": "an entity declaration"}.get(m.group()[:3].lower(), "a processing instruction")
    return InputError("E-XML-FORBIDDEN", what, Where(line=line, column=col))


def load_xml(data: bytes, text: str) -> etree._Element:
    """Parse with :func:`parser` and refuse what the contract forbids; the root ``<case_event>`` element."""
    try:
        root = etree.fromstring(data, parser())
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
        line = line_col(text, m.start())[0] if m else None
        raise InputError("E-XML-FORBIDDEN", "a DOCTYPE", Where(line=line))
    pis = [n for n in itertools.chain(root.itersiblings(preceding=True), root.iter(), root.itersiblings())
           if isinstance(n, etree._ProcessingInstruction)]
    if pis:
        raise InputError("E-XML-FORBIDDEN", f"a processing instruction <?{pis[0].target}?>",
                         Where(xpath=xpath(pis[0].getparent()) if pis[0].getparent() is not None else None,
                               line=pis[0].sourceline))
    ent = next(root.iter(etree.Entity), None)
    if ent is not None:
        raise InputError("E-XML-FORBIDDEN", f"an entity reference {ent.text}", Where(line=ent.sourceline))
    encoding = (info.encoding or "UTF-8").upper().replace("_", "-")
    if encoding not in ("UTF-8", "UTF8"):
        raise InputError("E-ENCODING", f"the XML declares encoding {info.encoding}", Where(line=1))
    if root.tag != NS + "case_event":
        q = etree.QName(root)
        raise InputError(
            "E-XML-NAMESPACE", f"found <{q.localname}> in {q.namespace or 'no namespace'}",
            Where(xpath="/" + q.localname, line=root.sourceline),
        )
    return root


# --- where an element is -----------------------------------------------------------------------------------------


def local(el: etree._Element) -> str:
    return etree.QName(el).localname


def _is_item(el: etree._Element) -> bool:
    parent = el.getparent()
    return parent is not None and parent.getparent() is not None and local(parent) in ITEM_NAMES


def location(el: etree._Element) -> tuple[list[str | int], str]:
    """The JSON pointer parts and the XPath of an element (items of arrays indexed: ``child[1]``)."""
    parts: list[str | int] = []
    steps: list[str] = []
    node = el
    while node is not None:
        name = local(node)
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


def xpath(el: etree._Element) -> str:
    return location(el)[1]


# --- structure ------------------------------------------------------------------------------------------------------


def check_shape(root: etree._Element, at: At) -> list[InputError]:
    """What is refused before the XSD: an element with too many children (at once), attributes of any kind."""
    findings: list[InputError] = []
    data_el = root.find(NS + "data")
    for el in root.iter():
        if len(el) > MAX_ITEMS:
            return [at("E-SCHEMA", f"more than {MAX_ITEMS} child elements", el)]
        for name in el.attrib:
            if el is data_el and name == XSI_TYPE:
                continue
            findings.append(at("E-SCHEMA", f"attribute {etree.QName(name).localname!r} is not part of the contract", el))
    return findings


def event_of(root: etree._Element) -> str:
    """The text of ``<event>`` ("" when it is missing or holds elements)."""
    event_el = root.find(NS + "event")
    return (event_el.text or "").strip() if event_el is not None and len(event_el) == 0 else ""


def xsd_errors(root: etree._Element, event: str) -> tuple[list[xmlschema.XMLSchemaValidationError], str | None]:
    """The XSD's errors (at most MAX_FINDINGS, in document order) and, if it gave up on the input, why."""
    # <data>'s payload type follows <event> (see the header of case-event.xsd); a sender's own xsi:type is
    # replaced, never trusted
    data_el = root.find(NS + "data")
    if data_el is not None:
        data_el.attrib.pop(XSI_TYPE, None)
    if data_el is not None and event in schemas.event_types():
        if data_el.nsmap.get(None) == XML_NAMESPACE:
            data_el.set(XSI_TYPE, _type_name(event))
        else:
            prefix = next(p for p, uri in data_el.nsmap.items() if uri == XML_NAMESPACE)
            data_el.set(XSI_TYPE, f"{prefix}:{_type_name(event)}")
    errors: list[xmlschema.XMLSchemaValidationError] = []
    gave_up = None
    xsd = schemas.xsd()
    import xmlschema  # loaded by schemas.xsd() just now

    try:
        for err in itertools.islice(xsd.iter_errors(root), MAX_FINDINGS):
            errors.append(err)
    except xmlschema.XMLSchemaException as e:  # the validator gave up on this input: still bad input, said so
        gave_up = str(e).splitlines()[0][:200]
    if data_el is not None:
        data_el.attrib.pop(XSI_TYPE, None)
    return errors, gave_up


def _type_name(event: str) -> str:
    return "".join(w.capitalize() for w in re.split(r"[._]", event))


# (what the XSD accepts is checked; converting is then straightforward: the kinds come from the JSON Schema)


def xml_to_tree(root: etree._Element) -> tuple[dict[str, Any], dict[str, etree._Element]]:
    """The JSON-shaped tree of a document, and the element each JSON pointer of the tree came from."""
    kinds = schemas.kinds()
    elements: dict[str, etree._Element] = {}

    def convert(el: etree._Element, key: str | int, ptr: str, parent_key: str) -> Any:
        elements[ptr] = el
        name = local(el)
        kind = kinds.get(name) if isinstance(key, str) else None
        kids = [c for c in el if isinstance(c.tag, str)]
        if kind == "array":
            return [convert(c, i, f"{ptr}/{i}", name) for i, c in enumerate(kids)]
        if kind == "object" or kids:
            obj: dict[str, Any] = {}
            for c in kids:
                k = local(c)
                if k not in obj:  # a repeated element is an XSD error already; keep the first
                    obj[k] = convert(c, k, f"{ptr}/{esc(k)}", name)
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

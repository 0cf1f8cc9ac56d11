"""The XML form of a JSON-shaped case event (contract.md, "Case events"): for examples, tests and back offices.

The inverse of what :mod:`pipeline.ingest` reads: ``parse_tree(tree_to_xml(tree), filename="x.xml") == tree``
for every valid event.  Each member becomes an element in the contract's namespace; an array becomes one child
per item, named by the singular (:data:`pipeline.ingest.xmlread.ITEM_NAMES`); booleans are ``true``/``false``.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from pipeline.core.events import XML_NAMESPACE
from pipeline.ingest.xmlread import ITEM_NAMES, NS


def tree_to_xml(tree: dict[str, Any]) -> bytes:
    """The XML bytes (UTF-8, declared, indented) of a JSON-shaped event tree."""
    root = etree.Element(NS + "case_event", nsmap={None: XML_NAMESPACE})

    def build(parent: etree._Element, key: str, value: Any) -> None:
        el = etree.SubElement(parent, NS + key)
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


"""Text that is valid but unsafe: checks on person names, ids and case ids that the schemas do not make (#14.14,
#14.15).

- ``E-INVISIBLE-CHAR``: a Unicode format character (category ``Cf``: bidi overrides and isolates U+202A–202E,
  U+2066–2069, zero-width U+200B–200F, the soft hyphen, U+FEFF) or a line or paragraph separator (U+2028,
  U+2029) in a person's name or in an id.  An RLO prints a surname reversed in a sealed notice; a zero-width space
  makes two ids that look the same differ.  Free text (reasons, conclusions) is not checked: it is not an id and
  is never read back as one.
- ``E-CASE-ID-RESERVED``: a case id that Windows reserves as a device name (``CON``, ``PRN``, ``AUX``, ``NUL``,
  ``COM0``–``COM9``, ``LPT0``–``LPT9``, any case): it becomes a folder of the outbox that Windows and SMB
  consumers cannot open.

:func:`findings` walks the JSON-shaped tree (JSON and XML alike) and yields ``(code, detail, parts)``, as
:func:`pipeline.ingest.findings.describe` does, so the caller locates and reports them with the others.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from typing import Any

#: members that hold a person's (or an office's) name
NAME_KEYS = frozenset({"full_name", "given_name", "surname", "patronymic", "name", "name_kk", "name_ru",
                       "addressee"})
#: members that hold an id or a number someone will look up, compare or file under
ID_KEYS = frozenset({"case_id", "event_id", "iin", "bin", "number", "act_number", "order_number", "code",
                     "complaint_id"})

RESERVED_DEVICE_NAMES = frozenset(
    {"CON", "PRN", "AUX", "NUL"} | {f"COM{i}" for i in range(10)} | {f"LPT{i}" for i in range(10)})


def invisible(text: str) -> str | None:
    """The first format or separator character in ``text``, as ``U+XXXX NAME``, or None."""
    for ch in text:
        if unicodedata.category(ch) in ("Cf", "Zl", "Zp"):
            return f"U+{ord(ch):04X} {unicodedata.name(ch, 'format character')}"
    return None


def _checked(key: str) -> bool:
    return key in NAME_KEYS or key in ID_KEYS or key.endswith("_id")


def findings(tree: Any) -> Iterator[tuple[str, str, list[str | int]]]:
    """Every unsafe name, id or case id in the tree, in document order."""
    yield from _walk(tree, [])


def _walk(node: Any, parts: list[str | int]) -> Iterator[tuple[str, str, list[str | int]]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, str) and isinstance(key, str) and _checked(key):
                found = invisible(value)
                if found:
                    yield "E-INVISIBLE-CHAR", f"{found} in {key}", [*parts, key]
                elif key == "case_id" and value.upper() in RESERVED_DEVICE_NAMES:
                    yield "E-CASE-ID-RESERVED", repr(value), [*parts, key]
            else:
                yield from _walk(value, [*parts, key])
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, [*parts, i])

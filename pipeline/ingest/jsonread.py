"""Hardened JSON reading, and the JSON pointers that say where anything in an event is.

The standard :mod:`json` parser, made strict where it is lenient by default (``E-JSON-SYNTAX``):

- a member that appears twice in one object (``json`` silently keeps the last one): every repeat is reported;
- ``NaN``, ``Infinity`` and numbers out of the float range, which are not JSON;
- integers longer than 40 digits (also clear of Python's limit on parsing huge digit strings);
- nesting too deep for the parser, and (``E-SCHEMA``) deeper than :data:`~pipeline.ingest.files.MAX_DEPTH` or
  wider than :data:`~pipeline.ingest.files.MAX_ITEMS`, checked before any schema sees the tree.

Findings about the JSON-shaped tree, read from JSON or XML, name their place by a JSON pointer (RFC 6901) built
here, and quote values the way a clerk reads them (:func:`quote`, :func:`place_name`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Any

from pipeline.errors import InputError, InputErrors, Where

from .files import MAX_DEPTH, MAX_FINDINGS, MAX_ITEMS, line_col


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


# found again in the text after a refusal, to say where: the parser's hooks do not know the position
_CONSTANT = re.compile(r"-?Infinity|NaN")
_NUMBER = re.compile(r"-?[0-9]{41,}|-?[0-9][0-9.]*[eE][+-]?[0-9]{3,}")


def load_json(text: str) -> Any:
    """Parse JSON text (a leading BOM allowed); duplicate members and non-numbers are ``E-JSON-SYNTAX``."""
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
            where.line, where.column = line_col(body, m.start())
        raise InputError("E-JSON-SYNTAX", str(e), where) from None
    except RecursionError:
        raise InputError("E-JSON-SYNTAX", "the JSON is nested too deeply", Where(pointer="")) from None
    _find_duplicates(tree)
    return tree


def _find_duplicates(tree: Any) -> None:
    findings = []
    for ptr, value, _ in walk(tree):
        for k in getattr(value, "dups", ()):
            findings.append(InputError("E-JSON-SYNTAX", f"member {quote(k)} appears twice",
                                       Where(pointer=f"{ptr}/{esc(k)}")))
    if findings:
        raise findings[0] if len(findings) == 1 else InputErrors(findings[:MAX_FINDINGS])


def check_depth(tree: Any) -> None:
    """Refuse a tree nested deeper than MAX_DEPTH or with an array or object wider than MAX_ITEMS."""
    for ptr, value, depth in walk(tree):
        if depth > MAX_DEPTH:
            raise InputError("E-SCHEMA", f"nested deeper than {MAX_DEPTH} levels", Where(pointer=ptr))
        if isinstance(value, dict | list) and len(value) > MAX_ITEMS:
            raise InputError("E-SCHEMA", f"more than {MAX_ITEMS} items or members", Where(pointer=ptr))


# --- JSON pointers, and how a place and a value read in a message --------------------------------------------


def walk(tree: Any) -> Iterator[tuple[str, Any, int]]:
    """(pointer, value, depth) of every value in document order, iteratively (no recursion on hostile input)."""
    stack: list[tuple[str, Any, int]] = [("", tree, 0)]
    while stack:
        ptr, value, depth = stack.pop()
        yield ptr, value, depth
        if isinstance(value, dict):
            stack.extend((f"{ptr}/{esc(k)}", v, depth + 1) for k, v in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend((f"{ptr}/{i}", v, depth + 1) for i, v in reversed(list(enumerate(value))))


def pointer(parts: list[str | int]) -> str:
    """The JSON pointer of a path given as member names and item indexes."""
    return "".join(f"/{esc(str(p))}" for p in parts)


def esc(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def quote(value: Any, limit: int = 60) -> str:
    """A value as a clerk reads it in a message: quoted, control characters escaped, cut short."""
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
    elif isinstance(value, dict | list):
        text = "an object" if isinstance(value, dict) else "an array"
    else:
        text = json.dumps(value) if isinstance(value, bool | int | float) or value is None else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def place_name(parts: list[str | int]) -> str:
    """What a message calls a place: its member name (``applicant``), ``children item``, or ``the event``."""
    names = [p for p in parts if isinstance(p, str)]
    if not names:
        return "the event"
    return names[-1] + (" item" if parts and isinstance(parts[-1], int) else "")

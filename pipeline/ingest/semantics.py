"""What the schemas cannot say about a case event: IINs, birth dates against IINs, repeated documents or children.

- every ``iin`` of a person (and each IIN a ``decision.made`` lists under ``children`` or ``refused_children``) has
  a valid check digit
  (``E-IIN-FORMAT``, ``E-IIN-CHECKSUM``; :mod:`pipeline.core.iin`);
- a person's ``birth_date`` is the date the IIN encodes (``E-IIN-BIRTHDATE``);
- ``case_id`` keeps to its form even where the pattern is not what refused it (``E-CASE-ID``);
- no document code, and no child's IIN, is listed twice (``E-SCHEMA``).

Runs on the tree of JSON and XML inputs alike, also when the schema has already found problems (so the clerk sees
everything at once), and then skips each place a schema finding has flagged: one problem, one finding.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from typing import Any

from pipeline.core import iin as iin_mod
from pipeline.errors import InputError, Where

from .files import MAX_DEPTH
from .jsonread import place_name, pointer, quote

_Err = Callable[[str, str, list[str | int]], InputError]


def semantic(tree: Any, flagged: set[str | None]) -> Iterator[InputError]:
    """IINs (check digit, birth date), case_id beyond its pattern, repeated documents or children.

    Skips what a schema finding already flagged (``flagged`` holds JSON pointers).  Each finding carries its
    pointer (``_ptr``) and path (``_parts``) in ``extra``, for the caller to locate it.
    """
    if not isinstance(tree, dict):
        return

    def err(code: str, detail: str, parts: list[str | int]) -> InputError:
        ptr = pointer(parts)
        return InputError(code, detail, Where(pointer=ptr), _ptr=ptr, _parts=parts)

    case_id = tree.get("case_id")
    if isinstance(case_id, str) and "/case_id" not in flagged and not re.fullmatch(r"[A-Za-z0-9-]{1,64}", case_id):
        yield err("E-CASE-ID", quote(case_id, 80), ["case_id"])

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
                if decision and parts in (["data", "children"], ["data", "refused_children"]) and isinstance(item, str):
                    f = _check_iin(item, parts + [i], flagged, err)
                    if f:
                        yield f
                elif isinstance(item, dict | list):
                    stack.append((parts + [i], item))
            yield from _repeats(value, parts, flagged, err)


def _check_iin(value: Any, parts: list[str | int], flagged: set[str | None], err: _Err) -> InputError | None:
    if not isinstance(value, str) or pointer(parts) in flagged:
        return None
    try:
        iin_mod.validate_iin(value)
    except InputError as e:
        return err(e.code, f"{quote(value)} for {place_name(parts)}", parts)
    return None


def _check_person(obj: dict[str, Any], parts: list[str | int], flagged: set[str | None],
                  err: _Err) -> Iterator[InputError]:
    if "iin" not in obj:
        return
    bad = _check_iin(obj["iin"], parts + ["iin"], flagged, err)
    if bad:
        yield bad
        return
    birth = obj.get("birth_date")
    if not isinstance(birth, str) or not isinstance(obj["iin"], str) or pointer(parts + ["birth_date"]) in flagged \
            or pointer(parts + ["iin"]) in flagged:
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


def _repeats(items: list[Any], parts: list[str | int], flagged: set[str | None],
             err: _Err) -> Iterator[InputError]:
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
        if value in seen and pointer(parts + [i, key]) not in flagged:
            yield err("E-SCHEMA", f"the {what} {quote(value)} is listed twice", parts + [i, key])
        seen.add(value)

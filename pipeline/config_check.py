"""Validation of ``qamqor.toml`` against its models (:mod:`pipeline.config`), and errors a person can act on: each
problem of pydantic's becomes a line of :class:`~pipeline.errors.ConfigError` (``E-CONFIG``) that names the file,
the table and the key, says what is wrong in words and what to write instead."""

from __future__ import annotations

import json
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .config import SEE_README, ConfigFile, Table
from .errors import ConfigError, ConfigErrors


def validate(data: dict[str, Any], source: Path | None) -> ConfigFile:
    """``data`` (a parsed ``qamqor.toml``) as a :class:`ConfigFile`, or :class:`ConfigError` naming each problem."""
    try:
        return ConfigFile.model_validate(data)
    except ValidationError as exc:
        raise _config_error(exc, data, source) from None


def validate_table(name: str, data: dict[str, Any], source: Path | None) -> Any:
    """One table (``"web"``…) as its model, e.g. a table with overrides applied by the caller."""
    return getattr(validate({name: data}, source), name)


def _label(source: Path | None) -> str:
    if source is None:
        return "the configuration"
    try:
        return str(source.relative_to(Path.cwd()))
    except ValueError:
        return str(source)


def _toml(value: Any) -> str:
    """A value as the TOML that gave it, for messages."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__


def _model_in(annotation: Any) -> tuple[type[Table] | None, bool]:
    """The table model an annotation holds, and whether it is an array of tables."""
    if isinstance(annotation, type) and issubclass(annotation, Table):
        return annotation, False
    if typing.get_origin(annotation) is tuple:
        inner, _ = _model_in(typing.get_args(annotation)[0])
        return inner, True
    return None, False


@dataclass
class _Place:
    """Where an error's ``loc`` points in the file."""

    tables: list[str] = field(default_factory=list)
    is_array: bool = False
    index: int | None = None
    ident: str = ""  # the entry's id, to find an [[officers]] entry in the file
    key: str | None = None
    model: type[Table] | None = ConfigFile  # the table the key belongs to
    info: Any = None  # the key's FieldInfo, None for an unknown key

    def __str__(self) -> str:
        if not self.tables:
            return self.key or ""
        name = ".".join(self.tables)
        text = f"[[{name}]]" if self.is_array else f"[{name}]"
        if self.index is not None:
            text += f" #{self.index + 1}" + (f" (id {json.dumps(self.ident, ensure_ascii=False)})" if self.ident else "")
        return text + (f" {self.key}" if self.key else "")


def _place(loc: tuple[Any, ...], data: Any) -> _Place:
    place = _Place()
    for part in loc:
        data = _get(data, part)
        if isinstance(part, int):
            place.index = part
            ident = data.get("id") if isinstance(data, dict) else None
            place.ident = ident if isinstance(ident, str) else ""
            continue
        info = place.model.model_fields.get(part) if place.model else None
        inner, is_array = _model_in(info.annotation) if info else (None, False)
        if inner is not None and place.key is None:
            place.tables.append(part)
            place.is_array, place.index, place.ident, place.model = is_array, None, "", inner
        else:
            place.key, place.info = part, info
    if place.key is not None and place.info is None and not place.tables:  # an unknown table: name it so
        tables = isinstance(data, list) and data and all(isinstance(v, dict) for v in data)
        if isinstance(data, dict) or tables:
            place.tables, place.is_array, place.key, place.model = [place.key], bool(tables), None, None
    return place


def _get(data: Any, part: Any) -> Any:
    try:
        return data[part]
    except (KeyError, IndexError, TypeError):
        return None


def _config_error(exc: ValidationError, data: dict[str, Any], source: Path | None) -> ConfigError:
    """pydantic's findings as one :class:`ConfigError` per problem: where, what, and what to write instead."""
    errors = []
    for e in exc.errors(include_url=False):
        place = _place(tuple(e["loc"]), data)
        what, remedy = _explain(e, place)
        errors.append(ConfigError(f"{_label(source)} {place}: {what}", remedy=remedy))
    return errors[0] if len(errors) == 1 else ConfigErrors(errors)


def _explain(e: Any, place: _Place) -> tuple[str, str]:
    kind, value, ctx = e["type"], e.get("input"), e.get("ctx") or {}
    info = place.info
    example = info.examples[0] if info is not None and info.examples else None
    unit = f" of {info.description}" if info is not None and info.description else ""
    eg = f", e.g. {_toml(example) if not isinstance(example, list) else _toml_list(example)}" \
        if example is not None else ""
    if "remedy" in ctx:  # our own validators
        return e["msg"], ctx["remedy"]
    if kind == "extra_forbidden":
        known = _known_keys(place)
        if place.model is None:
            return "unknown table", f"remove it or correct the name; the known tables are {known}"
        if not place.tables:
            return "unknown key outside any table", f"move it into its table; the known tables are {known}"
        return "unknown key", f"remove it or correct the spelling; the known keys here are {known}"
    if kind == "missing":
        return "missing", f"add {place.key} = {_toml(example) if example is not None else '…'}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"{_toml(value)} is not a whole number", f"write a whole number{unit}{eg}"
    if kind in ("float_type", "float_parsing"):
        return f"{_toml(value)} is not a number", f"write a number{unit}{eg}"
    if kind in ("bool_type", "bool_parsing"):
        return f"{_toml(value)} is not true or false", "write true or false, without quotes"
    if kind == "string_type":
        return f"{_toml(value)} is not a text", f"write it in double quotes{eg}"
    if kind == "string_too_short":
        return "empty", f"write a value{eg}"
    if kind == "literal_error":
        choices = typing.get_args(info.annotation) if info is not None else ()
        shown = ", ".join(_toml(c) for c in choices) if choices else ctx.get("expected", "")
        return f"{_toml(value)} is not one of the choices", f"use one of {shown}"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        bound = {"greater_than_equal": "at least {ge}", "greater_than": "more than {gt}",
                 "less_than_equal": "at most {le}", "less_than": "less than {lt}"}[kind].format(**ctx)
        number = "a whole number" if info is not None and info.annotation is int else "a number"
        return f"{_toml(value)} is out of range", f"write {number}{unit}, {bound}{eg}"
    if kind in ("model_type", "dict_type"):
        if place.is_array and place.index is not None:
            return f"{_toml(value)} is not a table", f"write each entry as a [[{'.'.join(place.tables)}]] table"
        return f"{_toml(value)} is not a table", f"write it as a table: [{'.'.join(place.tables)}] with key = value lines"
    if kind in ("tuple_type", "list_type"):
        if place.key is None and place.is_array and isinstance(value, dict):
            name = ".".join(place.tables)
            return f"written as [{name}], a single table", f"write [[{name}]] (double brackets), one per entry"
        if place.key is None and place.is_array:
            return f"{_toml(value)} is not a list of tables", \
                f"write one [[{'.'.join(place.tables)}]] table per entry"
        return f"{_toml(value)} is not a list", f"write a list in square brackets{eg}"
    return e["msg"], SEE_README


def _toml_list(items: list[Any]) -> str:
    return "[" + ", ".join(_toml(i) for i in items) + "]"


def _known_keys(place: _Place) -> str:
    model = place.model or ConfigFile
    if model is ConfigFile:  # the tables of the file
        return ", ".join(
            f"[[{name}]]" if _model_in(info.annotation)[1] else f"[{name}]" for name, info in model.model_fields.items())
    return ", ".join(model.model_fields)

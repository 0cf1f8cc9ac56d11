"""The catalogue of the service's documents: what each document is, who signs it, and the legal texts.

Everything here is read from TOML under ``forms/catalogue/`` (documents.toml, grounds.toml, standard.toml,
months.toml, service.toml, vocab.toml): legal wording is configuration, never Python (style.md). The module
functions use the catalogue shipped with the project; :class:`Catalogue` reads another folder (tests, a provider's
corrected wording).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pipeline.core.calendar import WorkCalendar, parse_overrides
from pipeline.core.case import REQUIREMENT_CONDITIONS, Requirement, RulesContext, Term
from pipeline.errors import ConfigError

FORMS_DIR = Path(__file__).resolve().parent
CATALOGUE_DIR = FORMS_DIR / "catalogue"
#: the decreed days off and working days (forms/calendar/overrides.toml)
CALENDAR_OVERRIDES = FORMS_DIR / "calendar" / "overrides.toml"
LANGUAGES = ("kk", "ru")
SIGNER_ROLES = ("operator", "provider_seal", "inspector", "head")


class CatalogueError(ConfigError, LookupError):
    """An unknown document kind, ground, document code or language: fix the caller or the catalogue TOML.

    A configuration error (legal wording is configuration, style.md) with its own code; still a
    ``LookupError`` for callers that catch it so.
    """

    code = "E-CATALOGUE"
    remedy = "correct the name, or add it to the catalogue under forms/catalogue/"


@dataclass(frozen=True)
class DocumentSpec:
    kind: str
    appendix: int | None     # the appendix of the Rules that gives the form, None if the Rules give none
    title_kk: str
    title_ru: str
    template: str            # base name: templates/<template>.<language>.html.j2
    signer: str              # 'operator' | 'provider_seal' | 'inspector' | 'head'
    paragraph: str           # '¶4' … '¶11'
    field: str               # signature field name; for inspectors the prefix of 'sig-inspector-N'
    issuer: str              # 'psc' | 'provider': whose letterhead

    def title(self, language: str) -> str:
        return self.title_kk if _language(language) == "kk" else self.title_ru

    def field_names(self, signers: int = 1) -> tuple[str, ...]:
        if self.signer == "inspector":
            return tuple(f"{self.field}{i}" for i in range(1, max(signers, 1) + 1))
        return (self.field,)


def _language(language: str) -> str:
    if language not in LANGUAGES:
        raise CatalogueError(f"unknown language {language!r}: use one of {', '.join(LANGUAGES)}")
    return language


class Catalogue:
    """The TOML catalogue of one folder, read once."""

    def __init__(self, directory: Path | None = None):
        self.directory = Path(directory or CATALOGUE_DIR)
        load = self._load
        self.documents = load("documents.toml")["documents"]
        self.grounds = load("grounds.toml")["grounds"]
        self.standard = load("standard.toml")["documents"]
        self.months = load("months.toml")
        self.service = load("service.toml")
        self.vocab = load("vocab.toml")
        self._specs = {kind: self._spec(kind, row) for kind, row in self.documents.items()}

    def _load(self, name: str) -> dict:
        with open(self.directory / name, "rb") as fh:
            return tomllib.load(fh)

    @staticmethod
    def _spec(kind: str, row: dict) -> DocumentSpec:
        if row["signer"] not in SIGNER_ROLES:
            raise CatalogueError(f"documents.toml: {kind}: signer {row['signer']!r} is not one of {SIGNER_ROLES}")
        return DocumentSpec(
            kind=kind, appendix=row.get("appendix"), title_kk=row["title_kk"], title_ru=row["title_ru"],
            template=row.get("template", kind), signer=row["signer"], paragraph=row["paragraph"],
            field=row["field"], issuer=row["issuer"],
        )

    def document_kinds(self) -> list[str]:
        return list(self._specs)

    def describe(self, kind: str) -> DocumentSpec:
        try:
            return self._specs[kind]
        except KeyError:
            raise CatalogueError(
                f"unknown document kind {kind!r}: documents.toml knows {', '.join(self._specs)}") from None

    def ground(self, code: str) -> dict:
        try:
            return self.grounds[code]
        except KeyError:
            raise CatalogueError(f"unknown refusal ground {code!r}: add it to grounds.toml") from None

    def ground_text(self, code: str, language: str) -> str:
        return self.ground(code)[f"text_{_language(language)}"]

    def ground_basis(self, code: str, language: str) -> str:
        return self.ground(code)[f"basis_{_language(language)}"]

    def document_name(self, code: str, language: str) -> str:
        try:
            row = self.standard[code]
        except KeyError:
            raise CatalogueError(f"unknown document code {code!r}: standard.toml has no such document") from None
        return row[f"name_{_language(language)}"]

    def term(self, group: str, value, language: str) -> str:
        """A vocabulary value as the documents print it; an unknown value prints as given."""
        row = self.vocab.get(group, {}).get(str(value))
        return row[_language(language)] if row else str(value)


@cache
def _default() -> Catalogue:
    return Catalogue()


def document_kinds() -> list[str]:
    return _default().document_kinds()


def stamp_time_format(language: str) -> str:
    """The signature stamp's time as egov writes it (service.toml ``[dates] stamp_kk`` / ``stamp_ru``, issue 11
    #10): «02.07.2026 19:42» — the stamp prints Kazakhstan's time."""
    return str(_default().service.get("dates", {}).get(f"stamp_{_language(language)}", "%d.%m.%Y %H:%M"))


def describe(kind: str) -> DocumentSpec:
    return _default().describe(kind)


def ground_text(code: str, language: str) -> str:
    return _default().ground_text(code, language)


def ground_basis(code: str, language: str) -> str:
    return _default().ground_basis(code, language)


def document_name(code: str, language: str) -> str:
    return _default().document_name(code, language)


def signers_by_role(catalogue: Catalogue | None = None) -> dict[str, frozenset[str]]:
    """Who signs which document kind, from ``documents.toml`` (``signer = …``): the one map the core, the signer
    and the signing policy all read."""
    specs = (catalogue or _default())._specs.values()
    return {role: frozenset(s.kind for s in specs if s.signer == role) for role in SIGNER_ROLES}


def signer_of(kind: str) -> str:
    """The role that signs ``kind`` (documents.toml)."""
    return describe(kind).signer


# --- the data the pure core reads (forms/catalogue/*.toml, forms/calendar/overrides.toml) --------------------

_CALENDAR_REMEDY = "correct forms/calendar/overrides.toml as its header comment shows"


def load_calendar(overrides_path: Path | None = None) -> WorkCalendar:
    """The working-day calendar with the decreed overrides of ``overrides_path`` (default
    ``forms/calendar/overrides.toml``).  A missing file means no overrides; a malformed one raises
    :class:`~pipeline.errors.ConfigError` naming the file and line."""
    path = Path(overrides_path) if overrides_path is not None else CALENDAR_OVERRIDES
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return WorkCalendar()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the calendar overrides: {exc}", remedy=_CALENDAR_REMEDY) from exc
    days_off, working_days = parse_overrides(text, str(path))
    return WorkCalendar(extra_days_off=days_off, extra_working_days=working_days)


def load_rules_context(forms_dir: Path | None = None, calendar: WorkCalendar | None = None) -> RulesContext:
    """What the rules core needs from outside, read once: the standard's documents, the terms and the calendar
    (the core itself reads no file)."""
    directory = Path(forms_dir) / "catalogue" if forms_dir is not None else CATALOGUE_DIR
    with open(directory / "standard.toml", "rb") as fh:
        standard = tomllib.load(fh)
    with open(directory / "terms.toml", "rb") as fh:
        terms = tomllib.load(fh)
    reqs = tuple(
        Requirement(code, d["required_when"], d.get("name_kk", code), d.get("name_ru", code))
        for code, d in standard["documents"].items()
    )
    for r in reqs:
        if r.required_when not in REQUIREMENT_CONDITIONS:
            raise ConfigError(f"standard.toml: {r.code}.required_when {r.required_when!r} is unknown",
                              remedy=f"use one of {', '.join(REQUIREMENT_CONDITIONS)}")
    term_map = {k: Term(key=k, **v) for k, v in terms["terms"].items()}
    signers = {kind: spec.signer for kind, spec in Catalogue(directory)._specs.items()}
    return RulesContext(calendar or load_calendar(), reqs, term_map, signers)


def registration(catalogue: Catalogue | None = None) -> tuple[str, frozenset[str]]:
    """Issue 11 #9: the format of the office's registration numbers and the document kinds numbered so
    (service.toml ``[registration]``); a format the core cannot fill is a configuration error, found here."""
    from pipeline.core.case import registration_number

    row = (catalogue or _default()).service.get("registration") or {}
    fmt, kinds = row.get("format", "{office}-{year}/{seq:05d}"), frozenset(row.get("kinds", ()))
    try:
        registration_number(fmt, "X", 2000, 1)
    except ValueError as exc:
        raise ConfigError(f"service.toml [registration] format: {exc}",
                          remedy="use {office}, {year} and {seq} only, e.g. \"{office}-{year}/{seq:05d}\"") from None
    unknown = sorted(kinds - set((catalogue or _default()).document_kinds()))
    if unknown:
        raise ConfigError(f"service.toml [registration] kinds: unknown document kinds {', '.join(unknown)}",
                          remedy="list kinds that documents.toml knows")
    return fmt, kinds


def unconfirmed_calendar_years(today, overrides_path: Path | None = None) -> list[int]:
    """Issue 11 #11: the running year and the next, where forms/calendar/overrides.toml confirms no decree."""
    from pipeline.core.calendar import parse_confirmed_years, unconfirmed_years

    path = Path(overrides_path) if overrides_path is not None else CALENDAR_OVERRIDES
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    return unconfirmed_years(parse_confirmed_years(text, str(path)), today)


def calendar_warning(language: str, today, overrides_path: Path | None = None) -> str | None:
    """The officers' words for :func:`unconfirmed_calendar_years` (service.toml ``[calendar]``), or None."""
    years = unconfirmed_calendar_years(today, overrides_path)
    if not years:
        return None
    return _default().service["calendar"][f"unconfirmed_{_language(language)}"].format(
        years=", ".join(str(y) for y in years))

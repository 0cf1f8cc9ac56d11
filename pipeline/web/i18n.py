"""The desk's words in Kazakh and Russian, from ``catalogue.toml`` (kk and ru side by side, data not code)."""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path

from forms.catalogue import describe

LANGUAGES = ("kk", "ru")
CATALOGUE = Path(__file__).with_name("catalogue.toml")


@lru_cache(maxsize=1)
def catalogue() -> dict[str, dict[str, str]]:
    data = tomllib.loads(CATALOGUE.read_text(encoding="utf-8"))
    for key, entry in data.items():
        missing = [lang for lang in LANGUAGES if not entry.get(lang)]
        if missing:
            raise ValueError(f"{CATALOGUE.name}: {key!r} lacks {missing}")
    return data


def translator(language: str):
    words = catalogue()

    def t(key: str, **values: object) -> str:
        entry = words.get(key)
        text = entry[language] if entry else key
        return text.format(**values) if values else text

    return t


def kind_title(kind: str, language: str) -> str:
    try:
        return describe(kind).title(language)
    except LookupError:
        return kind

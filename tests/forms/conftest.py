"""Fixtures for the forms tests: one Renderer, and every sample document rendered once per session."""

from __future__ import annotations

import pytest
from formtools import Rendered, _render, long_context

from forms.catalogue import LANGUAGES, document_kinds
from forms.preview import sample_context
from forms.render import Renderer


@pytest.fixture(scope="session")
def renderer() -> Renderer:
    return Renderer()


@pytest.fixture(scope="session")
def samples(renderer, tmp_path_factory) -> dict[tuple[str, str], Rendered]:
    folder = tmp_path_factory.mktemp("samples")
    return {(kind, lang): _render(renderer, folder, kind, lang, sample_context(kind, lang))
            for kind in document_kinds() for lang in LANGUAGES}


@pytest.fixture(scope="session")
def long_docs(renderer, tmp_path_factory) -> dict[tuple[str, str], Rendered]:
    folder = tmp_path_factory.mktemp("long")
    return {(kind, lang): _render(renderer, folder, kind, lang, long_context(kind, lang), name=f"long-{kind}")
            for kind in ("order", "inspection_act") for lang in LANGUAGES}



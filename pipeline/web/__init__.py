"""The officers' web desk (``qamqor serve``): the signature queue, cases and verification in the browser.

See :mod:`pipeline.web.app` for the application, :mod:`pipeline.web.desk` for what the pages share,
:mod:`pipeline.web.pages` for the pages (one module per area), :mod:`pipeline.web.auth` for sign-in and
authority, :mod:`pipeline.web.external` for signing with NCALayer.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app", "serve"]


def __getattr__(name: str) -> Any:
    # imported on use, so that `python -m pipeline.web.passwords` does not load the whole desk first
    if name in __all__:
        from . import app

        return getattr(app, name)
    raise AttributeError(name)

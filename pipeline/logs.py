"""Logging for the command line: one line per error on the terminal, the traceback in ``<state>/qamqor.log``,
as text or as JSON lines (``--log-format json``) for a log collector."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys

from .config import Config

#: libraries that log every font and every migration at INFO
NOISY = ("fontTools", "weasyprint", "alembic", "pyhanko")


class JsonLines(logging.Formatter):
    """One JSON object per record.  Ours rather than python-json-logger: four fixed keys, ``ensure_ascii=False``
    for Kazakh and Russian text, and no dependency for fifteen lines."""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps({"at": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
                           "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage()},
                          ensure_ascii=False)


class NoTracebacks(logging.Filter):
    """The terminal gets one line per error; tracebacks go to the log file (or the terminal with --debug)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.exc_info is None or "--debug" in sys.argv


def setup_logging(config: Config | None, fmt: str, verbose: bool) -> None:
    """The terminal (warnings, or everything with ``verbose``) and, once the configuration is known, the state
    folder's log file; called again when it is, so the handlers are replaced, not added."""
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for h in list(root.handlers):
        root.removeHandler(h)
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.DEBUG if verbose else logging.WARNING)
    console.setFormatter(JsonLines() if fmt == "json" else logging.Formatter("%(levelname)s %(message)s"))
    console.addFilter(NoTracebacks())
    root.addHandler(console)
    if config is not None:
        config.state.mkdir(parents=True, exist_ok=True)
        fh = logging.FileHandler(config.state / "qamqor.log", encoding="utf-8")
        fh.setFormatter(JsonLines() if fmt == "json"
                        else logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        root.addHandler(fh)
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(logging.WARNING)

"""Typed errors and exit codes: every failure a user can meet has a stable code, a message and a remedy.

Modelled on OCRmyPDF's ``exceptions.py``: an :class:`ExitCode` enum, and each exception class carries its
exit code.  Input errors (bad case events) additionally carry a stable ``code`` string (``E-…``) that the
rejection report (``<name>.error.json``) and the back office rely on, and *where* the problem is: a JSON
pointer for JSON input, an XPath (and line) for XML input.

Codes are part of the outside contract: never renumber or reuse one; add new ones at the end of a group.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any


class ExitCode(IntEnum):
    """Exit codes of the ``qamqor`` command (documented in the README)."""

    ok = 0
    invalid = 1  # `verify`: at least one signature is not valid; `audit verify`: the chain is broken
    usage = 2  # wrong arguments (click's own code)
    input_error = 3  # a case event (or a file given on the command line) is bad input
    not_found = 4  # unknown case, queue item, file or officer
    state_conflict = 5  # the request does not fit the current state (already signed, already running…)
    signing_refused = 6  # the signing policy refused before anything was signed
    signing_failed = 7  # the signing backend failed (wrong secret, token missing, TSA down…)
    config_error = 8  # configuration missing or invalid
    busy = 9  # another `qamqor run` holds the state lock
    state_unusable = 10  # the state folder cannot be written, or its journal is damaged or lost
    transient = 75  # EX_TEMPFAIL: try again later
    internal = 70  # EX_SOFTWARE: a bug; the traceback is in the log


class QamqorError(Exception):
    """Base of every error the user can meet.  ``str(err)`` is one clear line."""

    exit_code: ExitCode = ExitCode.internal
    code: str = "E-INTERNAL"
    remedy: str = ""

    def __init__(self, message: str, *, remedy: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        if remedy is not None:
            self.remedy = remedy
        if code is not None:
            self.code = code

    def one_line(self) -> str:
        text = f"{self.code}: {self.message}"
        if self.remedy:
            text += f" — {self.remedy}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "remedy": self.remedy}


class ConfigError(QamqorError):
    exit_code = ExitCode.config_error
    code = "E-CONFIG"


class ConfigErrors(ConfigError):
    """Several problems in one configuration file, reported together (a fix-one-rerun loop is tiresome).

    Behaves as its first problem (message, remedy); the one line names how many more there are, and ``errors``
    (and :meth:`to_dict`) holds each of them.
    """

    def __init__(self, errors: list[ConfigError]):
        if not errors:
            raise ValueError("ConfigErrors needs at least one error")
        first = errors[0]
        super().__init__(first.message, remedy=first.remedy, code=first.code)
        self.errors = list(errors)

    def one_line(self) -> str:
        more = f" (+{len(self.errors) - 1} more: " + "; ".join(e.message for e in self.errors[1:]) + ")"
        return super().one_line() + more

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d["errors"] = [e.to_dict() for e in self.errors]
        return d


class UsageError(QamqorError):
    """The command was given something it cannot use (an empty reason, …)."""

    exit_code = ExitCode.usage
    code = "E-USAGE"


class NotFound(QamqorError):
    exit_code = ExitCode.not_found
    code = "E-NOT-FOUND"


class StateConflict(QamqorError):
    exit_code = ExitCode.state_conflict
    code = "E-STATE"


class FencedOut(StateConflict):
    """Another node took this work over (its fencing token is newer, issue 10): nothing this node wrote for it
    commits; the newer holder finishes it."""

    code = "E-FENCED"


class Busy(QamqorError):
    exit_code = ExitCode.busy
    code = "E-BUSY"


class TransientError(QamqorError):
    """Something outside us is down or full; the work is retried later, never rejected."""

    exit_code = ExitCode.transient
    code = "E-TRANSIENT"


class StateError(QamqorError):
    """The state folder (``var/``) cannot be used: read-only, a work folder not writable, a journal damaged or
    emptied (#14.3, #14.19).  Nothing was taken from the inbox; the remedy says what to restore or fix."""

    exit_code = ExitCode.state_unusable
    code = "E-STATE-FOLDER"


class JournalDamaged(StateError):
    code = "E-JOURNAL"


#: The codes of the errors outside case input (those are :data:`INPUT_ERRORS`; the signing library's
#: ``E-SIGN-…`` codes are in ``signing/errors.py``), with what each means.  Same promise: never reused.
ERROR_CODES: dict[str, str] = {
    "E-INTERNAL": "a bug: the traceback is in the log",
    "E-CONFIG": "qamqor.toml (or QAMQOR_NOW, a key file) is missing or invalid",
    "E-USAGE": "the command was given something it cannot use",
    "E-NOT-FOUND": "unknown case, queue item, file or officer",
    "E-STATE": "the request does not fit the current state",
    "E-BUSY": "another `qamqor run` holds the state lock",
    "E-FENCED": "another node took the work over (a newer fencing token); this node's writes for it are refused",
    "E-TRANSIENT": "something outside is down or full; retried later",
    "E-SECRET": "no secret for an officer's key, and no terminal to ask",
    "E-REASON": "a rejection without a reason",
    "E-STATE-FOLDER": "the state folder (or a work folder in it) cannot be written",
    "E-JOURNAL": "the journal is damaged, or emptied while the state folder says it had a past",
    # the documents (forms/)
    "E-RENDER": "a document cannot be rendered as the archive needs it (forms.render.RenderError)",
    "E-RENDER-FONT": "a character no shipped font has, or text set in a font not shipped (FontFallbackError)",
    "E-CATALOGUE": "an unknown document kind, ground, document code or language (forms.catalogue.CatalogueError)",
}


# --- input errors -------------------------------------------------------------------------------------------

#: Every input error code, with the message template a back-office clerk reads and what to do about it.
#: ``{detail}`` is filled with the specific finding.  Tests hold one bad input per code (tests/ingest/test_errors_catalogue.py).
INPUT_ERRORS: dict[str, tuple[str, str]] = {
    # reading the file
    "E-FILE-TOO-LARGE": ("the file is larger than the limit ({detail})", "split it or remove attachments; an event is a few KB"),
    "E-FILE-TYPE": ("the file is not a regular .json or .xml file ({detail})", "drop plain files named *.json or *.xml"),
    "E-ENCODING": ("the file is not valid UTF-8 ({detail})", "save the file as UTF-8"),
    # syntax
    "E-JSON-SYNTAX": ("the JSON cannot be parsed: {detail}", "fix the syntax at the position given"),
    "E-XML-SYNTAX": ("the XML cannot be parsed: {detail}", "fix the syntax at the line given"),
    "E-XML-FORBIDDEN": ("the XML uses a forbidden construct: {detail}", "remove the DOCTYPE, entities and processing instructions"),
    "E-XML-NAMESPACE": ("the XML root is not <case_event> in urn:kz:qamqor:case-event:1 ({detail})", "use the namespace of contract.md"),
    # structure
    "E-SCHEMA": ("the event does not match the schema: {detail}", "correct the member at the place given"),
    "E-FORMAT": ("unknown event format {detail}", "set \"format\" to \"qamqor.case-event/1\""),
    "E-VOCABULARY": ("unknown value {detail}", "use one of the values the contract lists"),
    "E-CASE-ID": ("unsafe or invalid case_id {detail}", "case_id is 1–64 characters of A–Z, a–z, 0–9 and '-'"),
    "E-IIN-FORMAT": ("an IIN must be 12 digits ({detail})", "check the IIN on the identity document"),
    "E-IIN-CHECKSUM": ("the IIN fails its check digit ({detail})", "check the IIN on the identity document"),
    "E-IIN-BIRTHDATE": ("the birth date disagrees with the IIN ({detail})", "correct the birth date or the IIN"),
    "E-DATE": ("invalid date or time {detail}", "dates are YYYY-MM-DD, times ISO 8601 with an offset"),
    "E-INVISIBLE-CHAR": ("a name or id holds an invisible formatting character ({detail})",
                         "retype the value without bidi marks, zero-width or separator characters"),
    "E-CASE-ID-RESERVED": ("case_id {detail} is a device name Windows reserves",
                           "use another case_id (not CON, PRN, AUX, NUL, COM0–9 or LPT0–9)"),
    # the service's order (¶ references in pipeline/rules.py)
    "E-UNKNOWN-CASE": ("no application is known for case {detail}", "send application.submitted first"),
    "E-CASE-EXISTS": ("the case already has an application ({detail})", "use a new case_id for a new application"),
    "E-OUT-OF-ORDER": ("the event does not fit the case's state: {detail}", "send the events in the order of the Rules"),
    "E-DECISION-FORBIDDEN": ("a granted decision is forbidden: {detail}", "refuse with the ground, or correct the records"),
    "E-INCONSISTENT": ("the event contradicts the case: {detail}", "correct the event"),
    "E-EVENT-CONFLICT": ("event_id {detail} was already received with other content", "give a new event a new event_id"),
}


@dataclass
class Where:
    """Where an input problem is: a JSON pointer, or an XPath with a line number."""

    pointer: str | None = None
    xpath: str | None = None
    line: int | None = None
    column: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}

    def __str__(self) -> str:
        parts = []
        if self.pointer is not None:
            parts.append(f"at {self.pointer or '/'}")
        if self.xpath is not None:
            parts.append(f"at {self.xpath}")
        if self.line is not None:
            parts.append(f"line {self.line}" + (f" column {self.column}" if self.column else ""))
        return ", ".join(parts)


class InputError(QamqorError):
    """A case event is bad input.  Never retried: the original goes to ``outbox/rejected/`` with a report."""

    exit_code = ExitCode.input_error

    def __init__(self, code: str, detail: str = "", where: Where | None = None, **extra: Any):
        if code not in INPUT_ERRORS:
            raise KeyError(f"unknown input error code {code}")
        template, remedy = INPUT_ERRORS[code]
        super().__init__(template.format(detail=detail), remedy=remedy, code=code)
        self.detail = detail
        self.where = where or Where()
        self.extra = extra

    def one_line(self) -> str:
        where = str(self.where)
        return f"{self.code}: {self.message}" + (f" ({where})" if where else "") + f" — {self.remedy}"

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d["where"] = self.where.to_dict()
        if self.extra:
            d.update(self.extra)
        return d


class InputErrors(InputError):
    """Several findings about one input (e.g. every schema violation); reported together.

    Behaves as its first finding (code, message, where), and lists all of them in ``errors``.
    """

    def __init__(self, errors: list[InputError]):
        if not errors:
            raise ValueError("InputErrors needs at least one error")
        first = errors[0]
        QamqorError.__init__(self, first.message, remedy=first.remedy, code=first.code)
        self.detail, self.where, self.extra = first.detail, first.where, first.extra
        self.errors = list(errors)

    def one_line(self) -> str:
        more = f" (+{len(self.errors) - 1} more)" if len(self.errors) > 1 else ""
        return self.errors[0].one_line() + more

    def to_dict(self) -> dict[str, Any]:
        d = self.errors[0].to_dict()
        d["errors"] = [e.to_dict() for e in self.errors]
        return d

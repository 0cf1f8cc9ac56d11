"""Configuration: one immutable, validated object, read from ``qamqor.toml`` (TOML) or the embedded defaults.

The file's shape is declared once, as pydantic models (:class:`ConfigFile` and one model per table) that refuse
unknown keys and keep every value's TOML type: ``max_event_bytes = "1MB"`` is refused, never read as a number
nor left to fail later.  Every problem becomes a :class:`~pipeline.errors.ConfigError` (``E-CONFIG``) that says
where (file, table and key) and what to write instead.  :class:`Config`, the object the rest of the service
uses, is a frozen dataclass built from the validated file: picklable (worker processes get it) and hashable.

Every path is configurable; relative paths are relative to the configuration file's folder (or the current
folder when there is no file).  ``QAMQOR_CONFIG`` names another file.  ``QAMQOR_NOW`` overrides the service's
clock (contract.md, "Time") — see :mod:`pipeline.clock`.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from forms.catalogue import SIGNER_ROLES

from .errors import ConfigError, ConfigErrors, NotFound

CONFIG_NAME = "qamqor.toml"
PACKAGE_ROOT = Path(__file__).resolve().parents[1]
FORMS_DIR = PACKAGE_ROOT / "forms"

LEVELS = ("B-B", "B-T", "B-LT", "B-LTA")
BACKENDS = ("pkcs12", "pkcs11", "external")
SEE_README = "see README, Configuration"


# --- the file, as declared -----------------------------------------------------------------------------------


def setting(default: Any, example: Any = None, unit: str = "", **constraints: Any) -> Any:
    """A key of ``qamqor.toml``: its default, an example value and a unit for the remedy of a bad value."""
    return Field(default, examples=None if example is None else [example], description=unit or None, **constraints)


def problem(kind: str, what: str, remedy: str) -> PydanticCustomError:
    """A finding of our own validators, carrying its remedy to :func:`_config_error`."""
    return PydanticCustomError(kind, what, {"remedy": remedy})


class Table(BaseModel):
    """A table of ``qamqor.toml``.  Strict: a value keeps its TOML type (``"1MB"`` is no number, ``"false"`` no
    boolean — a cast would read it as true); unknown keys are refused, so a misspelt key is never silently
    ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


def array(item: Any = None) -> Any:
    """A TOML array: pydantic's strict mode takes only Python tuples, so arrays are the one lax part (their
    items stay strict)."""
    return Field((), strict=False, examples=None if item is None else [[item]])


class PathsTable(Table):
    root: str = setting(".", ".")
    inbox: str = setting("inbox", "inbox")
    outbox: str = setting("outbox", "outbox")
    state: str = setting("var", "var")  # never inside inbox/ or outbox/


class JournalTable(Table):
    url: str | None = setting(None, "postgresql+psycopg://qamqor@db.example.kz:5432/qamqor")

    @field_validator("url")
    @classmethod
    def _known_database(cls, url: str | None) -> str | None:
        if url is None:
            return url
        from sqlalchemy.engine import make_url  # deferred: only a configured URL needs SQLAlchemy here
        from sqlalchemy.exc import ArgumentError

        remedy = ("write postgresql+psycopg://user@host:port/db, or remove the key for the embedded SQLite "
                  "journal under the state folder")
        try:
            backend = make_url(url).get_backend_name()
        except ArgumentError:
            raise problem("journal_url", f"{json.dumps(url)} is not a database URL", remedy) from None
        if backend not in ("sqlite", "postgresql"):
            raise problem("journal_url", f"{backend} is not a journal qamqor can keep (SQLite or PostgreSQL)", remedy)
        return url


class ServiceTable(Table):
    verify_url: str = setting("https://qamqor.example.kz/v/{document_id}?k={token}",
                              "https://qamqor.example.kz/v/{document_id}?k={token}")  # pipeline/verification.py

    @field_validator("verify_url")
    @classmethod
    def _placeholders(cls, url: str) -> str:
        # filled in for every document: a stray {name} would fail there, far from this file
        try:
            url.format(document_id="d", token="t")
        except (KeyError, IndexError, ValueError):
            raise problem("verify_url", f"{json.dumps(url)} has a placeholder other than {{document_id}} and "
                          "{token}", "use only {document_id} and {token}; write {{ and }} for a brace") from None
        return url


class LimitsTable(Table):
    max_event_bytes: int = setting(1_000_000, 1048576, "bytes", ge=1)


class PipelineTable(Table):
    settle_seconds: float = setting(1.0, 1.0, "seconds", ge=0)  # a file's size and time stable this long
    scan_interval: float = setting(5.0, 5.0, "seconds", gt=0)  # rescan even without file-system events
    incomplete_grace: float = setting(30.0, 30.0, "seconds", ge=0)  # an unparsable file waits this long
    workers: int = setting(0, 4, "render processes (0: one per core)", ge=0)
    default_officer: str | None = setting(None, "head")


class SigningTable(Table):
    level: Literal[LEVELS] = setting("B-B", "B-T")  # archive copies: B-LTA when a TSA is configured
    tsa_url: str | None = setting(None, "http://127.0.0.1:9778/tsa", validate_default=True)
    # issue 16: the TSA for officers' GOST keys (Streebog-512 imprints, signed in GOST); absent: tsa_url
    gost_tsa_url: str | None = setting(None, "http://127.0.0.1:9779/gost/tsa")
    trust_roots: tuple[str, ...] = array("var/demo-pki/root.cert.pem")
    check_revocation: bool = setting(False, False)
    auto_seal: bool = setting(True, True)  # receipts and portal notices are signed without an officer

    @field_validator("tsa_url")
    @classmethod
    def _timestamps_need_a_tsa(cls, url: str | None, info: ValidationInfo) -> str | None:
        level = info.data.get("level", "B-B")
        if level != "B-B" and not url:
            raise problem("tsa_url_required", f"level {level} needs a timestamp authority",
                          'add tsa_url = "http://…", or set level = "B-B"')
        return url


class DemoTable(Table):
    insecure: bool = setting(False, True)  # a demo setup: secrets sit in this file, insecure by design


class OfficerTable(Table):
    """One ``[[officers]]`` entry; :class:`Officer` says what each key means."""

    id: str = setting(..., "head", min_length=1)
    name: str = setting(..., "Асель Нұрланқызы", min_length=1)
    role: Literal[SIGNER_ROLES] = setting(..., "head")  # forms.catalogue: the roles a document names
    office: str = setting(..., "ED-ALM-BOS", min_length=1)
    iin: str = setting("", "750428404517", validate_default=True)  # after role: its check needs the role
    position_kk: str = ""
    position_ru: str = ""
    backend: Literal[BACKENDS] = setting("pkcs12", "pkcs12")
    key: str = setting("", "keys/head.p12")
    token_label: str = ""
    key_label: str = ""
    secret_env: str = setting("", "QAMQOR_SECRET_HEAD")
    secret: str = ""

    @field_validator("iin")
    @classmethod
    def _people_have_an_iin(cls, iin: str, info: ValidationInfo) -> str:
        if not iin and info.data.get("role", "provider_seal") != "provider_seal":
            raise problem("iin_required", "missing (only a system seal, role provider_seal, has none)",
                          'add iin = "…", the 12 digits of the officer\'s IIN')
        return iin


class WebAccount(Table):
    """One ``[[web.accounts]]`` entry: an officer who may sign in to the desk."""

    officer: str = setting(..., "head", min_length=1)  # an id of [[officers]]
    password_hash: str = setting(..., "$argon2id$…", min_length=1)  # python -m pipeline.web.passwords


class WebTable(Table):
    """``[web]``: read by :mod:`pipeline.web.settings`."""

    host: str = setting("127.0.0.1", "127.0.0.1")
    port: int = setting(8480, 8480, ge=0, le=65535)
    language: Literal["kk", "ru"] = setting("kk", "kk")  # the desk's language until an officer switches
    ncalayer_url: str = setting("wss://127.0.0.1:13579", "wss://127.0.0.1:13579")
    session_secret: str = ""
    session_secret_file: str | None = setting(None, "var/web-session.key")  # made (0600) when absent
    session_hours: float = setting(8.0, 8.0, "hours", gt=0)
    max_upload_bytes: int = setting(20_000_000, 20000000, "bytes", ge=1)  # the public verification form
    lockout_failures: int = setting(5, 5, "failed sign-ins", ge=1)
    lockout_minutes: float = setting(15.0, 15.0, "minutes", ge=0)
    secure_cookies: bool | None = setting(None, True)  # None: Secure unless the desk listens on localhost
    # issue 14 (#4, #20), read by pipeline/web/settings.py: the client lock-out, the Host allow-list (empty: the
    # listening host and loopback), the token /readyz and /metrics ask for (empty: open), the upload check's bounds
    lockout_client_failures: int = setting(20, 20, "failed sign-ins from one client", ge=1)
    allowed_hosts: tuple[str, ...] = array("desk.example.kz")
    ops_token: str = setting("", "a-long-random-string")
    upload_max_signatures: int = setting(20, 20, "signature fields", ge=1)
    upload_seconds: float = setting(20.0, 20.0, "seconds", gt=0)
    upload_concurrency: int = setting(2, 2, "uploads checked at once", ge=1)
    results_max: int = setting(20, 20, "documents", ge=1)
    accounts: tuple[WebAccount, ...] = array()


class ClusterTable(Table):
    """``[cluster]``: several nodes on a PostgreSQL journal (issue 10), read by :mod:`pipeline.cluster`."""

    heartbeat_seconds: float = setting(5.0, 5.0, "seconds", gt=0)  # a node's (and its worker's) heartbeat
    stall_seconds: float = setting(30.0, 30.0, "seconds", gt=0)  # no heartbeat this long: its jobs run elsewhere
    poll_seconds: float = setting(1.0, 1.0, "seconds", gt=0)  # how often a node looks at the inbox and the reaper
    keep_finished_hours: float = setting(24.0, 24.0, "hours", ge=0)  # finished jobs pruned after (#1454)
    metrics_host: str = setting("127.0.0.1", "0.0.0.0")  # where `qamqor run --metrics-port P` serves /metrics


class ConfigFile(Table):
    """The whole of ``qamqor.toml``."""

    paths: PathsTable = PathsTable()
    journal: JournalTable = JournalTable()
    service: ServiceTable = ServiceTable()
    limits: LimitsTable = LimitsTable()
    pipeline: PipelineTable = PipelineTable()
    signing: SigningTable = SigningTable()
    demo: DemoTable = DemoTable()
    officers: tuple[OfficerTable, ...] = array()
    web: WebTable = WebTable()
    cluster: ClusterTable = ClusterTable()


# --- the object the service uses -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Officer:
    """An officer who approves documents in the signature queue, and the key they sign with."""

    id: str
    name: str
    iin: str
    role: str  # operator / provider_seal / inspector / head
    office: str  # provider or PSC code: an officer sees only the documents of their office
    position_kk: str = ""
    position_ru: str = ""
    backend: str = "pkcs12"  # pkcs12 / pkcs11 / external
    key: str = ""  # pkcs12: file path; pkcs11: module path
    token_label: str = ""
    key_label: str = ""
    secret_env: str = ""  # the environment variable holding the password or PIN
    secret: str = ""  # only in an insecure demo configuration

    @classmethod
    def from_table(cls, table: OfficerTable, base: Path) -> Officer:
        values = table.model_dump()
        if values["key"] and values["backend"] == "pkcs12":
            values["key"] = str((base / values["key"]).resolve())
        return cls(**values)

    @classmethod
    def from_dict(cls, d: dict[str, Any], base: Path) -> Officer:
        """One ``[[officers]]`` entry, validated as in a file."""
        return cls.from_table(validate({"officers": [d]}, None).officers[0], base)


@dataclass(frozen=True)
class SigningConfig:
    level: str = "B-B"  # B-B / B-T / B-LT / B-LTA (archive copies: B-LTA when a TSA is configured)
    tsa_url: str | None = None
    gost_tsa_url: str | None = None  # issue 16: GOST keys' timestamps (else tsa_url)
    trust_roots: tuple[str, ...] = ()
    check_revocation: bool = False
    auto_seal: bool = True  # receipts and portal notices are sealed without an officer (issue 5 ¶4, ¶7)


@dataclass(frozen=True)
class Config:
    root: Path
    inbox: Path
    outbox: Path
    state: Path
    verify_url: str = "https://qamqor.example.kz/v/{document_id}?k={token}"  # pipeline/verification.py
    max_event_bytes: int = 1_000_000
    settle_seconds: float = 1.0  # a file's size and time must be stable this long before it is read
    scan_interval: float = 5.0  # rescan the inbox even without file-system events (NFS, SMB)
    incomplete_grace: float = 30.0  # a file that does not parse is rejected only after being still this long
    workers: int = 0  # render processes; 0 = one per core
    default_officer: str | None = None
    demo: bool = False  # a demo setup: secrets sit in this file, insecure by design
    signing: SigningConfig = field(default_factory=SigningConfig)
    officers: tuple[Officer, ...] = ()
    source: Path | None = None
    base: Path | None = None  # the configuration file's folder (relative paths of other sections)
    #: the file as validated: tables read by their own module (``config.file.web`` by :mod:`pipeline.web`)
    file: ConfigFile = field(default_factory=ConfigFile, compare=False, repr=False)

    def section(self, name: str) -> dict[str, Any]:
        """A table as validated, as a dict (``[web]`` …); prefer the typed ``config.file.<name>``."""
        table = getattr(self.file, name, None)
        return table.model_dump() if isinstance(table, BaseModel) else {}

    @property
    def journal_url(self) -> str:
        return self.file.journal.url or f"sqlite:///{self.state / 'journal.sqlite'}"

    @property
    def work(self) -> Path:
        return self.state / "work"

    def officer(self, officer_id: str) -> Officer:
        for o in self.officers:
            if o.id == officer_id:
                return o
        raise NotFound(f"no officer {officer_id!r} in the configuration", remedy="see `qamqor queue list` and qamqor.toml")

    @classmethod
    def load(cls, path: Path | None = None, cwd: Path | None = None) -> Config:
        cwd = Path(cwd or os.getcwd())
        if path is None and os.environ.get("QAMQOR_CONFIG"):
            path = Path(os.environ["QAMQOR_CONFIG"])
        if path is None and (cwd / CONFIG_NAME).exists():
            path = cwd / CONFIG_NAME
        if path is None:
            return cls.from_dict({}, base=cwd, source=None)
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"configuration file {path} not found") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read the configuration file {path}: {exc}",
                              remedy="give a readable UTF-8 TOML file") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: {exc}", remedy="fix the TOML syntax") from None
        return cls.from_dict(data, base=Path(path).resolve().parent, source=Path(path).resolve())

    @classmethod
    def from_dict(cls, data: dict[str, Any], base: Path, source: Path | None = None) -> Config:
        f = validate(data, source)
        found: list[ConfigError] = []

        def fail(where: str, what: str, remedy: str) -> None:
            found.append(ConfigError(f"{_label(source)} {where}: {what}", remedy=remedy))

        root = (base / f.paths.root).resolve()
        inbox, outbox, state = ((root / p).resolve() for p in (f.paths.inbox, f.paths.outbox, f.paths.state))
        if state.is_relative_to(inbox) or state.is_relative_to(outbox):
            fail("[paths] state", f"{state} is inside inbox/ or outbox/",
                 "keep the state folder apart: back offices and consumers must never see the journal or keys")
        ids = [o.id for o in f.officers]
        for i, oid in enumerate(ids):
            if oid in ids[:i]:
                fail(f"[[officers]] #{i + 1} id", f"another officer already has the id {json.dumps(oid)}",
                     "give each officer an id of their own")
        known = ", ".join(ids) or "none"
        if f.pipeline.default_officer is not None and f.pipeline.default_officer not in ids:
            fail("[pipeline] default_officer", f"{json.dumps(f.pipeline.default_officer)} is no officer's id",
                 f"use the id of one of the [[officers]] ({known})")
        for i, account in enumerate(f.web.accounts):
            if account.officer not in ids:
                fail(f"[[web.accounts]] #{i + 1} officer", f"{json.dumps(account.officer)} is no officer's id",
                     f"use the id of one of the [[officers]] ({known})")
        if found:
            raise found[0] if len(found) == 1 else ConfigErrors(found)
        return cls(
            root=root,
            inbox=inbox,
            outbox=outbox,
            state=state,
            verify_url=f.service.verify_url,
            max_event_bytes=f.limits.max_event_bytes,
            settle_seconds=f.pipeline.settle_seconds,
            scan_interval=f.pipeline.scan_interval,
            incomplete_grace=f.pipeline.incomplete_grace,
            workers=f.pipeline.workers,
            default_officer=f.pipeline.default_officer,
            demo=f.demo.insecure,
            signing=SigningConfig(
                level=f.signing.level,
                tsa_url=f.signing.tsa_url,
                gost_tsa_url=f.signing.gost_tsa_url,
                trust_roots=tuple(str((base / r).resolve()) for r in f.signing.trust_roots),
                check_revocation=f.signing.check_revocation,
                auto_seal=f.signing.auto_seal,
            ),
            officers=tuple(Officer.from_table(o, base) for o in f.officers),
            source=source,
            base=base,
            file=f,
        )


# --- validation, and errors a person can act on: pipeline/config_check.py ------------------------------------

from .config_check import _label, validate, validate_table  # noqa: E402, F401 - the tables above are what it checks

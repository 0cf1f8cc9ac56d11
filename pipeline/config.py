"""Configuration: one immutable, validated object, read from ``qamqor.toml`` (TOML) or the embedded defaults.

Every path is configurable; relative paths are relative to the configuration file's folder (or the current
folder when there is no file).  ``QAMQOR_CONFIG`` names another file.  ``QAMQOR_NOW`` overrides the service's
clock (contract.md, "Time") — see :mod:`pipeline.clock`.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError

CONFIG_NAME = "qamqor.toml"
PACKAGE_ROOT = Path(__file__).resolve().parents[1]
FORMS_DIR = PACKAGE_ROOT / "forms"


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
    def from_dict(cls, d: dict[str, Any], base: Path) -> Officer:
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(d) - known
        if unknown:
            raise ConfigError(f"unknown officer setting(s) {sorted(unknown)}", remedy="see README, Configuration")
        for req in ("id", "name", "role", "office"):
            if not d.get(req):
                raise ConfigError(f"officer {d.get('id', '?')!r} lacks {req!r}")
        if d.get("role") != "provider_seal" and not d.get("iin"):
            raise ConfigError(f"officer {d.get('id', '?')!r} lacks 'iin' (only a system seal has none)")
        values = dict(d)
        if values.get("key") and values.get("backend", "pkcs12") == "pkcs12":
            values["key"] = str((base / values["key"]).resolve())
        return cls(**values)


@dataclass(frozen=True)
class SigningConfig:
    level: str = "B-B"  # B-B / B-T / B-LT / B-LTA (archive copies: B-LTA when a TSA is configured)
    tsa_url: str | None = None
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
    sections: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)  # e.g. [web], raw

    def section(self, name: str) -> dict[str, Any]:
        """A section read by its own module (``[web]`` by :mod:`pipeline.web`)."""
        return self.sections.get(name, {})

    @property
    def journal_url(self) -> str:
        return f"sqlite:///{self.state / 'journal.sqlite'}"

    @property
    def work(self) -> Path:
        return self.state / "work"

    def officer(self, officer_id: str) -> Officer:
        for o in self.officers:
            if o.id == officer_id:
                return o
        from .errors import NotFound

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
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: {exc}", remedy="fix the TOML syntax") from None
        return cls.from_dict(data, base=Path(path).resolve().parent, source=Path(path).resolve())

    @classmethod
    def from_dict(cls, data: dict[str, Any], base: Path, source: Path | None = None) -> Config:
        known = {"paths", "service", "limits", "signing", "officers", "demo", "pipeline", "web"}
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"unknown section(s) {sorted(unknown)} in {source}", remedy="see README, Configuration")
        paths = data.get("paths", {})
        root = (base / paths.get("root", ".")).resolve()

        def p(name: str, default: str) -> Path:
            return (root / paths.get(name, default)).resolve()

        inbox, outbox, state = p("inbox", "inbox"), p("outbox", "outbox"), p("state", "var")
        for inner in (state,):
            if inner.is_relative_to(inbox) or inner.is_relative_to(outbox):
                raise ConfigError("the state folder must not be inside inbox/ or outbox/")
        service = data.get("service", {})
        limits = data.get("limits", {})
        pipe = data.get("pipeline", {})
        sig = data.get("signing", {})
        signing = SigningConfig(
            level=sig.get("level", "B-B"),
            tsa_url=sig.get("tsa_url"),
            trust_roots=tuple(str((base / r).resolve()) for r in sig.get("trust_roots", ())),
            check_revocation=bool(sig.get("check_revocation", False)),
            auto_seal=bool(sig.get("auto_seal", True)),
        )
        if signing.level not in ("B-B", "B-T", "B-LT", "B-LTA"):
            raise ConfigError(f"signing.level {signing.level!r} is not one of B-B, B-T, B-LT, B-LTA")
        if signing.level != "B-B" and not signing.tsa_url:
            raise ConfigError(f"signing.level {signing.level} needs signing.tsa_url")
        officers = tuple(Officer.from_dict(o, base) for o in data.get("officers", ()))
        ids = [o.id for o in officers]
        if len(ids) != len(set(ids)):
            raise ConfigError("two officers share an id")
        return cls(
            root=root,
            inbox=inbox,
            outbox=outbox,
            state=state,
            verify_url=service.get("verify_url", cls.verify_url),
            max_event_bytes=int(limits.get("max_event_bytes", cls.max_event_bytes)),
            settle_seconds=float(pipe.get("settle_seconds", cls.settle_seconds)),
            scan_interval=float(pipe.get("scan_interval", cls.scan_interval)),
            incomplete_grace=float(pipe.get("incomplete_grace", cls.incomplete_grace)),
            workers=int(pipe.get("workers", 0)),
            default_officer=pipe.get("default_officer"),
            demo=bool(data.get("demo", {}).get("insecure", False)),
            signing=signing,
            officers=officers,
            source=source,
            base=base,
            sections={k: v for k, v in data.items() if k in ("web",)},
        )

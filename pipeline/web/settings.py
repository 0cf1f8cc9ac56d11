"""The ``[web]`` section of ``qamqor.toml``: where the desk listens, who may sign in, how long a lock-out lasts.

```toml
[web]
host = "127.0.0.1"
port = 8480
language = "kk"                     # the desk's language until an officer switches (kk / ru)
ncalayer_url = "wss://127.0.0.1:13579"
session_secret_file = "var/web-session.key"   # made (0600) on first start when absent
max_upload_bytes = 20000000         # the public verification form

[[web.accounts]]
officer = "head"                    # an id of [[officers]]
password_hash = "$argon2id$…"       # python -m pipeline.web.passwords
```
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import Config
from ..errors import ConfigError

KNOWN = {"host", "port", "language", "ncalayer_url", "session_secret", "session_secret_file", "session_hours",
         "max_upload_bytes", "lockout_failures", "lockout_minutes", "accounts", "secure_cookies"}


@dataclass(frozen=True)
class Account:
    officer: str
    password_hash: str


@dataclass(frozen=True)
class WebSettings:
    host: str = "127.0.0.1"
    port: int = 8480
    language: str = "kk"
    ncalayer_url: str = "wss://127.0.0.1:13579"
    session_secret: str = ""
    session_hours: float = 8.0
    max_upload_bytes: int = 20_000_000
    lockout_failures: int = 5
    lockout_minutes: float = 15.0
    secure_cookies: bool | None = None  # None: Secure unless the desk listens on 127.0.0.1 / localhost
    accounts: tuple[Account, ...] = field(default_factory=tuple)

    @classmethod
    def from_config(cls, config: Config, **overrides: Any) -> WebSettings:
        raw = dict(config.section("web"))
        raw.update(overrides)
        unknown = set(raw) - KNOWN
        if unknown:
            raise ConfigError(f"unknown [web] setting(s) {sorted(unknown)}", remedy="see README, Web desk")
        accounts = []
        for a in raw.get("accounts", ()):
            if isinstance(a, Account):
                accounts.append(a)
                continue
            if not a.get("officer") or not a.get("password_hash"):
                raise ConfigError("each [[web.accounts]] needs officer and password_hash",
                                  remedy="hash a password with `python -m pipeline.web.passwords`")
            config.officer(a["officer"])  # NotFound when no such officer
            accounts.append(Account(a["officer"], a["password_hash"]))
        language = raw.get("language", "kk")
        if language not in ("kk", "ru"):
            raise ConfigError(f"[web] language {language!r} is not kk or ru")
        secret = raw.get("session_secret") or _session_secret(config, raw.get("session_secret_file"))
        return cls(
            host=raw.get("host", "127.0.0.1"), port=int(raw.get("port", 8480)), language=language,
            ncalayer_url=raw.get("ncalayer_url", cls.ncalayer_url), session_secret=secret,
            session_hours=float(raw.get("session_hours", 8.0)),
            max_upload_bytes=int(raw.get("max_upload_bytes", cls.max_upload_bytes)),
            lockout_failures=int(raw.get("lockout_failures", 5)),
            lockout_minutes=float(raw.get("lockout_minutes", 15.0)),
            secure_cookies=raw.get("secure_cookies"), accounts=tuple(accounts),
        )

    def cookies_secure(self, host: str | None = None) -> bool:
        if self.secure_cookies is not None:
            return bool(self.secure_cookies)
        return (host or self.host) not in ("127.0.0.1", "localhost", "::1")


def _session_secret(config: Config, name: str | None) -> str:
    """The key that signs session cookies: kept in the state folder, made once, readable by the owner only."""
    path = Path(name) if name else config.state / "web-session.key"
    if not path.is_absolute():
        path = (config.base or config.root) / path
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(value)
    return value

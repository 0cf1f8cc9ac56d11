"""The ``[web]`` section of ``qamqor.toml``: where the desk listens, who may sign in, how long a lock-out lasts.

```toml
[web]
host = "127.0.0.1"
port = 8480
language = "kk"                     # the desk's language until an officer switches (kk / ru)
ncalayer_url = "wss://127.0.0.1:13579"
session_secret_file = "var/web-session.key"   # made (0600) on first start when absent
max_upload_bytes = 20000000         # the public verification form
allowed_hosts = ["desk.example.kz"] # the Host names the desk answers (empty: the listening host and loopback)
ops_token = "…"                     # /readyz and /metrics want "Authorization: Bearer …" (empty: open)

[[web.accounts]]
officer = "head"                    # an id of [[officers]]
password_hash = "$argon2id$…"       # python -m pipeline.web.passwords
```

The table's keys and types are declared once, in :class:`pipeline.config.WebTable`, and validated with the rest
of the file when the configuration is loaded; this module turns the table into the desk's settings and keeps
the session key.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import Config, WebAccount, WebTable, validate_table

#: one ``[[web.accounts]]`` entry (``officer``, ``password_hash``), validated with the rest of qamqor.toml
Account = WebAccount


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
    lockout_client_failures: int = 20  # failed sign-ins from one client address within the window (#14.20)
    allowed_hosts: tuple[str, ...] = ()  # the Host header's allow-list; empty: the listening host and loopback
    ops_token: str = ""  # when set, /readyz and /metrics want "Authorization: Bearer <token>" (#14.20)
    upload_max_signatures: int = 20  # the public upload check's bounds (#14.4)
    upload_seconds: float = 20.0
    upload_concurrency: int = 2
    results_max: int = 20  # documents one /results page verifies (#14.20)
    accounts: tuple[Account, ...] = field(default_factory=tuple)

    @classmethod
    def from_config(cls, config: Config, **overrides: Any) -> WebSettings:
        """``[web]`` as :meth:`Config.load` validated it; ``overrides`` (tests, ``qamqor serve``) are validated
        the same way, and an account they add must name a configured officer."""
        table: WebTable = config.file.web
        if overrides:
            table = validate_table("web", {**table.model_dump(exclude_unset=True), **overrides}, config.source)
            for account in overrides.get("accounts", ()):
                config.officer(account["officer"] if isinstance(account, dict) else account.officer)  # NotFound
        secret = table.session_secret or _session_secret(config, table.session_secret_file)
        return cls(
            host=table.host, port=table.port, language=table.language, ncalayer_url=table.ncalayer_url,
            session_secret=secret, session_hours=table.session_hours, max_upload_bytes=table.max_upload_bytes,
            lockout_failures=table.lockout_failures, lockout_minutes=table.lockout_minutes,
            secure_cookies=table.secure_cookies, lockout_client_failures=table.lockout_client_failures,
            allowed_hosts=tuple(table.allowed_hosts), ops_token=table.ops_token,
            upload_max_signatures=table.upload_max_signatures, upload_seconds=table.upload_seconds,
            upload_concurrency=table.upload_concurrency, results_max=table.results_max, accounts=table.accounts,
        )

    def cookies_secure(self, host: str | None = None) -> bool:
        if self.secure_cookies is not None:
            return bool(self.secure_cookies)
        return (host or self.host) not in LOOPBACK

    def hosts(self, host: str | None = None) -> tuple[str, ...]:
        """The names a request's Host header may carry: ``allowed_hosts``, else the listening host and loopback."""
        if self.allowed_hosts:
            return tuple(h.lower() for h in self.allowed_hosts)
        return tuple(dict.fromkeys(((host or self.host).lower(), *LOOPBACK)))


LOOPBACK = ("127.0.0.1", "localhost", "::1")


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

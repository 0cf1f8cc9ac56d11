"""Sign-in and authority for the web desk.

Sessions are signed cookies (Starlette's ``SessionMiddleware``: itsdangerous, HttpOnly, SameSite=Strict,
Secure off 127.0.0.1) carrying only the officer's id, the sign-in time and the CSRF token.  Every POST form
carries that token (``csrf_ok``); JSON calls send it in ``X-CSRF-Token``.  Repeated failed sign-ins lock the
account for a while (``Lockout``, with an injectable clock for tests).

What an officer may see follows the queue's rules (:func:`pipeline.stages.sign.may_act`): documents of their role and
office; cases whose provider — or, for PSC operators, whose PSC — is their office.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..config import Config, Officer
from ..journal.store import CaseRow
from .passwords import DUMMY_HASH, verify_password
from .settings import WebSettings


@dataclass
class Lockout:
    """``failures`` wrong passwords for one account within the window lock it for ``minutes``."""

    failures: int = 5
    minutes: float = 15.0
    clock: Callable[[], float] = time.monotonic
    _seen: dict[str, list[float]] = field(default_factory=dict)
    _until: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def locked(self, account: str) -> float:
        """Seconds left of a lock-out (0 when the account may try)."""
        with self._lock:
            left = self._until.get(account, 0.0) - self.clock()
            return max(0.0, left)

    def failed(self, account: str) -> None:
        now = self.clock()
        window = self.minutes * 60
        with self._lock:
            seen = [t for t in self._seen.get(account, []) if now - t < window] + [now]
            if len(seen) >= self.failures:
                self._until[account] = now + window
                seen = []
            self._seen[account] = seen

    def succeeded(self, account: str) -> None:
        with self._lock:
            self._seen.pop(account, None)


class Accounts:
    def __init__(self, config: Config, settings: WebSettings, clock: Callable[[], float] = time.monotonic):
        self.config = config
        self.by_id = {a.officer: a for a in settings.accounts}
        self.lockout = Lockout(settings.lockout_failures, settings.lockout_minutes, clock)

    def sign_in(self, officer_id: str, password: str) -> tuple[Officer | None, float]:
        """The officer, or None and the seconds of a lock-out still to run (0: simply wrong)."""
        key = officer_id.strip().lower()
        left = self.lockout.locked(key)
        if left:
            return None, left
        account = self.by_id.get(officer_id.strip())
        ok = verify_password(account.password_hash if account else DUMMY_HASH, password) and account is not None
        if not ok:
            self.lockout.failed(key)
            return None, self.lockout.locked(key)
        self.lockout.succeeded(key)
        return self.config.officer(account.officer), 0.0

    def officer(self, session: dict[str, Any]) -> Officer | None:
        oid = session.get("officer")
        if not oid or oid not in self.by_id:
            return None
        return self.config.officer(oid)


# --- CSRF: a per-session token, compared in constant time ---------------------------------------------------


def csrf_token(session: dict[str, Any]) -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def csrf_ok(session: dict[str, Any], given: str | None) -> bool:
    want = session.get("csrf")
    return bool(want and given and hmac.compare_digest(str(want), str(given)))


# --- what an officer may see ---------------------------------------------------------------------------------


def sees_case(officer: Officer, case: CaseRow | None) -> bool:
    if case is None:
        return False
    if officer.role == "operator":
        return case.psc == officer.office
    return case.provider == officer.office


def case_filter(officer: Officer) -> tuple[str, str]:
    """The case field an officer's office is compared with (``provider``, or ``psc`` for PSC operators)."""
    return ("psc" if officer.role == "operator" else "provider"), officer.office

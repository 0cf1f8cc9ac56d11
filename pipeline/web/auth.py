"""Sign-in and authority for the web desk.

Sessions are signed cookies (Starlette's ``SessionMiddleware``: itsdangerous, HttpOnly, SameSite=Strict,
Secure off 127.0.0.1) carrying only the officer's id, a random session id, the sign-in time and the CSRF token;
the session itself is kept in the journal (its id's hash), so logging out ends it on the server (#14.12).  Every
POST form carries that token (``csrf_ok``); JSON calls send it in ``X-CSRF-Token``.  Repeated failed sign-ins
lock the account, and the client, for a while (``Lockout``, counted in the journal, with an injectable clock).

What an officer may see follows the queue's rules (:func:`pipeline.stages.sign.may_act`): documents of their role and
office; cases whose provider — or, for PSC operators, whose PSC — is their office.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from typing import Any

from ..config import Config, Officer
from ..journal import store
from ..journal.store import CaseRow
from .passwords import DUMMY_HASH, verify_password
from .settings import WebSettings


def _digest(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


class Lockout:
    """``failures`` wrong passwords for one account within the window lock it for ``minutes``; so do
    ``client_failures`` from one client address, whichever accounts it tries (#14.20).  Kept in the journal, so
    every desk process on it shares the count and a restart does not reset it.  Each attempt is counted, in one
    transaction with the check, *before* its password is verified (#14.11): a burst of concurrent guesses gets
    ``failures`` verifications, not one per request."""

    def __init__(self, journal: Any, failures: int = 5, minutes: float = 15.0,
                 clock: Callable[[], float] = time.time, client_failures: int = 20):
        self.journal, self.failures, self.client_failures = journal, failures, client_failures
        self.window = minutes * 60
        self.clock = clock

    def _limits(self, account: str, client: str | None) -> list[tuple[str, int, bool]]:
        keys = [(f"account:{account}", self.failures, True)]
        if client:
            keys.append((f"client:{client}", self.client_failures, False))
        return keys

    def begin(self, account: str, client: str | None = None) -> float:
        """Count an attempt; the seconds of a lock-out still to run (0: verify the password)."""
        now = self.clock()
        with self.journal.tx() as conn:
            return max(store.count_sign_in(conn, key, now=now, limit=limit, window=self.window)
                       for key, limit, _ in self._limits(account, client))

    def failed(self, account: str, client: str | None = None) -> float:
        now = self.clock()
        with self.journal.tx() as conn:
            return max(store.sign_in_failed(conn, key, now=now, limit=limit, window=self.window)
                       for key, limit, _ in self._limits(account, client))

    def succeeded(self, account: str, client: str | None = None) -> None:
        now = self.clock()
        with self.journal.tx() as conn:
            for key, _limit, forget in self._limits(account, client):
                store.sign_in_succeeded(conn, key, now=now, forget=forget)


class Accounts:
    """The officers who may sign in, their lock-outs, and their sessions: a session lives in the journal (the
    cookie carries only its random id), so a logout ends it for every copy of the cookie and every desk process
    (#14.12)."""

    def __init__(self, config: Config, settings: WebSettings, journal: Any, clock: Callable[[], float] = time.time):
        self.config = config
        self.journal = journal
        self.clock = clock
        self.session_seconds = settings.session_hours * 3600
        self.by_id = {a.officer: a for a in settings.accounts}
        self.lockout = Lockout(journal, settings.lockout_failures, settings.lockout_minutes, clock,
                               settings.lockout_client_failures)

    def accounts_named(self, name: str) -> list[str]:
        """The accounts a typed name means: a login (the officer's id), or an officer's IIN (issue 15 #1) —
        an IIN may name more than one account (one officer with a key file and with NCALayer)."""
        name = name.strip()
        if name in self.by_id:
            return [name]
        if name.isdigit() and len(name) == 12:
            return [o.id for o in self.config.officers if o.iin == name and o.id in self.by_id]
        return []

    def sign_in(self, officer_id: str, password: str, client: str | None = None) -> tuple[Officer | None, float]:
        """The officer, or None and the seconds of a lock-out still to run (0: simply wrong).  Each account the
        name may mean is counted (a lock-out is not dodged by typing the IIN instead of the login)."""
        ids = self.accounts_named(officer_id)
        keys = [i.lower() for i in ids] or [officer_id.strip().lower()]
        left = max(self.lockout.begin(key, client if n == 0 else None) for n, key in enumerate(keys))
        if left:
            return None, left
        found = None
        for oid in ids or [None]:
            account = self.by_id.get(oid) if oid else None
            if verify_password(account.password_hash if account else DUMMY_HASH, password) and account is not None:
                found = account
                break
        if found is None:
            return None, max(self.lockout.failed(key, client if n == 0 else None) for n, key in enumerate(keys))
        for n, key in enumerate(keys):
            self.lockout.succeeded(key, client if n == 0 else None)
        return self.config.officer(found.officer), 0.0

    def open_session(self, session: dict[str, Any], officer: Officer) -> None:
        """Record a new session for ``officer`` and put its id in the (already cleared) cookie session."""
        sid = secrets.token_urlsafe(32)
        now = self.clock()
        with self.journal.tx() as conn:
            store.open_desk_session(conn, _digest(sid), officer.id, now=now, expires_at=now + self.session_seconds)
        session.update({"officer": officer.id, "sid": sid})

    def end_session(self, session: dict[str, Any]) -> None:
        sid = session.get("sid")
        if sid:
            with self.journal.tx() as conn:
                store.end_desk_session(conn, _digest(str(sid)))

    def officer(self, session: dict[str, Any]) -> Officer | None:
        oid, sid = session.get("officer"), session.get("sid")
        if not oid or not sid or oid not in self.by_id:
            return None
        if store.desk_session_officer(self.journal, _digest(str(sid)), now=self.clock()) != oid:
            return None  # ended by a logout (here or in another desk process), or expired
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

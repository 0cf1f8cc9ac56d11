"""What every page of the desk shares: the :class:`Desk` (the process's :class:`~pipeline.services.Services`,
the officers' accounts, the prepared NCALayer signatures, the templates) and the small helpers of a request —
the signed-in officer, the CSRF-checked form, the flash message, a safe redirect.

The desk reads the journal only through :mod:`pipeline.journal.store` and acts only through
:mod:`pipeline.queue`, exactly as ``qamqor queue`` does.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from .. import clock
from .. import queue as Q
from ..config import Config, Officer
from ..errors import QamqorError
from ..journal import store
from ..services import Services
from . import external
from .auth import Accounts, csrf_ok, csrf_token, sees_case
from .i18n import LANGUAGES, kind_title, translator
from .settings import WebSettings
from .uploads import UploadChecks
from .words import code_of, days_phrase, official_date, official_datetime, word

HERE = Path(__file__).resolve().parent


class Desk:
    """Everything the handlers share: configuration, the services, accounts, prepared external signatures."""

    def __init__(self, config: Config, settings: WebSettings, *, services: Services | None = None,
                 clock_fn: Callable[[], float] = time.time):
        self.config = config
        self.settings = settings
        self.owns_services = services is None  # a shared Services is closed by whoever built it
        self.services = services or Services.build(config)
        self.accounts = Accounts(config, settings, self.services.journal, clock_fn)
        # in the journal (issue 10 #4): several desk processes share the signatures NCALayer is making
        self.prepared = external.PreparedStore(journal=self.services.journal)
        self.sign_lock = threading.Lock()
        self.uploads = UploadChecks(list(config.signing.trust_roots), max_signatures=settings.upload_max_signatures,
                                    seconds=settings.upload_seconds, concurrency=settings.upload_concurrency)
        self.previews = config.work / "web-previews"
        env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(HERE / "templates")), autoescape=True)
        self.templates = Jinja2Templates(env=env)
        self.templates.env.globals["kind_title"] = kind_title
        self.templates.env.globals["word"] = word
        self.templates.env.globals["days_phrase"] = days_phrase
        self.templates.env.filters["date"] = official_date
        self.templates.env.filters["datetime"] = official_datetime
        self._office_names: dict[str, dict[str, str]] = {}

    @property
    def journal(self) -> Any:
        return self.services.journal

    def close(self) -> None:
        if self.owns_services:
            self.services.close()

    # --- pages ---------------------------------------------------------------------------------------------

    def language(self, request: Request) -> str:
        lang = request.session.get("lang")
        return lang if lang in LANGUAGES else self.settings.language

    def render(self, request: Request, name: str, status: int = 200, **context: Any) -> Response:
        lang = self.language(request)
        officer = self.accounts.officer(request.session)
        flash = request.session.pop("flash", None)
        offices = self.office_names(officer.office) if officer else {}
        return self.templates.TemplateResponse(request, name, {
            "t": translator(lang), "lang": lang, "officer": officer, "csrf": csrf_token(request.session),
            "office_name": (offices.get(officer.office, {}).get(lang) if officer else None) or "",
            "flash": flash, "path": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
            **context,
        }, status_code=status)

    def officer(self, request: Request) -> Officer:
        officer = self.accounts.officer(request.session)
        if officer is None:
            raise HTTPException(401)
        return officer

    # --- the journal, as an officer may see it -------------------------------------------------------------

    def case_row(self, case_id: str) -> store.CaseRow | None:
        return store.get_case(self.journal, case_id)

    def visible_document(self, officer: Officer, document_id: str) -> store.DocumentRow:
        """The document, when the officer may act on it or sees its case; 404 otherwise (never 403: another
        district's documents do not exist for this officer)."""
        doc = store.get_document(self.journal, document_id)
        if doc is None or not (Q.may_act(self.services, officer, doc) or (
                sees_case(officer, self.case_row(doc.case_id)) and role_may_read(officer, doc))):
            raise HTTPException(404)
        return doc

    def applicants(self, case_ids: list[str]) -> dict[str, str]:
        """``case_id`` → the applicant's name, from the applied ``application.submitted`` events (which also
        name the offices: kept for :meth:`office_names`)."""
        out: dict[str, str] = {}
        for e in store.submitted_applications(self.journal, case_ids):
            data = e.tree.get("data", {})
            a = data.get("applicant", {})
            out[e.case_id] = " ".join(x for x in (a.get("surname"), a.get("given_name"), a.get("patronymic")) if x)
            self._learn_offices(data)
        return out

    def _learn_offices(self, data: dict[str, Any]) -> None:
        for key in ("provider", "psc"):
            office = data.get(key)
            if isinstance(office, dict) and office.get("code") and office.get("name_kk"):
                self._office_names[office["code"]] = {"kk": office["name_kk"], "ru": office.get("name_ru", "")}

    def office_names(self, office: str | None = None) -> dict[str, dict[str, str]]:
        """Office code → its name in kk and ru, as the applications name them (an officer reads names, never
        codes); ``office``: make sure that one is known (one of its cases is read once)."""
        if office and office not in self._office_names:
            rows = store.office_cases(self.journal, provider=office) or store.office_cases(self.journal, psc=office)
            if rows:
                self.applicants([rows[0].case_id])
            self._office_names.setdefault(office, {})
        return self._office_names

    def verification(self, data: bytes) -> Any:
        """Every signature of ``data``, with the signing policy applied (#14.13: who may sign this document)."""
        from .. import authorised  # heavy (pyHanko): loaded on the first verification

        return authorised.verify(self.config, data, self.services)

    def working_days(self, due: str | None) -> tuple[int | None, bool]:
        """Working days from today to ``due``, and whether it is overdue."""
        if not due:
            return None, False
        today = clock.today()
        day = dt.date.fromisoformat(due)
        return self.services.rules.calendar.working_days_between(today, day), today > day


def role_may_read(officer: Officer, doc: store.DocumentRow) -> bool:
    """A PSC operator reads only what the PSC receives (receipts, the result of a case that came that way);
    the inspection act (income, household, the child's conditions) stays with the guardianship body."""
    return officer.role != "operator" or "psc" in doc.routes


# --- helpers of a request --------------------------------------------------------------------------------------


def desk_of(request: Request) -> Desk:
    return request.app.state.desk


def safe_next(value: str | None) -> str:
    """Only a path on this site (no open redirect)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/queue"
    parts = urlsplit(value)
    return parts.path + (f"?{parts.query}" if parts.query else "")


async def checked_form(request: Request) -> Any:
    """The posted form, after its CSRF token is checked (403 otherwise)."""
    form = await request.form()
    if not csrf_ok(request.session, form.get("csrf")):
        raise HTTPException(403, "CSRF")
    return form


def flash(request: Request, kind: str, text: str, code: str | None = None) -> None:
    """A message for the next page; an error keeps its stable code for support (shown small, aside)."""
    request.session["flash"] = {"kind": kind, "text": text, **({"code": code} if code else {})}


def declared_length(request: Request) -> int:
    try:
        return int(request.headers.get("content-length") or 0)
    except ValueError:
        raise HTTPException(400, "bad Content-Length") from None


def error_text(err: BaseException) -> str:
    return err.one_line() if isinstance(err, QamqorError) else f"{type(err).__name__}: {err}"


def record_failure(desk: Desk, document_id: str, officer: Officer, err: BaseException) -> None:
    with desk.journal.tx() as conn:
        store.step(conn, document_id, "signing-failed", officer=officer.id, via="web", error=error_text(err),
                   code=code_of(err))

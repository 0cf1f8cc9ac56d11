"""Signing in and out, and the page language (kk or ru, kept in the session)."""

from __future__ import annotations

import logging
import time

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..auth import csrf_token
from ..desk import checked_form, desk_of, safe_next
from ..i18n import LANGUAGES, translator

log = logging.getLogger("qamqor.web")


def login_page(request: Request) -> Response:
    return desk_of(request).render(request, "login.html", next=safe_next(request.query_params.get("next")),
                                   title_key="login.title")


async def login(request: Request) -> Response:
    desk = desk_of(request)
    form = await checked_form(request)
    officer_id = str(form.get("officer", ""))[:64]
    password = str(form.get("password", ""))[:1024]
    # argon2 takes a while on purpose: off the event loop; the lock-out counts per account and per client (#14.20)
    client = request.client.host if request.client else None
    officer, locked = await run_in_threadpool(desk.accounts.sign_in, officer_id, password, client)
    if officer is None:
        t = translator(desk.language(request))
        text = t("login.locked", minutes=int(locked // 60) + 1) if locked else t("login.wrong")
        log.warning("web sign-in refused for %r (%s)", officer_id, "locked" if locked else "wrong password")
        return desk.render(request, "login.html", status=429 if locked else 401, error=text,
                           next=safe_next(str(form.get("next", ""))), typed=officer_id)
    lang = request.session.get("lang")
    draft = request.session.get("draft")  # what was typed before the session ran out (issue 15 #3)
    desk.accounts.end_session(request.session)  # a new session on sign-in: the old one ends on the server too
    request.session.clear()
    request.session.update({"at": int(time.time()), "lang": lang or desk.settings.language})
    if draft:
        request.session["draft"] = draft
    desk.accounts.open_session(request.session, officer)  # kept in the journal: revocable (#14.12)
    csrf_token(request.session)
    log.info("web sign-in: %s", officer.id)
    return RedirectResponse(safe_next(str(form.get("next", ""))), status_code=303)


async def logout(request: Request) -> Response:
    await checked_form(request)
    lang = request.session.get("lang")
    desk_of(request).accounts.end_session(request.session)  # every copy of the cookie is signed out (#14.12)
    request.session.clear()
    if lang:
        request.session["lang"] = lang
    return RedirectResponse("/login", status_code=303)


def set_language(request: Request) -> Response:
    lang = request.path_params["lang"]
    if lang in LANGUAGES:
        request.session["lang"] = lang
    return RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)


def home(request: Request) -> Response:
    return RedirectResponse("/queue", status_code=303)

"""The officers' web desk (issue 6): the signature queue, cases and verification in the browser.

Starlette with server-rendered Jinja2 pages (autoescaped) and a little JavaScript (selecting a batch, and the
NCALayer loop for officers who sign in their browser).  The desk shares the journal and the queue with
``qamqor run``: it holds one more :class:`pipeline.services.Services` on the same state folder, reads through
:mod:`pipeline.journal.store` and acts only through :mod:`pipeline.queue` (approve, reject).

This module is the application: the routes (the pages live in :mod:`pipeline.web.pages`, one module per area),
the middleware in its order, the error pages, and ``qamqor serve``.  Handlers that sign or verify are plain
functions or run in Starlette's thread pool, where signing and verification (which run their own event loops)
belong.
"""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import urlencode, urlsplit

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..config import Config
from .desk import HERE, Desk, desk_of, flash, safe_next
from .i18n import translator
from .middleware import BodyLimit, SecurityHeaders
from .pages import cases, documents, ncalayer, ops, public, queue, session
from .settings import WebSettings
from .words import error_words

log = logging.getLogger("qamqor.web")


def _back(request: Request, form: Any = None) -> str:
    """The page an action was posted from (its form's ``back`` field, or the Referer on this site)."""
    if form is not None and form.get("back"):
        return safe_next(str(form.get("back")))
    ref = urlsplit(request.headers.get("referer", ""))
    if ref.netloc and ref.netloc != request.url.netloc:
        return "/queue"
    return safe_next(ref.path + (f"?{ref.query}" if ref.query else "")) if ref.path else "/queue"


async def _keep_draft(request: Request) -> str:
    """What the officer typed into the form that could not be taken (no secrets), kept in the session for the
    page it came from; returns that page."""
    try:
        form = await request.form()
    except Exception:  # an unreadable body: nothing to keep
        return _back(request)
    back = _back(request, form)
    fields = {k: str(v)[:2000] for k, v in form.multi_items() if k not in KEPT_OUT and isinstance(v, str)}
    if fields:
        request.session["draft"] = {"path": urlsplit(back).path, "fields": fields}
    return back


#: never kept from a form: the token, passwords and PINs
KEPT_OUT = ("csrf", "secret", "password", "doc", "back")


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    desk = desk_of(request)
    lang = desk.language(request)
    t = translator(lang)
    wants_json = request.headers.get("accept", "").startswith("application/json")
    if exc.status_code == 401:
        if wants_json:  # the page's script: it says so in words and sends the officer to sign in
            return JSONResponse({"ok": False, "error": error_words("W-SESSION", lang), "login": "/login"},
                                status_code=401)
        back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.method != "GET":
            back = await _keep_draft(request)
            flash(request, "warning", t("session.expired_kept"))
        return RedirectResponse("/login?" + urlencode({"next": back}), status_code=303)
    if exc.status_code == 403 and exc.detail == "CSRF":  # a form left open too long, or from another tab
        if wants_json:
            return JSONResponse({"ok": False, "error": error_words("W-STALE-FORM", lang)}, status_code=403)
        back = await _keep_draft(request)  # kept: the page it came from shows it again, with a fresh token
        return desk.render(request, "error.html", status=403, message=error_words("W-STALE-FORM", lang)["text"],
                           code="W-STALE-FORM", back=back)
    message = {403: t("error.forbidden"), 404: t("error.not_found"),
               405: t("error.method")}.get(exc.status_code, t("error.bad_request"))
    return desk.render(request, "error.html", status=exc.status_code, message=message,
                       code=f"HTTP-{exc.status_code}")


ROUTES = [
    Route("/", session.home),
    Route("/login", session.login_page, methods=["GET"]),
    Route("/login", session.login, methods=["POST"]),
    Route("/logout", session.logout, methods=["POST"]),
    Route("/lang/{lang}", session.set_language),
    Route("/queue", queue.queue_page),
    Route("/queue/confirm", queue.confirm_page),
    Route("/queue/approve", queue.approve, methods=["POST"]),
    Route("/results", queue.results_page),
    Route("/documents/{document_id}", documents.document_page),
    Route("/documents/{document_id}/pdf", documents.document_pdf),
    Route("/documents/{document_id}/page/{page:int}.png", documents.document_png),
    Route("/documents/{document_id}/{sha256}/page/{page:int}.png", documents.document_png),
    Route("/documents/{document_id}/reject", documents.reject, methods=["POST"]),
    Route("/external/prepare", ncalayer.external_prepare, methods=["POST"]),
    Route("/external/finish", ncalayer.external_finish, methods=["POST"]),
    Route("/cases", cases.cases_page),
    Route("/cases/{case_id}", cases.case_page),
    Route("/v/{document_id}", public.public_document),
    Route("/verify", public.verify_form, methods=["GET"]),
    Route("/verify", public.verify_upload, methods=["POST"]),
    Route("/healthz", ops.healthz),
    Route("/readyz", ops.readyz),
    Route("/metrics", ops.metrics),
    Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
]


def create_app(config: Config, **overrides: Any) -> Starlette:
    """The desk as an ASGI application.  ``overrides``: ``[web]`` settings (e.g. ``accounts``, ``ncalayer_url``),
    plus ``services=`` (a shared :class:`~pipeline.services.Services`, e.g. a runner's) and ``clock=``
    (lock-out tests)."""
    services = overrides.pop("services", None)
    clock_fn = overrides.pop("clock", time.time)  # wall-clock seconds: sessions and lock-outs outlive a restart
    settings = WebSettings.from_config(config, **overrides)
    desk = Desk(config, settings, services=services, clock_fn=clock_fn)
    app = Starlette(
        routes=ROUTES,
        # outermost first: the body limit before anything reads a body; the headers on every response
        middleware=[
            Middleware(BodyLimit, limit=settings.max_upload_bytes + 65536),
            Middleware(SecurityHeaders, ncalayer_url=settings.ncalayer_url, hsts=settings.cookies_secure()),
            # only the Host names of the allow-list (#14.20): no DNS rebinding, no forged absolute links
            Middleware(TrustedHostMiddleware, allowed_hosts=list(settings.hosts())),
            Middleware(SessionMiddleware, secret_key=settings.session_secret, session_cookie="qamqor_session",
                       max_age=int(settings.session_hours * 3600), same_site="strict",
                       https_only=settings.cookies_secure()),
        ],
        exception_handlers={HTTPException: http_error},
    )
    app.state.desk = desk
    return app


def serve(config: Config, host: str | None = None, port: int | None = None) -> None:
    """``qamqor serve``: the desk on ``[web] host:port`` (127.0.0.1:8480 by default), one process."""
    import uvicorn  # only the server needs it

    settings = WebSettings.from_config(config)
    host = host or settings.host
    port = port or settings.port
    overrides: dict[str, Any] = {}
    if settings.secure_cookies is None:
        overrides["secure_cookies"] = settings.cookies_secure(host)
    if not settings.allowed_hosts:
        overrides["allowed_hosts"] = list(settings.hosts(host))
    app = create_app(config, **overrides)
    if not settings.accounts:
        log.warning("no [[web.accounts]]: nobody can sign in (python -m pipeline.web.passwords makes a hash)")
    try:
        uvicorn.run(app, host=host, port=port, workers=1, log_level="info", proxy_headers=False,
                    server_header=False)
    finally:
        app.state.desk.close()

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
from urllib.parse import urlencode

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
from .desk import HERE, Desk, desk_of
from .i18n import translator
from .middleware import BodyLimit, SecurityHeaders
from .pages import cases, documents, ncalayer, ops, public, queue, session
from .settings import WebSettings

log = logging.getLogger("qamqor.web")


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    desk = desk_of(request)
    if exc.status_code == 401:
        if request.headers.get("accept", "").startswith("application/json") or request.method != "GET":
            return JSONResponse({"ok": False, "error": "sign in first"}, status_code=401)
        return RedirectResponse("/login?" + urlencode({"next": request.url.path}), status_code=303)
    t = translator(desk.language(request))
    message = {403: t("error.forbidden"), 404: t("error.not_found")}.get(exc.status_code, exc.detail)
    return desk.render(request, "error.html", status=exc.status_code, message=message)


ROUTES = [
    Route("/", session.home),
    Route("/login", session.login_page, methods=["GET"]),
    Route("/login", session.login, methods=["POST"]),
    Route("/logout", session.logout, methods=["POST"]),
    Route("/lang/{lang}", session.set_language),
    Route("/queue", queue.queue_page),
    Route("/queue/approve", queue.approve, methods=["POST"]),
    Route("/results", queue.results_page),
    Route("/documents/{document_id}", documents.document_page),
    Route("/documents/{document_id}/pdf", documents.document_pdf),
    Route("/documents/{document_id}/page/{page:int}.png", documents.document_png),
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

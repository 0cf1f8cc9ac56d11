"""The desk's own ASGI middleware: security headers on every response, and a bound on every request body."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from starlette.responses import Response


class SecurityHeaders:
    """CSP (scripts only from /static; the NCALayer socket the only other connection), no framing, no sniffing;
    ``Cache-Control: no-store`` on everything but /static (pages, PDFs and previews carry children's data: no
    browser or proxy keeps them, #14.20); HSTS when the desk is not on loopback (#14.20)."""

    def __init__(self, app: Any, ncalayer_url: str, hsts: bool = False):
        self.app = app
        self.hsts = hsts
        origin = urlsplit(ncalayer_url)
        connect = f"{origin.scheme}://{origin.netloc}" if origin.netloc else ""
        self.csp = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                    f"connect-src 'self' {connect}; frame-src 'self'; object-src 'self'; "
                    "frame-ancestors 'self'; base-uri 'none'; form-action 'self'").encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def wrapped(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(b"content-security-policy", self.csp), (b"x-content-type-options", b"nosniff"),
                            (b"referrer-policy", b"same-origin"), (b"x-frame-options", b"SAMEORIGIN")]
                if not scope.get("path", "").startswith("/static/"):
                    headers = [(k, v) for k, v in headers if k.lower() != b"cache-control"]
                    headers.append((b"cache-control", b"no-store"))
                if self.hsts:
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, wrapped)


class BodyLimit:
    """Every request body has a declared length within the limit: a chunked upload with no Content-Length
    (which Starlette would spool without bound) is refused with 411, a larger one with 413."""

    def __init__(self, app: Any, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] in ("POST", "PUT", "PATCH"):
            headers = dict(scope.get("headers") or [])
            length = headers.get(b"content-length")
            status = 411 if length is None else (413 if not length.isdigit() or int(length) > self.limit else 0)
            if status:
                response = Response(status_code=status)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

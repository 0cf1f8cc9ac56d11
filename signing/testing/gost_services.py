"""The GOST test PKI's services on one port (NOT FOR PRODUCTION): TSA, OCSP responder, CRLs.

``POST /gost/tsa`` (``application/timestamp-query``, Streebog-512 imprints; an RFC 3161 rejection otherwise),
``POST /gost/ocsp`` (``application/ocsp-request``), ``GET /gost/root.crl`` and ``/gost/ca.crl``: what the
certificates of :mod:`signing.testing.gost_pki` name when it was built with ``url_prefix`` =
``http://127.0.0.1:<port>/gost``.  The clock is injectable (``clock``), so a test can stand at any moment.
CRLs are issued once per ``crl_every`` (GOST signing in pure Python costs ≈0.3 s).

Run it for a PKI written by :meth:`GostPKI.write`::

    python -m signing.testing.gost_services --pki var/demo-pki/gost --port 9779
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from asn1crypto import ocsp, tsp

from signing import gost, gost_tsp

from .gost_pki import GostPKI, load_gost_pki
from .tsa_server import MAX_REQUEST_BYTES, BackgroundServer, rejection


class GostServices:
    """What the server answers, without HTTP (tests may call it directly)."""

    def __init__(self, pki: GostPKI, clock: Callable[[], dt.datetime] | None = None,
                 crl_every: dt.timedelta = dt.timedelta(hours=1)):
        self.pki = pki
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.crl_every = crl_every
        self._serials = itertools.count(int(self.clock().timestamp() * 1000))
        self._crls: dict[str, tuple[dt.datetime, bytes]] = {}
        self._lock = threading.Lock()

    def timestamp(self, body: bytes) -> bytes:
        try:
            req = tsp.TimeStampReq.load(body, strict=True)
            req.native  # noqa: B018 - parse it all now
        except (ValueError, TypeError, KeyError) as e:
            return rejection("bad_data_format", f"not a DER TimeStampReq: {e}").dump()
        imprint = req["message_imprint"]
        if imprint["hash_algorithm"]["algorithm"].native != gost.HASH_NAMES[gost.STREEBOG_512] \
                or len(imprint["hashed_message"].native) != 64:
            return rejection("bad_alg", "this TSA stamps Streebog-512 imprints only").dump()
        with self._lock:
            serial = next(self._serials)
        token = gost_tsp.make_token(imprint["hashed_message"].native, key=self.pki.tsa_key, cert=self.pki.tsa_cert,
                                    chain=[self.pki.ca], gen_time=self.clock().replace(microsecond=0),
                                    serial=serial, nonce=req["nonce"].native,
                                    include_certs=bool(req["cert_req"].native))
        return tsp.TimeStampResp({"status": {"status": "granted"}, "time_stamp_token": token}).dump()

    def ocsp(self, body: bytes) -> bytes:
        try:
            req = ocsp.OCSPRequest.load(body, strict=True)
            req.native  # noqa: B018
        except (ValueError, TypeError, KeyError):
            return ocsp.OCSPResponse({"response_status": "malformed_request"}).dump()
        return gost_tsp.make_ocsp_response(req, issuer=self.pki.ca, responder=self.pki.ocsp_cert,
                                           key=self.pki.ocsp_key, revoked=self.pki.revoked(),
                                           now=self.clock().replace(microsecond=0)).dump()

    def crl(self, which: str) -> bytes:
        now = self.clock().replace(microsecond=0)
        with self._lock:
            cached = self._crls.get(which)
            if cached is None or not cached[0] <= now < cached[0] + self.crl_every:
                crl = self.pki.root_crl(now) if which == "root" else self.pki.ca_crl(now)
                cached = self._crls[which] = (now, crl.dump())
        return cached[1]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: GostServiceServer

    def do_POST(self):  # noqa: N802 - http.server's naming
        try:
            length = int(self.headers.get("Content-Length") or "")
        except ValueError:
            return self._send(411, "text/plain", b"Content-Length is required\n")
        if not 0 < length <= MAX_REQUEST_BYTES:
            return self._send(413, "text/plain", b"request too large\n")
        body = self.rfile.read(length)
        path = self.path.rstrip("/")
        if path.endswith("/tsa"):
            return self._send(200, "application/timestamp-reply", self.server.services.timestamp(body))
        if path.endswith("/ocsp"):
            return self._send(200, "application/ocsp-response", self.server.services.ocsp(body))
        return self._send(404, "text/plain", b"no such service\n")

    def do_GET(self):  # noqa: N802
        for which in ("root", "ca"):
            if self.path.endswith(f"/{which}.crl"):
                return self._send(200, "application/pkix-crl", self.server.services.crl(which))
        return self._send(404, "text/plain", b"qamqor GOST test services (NOT FOR PRODUCTION)\n")

    def _send(self, code: int, ctype: str, data: bytes):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):  # noqa: A002 - http.server's signature
        pass


class GostServiceServer(BackgroundServer):
    """The services over HTTP; ``start()`` serves in a thread, ``close()`` stops it."""

    def __init__(self, services: GostServices, host: str = "127.0.0.1", port: int = 0):
        super().__init__((host, port), _Handler)
        self.services = services


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m signing.testing.gost_services", description=__doc__.split("\n\n")[0])
    ap.add_argument("--pki", type=Path, required=True, help="a GOST test PKI directory (gost-pki.json)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=9779)
    args = ap.parse_args(argv)
    try:
        pki = load_gost_pki(args.pki)
        server = GostServiceServer(GostServices(pki), args.host, args.port)
    except (OSError, ValueError, KeyError) as e:
        print(f"cannot start the GOST services: {e}", file=sys.stderr)
        return 2
    print(f"GOST TSA, OCSP and CRLs (NOT FOR PRODUCTION) on http://{args.host}:{args.port}/gost", flush=True)
    server.serve_until_interrupted()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A small, fast RFC 3161 timestamp server for tests, benchmarks and demos (NOT a production TSA).

certomancer's TSA answers in ~48 ms because it loads and checks its RSA key for every request.  This one keeps
the TSA certificate and key loaded and builds each token with pyHanko's own TSA code
(:class:`pyhanko.sign.timestamps.dummy_client.DummyTimeStamper`: TSTInfo, signed attributes, SignedData), so a
token costs well under a millisecond plus the HTTP round trip on 127.0.0.1.  The tokens are real: signed by
the demo PKI's TSA key, with the TSA certificate (timeStamping EKU, critical) embedded, and they validate with
pyHanko and poppler like certomancer's.

Run it next to certomancer (which keeps serving OCSP and CRLs)::

    python -m signing.testing.tsa_server --pki var/demo-pki --port 9778

and sign with ``SigningOptions(tsa_url="http://127.0.0.1:9778/tsa")``.  It answers
``application/timestamp-query`` POSTs on any path; malformed or unsupported requests get an RFC 3161
``rejection`` with the failure reason, as the RFC asks, not an HTTP error.
"""

from __future__ import annotations

import argparse
import sys
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import tzlocal
from asn1crypto import cms, core, keys, tsp, x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from pyhanko.sign import general
from pyhanko.sign.general import simple_cms_attribute
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko_certvalidator.util import get_pyca_cryptography_hash

#: the policy OID pyHanko's DummyTimeStamper puts into every TSTInfo
TSA_POLICY = "1.3.6.1.4.1.4146.2.2"
#: digests accepted in the message imprint, with their lengths
DIGESTS = {"sha256": 32, "sha384": 48, "sha512": 64}
MAX_REQUEST_BYTES = 16 * 1024


class RequestRejected(Exception):
    def __init__(self, fail_info: str, text: str):
        super().__init__(text)
        self.fail_info = fail_info


class LoadedKeyTimeStamper(DummyTimeStamper):
    """pyHanko's ``DummyTimeStamper`` with the key parsed once and the certificate attribute encoded once.

    ``DummyTimeStamper._sign_tst_info`` re-loads the private key from DER for every token (RSA key checks,
    ~37 ms) and re-encodes the TSA certificate's signing-certificate attribute; this override does the same
    signing with the key and attribute kept.  Thread-safe: nothing is mutated after construction.
    """

    def __init__(self, tsa_cert: x509.Certificate, pyca_key: RSAPrivateKey, certs_to_embed=()):
        if not isinstance(pyca_key, RSAPrivateKey):
            raise ValueError("the TSA key must be RSA (pyHanko's dummy TSA code signs with PKCS#1 v1.5)")
        der = pyca_key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption())
        super().__init__(tsa_cert=tsa_cert, tsa_key=keys.PrivateKeyInfo.load(der), certs_to_embed=list(certs_to_embed))
        self._pyca_key = pyca_key
        self._signing_certificate_der = general.as_signing_certificate(tsa_cert).dump()

    def _sign_tst_info(self, tst_info_data: bytes, md_algorithm: str, dt: datetime):
        # as pyHanko 0.38's DummyTimeStamper._sign_tst_info, minus the per-token key load
        md = hashes.Hash(get_pyca_cryptography_hash(md_algorithm))
        md.update(tst_info_data)
        signed_attrs = cms.CMSAttributes([
            simple_cms_attribute("content_type", "tst_info"),
            simple_cms_attribute("signing_time", cms.Time({"utc_time": core.UTCTime(dt)})),
            simple_cms_attribute("signing_certificate", tsp.SigningCertificate.load(self._signing_certificate_der)),
            simple_cms_attribute("message_digest", md.finalize()),
        ])
        signature = self._pyca_key.sign(signed_attrs.dump(), PKCS1v15(), get_pyca_cryptography_hash(md_algorithm))
        return signature, signed_attrs

    def check_request(self, req: tsp.TimeStampReq) -> None:
        """What this TSA cannot honour is refused (RFC 3161 §2.4.2 failure info), never silently ignored."""
        if req["version"].native != "v1":
            raise RequestRejected("bad_request", "only TimeStampReq version 1 is supported")
        imprint = req["message_imprint"]
        algo = imprint["hash_algorithm"]["algorithm"].native
        if algo not in DIGESTS:
            raise RequestRejected("bad_alg", f"unsupported digest {algo}; use {', '.join(DIGESTS)}")
        if len(imprint["hashed_message"].native) != DIGESTS[algo]:
            raise RequestRejected("bad_data_format", f"the {algo} imprint has the wrong length")
        if req["req_policy"].native is not None and req["req_policy"].dotted != TSA_POLICY:
            raise RequestRejected("unaccepted_policy", f"this TSA issues under policy {TSA_POLICY} only")
        if req["extensions"].native:
            raise RequestRejected("unaccepted_extension", "request extensions are not supported")

    def respond(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        """A granted response with a token (``certReq`` honoured), built by pyHanko's DummyTimeStamper steps."""
        self.check_request(req)
        message_imprint = req["message_imprint"]
        md_algorithm = message_imprint["hash_algorithm"]["algorithm"].native
        dt = self.fixed_dt or datetime.now(tz=tzlocal.get_localzone())
        tst_info_data = self._build_tst_info(message_imprint, dt, req).dump()
        signature, signed_attrs = self._sign_tst_info(tst_info_data, md_algorithm, dt)
        signed_data = self._build_signed_data(tst_info_data, md_algorithm, signature, signed_attrs)
        if not req["cert_req"].native:
            del signed_data["certificates"]
        token = cms.ContentInfo({"content_type": "signed_data", "content": cms.SignedData(signed_data)})
        return tsp.TimeStampResp({"status": {"status": "granted"}, "time_stamp_token": token})

    def request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        return self.respond(req)


class _RejectionResp(core.Sequence):
    """``TimeStampResp`` without the token (asn1crypto's class does not mark ``timeStampToken`` OPTIONAL)."""

    _fields = [("status", tsp.PKIStatusInfo)]


def rejection(fail_info: str, text: str) -> _RejectionResp:
    return _RejectionResp({
        "status": {"status": "rejection", "status_string": [text], "fail_info": tsp.PKIFailureInfo({fail_info})}
    })


def answer(stamper: LoadedKeyTimeStamper, body: bytes) -> bytes:
    """The DER ``TimeStampResp`` for one request body."""
    try:
        req = tsp.TimeStampReq.load(body, strict=True)
        req.native  # parse everything now: asn1crypto is lazy, and a bad request must fail here  # noqa: B018
    except (ValueError, TypeError, KeyError) as e:
        return rejection("bad_data_format", f"not a DER TimeStampReq: {e}").dump()
    try:
        return stamper.respond(req).dump()
    except RequestRejected as e:
        return rejection(e.fail_info, str(e)).dump()


def load_tsa(cert_path: Path, key_path: Path, certs_to_embed=()) -> LoadedKeyTimeStamper:
    """The TSA certificate (PEM/DER) and its unencrypted PKCS#8 PEM key; the certificate must be a TSA's."""
    from pyhanko.keys import load_cert_from_pemder

    cert = load_cert_from_pemder(str(cert_path))
    eku = cert.extended_key_usage_value
    if eku is None or eku.native != ["time_stamping"] or "extended_key_usage" not in cert.critical_extensions:
        raise ValueError(f"{cert_path} is not a TSA certificate (RFC 3161 §2.3: timeStamping as the only, critical EKU)")
    pyca_key = serialization.load_pem_private_key(Path(key_path).read_bytes(), password=None)
    return LoadedKeyTimeStamper(cert, pyca_key, certs_to_embed)


def load_tsa_from_pki(directory: Path) -> LoadedKeyTimeStamper:
    """The TSA of a demo/test PKI made by :func:`signing.testing.pki.build_pki` (``tsa.crt``, ``keys/tsa.key.pem``)."""
    directory = Path(directory)
    return load_tsa(directory / "tsa.crt", directory / "keys" / "tsa.key.pem")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive for clients that reuse connections
    disable_nagle_algorithm = True  # headers and body go out at once, no delayed-ACK stall
    server: TimestampServer

    def do_POST(self):  # noqa: N802 - http.server's naming
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != "application/timestamp-query":
            return self._plain(415, "send an RFC 3161 request as application/timestamp-query\n")
        try:
            length = int(self.headers.get("Content-Length") or "")
        except ValueError:
            return self._plain(411, "Content-Length is required\n")
        if not 0 < length <= MAX_REQUEST_BYTES:
            return self._plain(413, "request too large\n")
        body = self.rfile.read(length)
        out = answer(self.server.stamper, body)
        self.server.answered += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/timestamp-reply")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def do_GET(self):  # noqa: N802
        self._plain(405, "qamqor demo RFC 3161 TSA (NOT FOR PRODUCTION): POST application/timestamp-query\n",
                    allow="POST")

    def _plain(self, code: int, text: str, **headers):
        data = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers.items():
            self.send_header(k.title(), v)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):  # noqa: A002 - http.server's signature
        if self.server.verbose:
            super().log_message(format, *args)


class BackgroundServer(ThreadingHTTPServer):
    """A test server that ``start()`` serves in a thread of its own and ``close()`` (or ``with``) stops."""

    daemon_threads = True
    _thread: threading.Thread | None = None

    def start(self):
        self._thread = threading.Thread(target=self.serve_forever, name=type(self).__name__, daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        if self._thread is not None:
            self.shutdown()
            self._thread.join()
            self._thread = None
        self.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def serve_until_interrupted(self) -> None:
        """Serve in this thread until Ctrl-C (the command lines of the test servers)."""
        try:
            self.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            self.server_close()


class TimestampServer(BackgroundServer):
    """An HTTP server answering RFC 3161 requests with ``stamper``; ``start()`` serves in a thread."""

    def __init__(self, stamper: LoadedKeyTimeStamper, host: str = "127.0.0.1", port: int = 0, *, verbose=False):
        super().__init__((host, port), _Handler)
        self.stamper = stamper
        self.verbose = verbose
        self.answered = 0  #: requests answered (what a test counts)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/tsa"



def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m signing.testing.tsa_server", description=__doc__.split("\n\n")[0])
    ap.add_argument("--pki", type=Path, help="a demo/test PKI directory (tsa.crt, keys/tsa.key.pem)")
    ap.add_argument("--cert", type=Path, help="the TSA certificate (instead of --pki)")
    ap.add_argument("--key", type=Path, help="the TSA's unencrypted PKCS#8 PEM key (with --cert)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=9778)
    ap.add_argument("--verbose", action="store_true", help="log every request")
    args = ap.parse_args(argv)
    try:
        if args.cert or args.key:
            if not (args.cert and args.key):
                ap.error("--cert and --key go together")
            stamper = load_tsa(args.cert, args.key)
        elif args.pki:
            stamper = load_tsa_from_pki(args.pki)
        else:
            ap.error("give --pki DIR, or --cert and --key")
    except (OSError, ValueError) as e:
        print(f"cannot load the TSA: {e}", file=sys.stderr)
        return 2
    try:
        server = TimestampServer(stamper, args.host, args.port, verbose=args.verbose)
    except OSError as e:
        print(f"cannot listen on {args.host}:{args.port}: {e.strerror}", file=sys.stderr)
        return 2
    print(f"RFC 3161 TSA (NOT FOR PRODUCTION) listening on {server.url}", flush=True)
    server.serve_until_interrupted()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A stand-in NCALayer for the tests: a WebSocket server on 127.0.0.1 that speaks what the real one speaks, as
recorded from public clients (research/ncalayer-protocol.md §5).

- the greeting ``{"result":{"version":"1.4"}}``; ``--heartbeat--`` frames echoed as they come, and sent unasked
  (``heartbeats`` before every reply);
- ``kz.gov.pki.knca.basics`` ``sign`` with ``format: "cms"``: a CAdES-BES CMS (signingCertificateV2, signingTime,
  contentType, messageDigest; the signer's chain in ``certificates``) made by pyHanko, detached when
  ``encapsulate`` is false, over the base64-decoded data when ``decode`` is true; ``data`` may be an array (one
  dialog, one result each);
- the result in any of the shapes NCALayer and KAZTOKEN return (``shape``): ``array`` (NCALayer 1.4), ``string``,
  ``pem`` (``-----BEGIN CMS-----``), ``signatures`` (``{"signatures":[…],"certificate":PEM}``, ``outputCert``);
- the officer closing the key dialog (``mode = "cancel"``): ``{"status":true,"body":{}}``;
- failures (``mode = "error"``, ``error_code``): ``{"status":false,"code":…,"message":…,"details":…}``; a
  ``signingParams`` that is no object gives the recorded ``INVOCATION_ERROR``;
- any other module: ``{"success":false,"errorCode":"MODULE_NOT_FOUND"}``; malformed JSON:
  ``COMMON_JSON_WRAPPING_EXCEPTION``;
- ``wss://`` with a self-signed certificate for 127.0.0.1 made here (``tls=True``), as the real client listens;
- ``mode = "no_module"``: an NCALayer without the ``basics`` bundle (MODULE_NOT_FOUND for it too);
- ``offer(...)``: the key the "officer" picks in the dialog — another officer's, to see the server refuse it;
- a GOST key file (:func:`signing.load_pkcs12` opens it as a :class:`signing.gost_keys.GostKey`) in place of the
  RSA PKCS#12 (issue 16): the CMS is then CAdES-BES as NCALayer/Kalkan builds it with a GOST 2015/512 key
  (:mod:`signing.gost_cms`: Streebog-512, the Kazakh OIDs, ``r‖s`` little-endian), the key's chain in
  ``certificates``.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import socket
import ssl
import tempfile
import threading
from pathlib import Path
from typing import Any

ERRORS = {
    "INVALID_SIGNING_PARAMS": "Invalid signing parameters.",
    "SIGNING_FAILURE": "Signing failed.",
    "INVOCATION_ERROR": "An invoked method threw an exception.",
}
HEARTBEAT = "--heartbeat--"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def self_signed_tls(folder: Path) -> ssl.SSLContext:
    """A server TLS context for 127.0.0.1 (``CN=127.0.0.1, O=ҰКО, C=KZ``, as NCALayer's own certificate reads)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ҰКО"),
                      x509.NameAttribute(NameOID.COUNTRY_NAME, "KZ")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "ncalayer-tls.crt", folder / "ncalayer-tls.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context


def load_signer(p12: Path, password: str) -> Any:
    """The officer's key as pyHanko's signer (the key, its certificate and the CA certificates of the file), or
    a GOST key file's :class:`signing.gost_keys.GostKey` (it signs through :mod:`signing.gost_cms`)."""
    from pyhanko.sign import signers

    import signing

    key = signing.load_pkcs12(p12, password)
    if getattr(key, "algorithm", None) == "gost2015_512":
        return key

    signer = signers.SimpleSigner.load_pkcs12(str(p12), passphrase=password.encode())
    assert signer is not None, f"cannot open {p12}"
    return signer


class StandInNCALayer:
    """The stand-in (module docstring).  Set ``shape``, ``mode``, ``error_code``, ``heartbeats`` between
    requests; ``requests`` holds every request it got, ``heartbeats_seen`` the heartbeats the client sent."""

    def __init__(self, p12: Path, password: str, *, tls: bool = False, shape: str = "array"):
        self.signer = load_signer(p12, password)
        self.shape, self.mode, self.error_code, self.heartbeats = shape, "sign", "SIGNING_FAILURE", 1
        self.tls = tls
        self.port = free_port()
        self.url = f"{'wss' if tls else 'ws'}://127.0.0.1:{self.port}"
        self.requests: list[Any] = []
        self.heartbeats_seen = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._ready = threading.Event()
        self._stop: asyncio.Future | None = None
        self._tmp = tempfile.TemporaryDirectory(prefix="ncalayer-")

    # --- what the officer does in the dialog ------------------------------------------------------------------

    def offer(self, p12: Path, password: str) -> None:
        """The officer picks this key in NCALayer's dialog (another officer's, say)."""
        self.signer = load_signer(p12, password)

    # --- the CMS, as NCALayer builds it -----------------------------------------------------------------------

    @property
    def gost(self) -> bool:
        """Whether the key the officer picked is a GOST one."""
        return getattr(self.signer, "algorithm", None) == "gost2015_512"

    async def async_cms(self, data: bytes, *, detached: bool = True) -> bytes:
        from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes

        if self.gost:
            from signing import gost, gost_cms

            key = self.signer
            return gost_cms.sign_digest_cms(
                gost.streebog512(data), key=key.private_key, cert=key.certificate, chain=key.chain,
                signing_time=dt.datetime.now(dt.UTC), content=None if detached else data).dump()

        ci = await self.signer.async_sign_general_data(
            data, "sha256", detached=detached, use_cades=True,
            signed_attr_settings=PdfCMSSignedAttributes(signing_time=dt.datetime.now(dt.UTC)))
        return ci.dump()

    def cms(self, data: bytes, *, detached: bool = True) -> bytes:
        return asyncio.run(self.async_cms(data, detached=detached))

    def result_of(self, cms_list: list[bytes], array_data: bool) -> Any:
        b64 = [base64.b64encode(c).decode() for c in cms_list]
        if self.shape == "pem":
            b64 = ["-----BEGIN CMS-----\n" + "\n".join(s[i:i + 64] for i in range(0, len(s), 64))
                   + "\n-----END CMS-----\n" for s in b64]
        if self.shape == "signatures":
            cert = (self.signer.certificate if self.gost else self.signer.signing_cert).dump()
            pem = "-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(cert).decode() + "-----END CERTIFICATE-----\n"
            return {"signatures": b64, "certificate": pem}
        if self.shape in ("string", "pem") and not array_data:
            return b64[0]
        return b64

    # --- the protocol ---------------------------------------------------------------------------------------

    async def _answer(self, text: str) -> dict[str, Any]:
        try:
            request = json.loads(text)
        except ValueError:
            return {"success": False, "code": "COMMON_JSON_WRAPPING_EXCEPTION"}
        self.requests.append(request)
        if not isinstance(request, dict) or request.get("module") != "kz.gov.pki.knca.basics":
            return {"success": False, "errorCode": "MODULE_NOT_FOUND"}
        args = request.get("args")
        if request.get("method") != "sign" or not isinstance(args, dict):
            return {"status": False, "code": "INVOCATION_ERROR", "message": ERRORS["INVOCATION_ERROR"],
                    "details": "java.lang.NoSuchMethodException"}
        params = args.get("signingParams")
        if not isinstance(params, dict):  # recorded from the real one
            return {"status": False, "code": "INVOCATION_ERROR", "message": ERRORS["INVOCATION_ERROR"],
                    "details": 'org.json.JSONException: JSONObject["signingParams"] is not a JSONObject.'}
        if args.get("format") != "cms":
            return {"status": False, "code": "INVALID_SIGNING_PARAMS", "message": ERRORS["INVALID_SIGNING_PARAMS"],
                    "details": f"unsupported format {args.get('format')!r} in this stand-in"}
        if self.mode == "no_module":  # an NCALayer without the basics bundle
            return {"success": False, "errorCode": "MODULE_NOT_FOUND"}
        if self.mode == "cancel":  # the officer closed the key dialog
            return {"status": True, "body": {}}
        if self.mode == "error":
            return {"status": False, "code": self.error_code, "message": ERRORS.get(self.error_code, "Error."),
                    "details": "kz.gov.pki.kalkan.KalkanException: 0x8f00040 (stand-in)"}
        data = args.get("data")
        items = data if isinstance(data, list) else [data]
        if not items or not all(isinstance(d, str) for d in items):
            return {"status": False, "code": "INVALID_SIGNING_PARAMS", "message": ERRORS["INVALID_SIGNING_PARAMS"],
                    "details": "data"}
        raw = [base64.b64decode(d) if params.get("decode") else d.encode() for d in items]
        detached = params.get("encapsulate", True) is False
        cms = [await self.async_cms(d, detached=detached) for d in raw]
        return {"status": True, "body": {"result": self.result_of(cms, isinstance(data, list))}}

    async def _handler(self, ws: Any) -> None:
        await ws.send(json.dumps({"result": {"version": "1.4"}}))
        async for message in ws:
            if message == HEARTBEAT:
                self.heartbeats_seen += 1
                await ws.send(HEARTBEAT)
                continue
            answer = await self._answer(message)
            for _ in range(self.heartbeats):
                await ws.send(HEARTBEAT)
            await ws.send(json.dumps(answer))

    def _run(self) -> None:
        import websockets

        asyncio.set_event_loop(self._loop)
        context = self_signed_tls(Path(self._tmp.name)) if self.tls else None

        async def main() -> None:
            self._stop = self._loop.create_future()
            async with websockets.serve(self._handler, "127.0.0.1", self.port, max_size=50_000_000, ssl=context):
                self._ready.set()
                await self._stop

        self._loop.run_until_complete(main())

    def __enter__(self) -> StandInNCALayer:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the stand-in NCALayer did not start")
        return self

    def __exit__(self, *exc: Any) -> None:
        self._loop.call_soon_threadsafe(lambda: self._stop.done() or self._stop.set_result(None))
        self._thread.join(10)
        self._tmp.cleanup()


def officer_key(site: Path, officer: str) -> tuple[Path, str]:
    """A demo officer's key file and its password (var/demo-pki/pki.json)."""
    pki = json.loads((site / "var/demo-pki/pki.json").read_text())
    entry = next(o for o in pki["officers"] if o["id"] == officer)
    return Path(entry["p12"]), entry["password"]


# --- the desk's two steps, as the page's script calls them -----------------------------------------------------


def desk_prepare(client: Any, csrf: str, doc_id: str) -> dict:
    """``POST /external/prepare`` for the document's current bytes; the desk's answer (its token, the data)."""
    from pipeline.journal import store

    sha = store.get_document(client.app.state.desk.services.journal, doc_id).pdf_sha256
    prep = client.post("/external/prepare", json={"document_id": doc_id, "sha256": sha},
                       headers={"X-CSRF-Token": csrf}).json()
    assert prep["ok"], prep
    return prep


def desk_finish(client: Any, csrf: str, prep: dict, answer: dict) -> Any:
    """``POST /external/finish`` with NCALayer's ``answer`` to the prepared signature."""
    return client.post("/external/finish", json={"token": prep["token"], "answer": answer},
                       headers={"X-CSRF-Token": csrf})


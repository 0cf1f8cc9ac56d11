"""Signing with a key held outside the server: NCALayer in the officer's browser (signing-anchors.md §5.3).

Two steps, as :class:`signing.ExternalSigner` has them:

1. :func:`prepare` — the officer approved the bytes the page showed (their SHA-256); the server checks the
   officer's authority and certificate policy, adds the stamp and the placeholder, and keeps the prepared
   revision (:class:`Prepared`) while the browser asks NCALayer (``kz.gov.pki.knca.basics`` ``sign``,
   ``format: "cms"``, detached) to sign the bytes it returns;
2. :func:`finish` — the CMS comes back; :func:`pipeline.queue.approve` records the signature and delivers the
   document exactly as for server-side keys, with :class:`pipeline.signatures.NcaLayerBackend` as the backend
   (it embeds and checks the CMS).  The checks before the signature are :func:`pipeline.stages.sign.check`,
   the same for every path.

What NCALayer answers is read here, on the server (:func:`read_answer`), as the real client speaks
(research/ncalayer-protocol.md §5.2): ``{"status":true,"body":{"result":…}}`` where the result is a base64 string,
an array of them, PEM-armoured, or ``{"signatures":[…],"certificate":…}``; a closed key dialog is
``{"status":true,"body":{}}`` — cancelled, not an error; a failure is ``{"status":false,"code":…,"message":…,
"details":…}``; an unknown module ``{"success":false,"errorCode":"MODULE_NOT_FOUND"}``.  The page's script hands
the answer over as it came, so that what it means is decided in one place.

The external officer's ``key`` in ``[[officers]]`` is their certificate (PEM, the issuing CA certificates may
follow in the same file): the private key never leaves NCALayer, and the server checks the policy for that
certificate before anything is signed.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from forms.catalogue import stamp_time_format

from .. import queue as Q
from ..config import Officer
from ..errors import NotFound, StateConflict
from ..services import Services
from ..signatures import NcaLayerBackend
from ..stages import sign
from ..verify_links import verify_url


@dataclass
class Prepared:
    token: str
    officer_id: str
    document_id: str
    base_sha256: str  # the work file the officer approved; finishing refuses when it changed meanwhile
    prepared: Any  # signing.PreparedSignature
    created: float

    @property
    def to_be_signed(self) -> bytes:
        return self.prepared.to_be_signed


class PreparedStore:
    """Prepared revisions waiting for the browser's CMS for ``ttl`` seconds: in the journal when given one
    (issue 10 #4: the desk process that finishes need not be the one that prepared; a token is taken once, by
    whichever asks first), else in this process's memory."""

    def __init__(self, ttl: float = 900.0, clock=time.monotonic, *, journal: Any = None):
        self.ttl, self.clock, self.journal = ttl, clock, journal
        self._items: dict[str, Prepared] = {}
        self._lock = threading.Lock()

    def put(self, item: Prepared) -> None:
        if self.journal is not None:
            from ..journal import store

            with self.journal.tx() as conn:
                store.put_prepared(conn, _hash(item.token), officer_id=item.officer_id, document_id=item.document_id,
                                   base_sha256=item.base_sha256, prepared=item.prepared.to_bytes().decode(),
                                   now=time.time(), ttl=self.ttl)
            return
        with self._lock:
            now = self.clock()
            for k in [k for k, v in self._items.items() if now - v.created > self.ttl]:
                del self._items[k]
            self._items[item.token] = item

    def take(self, token: str, officer_id: str) -> Prepared:
        if self.journal is not None:
            return self._take_from_journal(token, officer_id)
        with self._lock:
            item = self._items.get(token)
            if item is None or item.officer_id != officer_id or self.clock() - item.created > self.ttl:
                raise NotFound("this signature request is unknown or expired", remedy="approve the document again")
            return self._items.pop(token)

    def _take_from_journal(self, token: str, officer_id: str) -> Prepared:
        import signing

        from ..journal import store

        with self.journal.tx() as conn:
            row = store.take_prepared(conn, _hash(token), officer_id, now=time.time(), ttl=self.ttl)
        if row is None:
            raise NotFound("this signature request is unknown or expired", remedy="approve the document again")
        prepared = signing.PreparedSignature.from_bytes(row["prepared"].encode())
        return Prepared(token, row["officer_id"], row["document_id"], row["base_sha256"], prepared, row["created_at"])


def _hash(token: str) -> str:
    import hashlib

    return hashlib.sha256(token.encode()).hexdigest()


def prepare(services: Services, document_id: str, officer: Officer, approved_sha256: str) -> Prepared:
    """Check authority and policy, and prepare the next signature field of the document for NCALayer."""
    import signing

    if officer.backend != "external":
        raise StateConflict(f"{officer.id} signs with a server-side key, not NCALayer")
    ready = sign.check(services, document_id, officer, approved_sha256, in_queue=True)
    doc = ready.doc
    cert, chain = services.signatures.certificate(officer)
    stamp = signing.StampInfo(
        language=doc.language, signer_name=officer.name,
        position=officer.position_kk if doc.language == "kk" else officer.position_ru,
        verify_url=verify_url(services.config, document_id), time_format=stamp_time_format(doc.language),
    )
    prepared = signing.ExternalSigner(services.signatures.options()).prepare(
        ready.data, ready.field, certificate=cert, chain=chain, approved_sha256=approved_sha256,
        officer_iin=officer.iin, document_kind=doc.kind, stamp=stamp,
        organisation_bin=sign.organisation_for(services, doc),
    )
    return Prepared(secrets.token_urlsafe(24), officer.id, document_id, doc.pdf_sha256 or "", prepared,
                    time.monotonic())


def finish(services: Services, item: Prepared, officer: Officer, cms: bytes) -> dict[str, Any]:
    """Embed the CMS, then record and deliver exactly as ``queue approve`` does for server-side keys."""
    doc = Q.get(services, item.document_id)
    if doc.pdf_sha256 != item.base_sha256:
        raise StateConflict(f"{item.document_id} changed after it was prepared for signing", remedy="approve it again")
    backend = NcaLayerBackend(services.signatures, officer, item.prepared, cms, item.base_sha256)
    return Q.approve(services, item.document_id, officer, None, approved_sha256=item.base_sha256, backend=backend)


# --- what NCALayer answered ------------------------------------------------------------------------------------

#: failure codes of ``kz.gov.pki.knca.basics`` (and of the envelope), each with its words in the desk's catalogue
#: (``ncalayer.error.<CODE>``); any other code reads as a general failure
NCALAYER_CODES = ("INVALID_SIGNING_PARAMS", "SIGNING_FAILURE", "INVOCATION_ERROR", "GENERAL_ERROR",
                  "MODULE_NOT_FOUND", "COMMON_JSON_WRAPPING_EXCEPTION", "NO_NCALAYER", "CONNECTION_CLOSED")

_ARMOUR = re.compile(r"-----(BEGIN|END) [A-Z0-9 ]+-----")


@dataclass(frozen=True)
class Answer:
    """NCALayer's answer to one ``sign``: ``outcome`` is ``signed`` (``cms``, DER), ``cancelled`` (the officer
    closed the dialog) or ``failed`` (``code``, ``message``, ``details`` as NCALayer gave them)."""

    outcome: str
    cms: bytes = b""
    code: str = ""
    message: str = ""
    details: str = ""


def _der(text: str) -> bytes:
    """A CMS as NCALayer writes it: base64, maybe PEM-armoured (``-----BEGIN CMS-----``), maybe wrapped."""
    body = "".join(_ARMOUR.sub("", text).split())
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        return b""


def read_answer(answer: object, index: int = 0) -> Answer:
    """What NCALayer's reply means (module docstring); ``index``: which signature of a batch (``data`` sent as an
    array, one dialog for all)."""
    if not isinstance(answer, dict):
        return Answer("failed", code="NO_NCALAYER")
    if answer.get("success") is False:  # the envelope's own errors: no such module, malformed JSON
        return Answer("failed", code=str(answer.get("errorCode") or answer.get("code") or "GENERAL_ERROR"))
    if answer.get("status") is not True:
        return Answer("failed", code=str(answer.get("code") or "GENERAL_ERROR")[:64],
                      message=str(answer.get("message") or "")[:500], details=str(answer.get("details") or "")[:2000])
    body = answer.get("body")
    result = body.get("result") if isinstance(body, dict) else None
    if result is None:  # {"status":true,"body":{}}: the officer closed the key dialog
        return Answer("cancelled")
    if isinstance(result, dict):  # outputCert: {"signatures": [...], "certificate": "-----BEGIN CERTIFICATE-----…"}
        result = result.get("signatures")
    if isinstance(result, list):
        result = result[index] if 0 <= index < len(result) else None
    cms = _der(result) if isinstance(result, str) else b""
    if not cms:
        return Answer("failed", code="SIGNING_FAILURE", message="the result holds no signature")
    return Answer("signed", cms=cms)

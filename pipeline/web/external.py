"""Signing with a key held outside the server: NCALayer in the officer's browser (signing-anchors.md §5.3).

Two steps, as :class:`signing.ExternalSigner` has them:

1. :func:`prepare` — the officer approved the bytes the page showed (their SHA-256); the server checks the
   officer's authority and certificate policy, adds the stamp and the placeholder, and keeps the prepared
   revision (:class:`Prepared`) while the browser asks NCALayer (``kz.gov.pki.knca.basics`` ``sign``,
   ``format: "cms"``, detached) to sign the bytes it returns;
2. :func:`finish` — the CMS comes back; the server embeds and checks it, then records the signature and
   delivers the document through the very same journal code as server-side keys: :func:`pipeline.queue.approve`
   → :func:`pipeline.documents.sign_step` → :func:`pipeline.delivery.deliver_document`, with the signing
   backend swapped for one that hands over the finished bytes (:class:`_FinishedSigner`).

The external officer's ``key`` in ``[[officers]]`` is their certificate (PEM, the issuing CA certificates may
follow in the same file): the private key never leaves NCALayer, and the server checks the policy for that
certificate before anything is signed.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asn1crypto import pem
from asn1crypto import x509 as asn1_x509

from .. import queue as Q
from ..config import Config, Officer
from ..documents import organisation_for, signature_fields
from ..errors import ConfigError, NotFound, StateConflict
from ..verification import verify_url


def officer_certificate(config: Config, officer: Officer) -> tuple[asn1_x509.Certificate, list[asn1_x509.Certificate]]:
    """The certificate (and chain) an ``external`` officer signs with, from the file ``key`` names."""
    if not officer.key:
        raise ConfigError(f"officer {officer.id} (external) has no certificate file in key",
                          remedy="set key to the officer's certificate (PEM)")
    path = Path(officer.key)
    if not path.is_absolute():
        path = (config.base or config.root) / path
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ConfigError(f"officer {officer.id}: cannot read {path}: {e.strerror}") from None
    ders = [der for _t, _h, der in pem.unarmor(data, multiple=True)] if pem.detect(data) else [data]
    certs = [asn1_x509.Certificate.load(d) for d in ders]
    if not certs:
        raise ConfigError(f"officer {officer.id}: no certificate in {path}")
    return certs[0], certs[1:]


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
    """Prepared revisions waiting for the browser's CMS, in memory for ``ttl`` seconds (one desk process)."""

    def __init__(self, ttl: float = 900.0, clock=time.monotonic):
        self.ttl, self.clock = ttl, clock
        self._items: dict[str, Prepared] = {}
        self._lock = threading.Lock()

    def put(self, item: Prepared) -> None:
        with self._lock:
            now = self.clock()
            for k in [k for k, v in self._items.items() if now - v.created > self.ttl]:
                del self._items[k]
            self._items[item.token] = item

    def take(self, token: str, officer_id: str) -> Prepared:
        with self._lock:
            item = self._items.get(token)
            if item is None or item.officer_id != officer_id or self.clock() - item.created > self.ttl:
                raise NotFound("this signature request is unknown or expired", remedy="approve the document again")
            return self._items.pop(token)


def _stamp(officer: Officer, row: Any, config: Config) -> Any:
    import signing

    return signing.StampInfo(
        language=row["language"], signer_name=officer.name,
        position=officer.position_kk if row["language"] == "kk" else officer.position_ru,
        verify_url=verify_url(config, row["document_id"]),
    )


def prepare(pipeline: Any, document_id: str, officer: Officer, approved_sha256: str) -> Prepared:
    """Check authority and policy, and prepare the next signature field of the document for NCALayer."""
    import signing

    if officer.backend != "external":
        raise StateConflict(f"{officer.id} signs with a server-side key, not NCALayer")
    row = Q.get(pipeline, document_id)
    if row["status"] not in Q.WAITING:
        raise StateConflict(f"{document_id} is {row['status']}, not waiting in the queue")
    if not Q.may_act(officer, row):
        raise StateConflict(f"{officer.id} ({officer.role}, {officer.office}) may not sign {row['kind']} of "
                            f"{row['office']}", remedy="the officer of that role and office approves it")
    blocked = Q.waiting_for(pipeline, row)
    if blocked:
        raise StateConflict(blocked, remedy="the inspectors sign the act first")
    fields = signature_fields(row)
    done = row["signatures_done"] or 0
    if done >= len(fields):
        raise StateConflict(f"{document_id} is already signed by all its signers")
    import json

    signers = json.loads(row["signers"] or "[]")
    expected = signers[done] if done < len(signers) else None
    if expected and expected.get("iin") and officer.iin != expected["iin"]:
        raise StateConflict(f"the next signature of {document_id} is {expected['name']}'s",
                            remedy="the named officer approves it")
    data = Path(row["pdf_path"]).read_bytes()
    if hashlib.sha256(data).hexdigest() != row["pdf_sha256"]:
        raise StateConflict(f"the work file of {document_id} changed on disk", remedy="render it again")
    cert, chain = officer_certificate(pipeline.config, officer)
    prepared = signing.ExternalSigner(pipeline.signing.options(row["kind"])).prepare(
        data, fields[done]["name"], certificate=cert, chain=chain, approved_sha256=approved_sha256,
        officer_iin=officer.iin, document_kind=row["kind"], stamp=_stamp(officer, row, pipeline.config),
        organisation_bin=organisation_for(pipeline, row),
    )
    return Prepared(secrets.token_urlsafe(24), officer.id, document_id, row["pdf_sha256"], prepared, time.monotonic())


class _FinishedSigner:
    """The signing backend :func:`pipeline.documents.sign_step` calls, handing over the externally signed PDF."""

    def __init__(self, real: Any, item: Prepared, cms: bytes):
        self.real, self.item, self.cms = real, item, cms

    def sign(self, data: bytes, *, field: str, officer: Officer, secret: Any, approved_sha256: str,
             document_kind: str, language: str, verify_url: str,
             organisation_bin: str | None = None) -> tuple[bytes, dict[str, Any]]:
        import signing

        if hashlib.sha256(data).hexdigest() != self.item.base_sha256 or field != self.item.prepared.field:
            raise StateConflict("the document changed after it was prepared for signing",
                                remedy="approve it again")
        signed = signing.ExternalSigner(self.real.options(document_kind)).finish(self.item.prepared, self.cms)
        return signed, self.real.describe_signature(signed, officer)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


class _ExternalPipeline:
    """The pipeline as the queue sees it, with the signing backend swapped for :class:`_FinishedSigner`."""

    def __init__(self, pipeline: Any, signer: _FinishedSigner):
        self._pipeline = pipeline
        self.signing = signer

    def sign_document(self, document_id: str, officer: Any, secret: bytes | None, *,
                      approved_sha256: str | None = None) -> dict[str, Any]:
        from ..documents import sign_step

        return sign_step(self, document_id, officer, secret, approved_sha256=approved_sha256)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pipeline, name)


def finish(pipeline: Any, item: Prepared, officer: Officer, cms: bytes) -> dict[str, Any]:
    """Embed the CMS, then record and deliver exactly as ``queue approve`` does for server-side keys."""
    row = Q.get(pipeline, item.document_id)
    if row["pdf_sha256"] != item.base_sha256:
        raise StateConflict(f"{item.document_id} changed after it was prepared for signing", remedy="approve it again")
    proxy = _ExternalPipeline(pipeline, _FinishedSigner(pipeline.signing, item, cms))
    return Q.approve(proxy, item.document_id, officer, None, approved_sha256=item.base_sha256)

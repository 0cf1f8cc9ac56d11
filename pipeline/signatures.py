"""Signature backends behind one protocol, after pyHanko's ``TimeStamper``: everything around a signature (the
checks, adopting a crash's signature, storing it) is written once, in :mod:`pipeline.stages.sign`; a backend
only *produces the signed bytes* of one field.

- :class:`KeyFileBackend`: a PKCS#12 file the server holds (automatic signatures, officers' key files);
- :class:`TokenBackend`: a PKCS#11 token (SoftHSM2, a hardware token) — the key never leaves it;
- :class:`NcaLayerBackend`: the officer's own NCALayer in the browser signed the bytes the server prepared;
  this backend embeds the CMS it returned (:class:`signing.ExternalSigner`).

:class:`Signatures` knows which officer signs with which key and where secrets come from.  Keys stay loaded for
the life of the process: parsing a key again on every signature costs most of a signature's time (``bench/``).
"""

from __future__ import annotations

import datetime as dt
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from asn1crypto import pem
from asn1crypto import x509 as asn1_x509

from forms.catalogue import stamp_time_format

from .config import Config, Officer
from .errors import ConfigError, StateConflict


@dataclass(frozen=True)
class SignRequest:
    """One signature to make: the field of the work file, bound to the bytes the officer approved."""

    data: bytes
    field: str
    approved_sha256: str
    document_kind: str
    language: str
    verify_url: str
    organisation_bin: str | None
    qr: tuple[bytes, ...] = ()  #: the QR code of ``verify_url`` the renderer made, for the stamp (#13)


class SignatureBackend(Protocol):
    officer: Officer

    def sign(self, request: SignRequest) -> tuple[bytes, dict[str, Any]]:
        """The signed PDF, and who signed (the manifest's ``signed_by`` entry)."""

    def made_last_signature(self, data: bytes) -> bool:
        """Whether the last signature of ``data`` was made with this backend's certificate (adopting a signed
        file that a crash left behind)."""


def _last_signer_cert(data: bytes) -> Any:
    from pyhanko.pdf_utils.reader import PdfFileReader

    return PdfFileReader(io.BytesIO(data)).embedded_signatures[-1]


def describe(officer: Officer, cert: Any, level: str, signed_at: dt.datetime | None) -> dict[str, Any]:
    """The ``signed_by`` entry of a signature: the officer and the certificate's serial and issuer."""
    return {
        "name": officer.name, "iin": officer.iin, "serial": format(cert.serial_number, "x"),
        "issuer": cert.issuer.human_friendly, "signed_at": signed_at.isoformat(timespec="seconds") if signed_at else None,
        "level": level,
    }


class _ServerKeyBackend:
    """A key the server holds.  Subclasses say only how the key is loaded."""

    def __init__(self, signatures: Signatures, officer: Officer, secret: bytes | None):
        self.signatures, self.officer, self.secret = signatures, officer, secret

    def load_key(self, secret: bytes | None) -> Any:
        raise NotImplementedError

    @property
    def key(self) -> Any:
        return self.signatures.key(self.officer, lambda: self.load_key(self.signatures.secret_for(
            self.officer, self.secret)))

    def sign(self, request: SignRequest) -> tuple[bytes, dict[str, Any]]:
        import signing

        key = self.key
        officer = self.officer
        stamp = signing.StampInfo(
            language=request.language, signer_name=officer.name,
            position=officer.position_kk if request.language == "kk" else officer.position_ru,
            verify_url=request.verify_url, time_format=stamp_time_format(request.language), qr=request.qr,
        )
        try:
            out = signing.sign_pdf(
                request.data, field=request.field, key=key, approved_sha256=request.approved_sha256,
                officer_iin=officer.iin, document_kind=request.document_kind, stamp=stamp,
                options=self.signatures.options(), organisation_bin=request.organisation_bin,
            )
        except Exception:
            self.signatures.forget(officer)
            raise
        # who signed, from the certificate of the key that just signed: the PDF is not parsed again
        return out, describe(officer, key.certificate, self.signatures.level, dt.datetime.now(dt.UTC))

    def made_last_signature(self, data: bytes) -> bool:
        try:
            return _last_signer_cert(data).signer_cert.dump() == self.key.certificate.dump()
        except Exception:  # noqa: BLE001 - unreadable or unknown: not adoptable
            return False


class KeyFileBackend(_ServerKeyBackend):
    """PKCS#12: a key file and its password."""

    def load_key(self, secret: bytes | None) -> Any:
        import signing

        if secret is None:
            raise ConfigError(f"no password for {self.officer.id}",
                              remedy=f"set {self.officer.secret_env or 'secret_env'}")
        return signing.load_pkcs12(self.officer.key, secret)


class TokenBackend(_ServerKeyBackend):
    """PKCS#11: a token and its PIN; signing happens inside the token."""

    def load_key(self, secret: bytes | None) -> Any:
        import signing

        return signing.load_pkcs11(self.officer.key, self.officer.token_label, self.officer.key_label,
                                   secret.decode() if secret else None)


class NcaLayerBackend:
    """The officer's NCALayer signed what :func:`prepare` gave it; embedding its CMS is this backend's signature."""

    def __init__(self, signatures: Signatures, officer: Officer, prepared: Any, cms: bytes, base_sha256: str):
        self.signatures, self.officer = signatures, officer
        self.prepared, self.cms, self.base_sha256 = prepared, cms, base_sha256

    def sign(self, request: SignRequest) -> tuple[bytes, dict[str, Any]]:
        import hashlib

        import signing

        if hashlib.sha256(request.data).hexdigest() != self.base_sha256 or request.field != self.prepared.field:
            raise StateConflict("the document changed after it was prepared for signing", remedy="approve it again")
        signed = signing.ExternalSigner(self.signatures.options()).finish(self.prepared, self.cms)
        sig = _last_signer_cert(signed)
        return signed, describe(self.officer, sig.signer_cert, self.signatures.level, sig.self_reported_timestamp)

    def made_last_signature(self, data: bytes) -> bool:
        try:
            cert, _chain = self.signatures.certificate(self.officer)
            return _last_signer_cert(data).signer_cert.dump() == cert.dump()
        except Exception:  # noqa: BLE001
            return False


class Signatures:
    """Who signs with which key, the secrets, and the keys kept loaded (one instance per process)."""

    def __init__(self, config: Config, signers: dict[str, frozenset[str]]):
        self.config = config
        self.signers = signers  # role -> kinds (forms/catalogue/documents.toml)
        self._keys: dict[str, Any] = {}

    @property
    def level(self) -> str:
        return self.config.signing.level

    # --- who ---------------------------------------------------------------------------------------------

    def auto_officer(self, role: str, office: str, iin: str | None = None) -> Officer | None:
        """The configured key for documents that need no officer (receipts, portal notices).  When the document
        names its signer (the PSC operator who received the package), only that officer's key will do."""
        for o in self.config.officers:
            if o.role == role and o.office == office and (iin is None or o.iin == iin):
                return o
        return None

    def officers_for(self, role: str, office: str) -> list[Officer]:
        return [o for o in self.config.officers if o.role == role and o.office == office]

    def backend(self, officer: Officer, secret: bytes | None = None) -> SignatureBackend:
        """The server-side backend of ``officer`` (NCALayer officers sign in the desk, through
        :class:`NcaLayerBackend`)."""
        if officer.backend == "pkcs12":
            return KeyFileBackend(self, officer, secret)
        if officer.backend == "pkcs11":
            return TokenBackend(self, officer, secret)
        raise ConfigError(f"officer {officer.id}: backend {officer.backend!r} cannot sign on the server",
                          remedy="external signers sign in the web desk")

    # --- secrets and keys --------------------------------------------------------------------------------

    def secret_for(self, officer: Officer, given: bytes | None) -> bytes | None:
        if given is not None:
            return given
        if officer.secret_env and os.environ.get(officer.secret_env) is not None:
            return os.environ[officer.secret_env].encode()
        if officer.secret and self.config.demo:
            return officer.secret.encode()  # a demo configuration: insecure by design, and it says so
        return None

    def key(self, officer: Officer, load: Any) -> Any:
        if officer.id not in self._keys:
            self._keys[officer.id] = load()
        return self._keys[officer.id]

    def forget(self, officer: Officer) -> None:
        k = self._keys.pop(officer.id, None)
        if k is not None and hasattr(k, "close"):
            k.close()

    def certificate(self, officer: Officer) -> tuple[asn1_x509.Certificate, list[asn1_x509.Certificate]]:
        """The certificate (and chain) an ``external`` officer signs with, from the file ``key`` names."""
        if not officer.key:
            raise ConfigError(f"officer {officer.id} (external) has no certificate file in key",
                              remedy="set key to the officer's certificate (PEM)")
        path = Path(officer.key)
        if not path.is_absolute():
            path = (self.config.base or self.config.root) / path
        try:
            data = path.read_bytes()
        except OSError as e:
            raise ConfigError(f"officer {officer.id}: cannot read {path}: {e.strerror}") from None
        ders = [der for _t, _h, der in pem.unarmor(data, multiple=True)] if pem.detect(data) else [data]
        certs = [asn1_x509.Certificate.load(d) for d in ders]
        if not certs:
            raise ConfigError(f"officer {officer.id}: no certificate in {path}")
        return certs[0], certs[1:]

    def options(self) -> Any:
        import signing

        if self.config.demo:  # the demo's own TSA and OCSP on 127.0.0.1 (issue 12 #6, pipeline/demo.py)
            from .demo import ensure_services

            ensure_services(self.config)
        s = self.config.signing
        return signing.SigningOptions(
            level=s.level, tsa_url=s.tsa_url, gost_tsa_url=s.gost_tsa_url, trust_roots=list(s.trust_roots),
            check_revocation=s.check_revocation,
            allowed_roles={role: set(kinds) for role, kinds in self.signers.items()},
        )

    def close(self) -> None:
        for officer_id in list(self._keys):
            k = self._keys.pop(officer_id)
            if hasattr(k, "close"):
                k.close()

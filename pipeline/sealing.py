"""The pipeline's side of signing: which officer's key signs what, secrets, and the calls into :mod:`signing`.

Keys stay loaded (and parsed) for the life of the process: the stock pyHanko signer parses the private key
again on every signature, which costs most of a signature's time (research/perf-baseline.md §4d).  Signing is
serialized per key by the runner (one process signs; a token is never used from two threads).
"""

from __future__ import annotations

import os
from typing import Any

from .config import Config, Officer
from .errors import ConfigError

# Which officer role signs which document kind (issue 4 ¶4: the officer's role may sign this kind of document).
ROLE_KINDS: dict[str, set[str]] = {
    "operator": {"acceptance_receipt", "refusal_receipt"},
    "provider_seal": {"acceptance_notice", "portal_refusal"},
    "inspector": {"inspection_act"},
    "head": {"order", "reasoned_refusal"},
}


class SigningService:
    def __init__(self, config: Config):
        self.config = config
        self._keys: dict[str, Any] = {}

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

    # --- secrets and keys --------------------------------------------------------------------------------

    def secret_for(self, officer: Officer, given: bytes | None) -> bytes | None:
        if given is not None:
            return given
        if officer.secret_env and os.environ.get(officer.secret_env) is not None:
            return os.environ[officer.secret_env].encode()
        if officer.secret and self.config.demo:
            return officer.secret.encode()  # a demo configuration: insecure by design, and it says so
        return None

    def key(self, officer: Officer, secret: bytes | None) -> Any:
        if officer.id in self._keys:
            return self._keys[officer.id]
        import signing

        secret = self.secret_for(officer, secret)
        if officer.backend == "pkcs12":
            if secret is None:
                raise ConfigError(f"no password for {officer.id}", remedy=f"set {officer.secret_env or 'secret_env'}")
            k = signing.load_pkcs12(officer.key, secret)
        elif officer.backend == "pkcs11":
            k = signing.load_pkcs11(officer.key, officer.token_label, officer.key_label,
                                    secret.decode() if secret else None)
        else:
            raise ConfigError(f"officer {officer.id}: backend {officer.backend!r} cannot sign on the server",
                              remedy="external signers sign in the web desk")
        self._keys[officer.id] = k
        return k

    def forget(self, officer: Officer) -> None:
        k = self._keys.pop(officer.id, None)
        if k is not None and hasattr(k, "close"):
            k.close()

    # --- sign ----------------------------------------------------------------------------------------------

    def options(self, document_kind: str) -> Any:
        import signing

        s = self.config.signing
        return signing.SigningOptions(
            level=s.level, tsa_url=s.tsa_url, trust_roots=list(s.trust_roots), check_revocation=s.check_revocation,
            allowed_roles={role: set(kinds) for role, kinds in ROLE_KINDS.items()},
        )

    def sign(self, data: bytes, *, field: str, officer: Officer, secret: bytes | None, approved_sha256: str,
             document_kind: str, language: str, verify_url: str,
             organisation_bin: str | None = None) -> tuple[bytes, dict[str, Any]]:
        import signing

        key = self.key(officer, secret)
        stamp = signing.StampInfo(
            language=language, signer_name=officer.name,
            position=officer.position_kk if language == "kk" else officer.position_ru, verify_url=verify_url,
        )
        try:
            out = signing.sign_pdf(
                data, field=field, key=key, approved_sha256=approved_sha256, officer_iin=officer.iin,
                document_kind=document_kind, stamp=stamp, options=self.options(document_kind),
                organisation_bin=organisation_bin,
            )
        except Exception:
            self.forget(officer)
            raise
        return out, self.describe_key(key, officer)

    def describe_key(self, key: Any, officer: Officer) -> dict[str, Any]:
        """Who signed (the manifest's signed_by), from the certificate of the key that just signed: the PDF is
        not parsed again (that cost more than the signature itself)."""
        import datetime as dt

        cert = key.certificate
        return {
            "name": officer.name, "iin": officer.iin, "serial": format(cert.serial_number, "x"),
            "issuer": cert.issuer.human_friendly, "signed_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "level": self.config.signing.level,
        }

    def signed_by_officer(self, data: bytes, officer: Officer, secret: bytes | None) -> bool:
        """Whether the last signature of ``data`` was made with ``officer``'s certificate."""
        import io

        from pyhanko.pdf_utils.reader import PdfFileReader

        try:
            cert = PdfFileReader(io.BytesIO(data)).embedded_signatures[-1].signer_cert
            return cert.dump() == self.key(officer, secret).certificate.dump()
        except Exception:  # noqa: BLE001 - unreadable or unknown: not adoptable
            return False

    def describe_signature(self, data: bytes, officer: Officer) -> dict[str, Any]:
        """Who signed last, read from the PDF itself (used when a signed file left by a crash is adopted)."""
        import io

        from pyhanko.pdf_utils.reader import PdfFileReader

        sig = PdfFileReader(io.BytesIO(data)).embedded_signatures[-1]
        cert = sig.signer_cert
        at = sig.self_reported_timestamp
        return {
            "name": officer.name, "iin": officer.iin, "serial": format(cert.serial_number, "x"),
            "issuer": cert.issuer.human_friendly, "signed_at": at.isoformat() if at else None,
            "level": self.config.signing.level,
        }

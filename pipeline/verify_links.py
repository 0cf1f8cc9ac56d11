"""The verification reference printed in every document's QR code (#3.1, #6.6).

The address template is configuration (``[service] verify_url``).  With ``{token}`` in it (the default), the
address carries a keyed hash of the document id (HMAC-SHA-256 with a key kept in the state folder), so the
public verification page cannot be used to enumerate cases by guessing ids: only someone holding the document
(or its QR code) has the address.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from functools import lru_cache
from pathlib import Path

from .config import Config


def key_path(config: Config) -> Path:
    return config.state / "verify.key"


def ensure_key(config: Config) -> None:
    """Create the key once (0600), before any worker needs it; never replace an existing one."""
    path = key_path(config)
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".verify.key.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(secrets.token_bytes(32))
        fh.flush()
        os.fsync(fh.fileno())
    try:
        os.link(tmp, path)  # fails if another process made it first: keep theirs
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)


@lru_cache(maxsize=8)
def _key(path: str) -> bytes:
    return Path(path).read_bytes()


def token(config: Config, document_id: str) -> str:
    ensure_key(config)
    return hmac.new(_key(str(key_path(config))), document_id.encode(), hashlib.sha256).hexdigest()[:24]


def verify_url(config: Config, document_id: str) -> str:
    """The document's verification address, as its QR code and stamp carry it."""
    if "{token}" in config.verify_url:
        return config.verify_url.format(document_id=document_id, token=token(config, document_id))
    return config.verify_url.format(document_id=document_id)


def token_ok(config: Config, document_id: str, given: str | None) -> bool:
    """Whether a request to the public page carries the document's token (always true without ``{token}``)."""
    if "{token}" not in config.verify_url:
        return True
    return hmac.compare_digest(token(config, document_id), given or "")

"""GOST key files for the key-file backend (issue 16 §3): an officer's GOST R 34.10-2015 512-bit key and its
certificates, opened once per batch like a PKCS#12 (:class:`GostKey` is a :class:`signing.keys.SigningKey`).

Two forms of the file:

- the NCA's own PKCS#12 container (``GOST512_*.p12``, :mod:`signing.gost_p12`): what the NCA issues, and what
  the GOST test PKI writes for its officers;
- a PEM bundle: the key as ``ENCRYPTED PRIVATE KEY`` (PKCS#8 ``EncryptedPrivateKeyInfo``, PBES2 with
  PBKDF2-HMAC-SHA256 and AES-256-CBC, RFC 8018), then the officer's certificate and the issuing CA's (a key
  converted from elsewhere).

The key inside is the NCA's PKCS#8 (``d`` little-endian, :meth:`signing.gost.GostPrivateKey.to_pkcs8`) in both.
:func:`signing.load_pkcs12` hands both to :func:`load_gost_key` (:func:`is_gost_key_file`); an NCA-layout
container whose key turns out to be RSA (``RSA256_*.p12`` is laid out the same) goes back to
:class:`signing.keys.Pkcs12Key`.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from asn1crypto import algos, pem
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from . import gost, gost_p12
from .errors import KeyNotFound, SigningFailed, WrongSecret
from .keys import SigningKey

#: PBKDF2 iterations of a key file written here (OWASP 2023 for PBKDF2-HMAC-SHA256: 600 000)
ITERATIONS = 600_000
_PEM_KEY = "ENCRYPTED PRIVATE KEY"


class GostKey(SigningKey):
    """An officer's GOST 2015/512 key, its certificate and chain; ``signer`` is None (pyHanko cannot sign GOST:
    :func:`signing.sign.async_sign_pdf` hands such keys to :mod:`signing.gost_sign`)."""

    algorithm = "gost2015_512"

    def __init__(self, private_key: gost.GostPrivateKey, certificate: asn1_x509.Certificate,
                 chain: list[asn1_x509.Certificate], description: str = ""):
        self.private_key = private_key
        self.certificate = certificate
        self.chain = list(chain)
        self.signer = None
        self.description = description or "GOST key"
        pub = certificate.public_key
        if pub.algorithm != gost.KEY_NAMES[gost.KEY_2015_512] or gost.public_key_xy(pub) != private_key.public_xy():
            raise SigningFailed("the GOST key does not belong to the certificate beside it")


def _kdf(password: bytes, salt: bytes, iterations: int) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", password, salt, iterations, 32)


def encrypt_pkcs8(key: gost.GostPrivateKey, password: bytes, *, iterations: int = ITERATIONS) -> bytes:
    """The key as a DER ``EncryptedPrivateKeyInfo`` (PBES2: PBKDF2-HMAC-SHA256, AES-256-CBC)."""
    salt, iv = os.urandom(16), os.urandom(16)
    padder = padding.PKCS7(128).padder()
    plain = padder.update(key.to_pkcs8().dump()) + padder.finalize()
    enc = Cipher(algorithms.AES(_kdf(password, salt, iterations)), modes.CBC(iv)).encryptor()
    return asn1_keys.EncryptedPrivateKeyInfo({
        "encryption_algorithm": {"algorithm": "pbes2", "parameters": {
            "key_derivation_func": {"algorithm": "pbkdf2", "parameters": {
                "salt": algos.Pbkdf2Salt(name="specified", value=salt), "iteration_count": iterations, "prf": {"algorithm": "sha256"}}},
            "encryption_scheme": {"algorithm": "aes256_cbc", "parameters": iv}}},
        "encrypted_data": enc.update(plain) + enc.finalize(),
    }).dump()


def decrypt_pkcs8(der: bytes, password: bytes) -> gost.GostPrivateKey:
    info = asn1_keys.EncryptedPrivateKeyInfo.load(der)
    algo = info["encryption_algorithm"]
    if algo["algorithm"].native != "pbes2":
        raise SigningFailed(f"the key file is encrypted with {algo['algorithm'].native}, which qamqor cannot open")
    params = algo["parameters"]
    kdf = params["key_derivation_func"]["parameters"]
    scheme = params["encryption_scheme"]
    if params["key_derivation_func"]["algorithm"].native != "pbkdf2" or scheme["algorithm"].native != "aes256_cbc" \
            or kdf["prf"]["algorithm"].native != "sha256":
        raise SigningFailed("the key file uses an encryption qamqor cannot open (PBKDF2-SHA256 + AES-256-CBC only)")
    key = _kdf(password, kdf["salt"].native, kdf["iteration_count"].native)
    dec = Cipher(algorithms.AES(key), modes.CBC(scheme["parameters"].native)).decryptor()
    try:
        padded = dec.update(info["encrypted_data"].native) + dec.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        plain = unpadder.update(padded) + unpadder.finalize()
        return gost.GostPrivateKey.from_pkcs8(plain)
    except (ValueError, TypeError) as e:
        raise WrongSecret("cannot open the GOST key file: wrong password or damaged file") from e


def write_key_file(path: Path, key: gost.GostPrivateKey, cert: asn1_x509.Certificate,
                   chain: list[asn1_x509.Certificate], password: str | bytes, *, iterations: int = ITERATIONS
                   ) -> Path:
    """Write a GOST key file (module docstring)."""
    pw = password.encode() if isinstance(password, str) else password
    parts = [pem.armor(_PEM_KEY, encrypt_pkcs8(key, pw, iterations=iterations))]
    parts += [pem.armor("CERTIFICATE", c.dump()) for c in [cert, *chain]]
    path = Path(path)
    path.write_bytes(b"".join(parts))
    return path


def is_gost_key_file(data: bytes) -> bool:
    """Whether ``data`` is a key file of this module: a PEM bundle with an encrypted PKCS#8 key, or a whole
    PKCS#12 in the NCA's layout (its key's algorithm is encrypted: :func:`load_gost_key` decides)."""
    if pem.detect(data):
        return f"-----BEGIN {_PEM_KEY}-----".encode() in data
    return gost_p12.looks_like_nca(data)


def _open_p12(path: Path, data: bytes, password: bytes):
    try:
        key_der, certs = gost_p12.read_p12(data, password.decode("utf-8"))
    except (gost_p12.WrongPassword, UnicodeDecodeError) as e:
        raise WrongSecret(f"cannot open {path.name}: wrong password or damaged file") from e
    except gost_p12.ContainerError as e:
        raise SigningFailed(f"cannot open {path.name}: {e}") from e
    oid = gost_p12.key_algorithm(key_der)
    if oid == "1.2.840.113549.1.1.1":  # RSA256_*.p12: the NCA's RSA keys
        from .keys import Pkcs12Key

        return Pkcs12Key(path, password)
    try:
        key = gost.GostPrivateKey.from_pkcs8(key_der)
    except gost.GostError as e:
        raise SigningFailed(f"{path.name} holds a {gost.algorithm_name(oid)}, which qamqor cannot "
                            "sign with", remedy="use a GOST R 34.10-2015 512-bit key (GOST512_*.p12)") from e
    return GostKey(key, certs[0], certs[1:], f"NCA PKCS#12 {path.name}")


def write_p12_file(path: Path, key: gost.GostPrivateKey, cert: asn1_x509.Certificate,
                   chain: list[asn1_x509.Certificate], password: str, *, iterations: int = gost_p12.ITERATIONS
                   ) -> Path:
    """Write a GOST key as the NCA's PKCS#12 container (:mod:`signing.gost_p12`)."""
    path = Path(path)
    path.write_bytes(gost_p12.write_p12(key, cert, chain, password, iterations=iterations))
    return path


def load_gost_key(path, password: bytes | str) -> GostKey:
    """Open a GOST key file of either form once (the key stays parsed for the batch, as
    :func:`signing.keys.load_pkcs12`)."""
    path = Path(path)
    pw = password.encode() if isinstance(password, str) else password
    try:
        data = path.read_bytes()
    except OSError as e:
        raise KeyNotFound(f"cannot read the key file {path}: {e.strerror}") from e
    if not pem.detect(data):
        return _open_p12(path, data, pw)
    blocks = list(pem.unarmor(data, multiple=True))
    keys_ = [der for kind, _h, der in blocks if kind == _PEM_KEY]
    certs = [asn1_x509.Certificate.load(der) for kind, _h, der in blocks if kind == "CERTIFICATE"]
    if len(keys_) != 1 or not certs:
        raise SigningFailed(f"{path.name} holds no GOST key with its certificate")
    return GostKey(decrypt_pkcs8(keys_[0], pw), certs[0], certs[1:], f"GOST key file {path.name}")

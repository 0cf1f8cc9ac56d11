"""The NCA's own PKCS#12 key containers (``GOST512_<ski>.p12``, ``GOSTKNCA_<ski>.p12``), read and written here
(issue 16 §3): PKCS#12 itself is standard, only the key inside is GOST.

The layout, learnt from the real NCA test container ``GOSTKNCA_f8a4….p12`` that NCANode once kept among its test
resources (decrypted with its published test password in a throwaway script: its MAC verifies, its key matches
its certificate) and from the reader of ``fedor35/ncalayer-rs`` (``crates/kz-pki``), which Kalkan's
BouncyCastle heritage explains:

- PFX v3, the authenticated safe as id-data; ``MacData`` HMAC-SHA1 (RFC 7292 Appendix B key, ID 3), a 20-byte
  salt, 1024 iterations;
- first SafeContents (plain id-data): one ``pkcs8ShroudedKeyBag`` under ``pbeWithSHAAnd3-KeyTripleDES-CBC``
  (1.2.840.113549.1.12.1.3, 20-byte salt, 1024 iterations);
- second: ``EncryptedData`` under ``pbeWithSHAAnd40BitRC2-CBC`` (1.2.840.113549.1.12.1.6) holding the
  ``certBag``s (x509Certificate); the NCA's holds the owner's certificate only, ours also the issuing CA's;
- both bags carry ``localKeyId`` = the certificate's subject key identifier (SHA-1 of the DER
  SubjectPublicKeyInfo in the NCA's certificates) and ``friendlyName`` = its lower-case hex (the file's name);
- the key: PKCS#8 v0, algorithm 1.2.398.3.10.1.1.2.2 with ``SEQUENCE {curve, Streebog-512}``, ``privateKey``
  an OCTET STRING of ``d`` little-endian for 2015 keys (what Kalkan writes, ncalayer-rs) or an INTEGER (the
  2004 key of the real container); :meth:`signing.gost.GostPrivateKey.from_pkcs8` reads both.

No GOST cipher protects the container, so well-kept libraries do it all: asn1crypto (the structures), pyca
``cryptography`` (HMAC, 3DES-CBC), PyCryptodome (RC2-CBC with a 40-bit effective key: pyca's RC2 takes 128-bit
keys only).  The RFC 7292 Appendix B key derivation is a few lines here (no maintained library exposes it:
oscrypto's needs a libcrypto it cannot find on OpenSSL 3).  1024 iterations of SHA-1 is what the NCA writes;
:func:`write_p12` takes more for containers of our own.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from asn1crypto import cms as asn1_cms
from asn1crypto import core, pkcs12
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from Crypto.Cipher import ARC2
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, modes

from . import gost

#: what the NCA's containers use (module docstring)
ITERATIONS = 1024
KEY_PBE = "pkcs12_sha1_tripledes_3key"
CERT_PBE = "pkcs12_sha1_rc2_40"
_KEY, _IV, _MAC = 1, 2, 3  # RFC 7292 B.3: the ID byte of each derived value


class ContainerError(ValueError):
    """Not a container this module reads (another layout, a damaged file)."""


class WrongPassword(ValueError):
    """The MAC (or, without one, the padding) says the password is wrong."""


def derive(password: str, salt: bytes, iterations: int, purpose: int, size: int) -> bytes:
    """RFC 7292 Appendix B.2 with SHA-1 (u = 20, v = 64): ``size`` bytes for ``purpose`` (1 key, 2 IV, 3 MAC)."""
    u, v = 20, 64
    pw = (password + "\0").encode("utf-16-be")  # a BMPString with its terminating zero (B.1)

    def stretch(data: bytes) -> bytes:  # repeated to a multiple of v bytes
        n = v * -(-len(data) // v)
        return (data * (n // len(data) + 1))[:n] if data else b""

    block = bytearray(stretch(salt) + stretch(pw))
    out = b""
    while len(out) < size:
        a = bytes([purpose]) * v + bytes(block)
        for _ in range(iterations):
            a = hashlib.sha1(a).digest()
        out += a
        b = int.from_bytes((a * (v // u + 1))[:v], "big")
        for j in range(0, len(block), v):
            part = (int.from_bytes(block[j:j + v], "big") + b + 1) % (1 << (8 * v))
            block[j:j + v] = part.to_bytes(v, "big")
    return out[:size]


def _crypt(name: str, password: str, salt: bytes, iterations: int, data: bytes, *, encrypt: bool) -> bytes:
    if name == KEY_PBE:
        key, iv = derive(password, salt, iterations, _KEY, 24), derive(password, salt, iterations, _IV, 8)
        c = Cipher(TripleDES(key), modes.CBC(iv))
        op = c.encryptor() if encrypt else c.decryptor()
        crypt = lambda d: op.update(d) + op.finalize()  # noqa: E731
    elif name == CERT_PBE:
        key, iv = derive(password, salt, iterations, _KEY, 5), derive(password, salt, iterations, _IV, 8)
        rc2 = ARC2.new(key, ARC2.MODE_CBC, iv=iv, effective_keylen=40)
        crypt = rc2.encrypt if encrypt else rc2.decrypt
    else:
        raise ContainerError(f"the container is encrypted with {name}, not as the NCA's are")
    if encrypt:
        padder = padding.PKCS7(64).padder()
        return crypt(padder.update(data) + padder.finalize())
    unpadder = padding.PKCS7(64).unpadder()
    try:
        return unpadder.update(crypt(data)) + unpadder.finalize()
    except ValueError as e:
        raise WrongPassword("cannot decrypt the container: wrong password or damaged file") from e


def _decrypt(algorithm, password: str, data: bytes) -> bytes:
    params = algorithm["parameters"]
    return _crypt(algorithm["algorithm"].native, password, params["salt"].native, params["iterations"].native,
                  data, encrypt=False)


def _pbe(name: str, password: str, data: bytes, iterations: int) -> tuple[dict, bytes]:
    salt = os.urandom(20)
    alg = {"algorithm": name, "parameters": {"salt": salt, "iterations": iterations}}
    return alg, _crypt(name, password, salt, iterations, data, encrypt=True)


def _mac(password: str, salt: bytes, iterations: int, data: bytes) -> bytes:
    return hmac.new(derive(password, salt, iterations, _MAC, 20), data, "sha1").digest()


def looks_like_nca(data: bytes) -> bool:
    """Whether ``data`` is a whole PKCS#12 in the NCA's layout: an HMAC-SHA1 MAC and a 3DES-shrouded key in a
    plain SafeContents.  Its key's algorithm is encrypted: an RSA key may be found inside too."""
    try:
        pfx = pkcs12.Pfx.load(data)
        if pfx["version"].native != "v3" or pfx["mac_data"]["mac"]["digest_algorithm"]["algorithm"].native != "sha1":
            return False
        for ci in pfx.authenticated_safe:
            if ci["content_type"].native == "data":
                for bag in pkcs12.SafeContents.load(ci["content"].native):
                    if bag["bag_id"].native == "pkcs8_shrouded_key_bag":
                        return bag["bag_value"]["encryption_algorithm"]["algorithm"].native == KEY_PBE
    except (ValueError, TypeError, KeyError):
        return False
    return False


def read_p12(data: bytes, password: str) -> tuple[bytes, list[asn1_x509.Certificate]]:
    """The decrypted PKCS#8 key (DER) and the certificates of an NCA container, the key's own first
    (matched by ``localKeyId``)."""
    try:
        pfx = pkcs12.Pfx.load(data)
        auth = pfx["auth_safe"]
        if auth["content_type"].native != "data":
            raise ContainerError("the container is signed (public-key integrity), not password-protected")
        mac_data = pfx["mac_data"]
        if mac_data.native is not None:
            salt, iterations = mac_data["mac_salt"].native, mac_data["iterations"].native
            if mac_data["mac"]["digest_algorithm"]["algorithm"].native != "sha1":
                raise ContainerError("the container's MAC is not HMAC-SHA1, as the NCA's is")
            if not hmac.compare_digest(_mac(password, salt, iterations, auth["content"].native),
                                       mac_data["mac"]["digest"].native):
                raise WrongPassword("the container's MAC does not match: wrong password or damaged file")
        keys_, certs = [], []
        for ci in pfx.authenticated_safe:
            kind = ci["content_type"].native
            if kind == "data":
                contents = ci["content"].native
            elif kind == "encrypted_data":
                eci = ci["content"]["encrypted_content_info"]
                contents = _decrypt(eci["content_encryption_algorithm"], password, eci["encrypted_content"].native)
            else:
                continue
            for bag in pkcs12.SafeContents.load(contents):
                attrs = {a["type"].native: a["values"][0].native for a in bag["bag_attributes"] or []}
                if bag["bag_id"].native == "pkcs8_shrouded_key_bag":
                    value = bag["bag_value"]
                    keys_.append((attrs.get("local_key_id"),
                                  _decrypt(value["encryption_algorithm"], password, value["encrypted_data"].native)))
                elif bag["bag_id"].native == "cert_bag" and bag["bag_value"]["cert_id"].native == "x509":
                    certs.append((attrs.get("local_key_id"),
                                  asn1_x509.Certificate.load(bytes(bag["bag_value"]["cert_value"]))))
    except (WrongPassword, ContainerError):
        raise
    except (ValueError, TypeError, KeyError) as e:
        raise ContainerError(f"not a PKCS#12 container qamqor can read: {e}") from e
    if len(keys_) != 1 or not certs:
        raise ContainerError(f"the container holds {len(keys_)} keys and {len(certs)} certificates, not one key "
                             "with its certificate")
    key_id, key_der = keys_[0]
    own = next((c for i, c in certs if key_id is not None and i == key_id), certs[0][1])
    return key_der, [own] + [c for _i, c in certs if c is not own]


def key_algorithm(key_der: bytes) -> str:
    """The dotted OID of a PKCS#8 key's algorithm (its value is not parsed: an RSA key is read elsewhere)."""
    return core.Sequence.load(key_der)[1][0].dotted


def write_p12(key: gost.GostPrivateKey, cert: asn1_x509.Certificate, chain: list[asn1_x509.Certificate],
              password: str, *, iterations: int = ITERATIONS) -> bytes:
    """A GOST key and its certificates as an NCA container (module docstring)."""
    key_id = cert.key_identifier or hashlib.sha1(cert.public_key.dump()).digest()
    attrs = pkcs12.Attributes([
        {"type": "local_key_id", "values": [key_id]},
        {"type": "friendly_name", "values": [core.BMPString(key_id.hex())]},
    ])
    key_alg, key_ct = _pbe(KEY_PBE, password, key.to_pkcs8().dump(), iterations)
    key_bag = pkcs12.SafeBag({
        "bag_id": "pkcs8_shrouded_key_bag",
        "bag_value": asn1_keys.EncryptedPrivateKeyInfo({"encryption_algorithm": key_alg, "encrypted_data": key_ct}),
        "bag_attributes": attrs})
    cert_bags = [pkcs12.SafeBag({
        "bag_id": "cert_bag", "bag_value": pkcs12.CertBag({"cert_id": "x509", "cert_value": c}),
        "bag_attributes": attrs if c is cert else None}) for c in [cert, *chain]]
    cert_alg, cert_ct = _pbe(CERT_PBE, password, pkcs12.SafeContents(cert_bags).dump(), iterations)
    encrypted = asn1_cms.EncryptedData({"version": "v0", "encrypted_content_info": {
        "content_type": "data", "content_encryption_algorithm": cert_alg, "encrypted_content": cert_ct}})
    safe = pkcs12.AuthenticatedSafe([
        {"content_type": "data", "content": pkcs12.SafeContents([key_bag]).dump()},
        {"content_type": "encrypted_data", "content": encrypted},
    ]).dump()
    salt = os.urandom(20)
    return pkcs12.Pfx({
        "version": "v3",
        "auth_safe": {"content_type": "data", "content": safe},
        "mac_data": {"mac": {"digest_algorithm": {"algorithm": "sha1"}, "digest": _mac(password, salt, iterations,
                                                                                        safe)},
                     "mac_salt": salt, "iterations": iterations},
    }).dump()

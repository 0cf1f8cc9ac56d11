"""Kazakh GOST keys (issue 16): the NCA's OIDs, its byte conventions, and GOST R 34.10-2015 arithmetic.

The NCA (ҰКО) issues officers' file keys as GOST R 34.10-2015 (= GOST R 34.10-2012) 512-bit keys on the TC26
512-A curve, with the Streebog-512 hash (GOST R 34.11-2015), under its own OIDs (1.2.398.…, not the Russian
1.2.643.…).  asn1crypto, and so pyHanko and certvalidator above it, know none of them: importing this module
registers them once (:func:`register_oids`, idempotent; no fork of asn1crypto).

Byte conventions, as NCA artefacts use them (checked against real NCA test certificates and OCSP responses,
research/gost.md §4.3):

- signature (certificates, CRLs, OCSP, CMS SignerInfo): ``r‖s``, each 64 bytes **little-endian**;
- public key: the BIT STRING holds an OCTET STRING of ``x‖y``, each 64 bytes **little-endian**;
- ``e``: the Streebog-512 digest read as a **little-endian** integer.

The arithmetic is ``gostcrypto`` (PyPI, MIT, pure Python): it works on big-endian numbers, so this module turns
bytes round at its edge, and nowhere else.  What it lacks: GOST 34.310-2004 and its 34.311-95 hash (the NCA's
own timestamps), and speed (≈0.3 s per 512-bit verification).  The 2015-256 and the 2004 OIDs are recognised and
named (:func:`algorithm_name`), not verified.

:class:`KzGostSignatureValidator` is certvalidator's supported hook (``ValidationContext(signature_validator=…)``):
it verifies GOST signatures of certificates, CRLs and OCSP responses during path building and hands every other
algorithm to certvalidator's default validator, so RSA behaviour is unchanged.
"""

from __future__ import annotations

import functools
import hmac
from dataclasses import dataclass

import gostcrypto
from asn1crypto import algos, core, keys
from cryptography.exceptions import InvalidSignature
from pyhanko_certvalidator.sig_validate import (
    DEFAULT_VALIDATION_CONTEXT,
    DefaultSignatureValidator,
    SignatureValidationContext,
    SignatureValidator,
)

# --- the OIDs (research/gost.md §4.2) -----------------------------------------------------------------------

KEY_2004 = "1.2.398.3.10.1.1.1.1"  # GOST 34.310-2004 public key
CURVE_2004_A = "1.2.398.3.10.1.1.1.1.1"  # "PKIGOVKZ-A" = CryptoPro-A
SIG_2004 = "1.2.398.3.10.1.1.1.2"  # GOST 34.310-2004 with 34.311-95
HASH_34311 = "1.2.398.3.10.1.3.1"  # GOST 34.311-95
KEY_2015_256 = "1.2.398.3.10.1.1.2.1"
KEY_2015_512 = "1.2.398.3.10.1.1.2.2"
CURVE_256_A = "1.2.398.3.10.1.1.2.1.1"  # = tc26-256-paramSetA
CURVE_512_A = "1.2.398.3.10.1.1.2.2.1"  # = tc26-512-paramSetA (RFC 7836)
SIG_2015_256 = "1.2.398.3.10.1.1.2.3.1"
SIG_2015_512 = "1.2.398.3.10.1.1.2.3.2"
STREEBOG_256 = "1.2.398.3.10.1.3.2"
STREEBOG_512 = "1.2.398.3.10.1.3.3"

#: asn1crypto names for them (what ``.native`` returns once registered)
KEY_NAMES = {KEY_2004: "kz_gost2004", KEY_2015_256: "kz_gost2015_256", KEY_2015_512: "kz_gost2015_512"}
SIG_NAMES = {SIG_2004: "kz_gost2004_34311", SIG_2015_256: "kz_gost2015_256_streebog256",
             SIG_2015_512: "kz_gost2015_512_streebog512"}
HASH_NAMES = {HASH_34311: "kz_gost34311", STREEBOG_256: "kz_streebog256", STREEBOG_512: "kz_streebog512"}
CURVE_NAMES = {CURVE_2004_A: "kz_pkigovkz_a", CURVE_256_A: "kz_tc26_256_a", CURVE_512_A: "kz_tc26_512_a"}

#: what a report says for each (officers read words, never raw codes)
HUMAN = {
    "kz_gost2004": "GOST 34.310-2004 key", "kz_gost2015_256": "GOST R 34.10-2015 256-bit key",
    "kz_gost2015_512": "GOST R 34.10-2015 512-bit key",
    "kz_gost2004_34311": "GOST 34.310-2004 with GOST 34.311-95",
    "kz_gost2015_256_streebog256": "GOST R 34.10-2015 256-bit with Streebog-256",
    "kz_gost2015_512_streebog512": "GOST R 34.10-2015 512-bit with Streebog-512",
    "kz_gost34311": "GOST 34.311-95", "kz_streebog256": "Streebog-256", "kz_streebog512": "Streebog-512",
}

#: the only combination this module verifies and makes: 2015/512 on TC26 512-A with Streebog-512
SUPPORTED_SIGNATURES = frozenset({SIG_NAMES[SIG_2015_512]})
GOST_KEYS = frozenset(KEY_NAMES.values())
GOST_SIGNATURES = frozenset(SIG_NAMES.values())
GOST_DIGESTS = frozenset(HASH_NAMES.values())

_CURVE_512_A = gostcrypto.gostsignature.CURVES_R_1323565_1_024_2019["id-tc26-gost-3410-12-512-paramSetA"]
SIZE = 64  # bytes per coordinate / per half of the signature (512 bits)


class GostKeyParameters(core.Sequence):
    """SPKI parameters of an NCA GOST key: ``SEQUENCE {curve OID, digest OID}`` (research/gost.md §4.2)."""

    _fields = [
        ("public_key_param_set", core.ObjectIdentifier),
        ("digest_param_set", core.ObjectIdentifier, {"optional": True}),
    ]


def _add(cls, mapping: dict[str, str]) -> None:
    cls._map.update(mapping)
    if cls._reverse_map is not None:  # already built by an earlier lookup: keep it in step
        cls._reverse_map.update({v: k for k, v in mapping.items()})


_registered = False


def register_oids() -> None:
    """Teach asn1crypto the Kazakh GOST OIDs (idempotent; run at import)."""
    global _registered
    if _registered:
        return
    _add(keys.PublicKeyAlgorithmId, KEY_NAMES)
    _add(keys.PrivateKeyAlgorithmId, KEY_NAMES)
    _add(algos.SignedDigestAlgorithmId, SIG_NAMES)
    _add(algos.DigestAlgorithmId, HASH_NAMES)
    for name in KEY_NAMES.values():
        keys.PublicKeyAlgorithm._oid_specs[name] = GostKeyParameters
        keys.PrivateKeyAlgorithm._oid_specs[name] = GostKeyParameters
    original = keys.PublicKeyInfo._spec_callbacks["public_key"]
    original_private = keys.PrivateKeyInfo._spec_callbacks["private_key"]

    def _public_key_spec(self):
        # the BIT STRING of a GOST key holds an OCTET STRING (x‖y little-endian): kept opaque here, read by
        # :func:`public_key_xy`
        if self["algorithm"]["algorithm"].native in GOST_KEYS:
            return (keys.OctetBitString, None)
        return original(self)

    def _private_key_spec(self):
        # a GOST private key is an OCTET STRING of d, little-endian (read by :meth:`GostPrivateKey.from_pkcs8`)
        if self["private_key_algorithm"]["algorithm"].native in GOST_KEYS:
            return core.OctetString
        return original_private(self)

    keys.PublicKeyInfo._spec_callbacks = {**keys.PublicKeyInfo._spec_callbacks, "public_key": _public_key_spec}
    keys.PrivateKeyInfo._spec_callbacks = {**keys.PrivateKeyInfo._spec_callbacks, "private_key": _private_key_spec}
    _registered = True


register_oids()


def algorithm_name(oid_or_name: str) -> str:
    """A GOST key, signature or hash algorithm by name, for reports ("GOST R 34.10-2015 512-bit key")."""
    name = {**KEY_NAMES, **SIG_NAMES, **HASH_NAMES}.get(oid_or_name, oid_or_name)
    return HUMAN.get(name, name)


def is_gost(algorithm_name_: str) -> bool:
    """Whether an asn1crypto algorithm name (key, signature or digest) is one of the Kazakh GOST ones."""
    return algorithm_name_ in GOST_KEYS or algorithm_name_ in GOST_SIGNATURES or algorithm_name_ in GOST_DIGESTS


class GostError(ValueError):
    """A GOST structure this module cannot use (an unsupported curve or algorithm, a malformed key)."""


# --- byte conventions -----------------------------------------------------------------------------------------


def streebog512(data: bytes) -> bytes:
    """The Streebog-512 digest (GOST R 34.11-2012) of ``data``, as the byte string RFC 6986 implementations give."""
    return bytes(gostcrypto.gosthash.new("streebog512", data=data).digest())


def _curve(public_key_info: keys.PublicKeyInfo | None = None) -> dict:
    if public_key_info is not None:
        algo = public_key_info["algorithm"]
        if algo["algorithm"].native != KEY_NAMES[KEY_2015_512]:
            raise GostError(f"unsupported key: {algorithm_name(algo['algorithm'].dotted)}")
        params = algo["parameters"]
        if params.native is not None and params["public_key_param_set"].dotted != CURVE_512_A:
            raise GostError(f"unsupported curve {params['public_key_param_set'].dotted}")
    return _CURVE_512_A


def _engine(curve: dict | None = None):
    return gostcrypto.gostsignature.new(gostcrypto.gostsignature.MODE_512, curve or _CURVE_512_A)


def public_key_xy(public_key_info: keys.PublicKeyInfo) -> bytes:
    """The NCA public key as gostcrypto takes it: ``x‖y`` big-endian (from the OCTET STRING's little-endian)."""
    _curve(public_key_info)
    inner = core.OctetString.load(public_key_info["public_key"].native).native
    if len(inner) != 2 * SIZE:
        raise GostError(f"a 512-bit GOST public key has {2 * SIZE} bytes, not {len(inner)}")
    return inner[:SIZE][::-1] + inner[SIZE:][::-1]


def public_key_info(xy_be: bytes) -> keys.PublicKeyInfo:
    """An NCA-style SubjectPublicKeyInfo for a 2015/512 key on TC26 512-A (``x‖y`` given big-endian)."""
    inner = core.OctetString(xy_be[:SIZE][::-1] + xy_be[SIZE:][::-1]).dump()
    return keys.PublicKeyInfo({
        "algorithm": {"algorithm": KEY_NAMES[KEY_2015_512],
                      "parameters": GostKeyParameters({"public_key_param_set": CURVE_512_A,
                                                       "digest_param_set": STREEBOG_512})},
        "public_key": inner,
    })


def to_nca_signature(rs_be: bytes) -> bytes:
    """gostcrypto's ``r‖s`` big-endian → the NCA's ``r‖s`` each little-endian."""
    return rs_be[:SIZE][::-1] + rs_be[SIZE:][::-1]


def from_nca_signature(sig: bytes) -> bytes:
    return to_nca_signature(sig)  # the same swap both ways


def _e_bytes(digest: bytes) -> bytes:
    # e is the digest read little-endian; gostcrypto reads its argument big-endian
    return digest[::-1]


@dataclass(frozen=True)
class GostPrivateKey:
    """A GOST R 34.10-2015 512-bit private key on TC26 512-A (``d`` as an integer)."""

    d: int

    def public_xy(self) -> bytes:
        return bytes(_engine().public_key_generate(bytearray(self.d.to_bytes(SIZE, "big"))))

    def public_key_info(self) -> keys.PublicKeyInfo:
        return public_key_info(self.public_xy())

    def sign_digest(self, digest: bytes, *, k: int | None = None) -> bytes:
        """Sign a Streebog-512 digest; the signature in the NCA's byte order (``k``: for known-answer tests)."""
        rand = bytearray(k.to_bytes(SIZE, "big")) if k is not None else bytearray(b"")
        rs = _engine().sign(bytearray(self.d.to_bytes(SIZE, "big")), bytearray(_e_bytes(digest)), rand)
        return to_nca_signature(bytes(rs))

    def sign(self, data: bytes) -> bytes:
        return self.sign_digest(streebog512(data))

    def to_pkcs8(self) -> keys.PrivateKeyInfo:
        """A PKCS#8 PrivateKeyInfo (unencrypted): the OCTET STRING holds ``d`` little-endian, as the NCA does."""
        return keys.PrivateKeyInfo({
            "version": 0,
            "private_key_algorithm": {"algorithm": KEY_NAMES[KEY_2015_512],
                                      "parameters": GostKeyParameters({"public_key_param_set": CURVE_512_A,
                                                                       "digest_param_set": STREEBOG_512})},
            "private_key": core.OctetString(self.d.to_bytes(SIZE, "little")),
        })

    @classmethod
    def from_pkcs8(cls, der: bytes) -> GostPrivateKey:
        info = keys.PrivateKeyInfo.load(der)
        algo = info["private_key_algorithm"]["algorithm"]
        if algo.native != KEY_NAMES[KEY_2015_512]:
            raise GostError(f"not a GOST 2015/512 key: {algorithm_name(algo.dotted)}")
        # the OCTET STRING holds an OCTET STRING of d little-endian (Kalkan's 2015 keys, and ours), or an INTEGER
        # (the NCA's 2004 container, signing.gost_p12), or the bare 64 bytes
        inner = core.Sequence.load(der)[2].native
        if inner[:1] == b"\x04" and len(inner) == SIZE + 2:
            return cls(int.from_bytes(core.OctetString.load(inner).native, "little"))
        if inner[:1] == b"\x02":
            return cls(core.Integer.load(inner).native)
        if len(inner) == SIZE:
            return cls(int.from_bytes(inner, "little"))
        raise GostError("the GOST private key is encoded in a way qamqor does not know")


def verify_digest(public_key: keys.PublicKeyInfo, digest: bytes, signature: bytes) -> bool:
    """Verify an NCA-order signature over a Streebog-512 digest with an NCA public key."""
    if len(signature) != 2 * SIZE or len(digest) != SIZE:
        return False
    _curve(public_key)
    return _verify_cached(public_key_xy(public_key), bytes(digest), bytes(signature))


@functools.lru_cache(maxsize=1024)
def _verify_cached(xy_be: bytes, digest: bytes, signature: bytes) -> bool:
    # a pure function of its bytes: the CA certificates and CRLs of a batch are verified once, not per document
    # (≈0.5 s each in pure Python)
    try:
        return bool(_engine().verify(bytearray(xy_be), bytearray(_e_bytes(digest)),
                                     bytearray(from_nca_signature(signature))))
    except gostcrypto.gostsignature.GOSTSignatureError:
        return False


def verify(public_key: keys.PublicKeyInfo, data: bytes, signature: bytes) -> bool:
    return verify_digest(public_key, streebog512(data), signature)


class KzGostSignatureValidator(SignatureValidator):
    """certvalidator's hook: GOST 2015/512 signatures here, every other algorithm to its default validator."""

    def __init__(self, fallback: SignatureValidator | None = None):
        self.fallback = fallback or DefaultSignatureValidator()

    def validate_signature(self, signature: bytes, signed_data: bytes, public_key_info: keys.PublicKeyInfo,
                           signature_algorithm: algos.SignedDigestAlgorithm,
                           context: SignatureValidationContext = DEFAULT_VALIDATION_CONTEXT):
        name = signature_algorithm["algorithm"].native
        if name not in GOST_SIGNATURES and public_key_info.algorithm not in GOST_KEYS:
            return self.fallback.validate_signature(signature, signed_data, public_key_info,
                                                    signature_algorithm, context)
        if name not in SUPPORTED_SIGNATURES:
            raise InvalidSignature(f"{algorithm_name(name)} is recognised but not verified by qamqor")
        try:
            digest = signed_data if context.prehashed else streebog512(signed_data)
            ok = verify_digest(public_key_info, digest, signature)
        except GostError as e:
            raise InvalidSignature(str(e)) from e
        if not ok:
            raise InvalidSignature("the GOST signature does not verify")


def same(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)

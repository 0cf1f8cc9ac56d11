"""Signing keys: one interface over PKCS#12 files and PKCS#11 tokens.

A :class:`SigningKey` holds the signer's certificate, the chain that came with it, and the pyHanko
:class:`~pyhanko.sign.signers.Signer` that makes the raw signature.  Keys are loaded once per batch: stock
``SimpleSigner`` re-parses (and re-validates) the private key on every signature, ~37 ms for RSA-2048
(perf-baseline.md §4d–e), so :class:`CachedKeySigner` keeps the parsed key.

Both signers also keep the signing-certificate-v2 attribute (RFC 5035: the signer certificate's SHA-256 and
issuer/serial).  pyHanko rebuilds it per signature, and asn1crypto re-encodes the certificate's issuer name
inside it (~5–10 ms with a Cyrillic DN, half of a whole B-B signature); the value depends only on the
certificate, so it is encoded once per key and re-loaded from those bytes for every signature.
"""

from __future__ import annotations

import hashlib
from abc import ABC
from functools import lru_cache
from pathlib import Path

from asn1crypto import tsp as asn1_tsp
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives.asymmetric.ec import ECDSA, EllipticCurvePrivateKey
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import pkcs12
from pyhanko.sign.attributes import SigningCertificateV2Provider
from pyhanko.sign.general import as_signing_certificate_v2
from pyhanko.sign.signers import SimpleSigner
from pyhanko.sign.signers.pdf_cms import CAdESSignedAttributeProviderSpec, Signer
from pyhanko_certvalidator.registry import SimpleCertificateStore
from pyhanko_certvalidator.util import get_pyca_cryptography_hash, process_pss_params

from .errors import KeyNotFound, SigningFailed, WrongSecret


class SigningKey(ABC):  # noqa: B024 - an interface with shared state, not abstract methods
    """What ``sign_pdf`` needs from a key: the certificate, its chain and a pyHanko signer."""

    certificate: asn1_x509.Certificate
    chain: list[asn1_x509.Certificate]
    signer: Signer
    description: str = ""

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.certificate.dump()).hexdigest()

    def close(self) -> None:  # noqa: B027 - optional hook, a no-op for files
        """Release the backend (a token session)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _EncodedSigningCertificateV2(SigningCertificateV2Provider):
    """The signing-certificate-v2 value, from bytes encoded once per certificate."""

    def __init__(self, der: bytes):
        self._der = der

    async def build_attr_value(self, dry_run=False) -> asn1_tsp.SigningCertificateV2:
        return asn1_tsp.SigningCertificateV2.load(self._der)  # a fresh, lazily parsed object per signature


class _EncodedCertificateAttributes(CAdESSignedAttributeProviderSpec):
    """pyHanko's CAdES/PAdES signed attributes, with the signing-certificate-v2 value encoded in advance."""

    def __init__(self, *, encoded_sc2: bytes, **kwargs):
        super().__init__(**kwargs)
        self._encoded_sc2 = encoded_sc2

    def signed_attr_providers(self, data_digest: bytes, digest_algorithm: str):
        for prov in super().signed_attr_providers(data_digest=data_digest, digest_algorithm=digest_algorithm):
            if type(prov) is SigningCertificateV2Provider and prov.signing_cert is self.signing_cert:
                yield _EncodedSigningCertificateV2(self._encoded_sc2)
            else:
                yield prov


class EncodedAttributesMixin:
    """For ``Signer`` subclasses: PAdES signed attributes with the certificate attribute encoded once.

    Hooks pyHanko 0.38's ``Signer._signed_attr_provider_spec`` (only the CAdES/PAdES branch, and only when no
    explicit spec was configured); everything else is pyHanko's own attribute logic.
    """

    _encoded_sc2: tuple[bytes, bytes] | None = None  # (certificate DER, attribute DER)

    def _signed_attr_provider_spec(self, attr_settings, timestamper=None, use_cades=False, is_pdf_sig=True):
        cert = self.signing_cert
        if self.signed_attr_prov_spec is not None or not use_cades or cert is None:
            return super()._signed_attr_provider_spec(
                attr_settings, timestamper=timestamper, use_cades=use_cades, is_pdf_sig=is_pdf_sig
            )
        cert_der = cert.dump()
        cached = self._encoded_sc2
        if cached is None or cached[0] != cert_der:
            cached = self._encoded_sc2 = (cert_der, as_signing_certificate_v2(cert).dump())
        return _EncodedCertificateAttributes(
            encoded_sc2=cached[1], attr_settings=attr_settings, signing_cert=cert, is_pades=is_pdf_sig,
            timestamper=timestamper,
        )


class CachedKeySigner(EncodedAttributesMixin, SimpleSigner):
    """``SimpleSigner`` that keeps the parsed ``cryptography`` key instead of re-loading it per signature."""

    def __init__(self, *args, pyca_key, **kwargs):
        super().__init__(*args, **kwargs)
        self._pyca_key = pyca_key

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        mech = self.get_signature_mechanism_for_digest(digest_algorithm)
        algo = mech.signature_algo
        key = self._pyca_key
        if algo == "rsassa_pkcs1v15" and isinstance(key, RSAPrivateKey):
            return key.sign(data, PKCS1v15(), get_pyca_cryptography_hash(digest_algorithm))
        if algo == "rsassa_pss" and isinstance(key, RSAPrivateKey):
            padding, hash_algo = process_pss_params(mech["parameters"])
            return key.sign(data, padding, hash_algo)
        if algo == "ecdsa" and isinstance(key, EllipticCurvePrivateKey):
            return key.sign(data, ECDSA(get_pyca_cryptography_hash(digest_algorithm)))
        return super().sign_raw(data, digest_algorithm)


class Pkcs12Key(SigningKey):
    def __init__(self, path: Path, password: bytes):
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as e:
            raise KeyNotFound(f"cannot read the key file {path}: {e.strerror}") from e
        try:
            key, cert, others = pkcs12.load_key_and_certificates(data, password)
        except ValueError as e:
            # cryptography says "Invalid password or PKCS12 data" for both; a readable file means the password
            raise WrongSecret(f"cannot open {path.name}: wrong password or damaged PKCS#12 file") from e
        if key is None or cert is None:
            raise SigningFailed(f"{path.name} holds no private key with its certificate")
        from pyhanko.keys.internal import (
            translate_pyca_cryptography_cert_to_asn1,
            translate_pyca_cryptography_key_to_asn1,
        )

        self.certificate = translate_pyca_cryptography_cert_to_asn1(cert)
        self.chain = [translate_pyca_cryptography_cert_to_asn1(c) for c in others]
        store = SimpleCertificateStore()
        store.register_multiple(self.chain)
        self.signer = CachedKeySigner(
            signing_cert=self.certificate,
            signing_key=translate_pyca_cryptography_key_to_asn1(key),
            cert_registry=store,
            pyca_key=key,
        )
        self.description = f"PKCS#12 {path.name}"


def load_pkcs12(path, password: bytes | str) -> SigningKey:
    """Open a PKCS#12 file (NCA ``RSA256_*.p12``) once; the parsed key is kept for the whole batch."""
    if isinstance(password, str):
        password = password.encode()
    from .gost_keys import is_gost_key_file, load_gost_key  # issue 16: an officer's GOST key file

    try:
        data = Path(path).read_bytes()  # the whole file: an NCA container's layout is read to its end
    except OSError:
        data = b""
    if is_gost_key_file(data):
        return load_gost_key(path, password)
    return Pkcs12Key(Path(path), password)


@lru_cache(maxsize=1)
def _pkcs11_signer_class():
    from pyhanko.sign.pkcs11 import PKCS11Signer  # deferred: python-pkcs11 is only needed for tokens

    class EncodedAttributesPKCS11Signer(EncodedAttributesMixin, PKCS11Signer):
        pass

    return EncodedAttributesPKCS11Signer


class Pkcs11Key(SigningKey):
    def __init__(self, module_path: str, token_label: str, key_label: str, pin: str | None, ca_chain=()):
        import pkcs11
        from pyhanko.sign import pkcs11 as ph11
        from pyhanko.sign.pkcs11 import PKCS11Error

        if not Path(module_path).exists():
            raise KeyNotFound(f"the PKCS#11 module {module_path} does not exist")
        try:
            self._session = ph11.open_pkcs11_session(
                module_path, token_criteria=ph11.TokenCriteria(label=token_label), user_pin=pin
            )
        except (pkcs11.exceptions.PinIncorrect, pkcs11.exceptions.PinLenRange, pkcs11.exceptions.PinInvalid) as e:
            raise WrongSecret(f"the token {token_label!r} refused the PIN") from e
        except pkcs11.exceptions.PinLocked as e:
            raise WrongSecret(f"the token {token_label!r} is locked (too many wrong PINs)",
                              remedy="unlock it with the SO PIN") from e
        except (pkcs11.exceptions.TokenNotPresent, pkcs11.exceptions.NoSuchToken, pkcs11.exceptions.SlotIDInvalid) as e:
            raise KeyNotFound(f"no token labelled {token_label!r} is present") from e
        except PKCS11Error as e:
            if "No token" in str(e) or "token" in str(e).lower():
                raise KeyNotFound(f"no token labelled {token_label!r}: {e}") from e
            raise SigningFailed(f"cannot open the token {token_label!r}: {type(e).__name__} {e}") from e
        try:
            from pyhanko.keys import load_certs_from_pemder

            extra = list(load_certs_from_pemder([str(p) for p in ca_chain])) if ca_chain else None
            self.signer = _pkcs11_signer_class()(self._session, key_label=key_label, cert_label=key_label, ca_chain=extra)
            # bulk-fetch the certificates now, so a missing key fails here, not in the middle of signing
            self.certificate = self.signer.signing_cert
            self.chain = [c for c in self.signer.cert_registry if c.dump() != self.certificate.dump()]
        except PKCS11Error as e:
            self._session.close()
            raise KeyNotFound(f"the token {token_label!r} has no key/certificate labelled {key_label!r}") from e
        except Exception:
            self._session.close()
            raise
        self.description = f"PKCS#11 {token_label}/{key_label}"

    def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            session.close()


def load_pkcs11(module_path, token_label: str, key_label: str, pin: str | None, ca_chain=()) -> SigningKey:
    """Open a session on a PKCS#11 token (KAZTOKEN, eToken, an HSM, SoftHSM2) and find the key and certificate.

    Tokens usually hold only the officer's certificate: ``ca_chain`` (PEM/DER paths) adds the issuing CA's,
    which goes into the CMS so that verifiers can build the path.
    """
    return Pkcs11Key(str(module_path), token_label, key_label, pin, ca_chain)

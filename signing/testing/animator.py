"""certomancer's Animator with each signing key loaded once (NOT FOR PRODUCTION: the demo's and the tests' PKI).

certomancer 0.16 signs every OCSP response, timestamp token and CRL through its crypto backend's ``generic_sign``,
which parses the private key from DER again each time; for an RSA key, cryptography then checks the key's
consistency, ≈36 ms of CPU for a 2048-bit key on this machine.  A B-LTA document asks for two timestamps and an OCSP
response, so the demo's server spent more CPU on each document than the signature itself did, on the same cores
as the pipeline (issue 13: `bench/PROFILE.md`, ninth pass).

This runs certomancer's own command line (the same arguments: ``--config … animate --aiohttp …``) with a backend
that keeps each key once it is loaded (the key's DER, as certomancer hands it over, is the cache key).
Everything else (what is answered, how it is built, the revocation data, the clock) is certomancer's::

    python -m signing.testing.animator --config var/demo-pki/certomancer.yml animate --aiohttp --no-web-ui --port 9777
"""

from __future__ import annotations

import sys
import threading

from asn1crypto import algos, keys
from certomancer import crypto_utils
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa


class KeptKeyBackend(crypto_utils.PycaCryptographyBackend):
    """certomancer's pyca/cryptography backend, with each private key parsed (and checked) once per process.

    Only RSA PKCS#1 v1.5 (what the demo PKI signs with) takes the kept key; any other scheme is certomancer's own
    code, unchanged.  Keys are never changed after loading, and cryptography's keys are safe to share between
    the server's threads.
    """

    def __init__(self):
        self._keys: dict[bytes, object] = {}
        self._lock = threading.Lock()

    def loaded(self, private_key: keys.PrivateKeyInfo):
        der = private_key.dump()
        key = self._keys.get(der)
        if key is None:
            key = serialization.load_der_private_key(der, password=None)
            with self._lock:
                key = self._keys.setdefault(der, key)
        return key

    def generic_sign(self, private_key: keys.PrivateKeyInfo, tbs_bytes: bytes,
                     sd_algo: algos.SignedDigestAlgorithm) -> bytes:
        if sd_algo.signature_algo == "rsassa_pkcs1v15":
            key = self.loaded(private_key)
            if isinstance(key, rsa.RSAPrivateKey):
                return key.sign(tbs_bytes, padding.PKCS1v15(), getattr(hashes, sd_algo.hash_algo.upper())())
        return super().generic_sign(private_key, tbs_bytes, sd_algo)


def install() -> KeptKeyBackend:
    """Make certomancer sign with kept keys in this process (its module-level ``generic_sign`` reads the global)."""
    backend = KeptKeyBackend()
    crypto_utils.CRYPTO_BACKEND = backend
    return backend


def main(argv: list[str] | None = None) -> int:
    install()
    from certomancer.cli import cli

    return cli.main(args=sys.argv[1:] if argv is None else argv, prog_name="certomancer", standalone_mode=True) or 0


if __name__ == "__main__":
    sys.exit(main())

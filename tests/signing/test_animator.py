"""certomancer's Animator with kept keys (``signing.testing.animator``), as the demo and these tests run it.

Issue 13: certomancer parsed (and checked) its RSA key again for every OCSP response, timestamp and CRL, ≈36 ms
of CPU each on the pipeline's own cores.  The kept key must sign exactly as certomancer's own code does.
"""

from __future__ import annotations

import hashlib
import urllib.request
from pathlib import Path

from asn1crypto import algos, keys, ocsp, tsp, x509
from certomancer.crypto_utils import PycaCryptographyBackend
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from pyhanko.keys import load_cert_from_pemder

from signing.testing.animator import KeptKeyBackend


def _key_info(path: Path) -> keys.PrivateKeyInfo:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    return keys.PrivateKeyInfo.load(key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))


def test_a_kept_rsa_key_signs_byte_for_byte_as_certomancer_and_is_parsed_once(pki, monkeypatch):
    loads = []
    original = serialization.load_der_private_key

    def counting(data, *args, **kwargs):
        loads.append(data)
        return original(data, *args, **kwargs)

    monkeypatch.setattr(serialization, "load_der_private_key", counting)
    backend = KeptKeyBackend()
    ocsp_key = _key_info(pki.directory / "keys" / "nca-ocsp.key.pem")
    tsa_key = _key_info(pki.directory / "keys" / "tsa.key.pem")
    algo = algos.SignedDigestAlgorithm({"algorithm": "sha256_rsa"})
    ours = [backend.generic_sign(key, f"response {i}".encode(), algo)
            for i in range(3) for key in (ocsp_key, tsa_key)]
    assert len(loads) == 2  # one parse a key, not one a signature
    loads.clear()
    stock = [PycaCryptographyBackend().generic_sign(key, f"response {i}".encode(), algo)
             for i in range(3) for key in (ocsp_key, tsa_key)]
    assert len(loads) == 6  # certomancer's own backend: a parse for every signature
    assert ours == stock  # PKCS#1 v1.5 is deterministic: the same bytes


def test_other_schemes_are_certomancers_own_code(pki):
    backend = KeptKeyBackend()
    pss = algos.SignedDigestAlgorithm({"algorithm": "rsassa_pss", "parameters": algos.RSASSAPSSParams({
        "hash_algorithm": {"algorithm": "sha256"},
        "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": "sha256"}}, "salt_length": 32})})
    key_info = _key_info(pki.directory / "keys" / "tsa.key.pem")
    signature = backend.generic_sign(key_info, b"tbs", pss)
    public = serialization.load_der_private_key(key_info.dump(), None).public_key()
    public.verify(signature, b"tbs", padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())
    assert backend._keys == {}  # not through the kept keys
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ec_info = keys.PrivateKeyInfo.load(ec_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    signature = backend.generic_sign(ec_info, b"tbs", algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"}))
    ec_key.public_key().verify(signature, b"tbs", ec.ECDSA(hashes.SHA256()))


def test_the_running_animator_answers_timestamps_and_ocsp_signed_by_the_pkis_keys(pki, pki_server):
    """The tests' own certomancer process (``pki_server``) is this launcher: its answers carry valid signatures."""
    from cryptography.hazmat.primitives.serialization import pkcs12

    body = tsp.TimeStampReq({"version": 1, "message_imprint": {"hash_algorithm": {"algorithm": "sha256"},
                                                               "hashed_message": hashlib.sha256(b"x").digest()},
                             "nonce": 7, "cert_req": True}).dump()
    resp = tsp.TimeStampResp.load(_post(pki.tsa_url, body, "application/timestamp-query"))
    assert resp["status"]["status"].native == "granted"
    signer = resp["time_stamp_token"]["content"]["signer_infos"][0]
    _verify_rsa(load_cert_from_pemder(str(pki.tsa_cert)), signer["signed_attrs"].untag().dump(), signer["signature"].native)

    ca = load_cert_from_pemder(str(pki.ca_cert))
    officer = next(iter(pki.officers.values()))
    p12 = pkcs12.load_pkcs12(Path(officer.p12).read_bytes(), officer.password.encode())
    cert = x509.Certificate.load(p12.cert.certificate.public_bytes(serialization.Encoding.DER))
    request = ocsp.OCSPRequest({"tbs_request": {"request_list": [{"req_cert": {
        "hash_algorithm": {"algorithm": "sha1"}, "issuer_name_hash": hashlib.sha1(ca.subject.dump()).digest(),
        "issuer_key_hash": ca.public_key.sha1, "serial_number": cert.serial_number}}]}}).dump()
    answer = ocsp.OCSPResponse.load(_post(cert.ocsp_urls[0], request, "application/ocsp-request"))
    assert answer["response_status"].native == "successful"
    basic = answer.basic_ocsp_response
    assert basic["tbs_response_data"]["responses"][0]["cert_status"].name == "good"
    _verify_rsa(basic["certs"][0], basic["tbs_response_data"].dump(), basic["signature"].native)
    commands = [p.read_bytes().split(b"\0") for p in Path("/proc").glob("[0-9]*/cmdline") if _readable(p)]
    assert any(c[1:5] == [b"-m", b"signing.testing.animator", b"--config", str(pki.certomancer_config).encode()]
               for c in commands)  # the launcher, not certomancer's stock command


def _readable(path: Path) -> bool:
    try:
        return bool(path.read_bytes())
    except OSError:
        return False  # gone meanwhile


def _post(url: str, body: bytes, content_type: str) -> bytes:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": content_type})
    with urllib.request.urlopen(req, timeout=30) as r:  # noqa: S310 - 127.0.0.1
        return r.read()


def _verify_rsa(cert: x509.Certificate, data: bytes, signature: bytes) -> None:
    public = serialization.load_der_public_key(cert.public_key.dump())
    public.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())

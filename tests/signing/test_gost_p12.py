"""The NCA's own PKCS#12 key containers (issue 16 §3; :mod:`signing.gost_p12`): a container the GOST test PKI
writes is laid out as the NCA's (HMAC-SHA1 MAC, the key under pbeWithSHAAnd3-KeyTripleDES-CBC, the certificates
under pbeWithSHAAnd40BitRC2-CBC, localKeyId = the subject key identifier, 1024 iterations), OpenSSL reads it
with the same password (an implementation that is not ours: its MAC, its 3DES and its RC2), the key-file
backend's call (``signing.load_pkcs12``) opens it, and what it signs verifies."""

from __future__ import annotations

import datetime as dt
import subprocess

import pytest
from asn1crypto import core, pem, pkcs12
from asn1crypto import keys as asn1_keys

from signing import WrongSecret, gost, gost_cms, gost_p12, load_pkcs12
from signing.gost_keys import GostKey
from signing.testing.gost_pki import build_gost_pki

PASSWORD = "Qwerty12"  # as the NCA's test containers are protected


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    pki = build_gost_pki(now=dt.datetime.now(dt.UTC).replace(microsecond=0))
    files = pki.write(tmp_path_factory.mktemp("gost-p12"), password=PASSWORD)
    return pki, files["GOST512_head.p12"]


def test_the_container_is_laid_out_as_the_ncas(written):
    pki, path = written
    pfx = pkcs12.Pfx.load(path.read_bytes())
    mac = pfx["mac_data"]
    assert (mac["mac"]["digest_algorithm"]["algorithm"].native, mac["iterations"].native) == ("sha1", 1024)
    plain, encrypted = list(pfx.authenticated_safe)
    assert (plain["content_type"].native, encrypted["content_type"].native) == ("data", "encrypted_data")
    (key_bag,) = pkcs12.SafeContents.load(plain["content"].native)
    assert key_bag["bag_id"].native == "pkcs8_shrouded_key_bag"
    assert key_bag["bag_value"]["encryption_algorithm"]["algorithm"].dotted == "1.2.840.113549.1.12.1.3"
    eci = encrypted["content"]["encrypted_content_info"]
    assert eci["content_encryption_algorithm"]["algorithm"].dotted == "1.2.840.113549.1.12.1.6"
    attrs = {a["type"].native: a["values"][0].native for a in key_bag["bag_attributes"]}
    ski = pki.officer.key_identifier
    assert attrs == {"local_key_id": ski, "friendly_name": ski.hex()}


def _openssl(path, password: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(["openssl", "pkcs12", "-in", str(path), "-legacy", "-passin", f"pass:{password}", *extra],
                          capture_output=True, timeout=30)


def test_openssl_reads_it_with_the_same_password(written):
    """OpenSSL checks the MAC and decrypts the RC2-40 certificate bags; the 3DES key bag it decrypts and parses
    too, and then stops only at the Kazakh key algorithm it has no implementation for."""
    pki, path = written
    certs = _openssl(path, PASSWORD, "-nokeys")
    assert certs.returncode == 0, certs.stderr.decode()
    ders = [der for kind, _h, der in pem.unarmor(certs.stdout, multiple=True) if kind == "CERTIFICATE"]
    assert set(ders) == {pki.officer.dump(), pki.ca.dump()}
    key = _openssl(path, PASSWORD, "-nocerts", "-nodes")
    assert b"unsupported private key algorithm" in key.stderr and gost.KEY_2015_512.encode() in key.stderr
    wrong = _openssl(path, "wrong", "-nokeys")
    assert wrong.returncode != 0 and b"mac verify" in wrong.stderr.lower()


def test_the_key_file_backend_opens_it_and_what_it_signs_verifies(written):
    pki, path = written
    key = load_pkcs12(path, PASSWORD)  # the key-file backend's call, for RSA and GOST alike
    assert isinstance(key, GostKey) and key.certificate.dump() == pki.officer.dump()
    assert [c.dump() for c in key.chain] == [pki.ca.dump()]
    data = "Бұйрық № 17, 2026".encode()
    cms = gost_cms.sign_cms(data, key=key.private_key, cert=key.certificate, chain=key.chain, crls=pki.crls).dump()
    assert gost_cms.verify_cms(cms, data, trust_roots=[pki.root]).passed
    assert gost_cms.verify_cms(cms, data + b" ", trust_roots=[pki.root]).subindication == "HASH_FAILURE"
    with pytest.raises(WrongSecret):
        load_pkcs12(path, "not the password")


def _pkcs8(inner: bytes) -> bytes:
    info = gost.GostPrivateKey(5).to_pkcs8()
    contents = info["version"].dump() + info["private_key_algorithm"].dump() + core.OctetString(inner).dump()
    return core.Sequence(contents=contents).dump()


@pytest.mark.parametrize("encoding", ["octet string, little-endian", "integer, big-endian", "bare, little-endian"])
def test_each_private_key_encoding_of_nca_containers_reads(encoding):
    """Kalkan writes ``d`` as an OCTET STRING little-endian (2015), the NCA's 2004 container as an INTEGER."""
    d = gost.GostPrivateKey(0x1234_5678_9ABC_DEF0 << 300).d
    inner = {"octet string, little-endian": core.OctetString(d.to_bytes(64, "little")).dump(),
             "integer, big-endian": core.Integer(d).dump(),
             "bare, little-endian": d.to_bytes(64, "little")}[encoding]
    assert gost.GostPrivateKey.from_pkcs8(_pkcs8(inner)).d == d
    assert asn1_keys.PrivateKeyInfo.load(_pkcs8(inner))["private_key_algorithm"]["algorithm"].dotted == \
        gost.KEY_2015_512
    assert gost_p12.key_algorithm(_pkcs8(inner)) == gost.KEY_2015_512

"""Known-answer tests of the GOST arithmetic qamqor relies on (issue 16): Streebog-512 (RFC 6986 §10), GOST R
34.10-2012 512-bit (RFC 7091 / the standard's Appendix A.2), and the NCA's byte conventions (research/gost.md
§4.3), through :mod:`signing.gost` and ``gostcrypto``.  A signature whose byte order is reversed must fail."""

from __future__ import annotations

import gostcrypto
import pytest
from asn1crypto import algos, keys

from signing import gost

# RFC 6986 §10.1 / §10.2 write messages and hashes as numbers (most significant byte first); the byte strings
# are their reverse.
RFC6986_M1 = "323130393837363534333231303938373635343332313039383736353433323130393837363534333231303938373635343332313039383736353433323130"  # noqa: E501
RFC6986_H512_M1 = "486f64c1917879417fef082b3381a4e211c324f074654c38823a7b76f830ad00fa1fbae42b1285c0352f227524bc9ab16254288dd6863dccd5b9f54a1ad0541b"  # noqa: E501
RFC6986_M2 = "fbe2e5f0eee3c820fbeafaebef20fffbf0e1e0f0f520e0ed20e8ece0ebe5f0f2f120fff0eeec20f120faf2fee5e2202ce8f6f3ede220e8e6eee1e8f0f2d1202ce8f0f2e5e220e5d1"  # noqa: E501
RFC6986_H512_M2 = "28fbc9bada033b1460642bdcddb90c3fb3e56c497ccd0f62b8a2ad4935e85f037613966de4ee00531ae60f3b5a47f8dae06915d5f2f194996fcabf2622e6881e"  # noqa: E501


def _le(hex_number: str) -> bytes:
    return bytes.fromhex(hex_number)[::-1]


def test_streebog512_rfc6986_m1():
    message = _le(RFC6986_M1)
    assert message == b"012345678901234567890123456789012345678901234567890123456789012"
    assert gost.streebog512(message) == _le(RFC6986_H512_M1)


def test_streebog512_rfc6986_m2_cyrillic():
    message = _le(RFC6986_M2)
    assert message.decode("cp1251").startswith("Се ветри, Стрибожи внуци")
    assert gost.streebog512(message) == _le(RFC6986_H512_M2)
    assert gost.streebog512(message + b"\x00") != _le(RFC6986_H512_M2)


# GOST R 34.10-2012 Appendix A.2 (the 512-bit example; RFC 7091 §7 prints the 256-bit one)
A2 = {
    "p": 0x4531ACD1FE0023C7550D267B6B2FEE80922B14B2FFB90F04D4EB7C09B5D2D15DF1D852741AF4704A0458047E80E4546D35B8336FAC224DD81664BBF528BE6373,  # noqa: E501
    "a": 7,
    "b": 0x1CFF0806A31116DA29D8CFA54E57EB748BC5F377E49400FDD788B649ECA1AC4361834013B2AD7322480A89CA58E0CF74BC9E540C2ADD6897FAD0A3084F302ADC,  # noqa: E501
    "q": 0x4531ACD1FE0023C7550D267B6B2FEE80922B14B2FFB90F04D4EB7C09B5D2D15DA82F2D7ECB1DBAC719905C5EECC423F1D86E25EDBE23C595D644AAF187E6E6DF,  # noqa: E501
    "x": 0x24D19CC64572EE30F396BF6EBBFD7A6C5213B3B3D7057CC825F91093A68CD762FD60611262CD838DC6B60AA7EEE804E28BC849977FAC33B4B530F1B120248A9A,  # noqa: E501
    "y": 0x2BB312A43BD2CE6E0D020613C857ACDDCFBF061E91E5F2C3F32447C259F39B2C83AB156D77F1496BF7EB3351E1EE4E43DC1A18B91B24640B6DBB92CB1ADD371E,  # noqa: E501
}
A2["m"] = A2["q"]  # cofactor 1
D = 0x0BA6048AADAE241BA40936D47756D7C93091A0E8514669700EE7508E508B102072E8123B2200A0563322DAD2827E2714A2636B7BFD18AADFC62967821FA18DD4  # noqa: E501
E = 0x3754F3CFACC9E0615C4F4A7C4D8DAB531B09B6F9C170C533A71D147035B0C5917184EE536593F4414339976C647C5D5A407ADEDB1D560C4FC6777D2972075B8C  # noqa: E501
K = 0x0359E7F4B1410FEACC570456C6801496946312120B39D019D455986E364F365886748ED7A44B3E794434006011842286212273A6D14CF70EA3AF71BB1AE679F1  # noqa: E501
R = 0x2F86FA60A081091A23DD795E1E3C689EE512A3C82EE0DCC2643C78EEA8FCACD35492558486B20F1C9EC197C90699850260C93BCBCD9C5C3317E19344E173AE36  # noqa: E501
S = 0x1081B394696FFE8E6585E7A9362D26B6325F56778AADBC081C0BFBE933D52FF5823CE288E8C4F362526080DF7F70CE406A6EEB1F56919CB92A9853BDE73E5B4A  # noqa: E501
QX = 0x115DC5BC96760C7B48598D8AB9E740D4C4A85A65BE33C1815B5C320C854621DD5A515856D13314AF69BC5B924C8B4DDFF75C45415C1D9DD9DD33612CD530EFE1  # noqa: E501
QY = 0x37C7C90CD40B0F5621DC3AC1B751CFA0E2634FA0503B3D52639F5D7FB72AFD61EA199441D943FFE7F0C70A2759A3CDB84C114E1F9339FDF27F35ECA93677BEEC  # noqa: E501


def _be(n: int) -> bytearray:
    return bytearray(n.to_bytes(64, "big"))


def test_gost2012_512_appendix_a2_sign_and_verify():
    engine = gostcrypto.gostsignature.new(gostcrypto.gostsignature.MODE_512, A2)
    assert bytes(engine.public_key_generate(_be(D))) == bytes(_be(QX) + _be(QY))
    signature = bytes(engine.sign(_be(D), _be(E), _be(K)))
    assert signature == bytes(_be(R) + _be(S))
    assert engine.verify(_be(QX) + _be(QY), _be(E), signature)
    assert not engine.verify(_be(QX) + _be(QY), _be(E + 1), signature)
    assert not engine.verify(_be(QX) + _be(QY), _be(E), bytearray(signature[::-1]))  # byte order reversed


@pytest.fixture(scope="module")
def nca_key():
    return gost.GostPrivateKey(D)  # the A.2 scalar, used on the NCA's curve TC26 512-A


def test_nca_byte_order_round_trip(nca_key):
    """¶ research/gost.md §4.3: r‖s each little-endian, x‖y little-endian in an OCTET STRING, e read
    little-endian.  The same signature in the other orders must not verify."""
    spki = keys.PublicKeyInfo.load(nca_key.public_key_info().dump())
    assert spki.algorithm == "kz_gost2015_512"
    assert spki["algorithm"]["parameters"]["public_key_param_set"].dotted == gost.CURVE_512_A
    data = "Бұйрық № 17: қызметке қабылдау".encode()
    digest = gost.streebog512(data)
    signature = nca_key.sign_digest(digest, k=K)
    assert gost.verify(spki, data, signature)
    # e little-endian: the NCA signature equals gostcrypto's over the reversed digest, halves reversed
    engine = gostcrypto.gostsignature.new(gostcrypto.gostsignature.MODE_512, gost._CURVE_512_A)
    raw = bytes(engine.sign(_be(D), bytearray(digest[::-1]), _be(K)))
    assert signature == raw[:64][::-1] + raw[64:][::-1]
    assert not gost.verify(spki, data, signature[::-1])  # RFC 4491 s‖r big-endian is not the NCA's order
    assert not gost.verify(spki, data, raw)  # big-endian r‖s
    assert not gost.verify(spki, data + b" ", signature)
    assert not gost.verify_digest(spki, digest[::-1], signature)  # e read big-endian


def test_kazakh_oids_parse_and_are_named():
    assert algos.SignedDigestAlgorithm({"algorithm": gost.SIG_2015_512})["algorithm"].native \
        == "kz_gost2015_512_streebog512"
    assert algos.DigestAlgorithm({"algorithm": gost.STREEBOG_512})["algorithm"].native == "kz_streebog512"
    assert gost.algorithm_name(gost.SIG_2015_512) == "GOST R 34.10-2015 512-bit with Streebog-512"
    assert gost.algorithm_name(gost.SIG_2015_256) == "GOST R 34.10-2015 256-bit with Streebog-256"
    assert gost.algorithm_name(gost.SIG_2004) == "GOST 34.310-2004 with GOST 34.311-95"
    assert gost.algorithm_name(gost.KEY_2004) == "GOST 34.310-2004 key"
    assert gost.algorithm_name(gost.HASH_34311) == "GOST 34.311-95"
    gost.register_oids()  # idempotent
    assert keys.PublicKeyAlgorithmId(gost.KEY_2015_256).native == "kz_gost2015_256"


def test_pkcs8_round_trip(nca_key):
    der = nca_key.to_pkcs8().dump()
    assert gost.GostPrivateKey.from_pkcs8(der) == nca_key
    assert keys.PrivateKeyInfo.load(der)["private_key_algorithm"]["algorithm"].dotted == gost.KEY_2015_512

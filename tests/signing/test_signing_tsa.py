"""The fast RFC 3161 server (``signing.testing.tsa_server``): real tokens over HTTP, refusals as RFC 3161 rejections."""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from asn1crypto import core, tsp

from signing.testing.tsa_server import load_tsa

ROOT = Path(__file__).resolve().parents[2]


def _post(url: str, body: bytes, content_type="application/timestamp-query") -> tuple[int, str, bytes]:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": content_type}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.headers["Content-Type"], r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers["Content-Type"], e.read()


def _request(algo="sha256", digest=None, cert_req=True, **extra) -> bytes:
    digest = digest if digest is not None else hashlib.new(algo, b"qamqor").digest()
    return tsp.TimeStampReq({
        "version": "v1", "message_imprint": {"hash_algorithm": {"algorithm": algo}, "hashed_message": digest},
        "nonce": 0x5EED, "cert_req": cert_req, **extra,
    }).dump()


def _rejection_status(der: bytes) -> dict:
    """The PKIStatusInfo of a token-less response (asn1crypto's TimeStampResp wants a token: parse by hand)."""
    outer = core.Sequence.load(der)
    return tsp.PKIStatusInfo.load(outer.contents).native  # the one child


def test_token_is_real_and_validates(pki, fast_tsa):
    """A granted token for our imprint and nonce, signed by the PKI's TSA, that pyHanko validates as trusted."""
    from pyhanko.keys import load_cert_from_pemder
    from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
    from pyhanko_certvalidator import ValidationContext

    code, ctype, der = _post(fast_tsa, _request())
    assert (code, ctype) == (200, "application/timestamp-reply")
    resp = tsp.TimeStampResp.load(der)
    assert resp["status"]["status"].native == "granted"
    signed_data = resp["time_stamp_token"]["content"]
    tst_info = signed_data["encap_content_info"]["content"].parsed
    assert tst_info["message_imprint"]["hashed_message"].native == hashlib.sha256(b"qamqor").digest()
    assert tst_info["nonce"].native == 0x5EED
    tsa_cert = load_cert_from_pemder(str(pki.tsa_cert))
    assert [c.chosen.dump() for c in signed_data["certificates"]] == [tsa_cert.dump()]

    vc = ValidationContext(trust_roots=[load_cert_from_pemder(str(pki.root_cert))])
    status = asyncio.run(validate_tst_signed_data(signed_data, vc, lambda algo: hashlib.new(algo, b"qamqor").digest()))
    assert status["intact"] and status["valid"], status
    assert status["trust_problem_indic"] is None and status["validation_path"] is not None, status  # trusted
    assert status["signing_cert"].dump() == tsa_cert.dump()


def test_cert_req_false_embeds_no_certificate(fast_tsa):
    der = _post(fast_tsa, _request(cert_req=False))[2]
    token = tsp.TimeStampResp.load(der)["time_stamp_token"]["content"]
    assert token["certificates"].native is None


@pytest.mark.parametrize(
    "body, fail_info",
    [
        (b"not DER at all", "bad_data_format"),
        (_request("sha1"), "bad_alg"),
        (_request("sha256", digest=b"\0" * 20), "bad_data_format"),
        (_request(req_policy="1.2.3.4"), "unaccepted_policy"),
    ],
    ids=["garbage", "sha1", "short-imprint", "other-policy"],
)
def test_bad_requests_get_an_rfc3161_rejection(fast_tsa, body, fail_info):
    code, ctype, der = _post(fast_tsa, body)
    assert (code, ctype) == (200, "application/timestamp-reply")
    status = _rejection_status(der)
    assert status["status"] == "rejection" and status["fail_info"] == {fail_info}, status


def test_http_errors(fast_tsa):
    assert _post(fast_tsa, _request(), content_type="application/octet-stream")[0] == 415
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(fast_tsa, timeout=5)
    assert e.value.code == 405


def test_only_a_tsa_certificate_is_served(pki):
    """The issuing CA's certificate has no timeStamping EKU: refused at start, from the API and the CLI."""
    with pytest.raises(ValueError, match="not a TSA certificate"):
        load_tsa(pki.ca_cert, pki.directory / "keys" / "nca.key.pem")
    res = subprocess.run(
        [sys.executable, "-m", "signing.testing.tsa_server", "--cert", str(pki.ca_cert), "--key",
         str(pki.directory / "keys" / "nca.key.pem"), "--port", "0"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert res.returncode == 2 and "not a TSA certificate" in res.stderr

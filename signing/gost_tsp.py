"""GOST timestamps (RFC 3161) and OCSP (RFC 6960) as the NCA's gost2015 services make them, and their clients.

- :func:`make_token` / :func:`verify_token`: a timestamp token is a CMS SignedData (:mod:`signing.gost_cms`'s
  layout, with the TSTInfo attached and contentType id-ct-TSTInfo) whose message imprint is Streebog-512 and
  whose signer is a TSA certificate (timeStamping EKU).  NCA's own tokens are signed with GOST 34.310-2004 and
  its 34.311-95 hash (research/gost.md §4.3): they are recognised and reported by name, not verified.
- :func:`make_ocsp_response`: a BasicOCSPResponse signed in GOST (r‖s little-endian, NULL parameters); the
  verification of OCSP responses is certvalidator's, through :class:`signing.gost.KzGostSignatureValidator`.
- :func:`timestamp`, :func:`fetch_ocsp`, :func:`fetch_crl`: blocking HTTP clients (urllib) for the signer.
"""

from __future__ import annotations

import datetime as dt
import os
import urllib.request
from collections.abc import Iterable

from asn1crypto import algos, core, ocsp, tsp
from asn1crypto import cms as asn1_cms
from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509

from . import gost, gost_cms

#: NCA's TSA policy for GOST 2015 (research/gost.md §4.2)
POLICY_GOST2015 = "1.2.398.3.3.2.6.4"
_STREEBOG = {"algorithm": gost.HASH_NAMES[gost.STREEBOG_512]}


class ServiceError(ConnectionError):
    """A TSA or OCSP/CRL server did not answer usefully."""


# --- timestamps -----------------------------------------------------------------------------------------------


def make_token(digest: bytes, *, key: gost.GostPrivateKey, cert: asn1_x509.Certificate,
               chain: Iterable[asn1_x509.Certificate] = (), gen_time: dt.datetime, serial: int,
               nonce: int | None = None, policy: str = POLICY_GOST2015, include_certs: bool = True
               ) -> asn1_cms.ContentInfo:
    """A GOST timestamp token over a Streebog-512 ``digest``."""
    tst_info = tsp.TSTInfo({
        "version": "v1", "policy": policy,
        "message_imprint": {"hash_algorithm": _STREEBOG, "hashed_message": digest},
        "serial_number": serial, "gen_time": gen_time.astimezone(dt.UTC), "nonce": nonce,
    })
    der = tst_info.dump()
    ci = gost_cms.sign_digest_cms(gost.streebog512(der), key=key, cert=cert,
                                  chain=list(chain) if include_certs else [], signing_time=gen_time,
                                  content_type="tst_info", content=tsp.TSTInfo.load(der))
    if not include_certs:
        del ci["content"]["certificates"]
    return ci


def token_info(token: asn1_cms.ContentInfo) -> tsp.TSTInfo:
    return token["content"]["encap_content_info"]["content"].parsed


async def verify_token(token, digest: bytes, *, trust_roots, at: dt.datetime | None = None,
                       crls=(), ocsps=(), certs=()) -> tuple[gost_cms.GostVerdict, dt.datetime | None]:
    """A GOST timestamp token (ContentInfo or its SignedData) over ``digest`` (Streebog-512 of what it stamps):
    the verdict and its time.  The TSA's path is validated at ``at`` (default: the token's own time)."""
    try:
        signed_data = token["content"] if isinstance(token, asn1_cms.ContentInfo) else token
        info = signed_data["encap_content_info"]["content"].parsed
        imprint = info["message_imprint"]
        gen_time = info["gen_time"].native
    except (ValueError, KeyError, TypeError) as e:
        return gost_cms._fail("FORMAT_FAILURE", f"not a timestamp token: {e}"), None
    algo = imprint["hash_algorithm"]["algorithm"].native
    if algo != gost.HASH_NAMES[gost.STREEBOG_512]:
        return gost_cms._indeterminate("CRYPTO_CONSTRAINTS_FAILURE_NO_POE",
                                       f"a timestamp with {gost.algorithm_name(algo)} is not verified by qamqor"), None
    if not gost.same(imprint["hashed_message"].native, digest):
        return gost_cms._fail("HASH_FAILURE", "the timestamp does not cover these bytes"), gen_time
    content = signed_data["encap_content_info"]["content"].contents
    verdict = await gost_cms.async_verify_signed_data(
        signed_data, gost.streebog512(content), trust_roots=trust_roots, at=at or gen_time, extra_crls=crls,
        extra_ocsps=ocsps, extra_certs=certs, content_type="tst_info", key_usage=frozenset({"digital_signature"}),
        extended_key_usage=frozenset({"time_stamping"}))
    return verdict, gen_time


def request(digest: bytes, nonce: int | None = None) -> tsp.TimeStampReq:
    return tsp.TimeStampReq({"version": "v1", "message_imprint": {"hash_algorithm": _STREEBOG,
                                                                   "hashed_message": digest},
                             "nonce": nonce, "cert_req": True})


def _post(url: str, body: bytes, content_type: str, timeout: float) -> bytes:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": content_type}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:  # noqa: S310 - the configured service
            return r.read()
    except OSError as e:
        raise ServiceError(f"{url} did not answer: {e}") from e


def timestamp(url: str, digest: bytes, *, timeout: float = 10.0) -> asn1_cms.ContentInfo:
    """A token from the GOST TSA at ``url`` over a Streebog-512 ``digest`` (nonce checked)."""
    nonce = int.from_bytes(os.urandom(8), "big")
    raw = _post(url, request(digest, nonce).dump(), "application/timestamp-query", timeout)
    try:
        resp = tsp.TimeStampResp.load(raw)
        status = resp["status"]["status"].native
        if status not in ("granted", "granted_with_mods"):
            raise ServiceError(f"the TSA refused: {resp['status']['status_string'].native}")
        token = resp["time_stamp_token"]
        info = token_info(token)
    except (ValueError, KeyError, TypeError) as e:
        raise ServiceError(f"the TSA's answer cannot be read: {e}") from e
    if info["nonce"].native != nonce or not gost.same(info["message_imprint"]["hashed_message"].native, digest):
        raise ServiceError("the TSA answered another request")
    return token


# --- OCSP -----------------------------------------------------------------------------------------------------


def cert_id(cert: asn1_x509.Certificate, issuer: asn1_x509.Certificate) -> ocsp.CertId:
    # SHA-1 name and key hashes, as RFC 6960 §4.1.1 and NCA's responder use them (certvalidator matches both)
    return ocsp.CertId({"hash_algorithm": {"algorithm": "sha1"}, "issuer_name_hash": issuer.subject.sha1,
                        "issuer_key_hash": issuer.public_key.sha1, "serial_number": cert.serial_number})


def ocsp_request(cert: asn1_x509.Certificate, issuer: asn1_x509.Certificate) -> ocsp.OCSPRequest:
    return ocsp.OCSPRequest({"tbs_request": {"request_list": [{"req_cert": cert_id(cert, issuer)}]}})


def make_ocsp_response(req: ocsp.OCSPRequest, *, issuer: asn1_x509.Certificate, responder: asn1_x509.Certificate,
                       key: gost.GostPrivateKey, revoked: dict[int, dt.datetime], now: dt.datetime,
                       valid_for: dt.timedelta = dt.timedelta(days=1)) -> ocsp.OCSPResponse:
    """The responder's answer for each certificate of ``req`` that ``issuer`` issued (others: unknown)."""
    responses = []
    for r in req["tbs_request"]["request_list"]:
        cid = r["req_cert"]
        mine = cid["issuer_name_hash"].native == issuer.subject.sha1 and \
            cid["issuer_key_hash"].native == issuer.public_key.sha1 and cid["hash_algorithm"]["algorithm"].native == "sha1"
        serial = cid["serial_number"].native
        if not mine:
            status = ocsp.CertStatus(name="unknown", value=core.Null())
        elif serial in revoked:
            status = ocsp.CertStatus(name="revoked", value={"revocation_time": revoked[serial].astimezone(dt.UTC),
                                                            "revocation_reason": "key_compromise"})
        else:
            status = ocsp.CertStatus(name="good", value=core.Null())
        responses.append({"cert_id": cid, "cert_status": status, "this_update": now.astimezone(dt.UTC),
                          "next_update": (now + valid_for).astimezone(dt.UTC)})
    nonce = next((e["extn_value"].parsed for e in req["tbs_request"]["request_extensions"] or []
                  if e["extn_id"].native == "nonce"), None)
    tbs = ocsp.ResponseData({
        "responder_id": ocsp.ResponderId(name="by_name", value=responder.subject),
        "produced_at": now.astimezone(dt.UTC), "responses": responses,
        "response_extensions": [{"extn_id": "nonce", "extn_value": nonce}] if nonce is not None else None,
    })
    basic = ocsp.BasicOCSPResponse({
        "tbs_response_data": tbs,
        "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": gost.SIG_NAMES[gost.SIG_2015_512],
                                                            "parameters": core.Null()}),
        "signature": key.sign(tbs.dump()), "certs": [responder],
    })
    return ocsp.OCSPResponse({"response_status": "successful",
                              "response_bytes": {"response_type": "basic_ocsp_response", "response": basic}})


def _urls(cert: asn1_x509.Certificate, kind: str) -> list[str]:
    if kind == "ocsp":
        return list(cert.ocsp_urls)
    return [dp.url for dp in cert.crl_distribution_points if dp.url]


def fetch_ocsp(cert: asn1_x509.Certificate, issuer: asn1_x509.Certificate, *, timeout: float = 10.0
               ) -> ocsp.OCSPResponse:
    """The status of ``cert`` from the responder its AIA names (a successful response, not yet verified)."""
    urls = _urls(cert, "ocsp")
    if not urls:
        raise ServiceError(f"{cert.subject.human_friendly} names no OCSP responder")
    raw = _post(urls[0], ocsp_request(cert, issuer).dump(), "application/ocsp-request", timeout)
    try:
        resp = ocsp.OCSPResponse.load(raw)
        ok = resp["response_status"].native == "successful"
        resp.native  # noqa: B018 - parse it all now
    except (ValueError, KeyError, TypeError) as e:
        raise ServiceError(f"the OCSP answer cannot be read: {e}") from e
    if not ok:
        raise ServiceError(f"the OCSP responder said {resp['response_status'].native}")
    return resp


def fetch_crl(cert: asn1_x509.Certificate, *, timeout: float = 10.0) -> asn1_crl.CertificateList:
    """The CRL at the distribution point ``cert`` names (not yet verified)."""
    urls = _urls(cert, "crl")
    if not urls:
        raise ServiceError(f"{cert.subject.human_friendly} names no CRL distribution point")
    try:
        with urllib.request.urlopen(urls[0], timeout=timeout) as r:  # noqa: S310 - the certificate's URL
            crl = asn1_crl.CertificateList.load(r.read())
        crl.native  # noqa: B018
    except OSError as e:
        raise ServiceError(f"{urls[0]} did not answer: {e}") from e
    except (ValueError, KeyError, TypeError) as e:
        raise ServiceError(f"the CRL at {urls[0]} cannot be read: {e}") from e
    return crl

"""The ETSI TS 119 102-2 validation report of a GOST signature (issue 16 §2: ``qamqor verify --report etsi``).

pyHanko's report generator needs its own validation result, which GOST signatures do not have (they are judged
by :mod:`signing.gost_pades`).  This writes the same ``SignatureValidationReport`` elements pyHanko writes for
RSA, in the same namespace, from the GOST verdict: the signature's identifier (digest and value), the
validation and best-signature times, the signer's document digest, the signature attributes (signing time,
signature timestamp, message digest, subfilter, byte range), the signer, the validation process and the
main indication and sub-indication as ETSI URNs.  Digests are Streebog-512, named by their XML URI (RFC 9215).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib

from lxml import etree

from . import gost

VR = "http://uri.etsi.org/19102/v1.2.1#"
DS = "http://www.w3.org/2000/09/xmldsig#"
STREEBOG_URI = "urn:ietf:params:xml:ns:cpxmlsec:algorithms:gostr34112012-512"
_NS = {"vr": VR, "ds": DS}
_MAIN = {"TOTAL-PASSED": "total-passed", "TOTAL-FAILED": "total-failed", "INDETERMINATE": "indeterminate"}


def _el(parent, tag: str, text: str | None = None, **attrs):
    ns, name = tag.split(":")
    e = etree.SubElement(parent, f"{{{_NS[ns]}}}{name}", **attrs)
    if text is not None:
        e.text = text
    return e


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


def _time(t: dt.datetime | str | None) -> str | None:
    if t is None:
        return None
    if isinstance(t, str):
        t = dt.datetime.fromisoformat(t)
    t = t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t.astimezone(dt.UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if t.microsecond else "%Y-%m-%dT%H:%M:%SZ")


def _digest(parent, tag: str, value: bytes) -> None:
    holder = _el(parent, tag)
    _el(holder, "ds:DigestMethod", Algorithm=STREEBOG_URI)
    _el(holder, "ds:DigestValue", _b64(value))


def signature_report(sig, verdict, result, validation_time: dt.datetime, digest: bytes) -> str:
    """One ``ValidationReport`` with the ``SignatureValidationReport`` of the embedded GOST signature ``sig``
    (``verdict``: its :class:`signing.ltv.LtvSignature`; ``result``: its :class:`signing.gost_pades.
    GostPdfSignature`; ``digest``: Streebog-512 of its signed bytes)."""
    root = etree.Element(f"{{{VR}}}ValidationReport", nsmap=_NS)
    rep = _el(root, "vr:SignatureValidationReport")
    si = sig.signed_data["signer_infos"][0]
    ident = _el(rep, "vr:SignatureIdentifier")
    _digest(ident, "vr:DigestAlgAndValue", gost.streebog512(si["signature"].native))
    _el(ident, "ds:SignatureValue", _b64(si["signature"].native))
    _el(ident, "vr:HashOnly", "false")
    _el(ident, "vr:DocHashOnly", "false")
    times = _el(rep, "vr:ValidationTimeInfo")
    _el(times, "vr:ValidationTime", _time(validation_time))
    if verdict.best_signature_time:
        best = _el(times, "vr:BestSignatureTime")
        _el(best, "vr:POETime", _time(verdict.best_signature_time))
        _el(best, "vr:TypeOfProof", "urn:etsi:019102:poetype:validation")
    _digest(_el(rep, "vr:SignersDocument"), "vr:DigestAlgAndValue", digest)
    attrs = _el(rep, "vr:SignatureAttributes")
    if result.verdict.signing_time is not None:
        _el(_el(attrs, "vr:SigningTime", Signed="true"), "vr:Time", _time(result.verdict.signing_time))
    if result.verdict.signer is not None:
        cert_id = _el(_el(attrs, "vr:SigningCertificate", Signed="true"), "vr:CertID")
        _el(cert_id, "ds:DigestMethod", Algorithm="http://www.w3.org/2001/04/xmlenc#sha256")
        _el(cert_id, "ds:DigestValue", _b64(hashlib.sha256(result.verdict.signer.dump()).digest()))
    if result.timestamp is not None:
        _el(_el(attrs, "vr:SignatureTimeStamp", Signed="false"), "vr:TimeStampValue", _time(result.timestamp))
    for a in si["signed_attrs"]:
        if a["type"].native == "message_digest":
            _el(_el(attrs, "vr:MessageDigest", Signed="true"), "vr:Digest", _b64(a["values"][0].native))
    sub_filter = str(sig.sig_object.get("/SubFilter", "")).lstrip("/")
    _el(_el(attrs, "vr:SubFilter", Signed="true"), "vr:SubFilterElement", sub_filter)
    _el(attrs, "vr:ByteRange", " ".join(str(x) for x in sig.byte_range))
    process = _el(rep, "vr:SignatureValidationProcess")
    kind = {"B-B": "Basic", "B-T": "LTVM", "B-LT": "LTVM", "B-LTA": "LTA"}.get(result.level, "Basic")
    _el(process, "vr:SignatureValidationProcessID", f"urn:etsi:019102:validationprocess:{kind}")
    status = _el(rep, "vr:SignatureValidationStatus")
    _el(status, "vr:MainIndication", f"urn:etsi:019102:mainindication:{_MAIN[verdict.indication]}")
    _el(status, "vr:SubIndication", f"urn:etsi:019102:subindication:{verdict.subindication or 'OK'}")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True).decode()

"""GOST signatures in a PDF, verified as the archive (:mod:`signing.ltv`) and the desk (:mod:`signing.verify`)
verify RSA ones, with the same report fields and ETSI EN 319 102-1 indications (issue 16 §2).

pyHanko reads the PDF (byte ranges, DSS, document timestamps, difference analysis); the digests, the CMS, the
timestamp tokens and (through certvalidator's hook) the certificate, CRL and OCSP signatures are GOST, checked
by :mod:`signing.gost_cms` and :mod:`signing.gost_tsp`:

- the signature's byte range must start at 0 and cover the revision but its own hex string;
- validation data: the CMS's CRLs, and the DSS's certificates, OCSP responses and CRLs;
- a valid signature timestamp is the proof of existence: the signer's path is validated at its time (revocation
  data issued later is taken as covering it, as the archive's RSA policy does); otherwise at ``at``;
- every GOST document timestamp must verify over its byte range (the archive's evidence);
- the level: B-B, B-T with a signature timestamp, B-LT with status data in the DSS, B-LTA with a document
  timestamp after the signature.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509

from . import gost, gost_cms, gost_tsp
from .gost_cms import GostVerdict


@dataclass
class DocTimestamp:
    field: str
    time: dt.datetime | None
    verdict: GostVerdict
    tsa: asn1_x509.Certificate | None = None


@dataclass
class GostPdfSignature:
    """One GOST signature of a PDF: the verdict, its timestamps, its level."""

    verdict: GostVerdict
    level: str
    timestamp: dt.datetime | None = None
    timestamp_verdict: GostVerdict | None = None
    doc_timestamps: list[DocTimestamp] = field(default_factory=list)
    revinfo_in_dss: bool = False
    digest: bytes = b""  # Streebog-512 of the signed bytes


def dss_contents(reader) -> tuple[list, list, list]:
    """The DSS's certificates, OCSP responses and CRLs (empty when there is no DSS)."""
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    try:
        dss = DocumentSecurityStore.read_dss(reader)
    except Exception:  # noqa: BLE001 - no DSS (NoDSSFoundError) or an unreadable one
        return [], [], []
    certs = list(dss.load_certs()) if hasattr(dss, "load_certs") else []
    ocsps = [asn1_ocsp.OCSPResponse.load(r.get_object().data) for r in dss.ocsps]
    crls = [asn1_crl.CertificateList.load(r.get_object().data) for r in dss.crls]
    return certs, ocsps, crls


def _signature_token(signed_data):
    attrs = signed_data["signer_infos"][0]["unsigned_attrs"]
    for a in attrs if attrs.native else []:
        if a["type"].native == "signature_time_stamp_token":
            return a["values"][0]
    return None


def _byte_range_ok(sig, size: int) -> bool:
    br = list(sig.byte_range)
    return len(br) == 4 and br[0] == 0 and br[1] <= br[2] and br[2] + br[3] <= size


async def _doc_timestamps(reader, data: bytes, roots, revinfo, after_revision: int) -> list[DocTimestamp]:
    out = []
    for ts in reader.embedded_timestamp_signatures:
        if ts.signed_revision <= after_revision or not gost_cms.is_gost_cms(ts.signed_data):
            continue
        if not _byte_range_ok(ts, len(data)):
            out.append(DocTimestamp(ts.field_name, None, gost_cms._fail("FORMAT_FAILURE", "an unusual byte range")))
            continue
        certs, ocsps, crls = revinfo
        v, when = await gost_tsp.verify_token(ts.signed_data, gost_cms.byte_range_digest(data, ts.byte_range),
                                              trust_roots=roots, crls=crls, ocsps=ocsps, certs=certs)
        out.append(DocTimestamp(ts.field_name, when, v, v.signer))
    return out


async def verify_pdf_signature(reader, data: bytes, sig, *, trust_roots, at: dt.datetime | None = None
                               ) -> GostPdfSignature:
    """One embedded GOST signature (pyHanko's ``EmbeddedPdfSignature``) of ``data`` (module docstring)."""
    roots = list(trust_roots)
    if not _byte_range_ok(sig, len(data)):
        return GostPdfSignature(gost_cms._fail("FORMAT_FAILURE", f"an unusual byte range {list(sig.byte_range)}"),
                                "B-B")
    signed_data = sig.signed_data
    certs, ocsps, crls = dss_contents(reader)
    cms_crls = [c.chosen for c in signed_data["crls"] or [] if c.name == "crl"]
    all_crls = cms_crls + crls
    result = GostPdfSignature(verdict=None, level="B-B", revinfo_in_dss=bool(ocsps or crls))  # type: ignore[arg-type]
    token = _signature_token(signed_data)
    moment = at
    if token is not None:
        signature = signed_data["signer_infos"][0]["signature"].native
        tv, when = await gost_tsp.verify_token(token, gost.streebog512(signature), trust_roots=roots,
                                               crls=all_crls, ocsps=ocsps, certs=certs)
        result.timestamp, result.timestamp_verdict, result.level = when, tv, "B-T"
        if tv.passed:
            moment = when  # the proof of existence (module docstring)
    result.digest = gost_cms.byte_range_digest(data, sig.byte_range)
    v = await gost_cms.async_verify_signed_data(signed_data, result.digest, trust_roots=roots, at=moment,
                                                extra_crls=crls, extra_ocsps=ocsps, extra_certs=certs)
    if result.level == "B-T" and result.revinfo_in_dss:
        result.level = "B-LT"
    result.doc_timestamps = await _doc_timestamps(reader, data, roots, (certs, ocsps, all_crls), sig.signed_revision)
    if result.level == "B-LT" and result.doc_timestamps:
        result.level = "B-LTA"
    if v.passed and result.timestamp_verdict is not None and not result.timestamp_verdict.passed:
        v = GostVerdict("INDETERMINATE", "SIG_CONSTRAINTS_FAILURE",
                        f"the signature timestamp does not verify: {result.timestamp_verdict.message}",
                        signer=v.signer, signing_time=v.signing_time, chain=v.chain, algorithm=v.algorithm)
    bad_ts = next((t for t in result.doc_timestamps if not t.verdict.passed), None)
    if v.passed and bad_ts is not None:
        v = GostVerdict("INDETERMINATE", "SIG_CONSTRAINTS_FAILURE",
                        f"the document timestamp {bad_ts.field} does not verify: {bad_ts.verdict.message}",
                        signer=v.signer, signing_time=v.signing_time, chain=v.chain, algorithm=v.algorithm)
    result.verdict = v
    return result


def _iso(t: dt.datetime | None) -> str | None:
    if t is None:
        return None
    return (t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t.astimezone(dt.UTC)).isoformat()


async def ltv_signature(reader, sig, trust_roots, at: dt.datetime, *, etsi: bool = False):
    """The archive's verdict (:class:`signing.ltv.LtvSignature`) on one embedded GOST signature, and with
    ``etsi`` its TS 119 102-2 report (:mod:`signing.gost_report`): ``(verdict, xml or None)``."""
    from .ltv import LtvSignature
    from .policy import CertificateIdentity

    reader.stream.seek(0)
    data = reader.stream.read()
    try:
        r = await verify_pdf_signature(reader, data, sig, trust_roots=trust_roots, at=at)
    except Exception as e:  # noqa: BLE001 - a signature we cannot read is a finding, not a crash
        return LtvSignature(field=sig.field_name, indication="TOTAL-FAILED", subindication="FORMAT_FAILURE",
                            message=str(e)), None
    v = r.verdict
    out = LtvSignature(field=sig.field_name, indication=v.indication, subindication=v.subindication,
                       message=(f"{v.algorithm}: {v.message}" if v.message else None))
    if v.signer is not None:
        ident = CertificateIdentity.of(v.signer)
        out.signer_name, out.signer_iin, out.signer_bin = ident.name, ident.iin, ident.bin
        out.certificate_serial, out.issuer = ident.serial_hex, ident.issuer
        out.certificate_valid_until = _iso(v.signer.not_valid_after)
    if r.timestamp_verdict is not None and r.timestamp_verdict.passed:
        out.best_signature_time = _iso(r.timestamp)
    good = [t.time for t in r.doc_timestamps if t.verdict.passed and t.time]
    out.oldest_archive_timestamp = _iso(min(good)) if good else None
    if not etsi:
        return out, None
    from .gost_report import signature_report as etsi_report

    return out, etsi_report(sig, out, r, at, r.digest)


async def signature_report(reader, data: bytes, sig, trust_roots, *, has_revinfo: bool):
    """The desk's :class:`signing.verify.SignatureReport` for one GOST signature or document timestamp."""
    from .policy import CertificateIdentity, trust_problem
    from .verify import SignatureReport

    is_ts = sig.sig_object_type == "/DocTimeStamp"
    kind = "document_timestamp" if is_ts else "signature"
    if is_ts:
        certs, ocsps, crls = dss_contents(reader)
        v, when = await gost_tsp.verify_token(sig.signed_data, gost_cms.byte_range_digest(data, sig.byte_range),
                                              trust_roots=trust_roots, crls=crls, ocsps=ocsps, certs=certs)
        res = GostPdfSignature(v, "", timestamp=when)
    else:
        res = await verify_pdf_signature(reader, data, sig, trust_roots=trust_roots)
        v = res.verdict
    sub = v.subindication
    r = SignatureReport(field=sig.field_name, kind=kind, intact=sub != "HASH_FAILURE",
                        valid=sub not in ("HASH_FAILURE", "SIG_CRYPTO_FAILURE", "FORMAT_FAILURE"), trusted=v.passed,
                        chain=list(v.chain))
    if v.signer is not None:
        ident = CertificateIdentity.of(v.signer)
        r.signer_name, r.signer_iin, r.signer_bin, r.signer_role = ident.name, ident.iin, ident.bin, ident.role
        r.certificate_serial, r.issuer = ident.serial_hex, ident.issuer
    try:
        from pyhanko.sign.diff_analysis import DEFAULT_DIFF_POLICY

        sig.coverage = sig.evaluate_signature_coverage()  # what compute_integrity_info would set, minus the digest
        r.coverage = sig.coverage.name
        diff = sig.evaluate_modifications(DEFAULT_DIFF_POLICY)
        r.modification_level = getattr(diff, "modification_level", None) and diff.modification_level.name or "OTHER"
    except Exception:  # noqa: BLE001 - the difference analysis could not run: say so
        r.modification_level = None
    if sub == "REVOKED":
        r.revocation = "REVOKED"
    elif v.passed:
        r.revocation = "good (" + ("embedded OCSP/CRL in the DSS" if has_revinfo else "CRLs in the signature") + ")"
    if is_ts:
        r.timestamp, r.timestamp_valid = _iso(res.timestamp), v.passed
    else:
        r.level = res.level
        r.signing_time = _iso(v.signing_time)
        if res.timestamp is not None:
            r.timestamp = _iso(res.timestamp)
            r.timestamp_valid = res.timestamp_verdict is not None and res.timestamp_verdict.passed
            if not r.timestamp_valid:
                r.problems.append("the signature timestamp is not valid or not trusted")
    if not r.intact:
        r.problems.append("the signed bytes were changed")
    if not r.valid:
        r.problems.append("the cryptographic signature is invalid")
    if r.intact and r.valid and not r.trusted and sub != "SIG_CONSTRAINTS_FAILURE":
        r.problems.append(trust_problem(v.signer, None) if v.signer is not None and sub == "OUT_OF_BOUNDS_NO_POE"
                          else f"{v.indication} / {sub}: {v.message}")
    elif not v.passed and sub == "SIG_CONSTRAINTS_FAILURE":
        r.problems.append(v.message or sub)
    if r.modification_level == "OTHER" and not is_ts:
        r.problems.append("the document was changed after this signature beyond form filling")
    return r

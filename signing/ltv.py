"""Long-term validation of archived PDFs (ETSI EN 319 102-1) and their renewal: the archive's verdicts (#12).

:mod:`signing.verify` answers "is every signature good *now*?" with pyHanko's classic validator; an archive asks
"was it good when it was made, and can we still prove it?".  This module runs pyHanko's AdES engine
(``ades_lta_validation``: the document-timestamp chain as the evidence record, past signature validation with
proofs of existence) and reports the ETSI main indication (TOTAL-PASSED / INDETERMINATE / TOTAL-FAILED) with
its sub-indication, per signature, as of a chosen moment.  Offline by default: only what the file carries (DSS,
timestamps) is used; ``online`` lets the engine fetch OCSP/CRLs for the validation at the current time.

The validation policy (why each choice):

- signer and CA certificates: revocation data required; it is read "retroactively" (a CRL that says a
  certificate was not revoked on 2 March also holds for 1 March).  The past-validation time-slide asks about
  moments before the archived data was issued, and the NCA suspends no certificates (no holds), so this is
  sound for our CAs;
- TSA certificates of the timestamps, strict: status data is fresh when issued after the newest document
  timestamp (EN 319 102-1 §5.2.5.4 "issued after the best POE"): what the DSS update after each archive
  timestamp carries (``async_complete_evidence``, a renewal run's second half), and what lets the time slide
  reach back past an expired TSA certificate;
- when the strict policy does not pass, the TSA status data the file carries, however old (as EU DSS takes
  it): a freshly signed B-LTA has no status issued after its own document timestamp yet, and its TSA is
  still valid.  The better of the two verdicts stands (both are sound readings; DSS agrees with the second).

``renew_pdf`` adds the DSS update and a new document timestamp (pyHanko's ``update_archival_timestamp_chain``);
``etsi_report`` is the TS 119 102-2 XML report (pyHanko's report generator, one ``SignatureValidationReport``
per signature).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import json
import logging
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from io import BytesIO

from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.misc import PdfReadError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESFailure, AdESIndeterminate, AdESStatus
from pyhanko.sign.validation.ades import ades_lta_validation
from pyhanko.sign.validation.policy_decl import (
    CertificateFetchingRule,
    PdfSignatureValidationSpec,
    RevinfoOnlineFetchingRule,
    RevocationInfoGatheringSpec,
    SignatureValidationSpec,
)
from pyhanko_certvalidator.context import CertValidationPolicySpec
from pyhanko_certvalidator.ltv.types import ValidationTimingInfo
from pyhanko_certvalidator.policy_decl import REQUIRE_REVINFO, CertRevTrustPolicy, FreshnessReqType
from pyhanko_certvalidator.registry import SimpleTrustManager

from .gost_cms import async_ltv_signature, is_gost_cms  # issue 16 (importing it registers the Kazakh OIDs)
from .policy import CertificateIdentity, load_trust_roots

#: ETSI EN 319 102-1 main indications as the validation report writes them
MAIN = {AdESStatus.PASSED: "TOTAL-PASSED", AdESStatus.FAILED: "TOTAL-FAILED",
        AdESStatus.INDETERMINATE: "INDETERMINATE"}


@dataclass
class LtvSignature:
    """The verdict on one signature (document timestamps are the evidence, listed in ``LtvReport``)."""

    field: str
    indication: str  # TOTAL-PASSED, INDETERMINATE or TOTAL-FAILED
    subindication: str | None  # e.g. NO_POE, REVOKED, HASH_FAILURE; None when TOTAL-PASSED
    message: str | None = None
    signer_name: str = ""
    signer_iin: str | None = None
    signer_bin: str | None = None
    certificate_serial: str = ""
    issuer: str = ""
    certificate_valid_until: str | None = None
    best_signature_time: str | None = None  # the earliest proof of existence of the signature
    oldest_archive_timestamp: str | None = None
    revoked_at: str | None = None

    @property
    def passed(self) -> bool:
        return self.indication == "TOTAL-PASSED"


@dataclass
class ArchiveTimestamp:
    """One document timestamp of the evidence record: when, by whom, and until when its TSA is trusted."""

    field: str
    time: str
    tsa: str
    tsa_valid_until: str


@dataclass
class LtvReport:
    validation_time: str
    signatures: list[LtvSignature]
    timestamps: list[ArchiveTimestamp] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # about the file itself
    etsi_xml: str | None = field(default=None, repr=False)

    @property
    def passed(self) -> bool:
        """Exit 0 of ``qamqor verify``: at least one signature, and every one TOTAL-PASSED."""
        return bool(self.signatures) and not self.problems and all(s.passed for s in self.signatures)

    def to_dict(self) -> dict:
        return {"passed": self.passed, "validation_time": self.validation_time, "problems": self.problems,
                "signatures": [{**asdict(s), "passed": s.passed} for s in self.signatures],
                "archive_timestamps": [asdict(t) for t in self.timestamps]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)

    def format_text(self) -> str:
        head = "TOTAL-PASSED" if self.passed else "NOT PASSED"
        lines = [f"{head}: {len(self.signatures)} signature(s), validated as of {self.validation_time}"]
        lines += [f"  ! {p}" for p in self.problems]
        for s in self.signatures:
            verdict = s.indication + (f" / {s.subindication}" if s.subindication else "")
            lines.append(f"- {s.field}: {verdict}")
            lines.append(f"    signer: {s.signer_name}" + (f", IIN {s.signer_iin}" if s.signer_iin else "")
                         + (f", BIN {s.signer_bin}" if s.signer_bin else ""))
            lines.append(f"    certificate: {s.certificate_serial} issued by {s.issuer}, valid until "
                         f"{s.certificate_valid_until}")
            if s.best_signature_time:
                lines.append(f"    existed by: {s.best_signature_time}")
            if s.revoked_at:
                lines.append(f"    revoked: {s.revoked_at}")
            if s.message and not s.passed:
                lines.append(f"    why: {s.message}")
        for t in self.timestamps:
            lines.append(f"  archive timestamp {t.field}: {t.time} by {t.tsa} (TSA certificate until "
                         f"{t.tsa_valid_until})")
        return "\n".join(lines)


def _name(cert) -> str:
    return cert.subject.native.get("common_name") or cert.subject.human_friendly


def _utc(t: dt.datetime) -> dt.datetime:
    return t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t.astimezone(dt.UTC)


def archive_timestamps(reader: PdfFileReader) -> list[ArchiveTimestamp]:
    """The document timestamps of the file, oldest first (what ``renew`` looks at)."""
    out = []
    for ts in reader.embedded_timestamp_signatures:
        cert = ts.signer_cert
        out.append(ArchiveTimestamp(field=ts.field_name, time=_utc(ts.self_reported_timestamp).isoformat(),
                                    tsa=_name(cert), tsa_valid_until=_utc(cert.not_valid_after).isoformat()))
    return out


#: offline, a TSA certificate's status data is taken as the file carries it, however old (as EU DSS does):
#: an archive has nothing fresher; ``lenient_tsa=False`` asks instead for status issued after the newest
#: document timestamp (what a renewal's DSS update carries)
TSA_STATUS_MAX_AGE = dt.timedelta(days=365 * 100)


def validation_spec(trust_roots: Iterable[asn1_x509.Certificate], *, online: bool = False,
                    lenient_tsa: bool = True) -> PdfSignatureValidationSpec:
    """The archive's policy (module docstring): offline unless ``online``.  Built once per set of roots (#13: the
    trust manager hashes every root's name; a worker validates every document it signs against the same roots)."""
    return _validation_spec(tuple(c.dump() for c in trust_roots), online, lenient_tsa)


@functools.lru_cache(maxsize=16)
def _validation_spec(roots_der: tuple[bytes, ...], online: bool, lenient_tsa: bool) -> PdfSignatureValidationSpec:
    trust = SimpleTrustManager.build(trust_roots=[asn1_x509.Certificate.load(d) for d in roots_der])
    signer_policy = CertValidationPolicySpec(
        trust_manager=trust, revinfo_policy=CertRevTrustPolicy(REQUIRE_REVINFO, retroactive_revinfo=True))
    tsa_policy = CertValidationPolicySpec(
        trust_manager=trust,
        revinfo_policy=CertRevTrustPolicy(REQUIRE_REVINFO, freshness=TSA_STATUS_MAX_AGE,
                                          freshness_req_type=FreshnessReqType.MAX_DIFF_REVOCATION_VALIDATION),
    ) if lenient_tsa else CertValidationPolicySpec(
        trust_manager=trust,
        revinfo_policy=CertRevTrustPolicy(REQUIRE_REVINFO, freshness=dt.timedelta(0),
                                          freshness_req_type=FreshnessReqType.TIME_AFTER_SIGNATURE))
    gathering = RevocationInfoGatheringSpec(
        online_fetching_rule=RevinfoOnlineFetchingRule.NO_HISTORICAL_FETCH if online
        else RevinfoOnlineFetchingRule.LOCAL_ONLY,
        certificate_fetching_rule=CertificateFetchingRule.FOLLOW_ONLINE_RULE if online
        else CertificateFetchingRule.NEVER_FETCH,
    )
    return PdfSignatureValidationSpec(SignatureValidationSpec(
        cert_validation_policy=signer_policy, ts_cert_validation_policy=tsa_policy,
        revinfo_gathering_policy=gathering))


def _timing(reader: PdfFileReader, at: dt.datetime | None) -> ValidationTimingInfo:
    # the newest archive timestamp is the best POE the file offers for the TSA certificates' status data
    # (module docstring); without one, the validation time itself
    now = _utc(at) if at is not None else dt.datetime.now(dt.UTC)
    stamps = [_utc(ts.self_reported_timestamp) for ts in reader.embedded_timestamp_signatures]
    newest = max((t for t in stamps if t <= now), default=now)
    return ValidationTimingInfo(validation_time=now, best_signature_time=newest,
                                point_in_time_validation=at is not None)


def _revocation_time(reader: PdfFileReader, cert) -> dt.datetime | None:
    """When the file's own status data (DSS OCSP responses and CRLs) says ``cert`` was revoked, if it does.

    pyHanko's result carries no revocation date once past validation has run, and the verdict needs it."""
    from asn1crypto import crl as asn1_crl
    from asn1crypto import ocsp as asn1_ocsp
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    try:
        dss = DocumentSecurityStore.read_dss(reader)
    except Exception:  # noqa: BLE001 - no DSS (NoDSSFoundError) or an unreadable one: nothing to say
        return None
    times = []
    for ref in dss.ocsps:
        resp = asn1_ocsp.OCSPResponse.load(ref.get_object().data)
        if resp["response_status"].native != "successful":
            continue
        for single in resp.basic_ocsp_response["tbs_response_data"]["responses"]:
            status = single["cert_status"]
            if single["cert_id"]["serial_number"].native == cert.serial_number and status.name == "revoked":
                times.append(status.chosen["revocation_time"].native)
    for ref in dss.crls:
        crl = asn1_crl.CertificateList.load(ref.get_object().data)
        if crl.issuer != cert.issuer:
            continue
        for entry in crl["tbs_cert_list"]["revoked_certificates"] or []:
            if entry["user_certificate"].native == cert.serial_number:
                times.append(entry["revocation_date"].native)
    return _utc(min(times)) if times else None


def _verdict(reader, sig, result) -> LtvSignature:
    sub = result.ades_subindic
    cert = sig.signer_cert
    ident = CertificateIdentity.of(cert)
    best = getattr(result, "best_signature_time", None)
    revoked = _revocation_time(reader, cert)
    indication, subindication = MAIN[sub.status], (None if sub.status == AdESStatus.PASSED else sub.standard_name)
    if sub == AdESIndeterminate.REVOKED_NO_POE and revoked is not None and best is not None and revoked <= _utc(best):
        # EN 319 102-1 §5.5: revoked no later than the best signature time, so no proof can ever place the
        # signature before the revocation — TOTAL-FAILED/REVOKED (DSS says the same)
        indication, subindication = MAIN[AdESFailure.REVOKED.status], AdESFailure.REVOKED.standard_name
    return LtvSignature(
        field=sig.field_name, indication=indication, subindication=subindication,
        message=result.failure_msg, signer_name=_name(cert), signer_iin=ident.iin, signer_bin=ident.bin,
        certificate_serial=ident.serial_hex, issuer=ident.issuer,
        certificate_valid_until=_utc(cert.not_valid_after).isoformat(),
        best_signature_time=_utc(best).isoformat() if best else None,
        oldest_archive_timestamp=(_utc(result.oldest_evidence_record_timestamp).isoformat()
                                  if getattr(result, "oldest_evidence_record_timestamp", None) else None),
        revoked_at=revoked.isoformat() if revoked else None,
    )


def _merge_reports(xmls: list[str]) -> str:
    """One TS 119 102-2 ``ValidationReport`` from pyHanko's one-signature reports (objects de-duplicated)."""
    from lxml import etree

    if len(xmls) == 1:
        return xmls[0]
    ns = "{http://uri.etsi.org/19102/v1.2.1#}"
    docs = [etree.fromstring(x.encode()) for x in xmls]
    base = docs[0]
    objects = base.find(f"{ns}SignatureValidationObjects")
    seen = {o.get("id") for o in objects} if objects is not None else set()
    for doc in docs[1:]:
        for rep in doc.findall(f"{ns}SignatureValidationReport"):
            base.findall(f"{ns}SignatureValidationReport")[-1].addnext(rep)
        other = doc.find(f"{ns}SignatureValidationObjects")
        if other is None:
            continue
        if objects is None:
            base.findall(f"{ns}SignatureValidationReport")[-1].addnext(other)
            objects, seen = other, {o.get("id") for o in other}
            continue
        for o in list(other):
            if o.get("id") not in seen:
                objects.append(o)
                seen.add(o.get("id"))
    return etree.tostring(base, xml_declaration=True, encoding="UTF-8", pretty_print=True).decode()


async def async_validate_archive(
    data: bytes, *, trust_roots: Iterable, at: dt.datetime | None = None, online: bool = False,
    etsi: bool = False,
) -> LtvReport:
    """AdES long-term validation of every signature of ``data`` as of ``at`` (default: the system clock)."""
    roots = load_trust_roots(trust_roots)
    try:
        reader = PdfFileReader(BytesIO(data), strict=False)
        sigs = list(reader.embedded_regular_signatures)
    except (PdfReadError, ValueError, KeyError) as e:
        return LtvReport((at or dt.datetime.now(dt.UTC)).isoformat(), [], problems=[f"not a readable PDF: {e}"])
    timing = _timing(reader, at)
    report = LtvReport(timing.validation_time.isoformat(), [], archive_timestamps(reader))
    if not sigs:
        report.problems.append("the document has no signatures")
        return report
    xmls = []
    with _quiet_engine():
        await _validate_each(reader, sigs, roots, online, timing, report, xmls, etsi)
    if xmls:
        report.etsi_xml = _merge_reports(xmls)
    return report


@contextmanager
def _quiet_engine():
    """The AdES engine logs every path it tries and fails as a warning with a traceback (an expired signer's
    current-time check always fails before past validation succeeds); the verdict says what matters."""
    loggers = [logging.getLogger(n) for n in ("pyhanko", "pyhanko_certvalidator")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


async def _validate_each(reader, sigs, roots, online: bool, timing, report: LtvReport, xmls: list,
                         etsi: bool) -> None:
    # the better of two readings stands (module docstring): the TSA status the file carries, however old, as
    # DSS takes it — what passes a freshly signed B-LTA at once, so one validation per fresh document (#13) —
    # and, when that does not pass, the strict policy (status data issued after each archive timestamp: what
    # lets the time slide reach back past an expired TSA certificate), whose verdict stands unless it passes;
    # with no timestamp anywhere the two policies are one (``_stamped``), so a B-B document is read once
    lenient = validation_spec(roots, online=online)
    document_stamped = any(True for _ in reader.embedded_timestamp_signatures)
    for sig in sigs:
        if is_gost_cms(sig.signed_data):  # issue 16: pyca has no Streebog, so GOST is verified in signing.gost_cms
            verdict, xml = await async_ltv_signature(reader, sig, roots, timing.validation_time, etsi=etsi)
            report.signatures.append(verdict)
            xmls += [xml] if etsi else []
            continue
        try:
            result = await ades_lta_validation(sig, lenient, timing_info=timing)
            if result.ades_subindic.status != AdESStatus.PASSED and (document_stamped or _stamped(sig)):
                strict = validation_spec(roots, online=online, lenient_tsa=False)
                result = await ades_lta_validation(sig, strict, timing_info=timing)
        except Exception as e:  # noqa: BLE001 - a signature the engine cannot read is a finding, not a crash
            report.signatures.append(LtvSignature(field=sig.field_name, indication="TOTAL-FAILED",
                                                  subindication="FORMAT_FAILURE", message=str(e)))
            continue
        report.signatures.append(_verdict(reader, sig, result))
        if etsi and result.api_status is not None:
            from pyhanko.sign.validation.report.tools import generate_report

            from .speedups import share_xml_metadata

            share_xml_metadata()  # xsdata's metadata built once per process, not per report
            xmls.append(generate_report(sig, result))


def _stamped(sig) -> bool:
    """Whether ``sig`` carries a signature or content timestamp.  Without one, and without document timestamps,
    the strict policy (which differs only in the TSAs' status data) would repeat the lenient verdict: a B-B
    document is validated once, not twice (#13: half its archive report)."""
    from pyhanko.sign.validation.generic_cms import extract_tst_data_iter

    return any(next(extract_tst_data_iter(sig.signer_info, signed=signed), None) is not None
               for signed in (False, True))


def validate_archive(data: bytes, *, trust_roots: Iterable, at: dt.datetime | None = None, online: bool = False,
                     etsi: bool = False) -> LtvReport:
    return asyncio.run(async_validate_archive(data, trust_roots=trust_roots, at=at, online=online, etsi=etsi))


# --- renewal -------------------------------------------------------------------------------------------------

#: digest algorithms the archive's policy marks as weakening: an archive timestamp made with one of them is
#: renewed whatever its TSA certificate's end (EN 319 102-1 §5.6.2.4 asks for a POE before an algorithm's
#: sunset; pyHanko's default policy already refuses MD5 and SHA-1 for new signatures)
WEAKENING_DIGESTS = frozenset({"md5", "sha1", "sha224"})


def archive_timestamps_of(data: bytes) -> list[ArchiveTimestamp]:
    return archive_timestamps(PdfFileReader(BytesIO(data), strict=False))


def _imprint_digest(ts) -> str | None:
    try:
        tst_info = ts.signed_data["encap_content_info"]["content"].parsed
        return tst_info["message_imprint"]["hash_algorithm"]["algorithm"].native
    except (KeyError, ValueError, AttributeError):
        return None


def needs_renewal(data: bytes, *, now: dt.datetime, before: dt.timedelta) -> ArchiveTimestamp | None:
    """The newest archive timestamp when its TSA certificate ends within ``before`` of ``now``, or when its
    digest is one the policy marks as weakening (``WEAKENING_DIGESTS``); else None.

    A document with no archive timestamp at all (B-T, B-LT) needs one too: it is returned as a placeholder
    with the signature timestamp's field name."""
    reader = PdfFileReader(BytesIO(data), strict=False)
    stamps = archive_timestamps(reader)
    if not stamps:
        sigs = list(reader.embedded_regular_signatures)
        return ArchiveTimestamp(field=sigs[-1].field_name if sigs else "", time="", tsa="(none)",
                                tsa_valid_until="") if sigs else None
    newest = stamps[-1]
    if dt.datetime.fromisoformat(newest.tsa_valid_until) <= _utc(now) + before:
        return newest
    if _imprint_digest(list(reader.embedded_timestamp_signatures)[-1]) in WEAKENING_DIGESTS:
        return newest
    return None


async def async_renew_pdf(data: bytes, *, timestamper, validation_context) -> bytes:
    """Add the DSS update for the newest archive timestamp and a new document timestamp (an incremental update).

    ``validation_context`` validates the newest timestamp and gathers its status data (online in production,
    given in tests); ``timestamper`` is the TSA for the new timestamp.
    """
    from pyhanko.sign.signers.pdf_signer import PdfTimeStamper

    reader = PdfFileReader(BytesIO(data), strict=False)
    out = await PdfTimeStamper(timestamper).async_update_archival_timestamp_chain(
        reader, validation_context, in_place=False)
    return out.getvalue()


def _issued(revinfo) -> dt.datetime | None:
    """When a CRL or an OCSP response was issued (thisUpdate / producedAt)."""
    try:
        if "tbs_cert_list" in revinfo:
            return _utc(revinfo["tbs_cert_list"]["this_update"].native)
        return _utc(revinfo.basic_ocsp_response["tbs_response_data"]["produced_at"].native)
    except (KeyError, ValueError, AttributeError):
        return None


def _newest_ts_time(reader: PdfFileReader) -> dt.datetime | None:
    stamps = list(reader.embedded_timestamp_signatures)
    return _utc(stamps[-1].self_reported_timestamp) if stamps else None


def evidence_complete(data: bytes) -> bool:
    """Whether the DSS holds status data issued after the newest archive timestamp (EN 319 102-1 §5.2.5.4: what
    lets a validator slide back past that TSA certificate's end).  True when there is no archive timestamp."""
    from asn1crypto import crl as asn1_crl
    from asn1crypto import ocsp as asn1_ocsp
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    reader = PdfFileReader(BytesIO(data), strict=False)
    newest = _newest_ts_time(reader)
    if newest is None:
        return True
    try:
        dss = DocumentSecurityStore.read_dss(reader)
    except Exception:  # noqa: BLE001 - no DSS: nothing issued after it
        return False
    items = [asn1_crl.CertificateList.load(r.get_object().data) for r in dss.crls]
    items += [asn1_ocsp.OCSPResponse.load(r.get_object().data) for r in dss.ocsps]
    return any((t := _issued(i)) is not None and t > newest for i in items)


async def async_complete_evidence(data: bytes, *, validation_context) -> bytes | None:
    """A DSS update with the newest archive timestamp's status data, fetched now through ``validation_context``
    (an incremental update), when what it fetched was issued after that timestamp; else None (try later)."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign.validation import async_validate_pdf_timestamp
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    reader = PdfFileReader(BytesIO(data), strict=False)
    newest = _newest_ts_time(reader)
    if newest is None:
        return None
    await async_validate_pdf_timestamp(list(reader.embedded_timestamp_signatures)[-1],
                                       validation_context=validation_context)
    fetched = list(validation_context.crls) + list(validation_context.ocsps)
    if not any((t := _issued(i)) is not None and t > newest for i in fetched):
        return None
    w = IncrementalPdfFileWriter(BytesIO(data))
    DocumentSecurityStore.supply_dss_in_writer(w, None, validation_context=validation_context)
    out = BytesIO()
    w.write(out)
    return out.getvalue()

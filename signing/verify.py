"""Verification of every signature in a PDF: integrity, signer, chain, revocation, time, PAdES level, changes.

``verify_pdf`` trusts only the roots it is given.  Revocation: when the document carries a DSS (B-LT, B-LTA),
its OCSP responses and CRLs are used offline and a signature without good revocation data there is invalid
(hard-fail); otherwise revocation is "not checked" unless ``allow_fetching`` lets the validator ask the OCSP/CRL
servers (then hard-fail too).  "What changed after each signature" is pyHanko's difference analysis
(``ModificationLevel``: NONE, LTA_UPDATES, FORM_FILLING, ANNOTATIONS, OTHER) and the DocMDP verdict.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from io import BytesIO

from pyhanko.pdf_utils.misc import PdfReadError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import async_validate_pdf_signature, async_validate_pdf_timestamp
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko_certvalidator import ValidationContext

from .gost_cms import is_gost_cms  # issue 16 (importing it registers the Kazakh OIDs)
from .policy import CertificateIdentity, VerificationPolicy, load_trust_roots, trust_problem, validity_problem


@dataclass
class SignatureReport:
    field: str
    kind: str  # "signature" or "document_timestamp"
    intact: bool
    valid: bool
    trusted: bool
    signer_name: str = ""
    signer_iin: str | None = None
    signer_bin: str | None = None
    signer_role: str | None = None
    certificate_serial: str = ""
    issuer: str = ""
    chain: list[str] = field(default_factory=list)
    revocation: str = "not checked"
    signing_time: str | None = None  # the signer's claim
    timestamp: str | None = None  # the TSA's time, when there is a signature timestamp
    timestamp_valid: bool | None = None
    level: str | None = None
    coverage: str | None = None
    modification_level: str | None = None  # what changed after this signature
    docmdp_ok: bool | None = None
    authorised: bool | None = None  # the signing policy's verdict on the signer (None: no policy applied, #14.13)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class VerificationReport:
    signatures: list[SignatureReport]
    problems: list[str] = field(default_factory=list)  # about the file itself

    @property
    def valid(self) -> bool:
        return bool(self.signatures) and not self.problems and all(s.ok for s in self.signatures)

    def to_dict(self) -> dict:
        return {
            "valid": self.valid,
            "problems": self.problems,
            "signatures": [{**asdict(s), "ok": s.ok} for s in self.signatures],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)

    def format_text(self) -> str:
        lines = [f"{'VALID' if self.valid else 'NOT VALID'}: {len(self.signatures)} signature(s)"]
        lines += [f"  ! {p}" for p in self.problems]
        for s in self.signatures:
            head = f"- {s.field} [{s.kind}]: {'valid' if s.ok else 'NOT VALID'}"
            lines.append(head)
            if s.kind == "signature":
                lines.append(f"    signer: {s.signer_name}" + (f", IIN {s.signer_iin}" if s.signer_iin else "")
                             + (f", BIN {s.signer_bin}" if s.signer_bin else "")
                             + (f", role {s.signer_role}" if s.signer_role else ""))
            lines.append(f"    certificate: {s.certificate_serial} issued by {s.issuer}")
            lines.append(f"    integrity: {'intact' if s.intact else 'BROKEN'}; signature {'valid' if s.valid else 'INVALID'}; "
                         f"chain: {' → '.join(s.chain) if s.trusted else 'NOT TRUSTED'}")
            lines.append(f"    revocation: {s.revocation}")
            if s.timestamp:
                lines.append(f"    timestamp: {s.timestamp} ({'valid' if s.timestamp_valid else 'INVALID'})")
            elif s.signing_time:
                lines.append(f"    time (signer's claim, no timestamp): {s.signing_time}")
            if s.level:
                lines.append(f"    level: PAdES {s.level}")
            lines.append(f"    changed after it: {s.modification_level or 'unknown'}"
                         + ("" if s.docmdp_ok in (None, True) else " — NOT ALLOWED by the certification"))
            lines += [f"    ! {p}" for p in s.problems]
        return "\n".join(lines)


def _name(cert) -> str:
    return cert.subject.native.get("common_name") or cert.subject.human_friendly


async def async_verify_pdf(
    data: bytes,
    *,
    trust_roots: Iterable,
    allow_fetching: bool = False,
    policy: VerificationPolicy | None = None,
) -> VerificationReport:
    roots = load_trust_roots(trust_roots)
    try:
        reader = PdfFileReader(BytesIO(data), strict=False)
        sigs = list(reader.embedded_signatures)
    except (PdfReadError, ValueError, KeyError) as e:
        return VerificationReport([], [f"not a readable PDF: {e}"])
    if not sigs:
        return VerificationReport([], ["the document has no signatures"])

    dss = None
    try:
        dss = DocumentSecurityStore.read_dss(reader)
    except Exception:  # noqa: BLE001 - no DSS (NoDSSFoundError) or an unreadable one: validate without it
        dss = None
    has_revinfo = dss is not None and bool(list(dss.ocsps) or list(dss.crls))
    vc_kwargs = dict(trust_roots=roots, allow_fetching=allow_fetching)
    if has_revinfo:
        vc_kwargs["revocation_mode"] = "hard-fail"
        vc = dss.as_validation_context(vc_kwargs)
    else:
        vc_kwargs["revocation_mode"] = "hard-fail" if allow_fetching else "soft-fail"
        vc = ValidationContext(**vc_kwargs)

    doc_ts_revisions = [s.signed_revision for s in sigs if s.sig_object_type == "/DocTimeStamp"]
    reports = []
    for sig in sigs:
        is_ts = sig.sig_object_type == "/DocTimeStamp"
        if is_gost_cms(sig.signed_data):  # issue 16: pyca has no Streebog, so GOST is verified in signing.gost_pades
            from .gost_pades import signature_report

            try:
                reports.append(await signature_report(reader, data, sig, roots, has_revinfo=has_revinfo))
            except Exception as e:  # noqa: BLE001 - a broken signature is a finding, not a crash
                reports.append(SignatureReport(field=sig.field_name, kind="document_timestamp" if is_ts else "signature",
                                               intact=False, valid=False, trusted=False,
                                               problems=[f"cannot validate: {e}"]))
            continue
        try:
            if is_ts:
                status = await async_validate_pdf_timestamp(sig, validation_context=vc)
            else:
                status = await async_validate_pdf_signature(sig, signer_validation_context=vc, ts_validation_context=vc)
        except Exception as e:  # noqa: BLE001 - a broken signature is a finding, not a crash
            reports.append(SignatureReport(field=sig.field_name, kind="document_timestamp" if is_ts else "signature",
                                           intact=False, valid=False, trusted=False, problems=[f"cannot validate: {e}"]))
            continue
        cert = status.signing_cert
        ident = CertificateIdentity.of(cert)
        r = SignatureReport(
            field=sig.field_name,
            kind="document_timestamp" if is_ts else "signature",
            intact=bool(status.intact),
            valid=bool(status.valid),
            trusted=bool(status.trusted),
            signer_name=_name(cert),
            signer_iin=ident.iin,
            signer_bin=ident.bin,
            signer_role=ident.role,
            certificate_serial=ident.serial_hex,
            issuer=ident.issuer,
            chain=[_name(c) for c in status.validation_path] if status.validation_path is not None else [],
            coverage=status.coverage.name if status.coverage is not None else None,
            modification_level=status.modification_level.name if status.modification_level is not None else None,
            docmdp_ok=getattr(status, "docmdp_ok", None),
        )
        if status.revoked:
            r.revocation = f"REVOKED ({status.revocation_details.revocation_reason.native})"
        elif status.trusted and (has_revinfo or allow_fetching):
            r.revocation = "good (" + ("embedded OCSP/CRL in the DSS" if has_revinfo else "fetched from the servers") + ")"
        if not r.intact:
            r.problems.append("the signed bytes were changed")
        if not r.valid:
            r.problems.append("the cryptographic signature is invalid")
        if r.intact and r.valid and not r.trusted:  # say what is wrong: expired, not yet valid, revoked, no chain
            indic = getattr(status, "trust_problem_indic", None)
            r.problems.append(trust_problem(cert, indic.name if indic is not None else None))
        if is_ts:
            r.timestamp = status.timestamp.isoformat()
            r.timestamp_valid = bool(status.trusted)
            r.level = None
        else:
            if status.signer_reported_dt is not None:
                r.signing_time = status.signer_reported_dt.isoformat()
            ts = status.timestamp_validity
            if ts is not None:
                r.timestamp = ts.timestamp.isoformat()
                r.timestamp_valid = bool(ts.intact and ts.valid and ts.trusted)
                if not r.timestamp_valid:
                    r.problems.append("the signature timestamp is not valid or not trusted")
            level = "B-B"
            if ts is not None:
                level = "B-T"
                if has_revinfo:
                    level = "B-LT"
                    if any(rev > sig.signed_revision for rev in doc_ts_revisions):
                        level = "B-LTA"
            r.level = level
            if status.docmdp_ok is False:
                r.problems.append("the document was changed after this signature in a way it does not allow")
            if status.modification_level is not None and status.modification_level.name == "OTHER":
                r.problems.append("the document was changed after this signature beyond form filling")
            # #14.21: valid at the claimed signing time (the timestamp's, else the signer's claim)
            claimed = ts.timestamp if ts is not None else status.signer_reported_dt
            late = validity_problem(cert, claimed)
            if late:
                r.problems.append(late)
        reports.append(r)
    report = VerificationReport(reports)
    return apply_policy(report, policy) if policy is not None else report


def apply_policy(report: VerificationReport, policy: VerificationPolicy) -> VerificationReport:
    """#14.13: who may sign this kind of document for which organisation, as at signing: a signature whose
    signer may not is not valid ("signature valid, but the signer is not authorised for this document")."""
    for r in report.signatures:
        if r.kind != "signature":
            continue
        why = policy.problem(CertificateIdentity(name=r.signer_name, iin=r.signer_iin, bin=r.signer_bin,
                                                 role=r.signer_role, serial_hex=r.certificate_serial,
                                                 issuer=r.issuer))
        r.authorised = why is None
        if why:
            r.problems.append(("signature valid, but " if r.ok else "")
                              + f"the signer is not authorised for this document: {why}")
    return report


def verify_pdf(data: bytes, *, trust_roots: Iterable, allow_fetching: bool = False,
               policy: VerificationPolicy | None = None) -> VerificationReport:
    """Validate every signature and document timestamp of ``data`` against ``trust_roots`` only; with a
    ``policy``, a signature is valid only when its signer may sign this document (#14.13)."""
    return asyncio.run(async_verify_pdf(data, trust_roots=trust_roots, allow_fetching=allow_fetching,
                                        policy=policy))

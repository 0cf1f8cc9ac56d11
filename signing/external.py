"""Two-step signing with a key held elsewhere: NCALayer in the officer's browser, a Kalkan service.

pyHanko's interrupted-signing route (research/signing-anchors.md §1.3): :meth:`ExternalSigner.prepare` checks the
approval and the policy for the certificate the outside party will use, adds the stamp and the placeholder
(``PdfSigner.async_digest_doc_for_signing``) and keeps what pyHanko returns: the prepared byte-range digest and
the post-sign instructions (for B-LT/B-LTA the revocation data gathered before signing, and the DSS and document
timestamp still to write).  :meth:`ExternalSigner.finish` checks the returned CMS and hands it, with those
instructions, to ``PdfTBSDocument.async_finish_signing``, which embeds it and does the long-term work.

A :class:`PreparedSignature` is plain data: it pickles, and :meth:`PreparedSignature.to_bytes` turns it into
JSON (DER in base64, nothing executable) for storing it in a database between the two steps.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from io import BytesIO

from asn1crypto import cms as asn1_cms
from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers as ph_signers
from pyhanko.sign.signers.pdf_byterange import PreparedByteRangeDigest
from pyhanko.sign.signers.pdf_signer import (
    DSSContentSettings,
    PdfTBSDocument,
    PostSignInstructions,
    PreSignValidationStatus,
)
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.authority import CertTrustAnchor
from pyhanko_certvalidator.path import ValidationPath
from pyhanko_certvalidator.registry import SimpleCertificateStore

from . import gost_external
from .errors import SigningFailed, SigningRefused, SigningServiceDown
from .sign import (
    Level,
    SigningOptions,
    StampInfo,
    _check_approval,
    _check_policy,
    _field_box_and_check,
    _run,
    _Session,
    _signature_meta,
    _stamp_style,
    _translate,
)

# The outside signer's CMS is not known in advance: its chain, its own timestamp, a GOST signature later
# (signing-anchors.md §5.7).  Reserve generously; the CMS is written as hex, so twice its DER size.
_RESERVE = 65536


@dataclass
class PreparedSignature:
    """A prepared revision waiting for an outside CMS, with what pyHanko needs to finish it.

    ``post_sign`` is pyHanko's own :class:`~pyhanko.sign.signers.pdf_signer.PostSignInstructions` (B-LT and
    B-LTA; ``None`` below) without its timestamper: that one is bound to the HTTP session of the prepare call,
    so :meth:`ExternalSigner.finish` gives it a fresh one.
    """

    field: str
    document: bytes  # the new revision with the zero-filled placeholder
    reserved_region_start: int
    reserved_region_end: int
    digest: bytes  # over the signed byte ranges (for signers that sign a hash): md_algorithm's (Streebog for GOST)
    md_algorithm: str
    certificate: asn1_x509.Certificate
    level: Level
    post_sign: PostSignInstructions | None = None

    @property
    def digest_hex(self) -> str:
        return self.digest.hex()

    @property
    def to_be_signed(self) -> bytes:
        """The bytes the detached CMS signs: everything but the placeholder."""
        return self.document[: self.reserved_region_start] + self.document[self.reserved_region_end :]

    def to_bytes(self) -> bytes:
        """JSON with the binary parts in base64; :meth:`from_bytes` reads it back."""
        b64 = _b64
        out = {
            "v": 1, "field": self.field, "document": b64(self.document), "digest": b64(self.digest),
            "reserved_region": [self.reserved_region_start, self.reserved_region_end],
            "md_algorithm": self.md_algorithm, "certificate": b64(self.certificate.dump()), "level": self.level,
            "post_sign": None if self.post_sign is None else _instructions_to_json(self.post_sign),
        }
        return json.dumps(out, separators=(",", ":")).encode("ascii")

    @classmethod
    def from_bytes(cls, data: bytes) -> PreparedSignature:
        try:
            d = json.loads(data)
            if d.get("v") != 1:
                raise ValueError(f"unknown format version {d.get('v')!r}")
            start, end = d["reserved_region"]
            return cls(
                field=d["field"], document=_unb64(d["document"]), reserved_region_start=start,
                reserved_region_end=end, digest=_unb64(d["digest"]), md_algorithm=d["md_algorithm"],
                certificate=asn1_x509.Certificate.load(_unb64(d["certificate"])), level=d["level"],
                post_sign=None if d["post_sign"] is None else _instructions_from_json(d["post_sign"]),
            )
        except (ValueError, KeyError, TypeError) as e:
            raise SigningFailed(f"the stored prepared signature cannot be read: {e}",
                                remedy="prepare the signature again") from e


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def _path_to_json(path: ValidationPath) -> list[str]:
    # the trust anchor first, the leaf last: what ValidationPath iterates over, and all the DSS reads of it
    return [_b64(c.dump()) for c in path]


def _path_from_json(certs: list[str]) -> ValidationPath:
    root, *rest = (asn1_x509.Certificate.load(_unb64(c)) for c in certs)
    return ValidationPath(CertTrustAnchor(root), rest[:-1], rest[-1] if rest else None)


def _instructions_to_json(psi: PostSignInstructions) -> dict:
    """The parts of the post-sign instructions our signatures use; anything else is refused, never dropped."""
    vi = psi.validation_info
    if (psi.dss_settings != DSSContentSettings() or psi.file_credential is not None
            or vi.adobe_revinfo_attr is not None or vi.ac_validation_paths):
        raise ValueError("these post-sign instructions use options the stored form does not keep")
    return {
        "signer_path": _path_to_json(vi.signer_path),
        "validation_paths": [_path_to_json(p) for p in vi.validation_paths],
        "ts_validation_paths": None if vi.ts_validation_paths is None
        else [_path_to_json(p) for p in vi.ts_validation_paths],
        "ocsps": [_b64(o.dump()) for o in vi.ocsps_to_embed],
        "crls": [_b64(c.dump()) for c in vi.crls_to_embed],
        "timestamp_md_algorithm": psi.timestamp_md_algorithm,
        "timestamp_field_name": psi.timestamp_field_name,
        "tight_size_estimates": psi.tight_size_estimates,
        "embed_roots": psi.embed_roots,
        "strict": psi.strict,
    }


def _instructions_from_json(d: dict) -> PostSignInstructions:
    ts_paths = d["ts_validation_paths"]
    vi = PreSignValidationStatus(
        signer_path=_path_from_json(d["signer_path"]),
        validation_paths=[_path_from_json(p) for p in d["validation_paths"]],
        ts_validation_paths=None if ts_paths is None else [_path_from_json(p) for p in ts_paths],
        ocsps_to_embed=[asn1_ocsp.OCSPResponse.load(_unb64(o)) for o in d["ocsps"]],
        crls_to_embed=[asn1_crl.CertificateList.load(_unb64(c)) for c in d["crls"]],
    )
    return PostSignInstructions(
        validation_info=vi, timestamp_md_algorithm=d["timestamp_md_algorithm"],
        timestamp_field_name=d["timestamp_field_name"], tight_size_estimates=d["tight_size_estimates"],
        embed_roots=d["embed_roots"], strict=d["strict"],
    )


class ExternalSigner:
    """Two-step signing with a key held outside (NCALayer ``basics.sign`` with ``format: cms``, Kalkan).

    ``prepare`` checks the approval and the policy for the certificate the outside party will use, adds the
    stamp and the placeholder, and returns the digest and the bytes to sign; ``finish`` checks the returned CMS
    (detached, signed by that certificate, over exactly those bytes) and embeds it.  B-B is what the CMS is;
    B-T adds our timestamp to the CMS when it has none; B-LT/B-LTA add the DSS and the document timestamp
    through pyHanko's post-sign instructions.  A GOST certificate goes to :mod:`signing.gost_external` (issue 16:
    the same checks and words, the digests, the CMS check and the levels in GOST).
    """

    def __init__(self, options: SigningOptions):
        self.options = options

    def prepare(
        self,
        pdf: bytes,
        field: str,
        *,
        certificate: asn1_x509.Certificate,
        chain: list[asn1_x509.Certificate] = (),
        approved_sha256: str,
        officer_iin: str | None,
        document_kind: str,
        stamp: StampInfo | None = None,
        organisation_bin: str | None = None,
    ) -> PreparedSignature:
        return _run(
            self.async_prepare(
                pdf, field, certificate=certificate, chain=chain, approved_sha256=approved_sha256,
                officer_iin=officer_iin, document_kind=document_kind, stamp=stamp,
                organisation_bin=organisation_bin,
            )
        )

    async def async_prepare(
        self, pdf, field, *, certificate, chain=(), approved_sha256, officer_iin, document_kind, stamp=None,
        organisation_bin=None,
    ) -> PreparedSignature:
        options = self.options
        chain = list(chain)
        _check_approval(pdf, approved_sha256)
        if gost_external.is_gost_certificate(certificate):  # issue 16: the officer's GOST key in NCALayer
            return await _gost(gost_external.async_prepare(
                options, pdf, field, certificate=certificate, chain=chain, officer_iin=officer_iin,
                document_kind=document_kind, stamp=stamp, organisation_bin=organisation_bin),
                "the document could not be prepared")
        async with _Session(options) as s:
            ident = await _check_policy(
                certificate, chain, officer_iin=officer_iin, document_kind=document_kind, options=options,
                organisation_bin=organisation_bin,
                fetcher_backend=s.fetcher_backend() if options.check_revocation else None,
            )
            w = IncrementalPdfFileWriter(BytesIO(pdf), strict=False)
            box = _field_box_and_check(w, field)
            # a stand-in that knows the certificate but never signs: the real CMS comes from outside
            placeholder = ph_signers.ExternalSigner(
                signing_cert=certificate, cert_registry=SimpleCertificateStore.from_certs(chain), signature_value=256
            )
            pdf_signer = ph_signers.PdfSigner(
                _signature_meta(field, options, s.lt_context(chain)), signer=placeholder, timestamper=s.timestamper(),
                stamp_style=_stamp_style(stamp, ident, box, dt.datetime.now(dt.UTC)),
            )
            try:
                # for B-LT/B-LTA this gathers the revocation data of the signer and of the TSA now, as
                # pyHanko does before any signature (signing-anchors.md §1.1)
                prep, tbs, output = await pdf_signer.async_digest_doc_for_signing(
                    w, existing_fields_only=True, bytes_reserved=_RESERVE
                )
            except SigningRefused:
                raise
            except Exception as e:
                raise _translate(e, failed="the document could not be prepared") from e
        post_sign = tbs.post_sign_instructions
        if post_sign is not None:
            post_sign = dataclasses.replace(post_sign, timestamper=None)
        return PreparedSignature(
            field=field, document=output.getvalue(), reserved_region_start=prep.reserved_region_start,
            reserved_region_end=prep.reserved_region_end, digest=prep.document_digest, md_algorithm="sha256",
            certificate=certificate, level=options.level, post_sign=post_sign,
        )

    def finish(self, prepared: PreparedSignature, cms: bytes) -> bytes:
        return _run(self.async_finish(prepared, cms))

    async def async_finish(self, prepared: PreparedSignature, cms: bytes) -> bytes:
        ci, signer_info = _detached_cms(cms)
        cert = prepared.certificate
        if not _names(signer_info["sid"], cert):
            # NCALayer shows only keys matching signerParams, but the officer may still pick another allowed one
            other = next((c.chosen for c in ci["content"]["certificates"] or ()
                          if c.name == "certificate" and _names(signer_info["sid"], c.chosen)), None)
            raise WrongSigner(other)
        if prepared.md_algorithm == gost_external.MD_ALGORITHM:  # issue 16: a GOST CMS (pyHanko has no Streebog)
            return await _gost(gost_external.async_finish(self.options, prepared, ci))

        output = BytesIO(prepared.document)
        own_timestamp = "signature_time_stamp_token" in _unsigned_attr_types(signer_info)
        async with _Session(self.options) as s:
            try:
                if self.options.level != "B-B" and not own_timestamp:
                    ci = await _add_signature_timestamp(ci, s.timestamper())
                if len(ci.dump()) * 2 > prepared.reserved_region_end - prepared.reserved_region_start - 2:
                    raise SigningFailed("the CMS is larger than the space reserved for it")
                post_sign, vc = prepared.post_sign, None
                if post_sign is not None:
                    vc = s.lt_context([cert])
                    post_sign = await _with_fresh_revocation_data(post_sign, ci, vc)
                    if self.options.level == "B-LTA":
                        post_sign = dataclasses.replace(post_sign, timestamper=s.timestamper())
                await PdfTBSDocument.async_finish_signing(
                    output,
                    PreparedByteRangeDigest(
                        document_digest=prepared.digest,
                        reserved_region_start=prepared.reserved_region_start,
                        reserved_region_end=prepared.reserved_region_end,
                    ),
                    ci,
                    post_sign_instr=post_sign,
                    validation_context=vc,
                )
            except (SigningRefused, SigningFailed):
                raise
            except Exception as e:
                raise _translate(e) from e
        signed = output.getvalue()
        await self._check_signed(signed, prepared.field)
        return signed

    async def _check_signed(self, signed: bytes, field: str) -> None:
        """Never hand back a signature that does not verify over the prepared bytes."""
        from pyhanko.pdf_utils.reader import PdfFileReader
        from pyhanko.sign.validation import async_validate_pdf_signature

        sig = next(
            (s for s in PdfFileReader(BytesIO(signed), strict=False).embedded_regular_signatures
             if s.field_name == field), None,
        )
        status = None if sig is None else await async_validate_pdf_signature(
            sig, ValidationContext(trust_roots=self.options.roots)
        )
        if status is None or not (status.intact and status.valid):
            raise SigningFailed("the outside CMS does not verify over the prepared document")


async def _gost(step, failed: str = "the signature could not be made"):
    try:
        return await step
    except (SigningRefused, SigningFailed, SigningServiceDown):
        raise
    except Exception as e:  # noqa: BLE001 - pyHanko's, asn1crypto's: a typed failure, as for RSA
        raise _translate(e, failed=failed) from e


class WrongSigner(SigningFailed):
    """The outside CMS was made with another key than the certificate the policy checked (another officer's);
    ``signer_name`` is the common name of the certificate it was made with, when the CMS carries it."""

    code = "E-SIGN-OTHER-KEY"
    remedy = "sign with the key of the officer who approved the document"

    def __init__(self, certificate: asn1_x509.Certificate | None):
        self.signer_name = "" if certificate is None else str(certificate.subject.native.get("common_name", ""))
        super().__init__("the CMS was signed with another certificate than the one the policy checked"
                         + (f" ({self.signer_name})" if self.signer_name else ""))


def _names(sid: asn1_cms.SignerIdentifier, cert: asn1_x509.Certificate) -> bool:
    """Whether a SignerInfo's ``sid`` names ``cert`` (issuer and serial, or the key identifier)."""
    if sid.name == "issuer_and_serial_number":
        return sid.chosen["serial_number"].native == cert.serial_number and sid.chosen["issuer"] == cert.issuer
    return sid.chosen.native == cert.key_identifier


def _detached_cms(cms: bytes) -> tuple[asn1_cms.ContentInfo, asn1_cms.SignerInfo]:
    try:
        ci = asn1_cms.ContentInfo.load(cms)
        signed_data = ci["content"]
        signer_infos = signed_data["signer_infos"]
        if ci["content_type"].native != "signed_data" or len(signer_infos) != 1:
            raise ValueError("not a SignedData with one signer")
        if signed_data["encap_content_info"]["content"].native is not None:
            raise ValueError("the CMS is not detached")
    except (ValueError, TypeError, KeyError) as e:
        raise SigningFailed(f"the outside signer returned no usable CMS: {e}") from e
    return ci, signer_infos[0]


async def _with_fresh_revocation_data(
    post_sign: PostSignInstructions, ci: asn1_cms.ContentInfo, vc: ValidationContext
) -> PostSignInstructions:
    """Validate the signer and every signature timestamp's TSA again, now, and add those paths.

    The instructions hold what ``prepare`` gathered, minutes (or, once stored, hours) before the signature: this
    fetches OCSP/CRL newer than the signature into ``vc``, from which ``async_finish_signing`` also writes the
    DSS (as pyHanko's ``collect_validation_info`` does), and it covers a TSA the outside signer chose itself
    (NCALayer with a TSP profile), which ``prepare`` never saw.  Revoked meanwhile: refused (hard-fail).
    """
    from pyhanko.sign.general import extract_certificate_info
    from pyhanko.sign.validation.generic_cms import extract_tst_data_iter
    from pyhanko_certvalidator import CertificateValidator

    vi = post_sign.validation_info
    signer_info = ci["content"]["signer_infos"][0]
    checks = [(vi.signer_path.leaf, list(vi.signer_path))]
    for tst in extract_tst_data_iter(signer_info, signed=False):
        info = extract_certificate_info(tst)
        checks.append((info.signer_cert, info.other_certs))
    paths = []
    for cert, others in checks:
        validator = CertificateValidator(cert, intermediate_certs=others, validation_context=vc)
        paths.append(await validator.async_validate_usage(key_usage=set()))
    vi = dataclasses.replace(vi, validation_paths=[*vi.validation_paths, *paths])
    return dataclasses.replace(post_sign, validation_info=vi)


def _unsigned_attr_types(signer_info) -> set[str]:
    attrs = signer_info["unsigned_attrs"]
    return set() if not attrs or attrs.native is None else {a["type"].native for a in attrs}


async def _add_signature_timestamp(ci: asn1_cms.ContentInfo, timestamper) -> asn1_cms.ContentInfo:
    """RFC 3161 token over the signature value, added as the signature-time-stamp unsigned attribute (B-T).

    Done here, not by pyHanko: its interrupted signing timestamps a raw signature value that it wraps in a CMS
    itself (``PdfTBSDocument.perform_signature``), while NCALayer and Kalkan hand back a whole CMS, and
    ``async_finish_signing`` embeds a finished CMS as it is.
    """
    signer_info = ci["content"]["signer_infos"][0]
    signature = signer_info["signature"].native
    token = await timestamper.async_timestamp(hashlib.sha256(signature).digest(), "sha256")
    attrs = list(signer_info["unsigned_attrs"]) if signer_info["unsigned_attrs"].native else []
    attrs.append(asn1_cms.CMSAttribute({"type": "signature_time_stamp_token", "values": [token]}))
    signer_info["unsigned_attrs"] = asn1_cms.CMSAttributes(attrs)
    return asn1_cms.ContentInfo.load(ci.dump(force=True))

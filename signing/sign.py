"""PAdES signing: B-B, B-T (RFC 3161 timestamp), B-LT (OCSP/CRL in the DSS), B-LTA (document timestamp).

``sign_pdf`` is the one entry point for keys held here (PKCS#12, PKCS#11); :class:`ExternalSigner` is the
two-step path for keys held elsewhere (NCALayer in the officer's browser, a Kalkan service): pyHanko prepares
the revision and the digest, the outside party returns a detached CMS over the signed byte ranges, pyHanko
embeds it.  Both check the approval and the policy first and return bytes: nothing is written anywhere, so a
failure leaves nothing half-signed (the caller writes the result atomically).

Speed (perf-baseline.md §4d; measured by ``bench/bench_sign.py``, never by timed tests): the key is parsed once
and its signing-certificate attribute encoded once (:mod:`signing.keys`), the CMS size is reserved, not
estimated by a dry-run signature, the chain verdict of a key is cached when revocation is not checked (the
validity period and the other local rules are re-checked on every signature), and the stamp's layout, its
parsed template and the QR code of a verification URL are cached (:mod:`signing.stamp`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from io import BytesIO
from typing import Literal

from asn1crypto import cms as asn1_cms
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.sign import fields as ph_fields
from pyhanko.sign import signers as ph_signers
from pyhanko.sign.general import SigningError
from pyhanko.sign.signers.pdf_byterange import PreparedByteRangeDigest
from pyhanko.sign.signers.pdf_signer import PdfTBSDocument
from pyhanko.sign.timestamps.common_utils import TimestampRequestError
from pyhanko.stamp.noop import NoOpStampStyle
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator import errors as cv_errors

from pipeline.errors import ConfigError

from .errors import (
    ApprovalMismatch,
    CertificateRevoked,
    FieldAlreadySigned,
    SigningFailed,
    SigningRefused,
    SigningServiceDown,
    UntrustedChain,
)
from .keys import SigningKey
from .policy import (
    DEFAULT_ALLOWED_ROLES,
    CertificateIdentity,
    check_certificate_local,
    check_chain_and_revocation,
    load_trust_roots,
)

Level = Literal["B-B", "B-T", "B-LT", "B-LTA"]
LEVELS = ("B-B", "B-T", "B-LT", "B-LTA")

# Space reserved for the CMS (hex, so twice the DER size): chain of 3 RSA certificates ≈ 4 KB, a timestamp
# token with its TSA certificate ≈ 2–3 KB more.  Generous, because pyHanko fails when it is too small (#515).
_RESERVE = {"B-B": 16384, "B-T": 32768, "B-LT": 32768, "B-LTA": 32768}


@dataclass
class SigningOptions:
    """How to sign: level, timestamp authority, trust roots, revocation, who may sign what."""

    level: Level = "B-B"
    tsa_url: str | None = None
    trust_roots: list = field(default_factory=list)
    check_revocation: bool = False
    allowed_roles: Mapping[str, set[str]] = field(default_factory=lambda: dict(DEFAULT_ALLOWED_ROLES))
    certify: bool = False  # the first signature of a document: DocMDP "form filling and signing" after it
    timeout_s: float = 10.0

    def __post_init__(self):
        if self.level not in LEVELS:
            raise ConfigError(f"unknown PAdES level {self.level!r}", remedy=f"use one of {', '.join(LEVELS)}")
        if self.level != "B-B" and not self.tsa_url:
            raise ConfigError(f"PAdES {self.level} needs a timestamp authority", remedy="configure tsa_url")
        self._roots: list[asn1_x509.Certificate] | None = None

    @property
    def roots(self) -> list[asn1_x509.Certificate]:
        if self._roots is None:
            self._roots = load_trust_roots(self.trust_roots)
        return self._roots


@dataclass
class StampInfo:
    """The visible stamp: drawn in the field's box, in the document's language."""

    language: Literal["kk", "ru"]
    signer_name: str
    position: str
    verify_url: str


# chain verdicts per (certificate, roots) when revocation is not checked: the path does not change, and the
# validity period is re-checked on every signature by the local rules
_chain_ok: set[tuple[str, tuple[str, ...]]] = set()


def _check_approval(pdf: bytes, approved_sha256: str) -> None:
    actual = hashlib.sha256(pdf).hexdigest()
    if not hmac.compare_digest(actual, (approved_sha256 or "").strip().lower()):
        raise ApprovalMismatch(f"the PDF's SHA-256 is {actual[:16]}…, the officer approved {approved_sha256[:16]}…")


async def _check_policy(
    cert, chain, *, officer_iin, document_kind, options: SigningOptions, organisation_bin, fetcher_backend
) -> CertificateIdentity:
    ident = check_certificate_local(
        cert, officer_iin=officer_iin, document_kind=document_kind, allowed_roles=options.allowed_roles,
        organisation_bin=organisation_bin,
    )
    roots = options.roots
    cache_key = (hashlib.sha256(cert.dump()).hexdigest(), tuple(r.sha256.hex() for r in roots))
    if options.check_revocation or cache_key not in _chain_ok:
        await check_chain_and_revocation(
            cert, chain, roots, check_revocation=options.check_revocation, fetcher_backend=fetcher_backend
        )
        if not options.check_revocation:
            _chain_ok.add(cache_key)
    return ident


def _root_causes(exc: BaseException):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _translate(exc: Exception) -> Exception:
    """Map what pyHanko/aiohttp/PKCS#11 raise while signing onto our typed errors."""
    import aiohttp

    for e in _root_causes(exc):
        if isinstance(e, cv_errors.RevokedError):
            return CertificateRevoked(str(e))
        if isinstance(
            e,
            TimestampRequestError | aiohttp.ClientError | asyncio.TimeoutError | ConnectionError
            | cv_errors.InsufficientRevinfoError | cv_errors.OCSPFetchError | cv_errors.CRLFetchError,
        ):
            return SigningServiceDown(f"a timestamp or revocation server is unreachable: {e}")
        if isinstance(e, cv_errors.PathBuildingError | cv_errors.PathValidationError):
            return UntrustedChain(str(e))
    return SigningFailed(f"the signature could not be made: {exc}")


def _signature_meta(field_name: str, options: SigningOptions, vc: ValidationContext | None):
    lt = options.level in ("B-LT", "B-LTA")
    return ph_signers.PdfSignatureMetadata(
        field_name=field_name,
        md_algorithm="sha256",
        subfilter=ph_fields.SigSeedSubFilter.PADES,
        embed_validation_info=lt,
        use_pades_lta=options.level == "B-LTA",
        validation_context=vc if lt else None,
        signer_key_usage={"non_repudiation"},
        certify=options.certify,
        docmdp_permissions=ph_fields.MDPPerm.FILL_FORMS,
    )


def _field_box_and_check(w: IncrementalPdfFileWriter, field_name: str):
    """The reserved field must exist and be empty: we never create fields here (the template owns them)."""
    try:
        for name, value, ref in ph_fields.enumerate_sig_fields(w.prev, filled_status=None):
            if name == field_name:
                if value is not None:
                    raise FieldAlreadySigned(f"the field {field_name!r} is already signed")
                annot = ref.get_object()
                rect = [float(x) for x in annot.get("/Rect", [0, 0, 0, 0])]
                return abs(rect[2] - rect[0]), abs(rect[3] - rect[1])
    except PdfError as e:
        raise SigningFailed(f"the PDF cannot be read: {e}") from e
    raise SigningFailed(f"the PDF has no signature field {field_name!r}", remedy="render the document with its signature fields")


def _stamp_style(stamp: StampInfo | None, ident: CertificateIdentity, box, when: dt.datetime):
    if stamp is None or box[0] < 1 or box[1] < 1:
        return NoOpStampStyle()
    from .stamp import stamp_style

    return stamp_style(stamp, ident, when, box)


class _Session:
    """One aiohttp session for the TSA and the revocation fetchers of one signing call."""

    def __init__(self, options: SigningOptions):
        self.options = options
        self.session = None

    async def __aenter__(self):
        import aiohttp

        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.options.timeout_s))
        return self

    async def __aexit__(self, *exc):
        await self.session.close()

    def fetcher_backend(self):
        from pyhanko_certvalidator.fetchers.aiohttp_fetchers import AIOHttpFetcherBackend

        return AIOHttpFetcherBackend(self.session, per_request_timeout=self.options.timeout_s)

    def timestamper(self):
        if not self.options.tsa_url or self.options.level == "B-B":
            return None
        from pyhanko.sign.timestamps import HTTPTimeStamper

        return HTTPTimeStamper(self.options.tsa_url, session=self.session, timeout=self.options.timeout_s)

    def lt_context(self, key_chain):
        if self.options.level not in ("B-LT", "B-LTA"):
            return None
        return ValidationContext(
            trust_roots=self.options.roots,
            other_certs=list(key_chain),
            allow_fetching=True,
            revocation_mode="hard-fail",
            fetcher_backend=self.fetcher_backend(),
        )


async def async_sign_pdf(
    pdf: bytes,
    *,
    field: str,
    key: SigningKey,
    approved_sha256: str,
    officer_iin: str | None,
    document_kind: str,
    stamp: StampInfo | None,
    options: SigningOptions,
    organisation_bin: str | None = None,
) -> bytes:
    _check_approval(pdf, approved_sha256)
    async with _Session(options) as s:
        ident = await _check_policy(
            key.certificate, key.chain, officer_iin=officer_iin, document_kind=document_kind, options=options,
            organisation_bin=organisation_bin, fetcher_backend=s.fetcher_backend() if options.check_revocation else None,
        )
        try:
            w = IncrementalPdfFileWriter(BytesIO(pdf), strict=False)
        except (PdfError, ValueError) as e:
            raise SigningFailed(f"the PDF cannot be read: {e}") from e
        box = _field_box_and_check(w, field)
        now = dt.datetime.now(dt.UTC)
        try:
            pdf_signer = ph_signers.PdfSigner(
                _signature_meta(field, options, s.lt_context(key.chain)),
                signer=key.signer,
                timestamper=s.timestamper(),
                stamp_style=_stamp_style(stamp, ident, box, now),
            )
            out = await pdf_signer.async_sign_pdf(w, existing_fields_only=True, bytes_reserved=_RESERVE[options.level])
        except SigningRefused:
            raise
        except (SigningError, PdfError, TimestampRequestError, OSError, ValueError, RuntimeError) as e:
            raise _translate(e) from e
        except Exception as e:  # PKCS#11 errors and the like from the backend
            if type(e).__module__.startswith("pkcs11"):
                raise SigningFailed(f"the token failed to sign: {type(e).__name__}") from e
            raise _translate(e) from e
        return out.getvalue()


def _run(coro):
    try:
        asyncio.get_running_loop()
        running = True
    except RuntimeError:
        running = False
    if running:
        coro.close()
        raise RuntimeError("called from a running event loop: await the async_… variant instead")
    return asyncio.run(coro)


def sign_pdf(
    pdf: bytes,
    *,
    field: str,
    key: SigningKey,
    approved_sha256: str,
    officer_iin: str | None,
    document_kind: str,
    stamp: StampInfo | None,
    options: SigningOptions,
    organisation_bin: str | None = None,
) -> bytes:
    """Sign the reserved, empty ``field`` of ``pdf`` and return the signed PDF (an incremental update).

    Refuses (typed :class:`~signing.errors.SigningRefused`, nothing signed) when the bytes differ from what the
    officer approved, or when a policy rule fails; see :mod:`signing.policy`.
    """
    return _run(
        async_sign_pdf(
            pdf, field=field, key=key, approved_sha256=approved_sha256, officer_iin=officer_iin,
            document_kind=document_kind, stamp=stamp, options=options, organisation_bin=organisation_bin,
        )
    )


# --- external signers (NCALayer, Kalkan) ----------------------------------------------------------------------


@dataclass
class PreparedSignature:
    """A prepared revision waiting for an outside CMS.  Plain data: it can be stored and resumed later."""

    field: str
    document: bytes  # the new revision with the zero-filled placeholder
    reserved_region_start: int
    reserved_region_end: int
    digest: bytes  # SHA-256 over the signed byte ranges (for signers that sign a hash)
    md_algorithm: str
    certificate: asn1_x509.Certificate
    level: Level

    @property
    def digest_hex(self) -> str:
        return self.digest.hex()

    @property
    def to_be_signed(self) -> bytes:
        """The bytes the detached CMS signs: everything but the placeholder."""
        return self.document[: self.reserved_region_start] + self.document[self.reserved_region_end :]


class ExternalSigner:
    """Two-step signing with a key held outside (NCALayer ``basics.sign`` with ``format: cms``, Kalkan).

    ``prepare`` checks the approval and the policy for the certificate the outside party will use, adds the
    stamp and the placeholder, and returns the digest and the bytes to sign; ``finish`` checks the returned CMS
    (detached, signed by that certificate, over exactly those bytes) and embeds it.  B-B is what the CMS is;
    B-T adds our timestamp to the CMS when it has none; B-LT/B-LTA add the DSS and the document timestamp.
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
        _check_approval(pdf, approved_sha256)
        async with _Session(options) as s:
            ident = await _check_policy(
                certificate, list(chain), officer_iin=officer_iin, document_kind=document_kind, options=options,
                organisation_bin=organisation_bin,
                fetcher_backend=s.fetcher_backend() if options.check_revocation else None,
            )
        w = IncrementalPdfFileWriter(BytesIO(pdf), strict=False)
        box = _field_box_and_check(w, field)
        placeholder = ph_signers.ExternalSigner(
            signing_cert=certificate, cert_registry=None, signature_value=256
        )
        meta = _signature_meta(field, options, None)
        meta = ph_signers.PdfSignatureMetadata(**{**meta.__dict__, "embed_validation_info": False, "use_pades_lta": False})
        pdf_signer = ph_signers.PdfSigner(
            meta, signer=placeholder, stamp_style=_stamp_style(stamp, ident, box, dt.datetime.now(dt.UTC))
        )
        try:
            prep, _tbs, output = await pdf_signer.async_digest_doc_for_signing(
                w, existing_fields_only=True, bytes_reserved=65536
            )
        except (SigningError, PdfError) as e:
            raise SigningFailed(f"the document could not be prepared: {e}") from e
        return PreparedSignature(
            field=field, document=output.getvalue(), reserved_region_start=prep.reserved_region_start,
            reserved_region_end=prep.reserved_region_end, digest=prep.document_digest, md_algorithm="sha256",
            certificate=certificate, level=options.level,
        )

    def finish(self, prepared: PreparedSignature, cms: bytes) -> bytes:
        return _run(self.async_finish(prepared, cms))

    async def async_finish(self, prepared: PreparedSignature, cms: bytes) -> bytes:
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

        sid = signer_infos[0]["sid"]
        cert = prepared.certificate
        if sid.name == "issuer_and_serial_number":
            ok = sid.chosen["serial_number"].native == cert.serial_number and sid.chosen["issuer"] == cert.issuer
        else:
            ok = sid.chosen.native == cert.key_identifier
        if not ok:
            raise SigningFailed("the CMS was signed with another certificate than the one the policy checked")

        if self.options.level != "B-B" and "signature_time_stamp_token" not in _unsigned_attr_types(signer_infos[0]):
            async with _Session(self.options) as s:
                try:
                    ci = await _add_signature_timestamp(ci, s.timestamper())
                except Exception as e:
                    raise _translate(e) from e

        der = ci.dump()
        if len(der) * 2 > prepared.reserved_region_end - prepared.reserved_region_start - 2:
            raise SigningFailed("the CMS is larger than the space reserved for it")
        output = BytesIO(prepared.document)
        prep = PreparedByteRangeDigest(
            document_digest=prepared.digest,
            reserved_region_start=prepared.reserved_region_start,
            reserved_region_end=prepared.reserved_region_end,
        )
        await PdfTBSDocument.async_finish_signing(output, prep, ci)
        signed = output.getvalue()

        # never hand back a signature that does not verify over the prepared bytes
        from pyhanko.pdf_utils.reader import PdfFileReader
        from pyhanko.sign.validation import async_validate_pdf_signature

        sig = next(
            (s for s in PdfFileReader(BytesIO(signed), strict=False).embedded_regular_signatures
             if s.field_name == prepared.field), None,
        )
        status = await async_validate_pdf_signature(sig, ValidationContext(trust_roots=self.options.roots))
        if not (status.intact and status.valid):
            raise SigningFailed("the outside CMS does not verify over the prepared document")

        if self.options.level in ("B-LT", "B-LTA"):
            signed = await self._add_long_term(signed)
        return signed

    async def _add_long_term(self, signed: bytes) -> bytes:
        from pyhanko.pdf_utils.reader import PdfFileReader
        from pyhanko.sign.validation import async_add_validation_info

        async with _Session(self.options) as s:
            try:
                reader = PdfFileReader(BytesIO(signed), strict=False)
                sig = reader.embedded_regular_signatures[-1]
                vc = s.lt_context([])
                out = await async_add_validation_info(sig, vc, output=BytesIO())
                signed = out.getvalue()
                if self.options.level == "B-LTA":
                    stamper = ph_signers.PdfTimeStamper(s.timestamper())
                    out = await stamper.async_timestamp_pdf(
                        IncrementalPdfFileWriter(BytesIO(signed), strict=False), md_algorithm="sha256",
                        validation_context=s.lt_context([]),
                    )
                    signed = out.getvalue()
            except SigningRefused:
                raise
            except Exception as e:
                raise _translate(e) from e
        return signed


def _unsigned_attr_types(signer_info) -> set[str]:
    attrs = signer_info["unsigned_attrs"]
    return set() if not attrs or attrs.native is None else {a["type"].native for a in attrs}


async def _add_signature_timestamp(ci: asn1_cms.ContentInfo, timestamper) -> asn1_cms.ContentInfo:
    """RFC 3161 token over the signature value, added as the signature-time-stamp unsigned attribute (B-T)."""
    signer_info = ci["content"]["signer_infos"][0]
    signature = signer_info["signature"].native
    token = await timestamper.async_timestamp(hashlib.sha256(signature).digest(), "sha256")
    attrs = list(signer_info["unsigned_attrs"]) if signer_info["unsigned_attrs"].native else []
    attrs.append(asn1_cms.CMSAttribute({"type": "signature_time_stamp_token", "values": [token]}))
    signer_info["unsigned_attrs"] = asn1_cms.CMSAttributes(attrs)
    return asn1_cms.ContentInfo.load(ci.dump(force=True))

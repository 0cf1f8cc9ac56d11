"""PAdES signing: B-B, B-T (RFC 3161 timestamp), B-LT (OCSP/CRL in the DSS), B-LTA (document timestamp).

``sign_pdf`` is the one entry point for keys held here (PKCS#12, PKCS#11); :mod:`signing.external` is the
two-step path for keys held elsewhere (NCALayer in the officer's browser, a Kalkan service) and shares the
checks below.  Both check the approval and the policy first and return bytes: nothing is written anywhere, so a
failure leaves nothing half-signed (the caller writes the result atomically).

Speed (perf-baseline.md §4d; measured by ``bench/bench_sign.py``, never by timed tests): the key is parsed once
and its signing-certificate attribute encoded once (:mod:`signing.keys`), the CMS size is estimated by pyHanko's
dry-run signature once per key, level and TSA and that much is reserved for the next signatures, the chain
verdict of a key is cached when revocation is not checked (the validity period and the other local rules are
re-checked on every signature), and the stamp's layout, its parsed template and the QR code of a verification
URL are cached (:mod:`signing.stamp`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import functools
import hashlib
import hmac
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from io import BytesIO
from typing import Literal

from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.sign import fields as ph_fields
from pyhanko.sign import signers as ph_signers
from pyhanko.sign.general import SigningError
from pyhanko.sign.timestamps import HTTPTimeStamper
from pyhanko.sign.timestamps.common_utils import TimestampRequestError
from pyhanko.stamp.noop import NoOpStampStyle
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator import errors as cv_errors
from pyhanko_certvalidator.fetchers.api import CRLFetcher
from pyhanko_certvalidator.util import issuer_serial

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
    CertificateIdentity,
    check_certificate_local,
    check_chain_and_revocation,
    load_trust_roots,
)

Level = Literal["B-B", "B-T", "B-LT", "B-LTA"]
LEVELS = ("B-B", "B-T", "B-LT", "B-LTA")



@dataclass
class SigningOptions:
    """How to sign: level, timestamp authority, trust roots, revocation, who may sign what.

    ``allowed_roles`` (``{role: {document kind, …}}``) has no default: the library knows no roles or kinds, the
    application passes its own (qamqor: ``forms.catalogue.signers_by_role()``, from ``documents.toml``).
    """

    allowed_roles: Mapping[str, Collection[str]] = field(kw_only=True)
    level: Level = "B-B"
    tsa_url: str | None = None
    gost_tsa_url: str | None = None  # issue 16: the TSA for GOST keys' signatures (Streebog-512); else tsa_url
    trust_roots: list = field(default_factory=list)
    check_revocation: bool = False
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
    #: how the stamp prints the signing time (Kazakhstan's clock): the caller's official style (a strftime pattern)
    time_format: str = "%Y-%m-%d %H:%M:%S (UTC+05:00)"
    #: the QR code of ``verify_url`` (rows of modules, 1 = dark) when the caller already made it, else made here
    qr: tuple[bytes, ...] = ()


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


def _translate(exc: Exception, failed: str = "the signature could not be made") -> Exception:
    """Map what pyHanko/aiohttp/PKCS#11 raise while signing onto our typed errors; ``failed`` says what failed."""
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
    return SigningFailed(f"{failed}: {exc}")


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


def open_field(pdf: bytes, field: str) -> tuple[IncrementalPdfFileWriter, tuple]:
    """An incremental writer over ``pdf`` and the box of its reserved, empty ``field``."""
    try:
        w = IncrementalPdfFileWriter(BytesIO(pdf), strict=False)
    except (PdfError, ValueError) as e:
        raise SigningFailed(f"the PDF cannot be read: {e}") from e
    return w, _field_box_and_check(w, field)


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

    def fetcher_backend(self, *, kept_crls: bool = False):
        """pyHanko's aiohttp fetchers on this session; with ``kept_crls``, CRLs kept for the next signatures
        (:class:`_KeptCRLFetcher`: only for the DSS's context, never for the ``check_revocation`` policy check)."""
        from pyhanko_certvalidator.fetchers.aiohttp_fetchers import AIOHttpFetcherBackend

        backend = _kept_crl_backend() if kept_crls else AIOHttpFetcherBackend
        return backend(self.session, per_request_timeout=self.options.timeout_s)

    def timestamper(self):
        if not self.options.tsa_url or self.options.level == "B-B":
            return None
        return _TimeStamper(self.options.tsa_url, session=self.session, timeout=self.options.timeout_s)

    def lt_context(self, key_chain):
        if self.options.level not in ("B-LT", "B-LTA"):
            return None
        return ValidationContext(
            trust_roots=self.options.roots,
            other_certs=list(key_chain),
            allow_fetching=True,
            revocation_mode="hard-fail",
            fetcher_backend=self.fetcher_backend(kept_crls=True),
        )


#: how long a CA's CRL fetched for a B-LT/B-LTA signature's DSS serves the next signatures, at most (and never
#: past its own nextUpdate): a CA's revocation published in its issuer's CRL is seen within this
CRL_KEPT_S = 600.0
_kept_crls: dict[tuple[bytes, bool], tuple[float, list]] = {}  # (issuer and serial, deltas) → (when, CRLs)


def _current(crls: list, now: dt.datetime) -> bool:
    for c in crls:
        next_update = c["tbs_cert_list"]["next_update"].native
        if next_update is not None and next_update <= now:
            return False
    return True


class _KeptCRLFetcher(CRLFetcher):
    """pyHanko's CRL fetcher, whose CRLs serve every signature of the process for ``CRL_KEPT_S`` (#13).

    A B-LT/B-LTA signature's DSS carries the status of each CA of the chain: the same CRLs for every document a
    key signs (the signer's own status comes from OCSP, asked each time).  Fetching them again for every
    document was a round trip each (57 ms to the demo's CA)."""

    def __init__(self, fetcher):
        self._fetcher = fetcher
        self._served: dict[bytes, list] = {}

    async def fetch(self, cert, *, use_deltas=True):
        key = (issuer_serial(cert), bool(use_deltas))
        kept = _kept_crls.get(key)
        if (kept is None or time.monotonic() - kept[0] >= CRL_KEPT_S
                or not _current(kept[1], dt.datetime.now(dt.UTC))):
            crls = list(await self._fetcher.fetch(cert, use_deltas=use_deltas))
            kept = (time.monotonic(), crls)
            if crls:
                _kept_crls[key] = kept
        self._served[key[0]] = kept[1]
        return kept[1]

    def fetched_crls(self):
        return [c for crls in self._served.values() for c in crls]

    def fetched_crls_for_cert(self, cert):
        return self._served[issuer_serial(cert)]


@functools.cache
def _kept_crl_backend() -> type:
    """pyHanko's aiohttp fetchers with :class:`_KeptCRLFetcher` for CRLs (imported at the first B-LT signature)."""
    from pyhanko_certvalidator.fetchers.aiohttp_fetchers import AIOHttpFetcherBackend

    class KeptCRLBackend(AIOHttpFetcherBackend):
        def get_fetchers(self):
            fetchers = super().get_fetchers()
            return dataclasses.replace(fetchers, crl_fetcher=_KeptCRLFetcher(fetchers.crl_fetcher))

    return KeptCRLBackend


#: how long one TSA's sample token stands for its certificates (a TSA that changes its key is seen within this)
SAMPLE_TOKEN_S = 600.0
_sample_tokens: dict[tuple[str, str], tuple[float, object]] = {}


class _TimeStamper(HTTPTimeStamper):
    """pyHanko's HTTP timestamper, whose sample token is asked of the TSA once per process and digest every
    ``SAMPLE_TOKEN_S`` rather than once per signature (#13).

    Before every B-LT/B-LTA signature pyHanko asks the TSA for a sample token (``async_dummy_response``) to learn
    its certificates, whose status goes into the DSS: with the signature's own timestamp and the document
    timestamp that made three requests to the TSA per document, now two."""

    async def async_dummy_response(self, md_algorithm):
        key = (self.url, md_algorithm)
        kept = _sample_tokens.get(key)
        if kept is not None and time.monotonic() - kept[0] < SAMPLE_TOKEN_S:
            if md_algorithm not in self._dummy_response_cache:
                self._register_dummy(md_algorithm, kept[1])  # its certificates, as pyHanko records them
            return kept[1]
        token = await super().async_dummy_response(md_algorithm)
        _sample_tokens[key] = (time.monotonic(), token)
        return token


#: the CMS space reserved (hex digits of ``/Contents``) for each (key, level, TSA), from pyHanko's estimate
_reserved: dict[tuple[str, str, str | None], int] = {}


def reserved_space(signed: bytes, unsigned_length: int) -> int | None:
    """The hex digits the signature's ``/Contents`` placeholder held in the update written after
    ``unsigned_length`` bytes (pyHanko's estimate), or None when it cannot be found."""
    tail = signed[unsigned_length:]
    start = tail.find(b"/Contents <")
    end = tail.find(b">", start)
    return end - start - len(b"/Contents <") if start >= 0 and end > start else None


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
    if getattr(key, "algorithm", None) == "gost2015_512":  # issue 16: pyHanko cannot sign GOST (signing.gost_sign)
        from .gost_sign import async_sign_pdf_gost_key

        return await async_sign_pdf_gost_key(pdf, field=field, key=key, officer_iin=officer_iin,
                                             document_kind=document_kind, stamp=stamp, options=options,
                                             organisation_bin=organisation_bin)
    async with _Session(options) as s:
        ident = await _check_policy(
            key.certificate, key.chain, officer_iin=officer_iin, document_kind=document_kind, options=options,
            organisation_bin=organisation_bin, fetcher_backend=s.fetcher_backend() if options.check_revocation else None,
        )
        now = dt.datetime.now(dt.UTC)
        # the space for the CMS is pyHanko's estimate (a dry run with the key's chain and the TSA's sample token,
        # and half as much again): half the padding the fixed 16 KB left in a B-LTA file (#13); made once for a
        # key, level and TSA, and made again when a signature does not fit in it
        space = (key.fingerprint, options.level, options.tsa_url)
        reserved = _reserved.get(space)
        try:
            while True:
                w, box = open_field(pdf, field)
                pdf_signer = ph_signers.PdfSigner(
                    _signature_meta(field, options, s.lt_context(key.chain)),
                    signer=key.signer,
                    timestamper=s.timestamper(),
                    stamp_style=_stamp_style(stamp, ident, box, now),
                )
                try:
                    out = await pdf_signer.async_sign_pdf(w, existing_fields_only=True, bytes_reserved=reserved)
                    break
                except ValueError:  # pyHanko's padding of a CMS larger than the space reserved
                    if reserved is None:
                        raise
                    _reserved.pop(space, None)  # estimate again, for this signature and the next ones
                    reserved = None
            if reserved is None:
                _reserved[space] = reserved_space(out.getvalue(), len(pdf))
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

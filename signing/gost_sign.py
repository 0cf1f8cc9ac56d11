"""PAdES with a GOST key (issue 16 §3): B-B, B-T, B-LT, B-LTA, as :mod:`signing.sign` does them for RSA.

pyHanko keeps the PDF: it reserves the field and the byte range, draws the stamp, writes the DSS and the
document timestamp's field (``PdfSigner.async_digest_doc_for_signing``, ``DocumentSecurityStore.add_dss``,
``PdfCMSEmbedder``).  Ours are the Streebog-512 digests and the CMS (:mod:`signing.gost_cms`: CAdES-BES as
NCALayer builds it, contentType, signingTime, signingCertificateV2, messageDigest), because pyHanko hashes with
pyca ``cryptography``, which has no Streebog:

- B-B: the CMS; the CAs' CRLs travel in its ``crls`` when the certificates name where to get them, so a B-B
  can be checked offline;
- B-T: a GOST timestamp token over the signature value (Streebog-512), from the GOST TSA;
- B-LT: the DSS with the OCSP responses (the signer's, the TSA's) and the CRLs, checked before they are
  written (a revoked signer is refused);
- B-LTA: then a document timestamp (Streebog-512 over its byte range) from the same TSA.

The subfilter is ``adbe.pkcs7.detached``: NCALayer's CMS carries signingTime, which PAdES baseline
(``ETSI.CAdES.detached``) forbids (research/gost.md §4.4).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from io import BytesIO

from asn1crypto import cms as asn1_cms
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields as ph_fields
from pyhanko.sign import signers as ph_signers
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator import errors as cv_errors

from . import gost, gost_cms, gost_tsp
from .errors import CertificateRevoked, SigningFailed, SigningServiceDown, UntrustedChain
from .gost_keys import GostKey

#: hex space for the CMS: certificates ≈ 1 KB each, a token with its TSA's chain ≈ 3 KB
RESERVE = {"B-B": 16384, "B-T": 32768, "B-LT": 32768, "B-LTA": 32768}
_TS_RESERVE = 16384
#: chain verdicts of keys when revocation is not checked (the validity period is checked by the local policy)
_chain_ok: set[tuple[str, tuple[str, ...]]] = set()


def _issuer_of(cert: asn1_x509.Certificate, pool: list[asn1_x509.Certificate]) -> asn1_x509.Certificate | None:
    return next((c for c in pool if c.subject == cert.issuer and c.dump() != cert.dump()), None)


class Revinfo:
    """OCSP responses, CRLs and certificates gathered for one signature (what the DSS will hold)."""

    def __init__(self):
        self.ocsps, self.crls, self.certs = [], [], []

    def add_cert(self, cert: asn1_x509.Certificate) -> None:
        if all(c.dump() != cert.dump() for c in self.certs):
            self.certs.append(cert)

    async def _crl(self, cert: asn1_x509.Certificate, timeout: float) -> None:
        crl = await asyncio.to_thread(gost_tsp.fetch_crl, cert, timeout=timeout)
        if all(c.dump() != crl.dump() for c in self.crls):
            self.crls.append(crl)

    async def gather(self, cert: asn1_x509.Certificate, pool: list[asn1_x509.Certificate], roots, *,
                     required: bool, timeout: float, prefer_crl: bool = False) -> None:
        """Status data for ``cert`` and its CAs up to a root: OCSP where the certificate names a responder
        (unless ``prefer_crl``: CRLs travel in the CMS of a B-B/B-T), the CRL of its distribution point
        otherwise (and for the CAs)."""
        root_ders = {r.dump() for r in roots}
        current = cert
        while current is not None and current.dump() not in root_ders:
            self.add_cert(current)
            issuer = _issuer_of(current, pool + list(roots))
            try:
                if current.ocsp_urls and issuer is not None and not (prefer_crl and current.crl_distribution_points):
                    resp = await asyncio.to_thread(gost_tsp.fetch_ocsp, current, issuer, timeout=timeout)
                    self.ocsps.append(resp)
                    for c in resp.basic_ocsp_response["certs"] or []:
                        self.add_cert(c)
                        if c.crl_distribution_points and c.ocsp_no_check_value is None:  # the responder's status
                            await self._crl(c, timeout)
                elif current.crl_distribution_points:
                    await self._crl(current, timeout)
            except gost_tsp.ServiceError as e:
                if required:
                    raise SigningServiceDown(f"a revocation server is unreachable: {e}") from e
            current = issuer


async def check_chain(cert: asn1_x509.Certificate, chain, roots, *, revinfo: Revinfo | None,
                      key_usage=frozenset({"non_repudiation"}), ekus=None) -> None:
    """The path from ``cert`` to one of ``roots`` (GOST signatures checked), and with ``revinfo`` its status
    (hard-fail); refusals as :mod:`signing.sign` raises them."""
    vc = ValidationContext(
        trust_roots=list(roots), other_certs=list(chain) + (revinfo.certs if revinfo else []),
        crls=revinfo.crls if revinfo else [], ocsps=revinfo.ocsps if revinfo else [],
        revocation_mode="hard-fail" if revinfo else "soft-fail", allow_fetching=False,
        signature_validator=gost.KzGostSignatureValidator())
    try:
        await CertificateValidator(cert, intermediate_certs=list(chain), validation_context=vc).async_validate_usage(
            set(key_usage), set(ekus) if ekus else None)
    except cv_errors.RevokedError as e:
        raise CertificateRevoked(str(e)) from e
    except cv_errors.InsufficientRevinfoError as e:
        raise SigningServiceDown(f"no usable revocation data: {e}") from e
    except (cv_errors.PathBuildingError, cv_errors.PathValidationError) as e:
        raise UntrustedChain(str(e)) from e


def _token_signer(token) -> tuple[asn1_x509.Certificate, list[asn1_x509.Certificate]]:
    """The TSA's certificate and the certificates of a token (its ContentInfo or its SignedData)."""
    sd = token["content"] if isinstance(token, asn1_cms.ContentInfo) else token
    certs = [c.chosen for c in sd["certificates"] or [] if c.name == "certificate"]
    sid = sd["signer_infos"][0]["sid"].chosen
    leaf = next((c for c in certs if c.serial_number == sid["serial_number"].native and c.issuer == sid["issuer"]),
                None)
    if leaf is None:
        raise SigningFailed("the GOST TSA's token does not carry its certificate")
    return leaf, certs


async def _timestamp(url: str, digest: bytes, roots, revinfo: Revinfo | None, timeout: float):
    try:
        token = await asyncio.to_thread(gost_tsp.timestamp, url, digest, timeout=timeout)
    except gost_tsp.ServiceError as e:
        raise SigningServiceDown(f"the GOST timestamp authority is unreachable: {e}") from e
    tsa, certs = _token_signer(token)
    if revinfo is not None:
        await revinfo.gather(tsa, certs, roots, required=True, timeout=timeout)
    await check_chain(tsa, certs, roots, revinfo=revinfo, key_usage=frozenset({"digital_signature"}),
                      ekus={"time_stamping"})
    return token


def _with_signature_timestamp(ci: asn1_cms.ContentInfo, token: asn1_cms.ContentInfo) -> asn1_cms.ContentInfo:
    si = ci["content"]["signer_infos"][0]
    si["unsigned_attrs"] = asn1_cms.CMSAttributes([
        asn1_cms.CMSAttribute({"type": "signature_time_stamp_token", "values": [token]})])
    return asn1_cms.ContentInfo.load(ci.dump())  # not force=True: re-encoding a parsed token costs minutes


async def add_document_timestamp(data: bytes, *, tsa_url: str, roots, timeout: float = 10.0,
                                 field_name: str | None = None) -> bytes:
    """A GOST document timestamp (``/DocTimeStamp``, ``ETSI.RFC3161``) over the whole of ``data``."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.signers.cms_embedder import PdfCMSEmbedder, SigIOSetup, SigObjSetup
    from pyhanko.sign.signers.pdf_byterange import DocumentTimestamp

    if field_name is None:
        n = len(list(PdfFileReader(BytesIO(data), strict=False).embedded_timestamp_signatures)) + 1
        field_name = f"Timestamp{n}"
    w = IncrementalPdfFileWriter(BytesIO(data), strict=False)
    writer = PdfCMSEmbedder(new_field_spec=ph_fields.SigFieldSpec(sig_field_name=field_name)).write_cms(
        field_name=field_name, writer=w, existing_fields_only=False)
    next(writer)
    writer.send(SigObjSetup(sig_placeholder=DocumentTimestamp(bytes_reserved=_TS_RESERVE)))
    prep, output = writer.send(SigIOSetup(md_algorithm="sha256", in_place=False))
    prepared = output.getvalue()
    br = [0, prep.reserved_region_start, prep.reserved_region_end, len(prepared) - prep.reserved_region_end]
    token = await _timestamp(tsa_url, gost_cms.byte_range_digest(prepared, br), roots, None, timeout)
    writer.send(token)
    return output.getvalue()


async def check_signer(cert: asn1_x509.Certificate, chain, roots, *, level: str, tsa_url: str | None,
                       check_revocation: bool, timeout: float) -> Revinfo:
    """Before anything is signed or embedded: a TSA when the level needs one, the signer's path to ``roots``
    and (B-LT/B-LTA, or ``check_revocation``) its status, hard-fail; returns the status data gathered (what the
    CMS or the DSS will carry)."""
    lt = level in ("B-LT", "B-LTA")
    if level != "B-B" and not tsa_url:
        raise SigningFailed(f"PAdES {level} with a GOST key needs a GOST timestamp authority",
                            remedy="configure gost_tsa_url (or a tsa_url that stamps Streebog-512)")
    revinfo = Revinfo()
    await revinfo.gather(cert, list(chain), roots, required=lt or check_revocation, timeout=timeout,
                         prefer_crl=not lt)
    checked = lt or check_revocation
    cache_key = (hashlib.sha256(cert.dump()).hexdigest(), tuple(hashlib.sha256(r.dump()).hexdigest() for r in roots))
    if checked or cache_key not in _chain_ok:  # as signing.sign: the path of a key does not change in a batch
        await check_chain(cert, list(chain), roots, revinfo=revinfo if checked else None)
        if not checked:
            _chain_ok.add(cache_key)
    return revinfo


async def prepare_field(w: IncrementalPdfFileWriter, *, field: str, level: str, stamp_style, certify: bool = False,
                        reserve: int | None = None):
    """pyHanko reserves ``field`` (its stamp drawn) and the byte range: ``(prep, prepared bytes, Streebog-512
    digest of the byte range)``; ``prep`` is pyHanko's ``PreparedByteRangeDigest`` (``fill_with_cms``)."""
    meta = ph_signers.PdfSignatureMetadata(
        field_name=field, md_algorithm="sha256", subfilter=ph_fields.SigSeedSubFilter.ADOBE_PKCS7_DETACHED,
        certify=certify, docmdp_permissions=ph_fields.MDPPerm.FILL_FORMS)
    # pyHanko's stand-in signer: it only shapes the field; the CMS is ours
    placeholder = ph_signers.ExternalSigner(signing_cert=None, cert_registry=None, signature_value=bytes(128))
    pdf_signer = ph_signers.PdfSigner(meta, signer=placeholder, stamp_style=stamp_style)
    prep, _tbs, output = await pdf_signer.async_digest_doc_for_signing(w, existing_fields_only=True,
                                                                       bytes_reserved=reserve or RESERVE[level])
    prepared = output.getvalue()
    br = [0, prep.reserved_region_start, prep.reserved_region_end, len(prepared) - prep.reserved_region_end]
    return prep, prepared, gost_cms.byte_range_digest(prepared, br)


def _with_crls(ci: asn1_cms.ContentInfo, crls) -> asn1_cms.ContentInfo:
    """The CAs' CRLs in SignedData ``crls`` (outside what the signature covers), so a B-B/B-T checks offline."""
    have = [c for c in ci["content"]["crls"] or []] if ci["content"]["crls"].native else []
    ders = {c.chosen.dump() for c in have}
    ci["content"]["crls"] = have + [asn1_cms.RevocationInfoChoice(name="crl", value=c) for c in crls
                                    if c.dump() not in ders]
    return asn1_cms.ContentInfo.load(ci.dump())


async def complete(prep, prepared: bytes, ci: asn1_cms.ContentInfo, *, revinfo: Revinfo, level: str,
                   tsa_url: str | None, roots, timeout: float, add_crls: bool = False) -> bytes:
    """Embed the signer's CMS ``ci`` in the field :func:`prepare_field` reserved and do ``level``'s work (the
    module docstring): a signature timestamp (unless the CMS carries one), the DSS, the document timestamp.
    ``add_crls``: put ``revinfo``'s CRLs in the CMS below B-LT (a CMS made elsewhere, NCALayer's)."""
    lt = level in ("B-LT", "B-LTA")
    if add_crls and not lt and revinfo.crls:
        ci = _with_crls(ci, revinfo.crls)
    signer_info = ci["content"]["signer_infos"][0]
    unsigned = signer_info["unsigned_attrs"]
    own_token = unsigned.native and any(a["type"].native == "signature_time_stamp_token" for a in unsigned)
    if level != "B-B" and not own_token:
        token = await _timestamp(tsa_url, gost.streebog512(signer_info["signature"].native), roots,
                                 revinfo if lt else None, timeout)
        ci = _with_signature_timestamp(ci, token)
    if len(ci.dump()) * 2 > prep.reserved_region_end - prep.reserved_region_start - 2:
        raise SigningFailed("the GOST CMS is larger than the space reserved for it")
    out = BytesIO(prepared)
    prep.fill_with_cms(out, ci)
    if not lt:
        return out.getvalue()
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    DocumentSecurityStore.add_dss(out, None, certs=revinfo.certs, ocsps=revinfo.ocsps, crls=revinfo.crls,
                                  strict=False)
    signed = out.getvalue()
    if level == "B-LTA":
        signed = await add_document_timestamp(signed, tsa_url=tsa_url, roots=roots, timeout=timeout)
    return signed


async def async_sign_gost(w: IncrementalPdfFileWriter, *, field: str, key: GostKey, level: str, tsa_url: str | None,
                          roots, stamp_style, certify: bool = False, check_revocation: bool = False,
                          timeout: float = 10.0, now: dt.datetime | None = None) -> bytes:
    """Sign the reserved ``field`` of the document in ``w`` with ``key`` at ``level`` (module docstring); the
    policy (who may sign) is the caller's, as in :func:`signing.sign.async_sign_pdf`."""
    revinfo = await check_signer(key.certificate, key.chain, roots, level=level, tsa_url=tsa_url,
                                 check_revocation=check_revocation, timeout=timeout)
    prep, prepared, digest = await prepare_field(w, field=field, level=level, stamp_style=stamp_style,
                                                 certify=certify)
    lt = level in ("B-LT", "B-LTA")
    ci = gost_cms.sign_digest_cms(digest, key=key.private_key, cert=key.certificate, chain=key.chain,
                                  crls=[] if lt else revinfo.crls, signing_time=now or dt.datetime.now(dt.UTC))
    return await complete(prep, prepared, ci, revinfo=revinfo, level=level, tsa_url=tsa_url, roots=roots,
                          timeout=timeout)


async def async_sign_pdf_gost_key(pdf: bytes, *, field: str, key: GostKey, officer_iin: str | None,
                                  document_kind: str, stamp, options, organisation_bin: str | None = None) -> bytes:
    """:func:`signing.sign.async_sign_pdf` for a GOST key (the approval already checked there): the same local
    policy (who may sign which kind), the same stamp, the GOST CMS at ``options.level``."""

    from .errors import SigningRefused
    from .policy import check_certificate_local
    from .sign import _stamp_style, _translate, open_field

    ident = check_certificate_local(key.certificate, officer_iin=officer_iin, document_kind=document_kind,
                                    allowed_roles=options.allowed_roles, organisation_bin=organisation_bin)
    w, box = open_field(pdf, field)
    now = dt.datetime.now(dt.UTC)
    try:
        return await async_sign_gost(
            w, field=field, key=key, level=options.level, tsa_url=options.gost_tsa_url or options.tsa_url,
            roots=options.roots, stamp_style=_stamp_style(stamp, ident, box, now), certify=options.certify,
            check_revocation=options.check_revocation, timeout=options.timeout_s, now=now)
    except SigningRefused:
        raise
    except Exception as e:  # noqa: BLE001 - pyHanko's, asn1crypto's: a typed failure for the queue
        raise _translate(e) from e

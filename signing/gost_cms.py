"""GOST CMS (CAdES-BES) as NCALayer/Kalkan builds it, made and verified here; the same for a PDF signature field.

Layout (research/gost.md §4.4): SignedData v1, digestAlgorithms Streebog-512, detached id-data; the signer and
its chain in ``certificates``; one SignerInfo by issuerAndSerialNumber, signatureAlgorithm
1.2.398.3.10.1.1.2.3.2 with NULL parameters, ``r‖s`` little-endian; signed attributes sorted by DER:
contentType, signingTime, signingCertificateV2 (SHA-256 of the certificate), messageDigest.  CRLs the signer
has (our test PKI's) may travel in SignedData ``crls``, so that revocation is checked offline.

:func:`verify_cms` answers as the archive does (ETSI EN 319 102-1 main indication + sub-indication):

- messageDigest ≠ Streebog-512 of the data → TOTAL-FAILED / HASH_FAILURE;
- the GOST signature over the signed attributes does not verify → TOTAL-FAILED / SIG_CRYPTO_FAILURE;
- signingCertificateV2 does not name the signer's certificate → INDETERMINATE / NO_SIGNING_CERTIFICATE_FOUND;
- no path to a given root → INDETERMINATE / NO_CERTIFICATE_CHAIN_FOUND; no revocation data →
  INDETERMINATE / TRY_LATER; revoked → TOTAL-FAILED / REVOKED; expired → INDETERMINATE / OUT_OF_BOUNDS_NO_POE;
- otherwise TOTAL-PASSED.

The certificate path (with the CA certificates' and the CRLs' GOST signatures) is certvalidator's, through its
supported hook :class:`signing.gost.KzGostSignatureValidator`; only the Streebog digests and the SignerInfo
signature are computed here (pyca ``cryptography``, which pyHanko hashes with, has no Streebog).
:func:`sign_pdf_gost` lets pyHanko reserve the field and the byte range and fills it with such a CMS over the
Streebog-512 digest of the byte range; :func:`verify_pdf_gost` checks one embedded GOST signature the same way.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from io import BytesIO

from asn1crypto import cms as asn1_cms
from asn1crypto import core
from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import (
    ExpiredError,
    InsufficientRevinfoError,
    PathBuildingError,
    PathValidationError,
    RevokedError,
)

from . import gost

_DIGEST = {"algorithm": gost.HASH_NAMES[gost.STREEBOG_512]}
_SIGNATURE = {"algorithm": gost.SIG_NAMES[gost.SIG_2015_512], "parameters": core.Null()}  # NULL, as Kalkan


# --- making -------------------------------------------------------------------------------------------------


def _signed_attrs(digest: bytes, cert: asn1_x509.Certificate, signing_time: dt.datetime,
                  content_type: str = "data") -> asn1_cms.CMSAttributes:
    attrs = [
        asn1_cms.CMSAttribute({"type": "content_type", "values": [content_type]}),
        asn1_cms.CMSAttribute({"type": "signing_time",
                               "values": [asn1_cms.Time({"utc_time": signing_time.astimezone(dt.UTC)})]}),
        asn1_cms.CMSAttribute({"type": "signing_certificate_v2", "values": [{
            # ESSCertIDv2 with the default hash (SHA-256, so hashAlgorithm omitted) and the issuer/serial
            "certs": [{"cert_hash": hashlib.sha256(cert.dump()).digest(),
                       "issuer_serial": {"issuer": [asn1_x509.GeneralName(name="directory_name",
                                                                          value=cert.issuer)],
                                         "serial_number": cert.serial_number}}]}]}),
        asn1_cms.CMSAttribute({"type": "message_digest", "values": [digest]}),
    ]
    attrs.sort(key=lambda a: a.dump())  # a SET OF in DER is sorted by encoding (X.690 §11.6)
    return asn1_cms.CMSAttributes(attrs)


def sign_digest_cms(digest: bytes, *, key: gost.GostPrivateKey, cert: asn1_x509.Certificate,
                    chain: Iterable[asn1_x509.Certificate] = (), crls: Iterable[asn1_crl.CertificateList] = (),
                    signing_time: dt.datetime | None = None, content_type: str = "data",
                    content: core.Asn1Value | None = None) -> asn1_cms.ContentInfo:
    """A detached CAdES-BES SignedData over a Streebog-512 ``digest`` of the data (NCALayer's layout).

    ``content_type``/``content``: an attached content instead (a timestamp token's TSTInfo,
    :mod:`signing.gost_tsp`)."""
    signing_time = signing_time or dt.datetime.now(dt.UTC)
    signed_attrs = _signed_attrs(digest, cert, signing_time, content_type)
    signature = key.sign(signed_attrs.dump())  # the signed attributes as a SET (tag 0x31)
    certs = [cert] + [c for c in chain if c.dump() != cert.dump()]
    crl_list = [asn1_cms.RevocationInfoChoice(name="crl", value=c) for c in crls]
    signed_data = asn1_cms.SignedData({
        "version": "v1" if content_type == "data" else "v3",  # RFC 5652 §5.1: v3 when eContentType is not id-data
        "digest_algorithms": [_DIGEST],
        "encap_content_info": {"content_type": content_type, "content": content},
        "certificates": [asn1_cms.CertificateChoices(name="certificate", value=c) for c in certs],
        "crls": crl_list or None,
        "signer_infos": [{
            "version": "v1",
            "sid": asn1_cms.SignerIdentifier(name="issuer_and_serial_number", value={
                "issuer": cert.issuer, "serial_number": cert.serial_number}),
            "digest_algorithm": _DIGEST,
            "signed_attrs": signed_attrs,
            "signature_algorithm": _SIGNATURE,
            "signature": signature,
        }],
    })
    return asn1_cms.ContentInfo({"content_type": "signed_data", "content": signed_data})


def sign_cms(data: bytes, **kwargs) -> asn1_cms.ContentInfo:
    return sign_digest_cms(gost.streebog512(data), **kwargs)


# --- verifying ----------------------------------------------------------------------------------------------


@dataclass
class GostVerdict:
    """One GOST signature's verdict, in the archive's words (see :class:`signing.ltv.LtvSignature`)."""

    indication: str
    subindication: str | None
    message: str | None = None
    signer: asn1_x509.Certificate | None = None
    signing_time: dt.datetime | None = None
    chain: list[str] = field(default_factory=list)
    algorithm: str = ""

    @property
    def passed(self) -> bool:
        return self.indication == "TOTAL-PASSED"


def _fail(sub: str, msg: str, **kw) -> GostVerdict:
    return GostVerdict("TOTAL-FAILED", sub, msg, **kw)


def _indeterminate(sub: str, msg: str, **kw) -> GostVerdict:
    return GostVerdict("INDETERMINATE", sub, msg, **kw)


def is_gost_cms(signed_data: asn1_cms.SignedData) -> bool:
    """Whether the (first) SignerInfo uses a Kazakh GOST algorithm (then :func:`verify_signed_data` answers)."""
    try:
        si = signed_data["signer_infos"][0]
        return gost.is_gost(si["signature_algorithm"]["algorithm"].native) or \
            gost.is_gost(si["digest_algorithm"]["algorithm"].native)
    except (IndexError, KeyError, ValueError):
        return False


def _attr(signed_attrs, name: str):
    for a in signed_attrs:
        if a["type"].native == name:
            return a["values"][0]
    return None


def signature_verdict(signed_data: asn1_cms.SignedData, digest: bytes, *, extra_certs=(),
                      content_type: str = "data") -> GostVerdict:
    """The cryptographic part of :func:`async_verify_signed_data`, no certificate path: the layout, the
    messageDigest against ``digest``, the GOST signature, signingCertificateV2.  A verdict that has not
    failed is TOTAL-PASSED with its ``signer`` (the desk checks the path itself, :mod:`signing.gost_external`)."""
    infos = list(signed_data["signer_infos"])
    if len(infos) != 1:
        return _fail("FORMAT_FAILURE", f"expected one SignerInfo, found {len(infos)}")
    si = infos[0]
    sig_algo = si["signature_algorithm"]["algorithm"].native
    name = gost.algorithm_name(sig_algo)
    if sig_algo not in gost.SUPPORTED_SIGNATURES:
        return _indeterminate("CRYPTO_CONSTRAINTS_FAILURE_NO_POE",
                              f"{name} is recognised but qamqor cannot verify it", algorithm=name)
    if si["digest_algorithm"]["algorithm"].native != gost.HASH_NAMES[gost.STREEBOG_512]:
        return _fail("FORMAT_FAILURE", "the digest algorithm is not Streebog-512", algorithm=name)
    certs = [c.chosen for c in signed_data["certificates"] or [] if c.name == "certificate"] + list(extra_certs)
    sid = si["sid"]
    if sid.name != "issuer_and_serial_number":
        return _fail("FORMAT_FAILURE", "the signer is not named by issuer and serial number", algorithm=name)
    ias = sid.chosen
    signer = next((c for c in certs if c.issuer == ias["issuer"] and c.serial_number == ias["serial_number"].native),
                  None)
    if signer is None:
        return _indeterminate("NO_SIGNING_CERTIFICATE_FOUND", "the signer's certificate is not in the CMS",
                              algorithm=name)
    attrs = si["signed_attrs"]
    kw = {"signer": signer, "algorithm": name}
    if not attrs:
        return _fail("FORMAT_FAILURE", "no signed attributes (CAdES-BES needs them)", **kw)
    st = _attr(attrs, "signing_time")
    kw["signing_time"] = st.native if st is not None else None
    md = _attr(attrs, "message_digest")
    if md is None or not gost.same(md.native, digest):
        return _fail("HASH_FAILURE", "the signed data were changed (the Streebog-512 digest differs)", **kw)
    if _attr(attrs, "content_type") is None or _attr(attrs, "content_type").native != content_type:
        return _fail("FORMAT_FAILURE", f"contentType is missing or not {content_type}", **kw)
    if not gost.verify(signer.public_key, attrs.untag().dump(), si["signature"].native):
        return _fail("SIG_CRYPTO_FAILURE", "the GOST signature does not verify", **kw)
    scv2 = _attr(attrs, "signing_certificate_v2")
    if scv2 is not None:
        first = scv2["certs"][0]
        algo = first["hash_algorithm"]["algorithm"].native
        if algo != "sha256" or not gost.same(first["cert_hash"].native, hashlib.sha256(signer.dump()).digest()):
            return _indeterminate("NO_SIGNING_CERTIFICATE_FOUND",
                                  "signingCertificateV2 does not name the signer's certificate", **kw)
    return GostVerdict("TOTAL-PASSED", None, None, **kw)


async def async_verify_signed_data(
    signed_data: asn1_cms.SignedData, digest: bytes, *, trust_roots: Iterable[asn1_x509.Certificate],
    at: dt.datetime | None = None, extra_crls: Iterable[asn1_crl.CertificateList] = (),
    extra_certs: Iterable[asn1_x509.Certificate] = (), extra_ocsps: Iterable = (), content_type: str = "data",
    key_usage: frozenset[str] = frozenset({"non_repudiation"}), extended_key_usage: frozenset[str] | None = None,
) -> GostVerdict:
    """Verify a GOST SignerInfo against the Streebog-512 ``digest`` of the signed data (module docstring).

    ``extra_*``: validation data from elsewhere (a PDF's DSS); ``content_type``, ``key_usage`` and
    ``extended_key_usage``: what a timestamp token's signer must be instead (:mod:`signing.gost_tsp`)."""
    extra_certs = list(extra_certs)
    first = signature_verdict(signed_data, digest, extra_certs=extra_certs, content_type=content_type)
    if not first.passed:
        return first
    signer = first.signer
    kw = {"signer": signer, "algorithm": first.algorithm, "signing_time": first.signing_time}
    certs = [c.chosen for c in signed_data["certificates"] or [] if c.name == "certificate"] + extra_certs
    crls = [c.chosen for c in signed_data["crls"] or [] if c.name == "crl"] + list(extra_crls)
    moment = at or dt.datetime.now(dt.UTC)
    vc = ValidationContext(trust_roots=list(trust_roots), crls=crls, ocsps=list(extra_ocsps),
                           revocation_mode="hard-fail", moment=moment, retroactive_revinfo=True,
                           allow_fetching=False, signature_validator=gost.KzGostSignatureValidator())
    validator = CertificateValidator(signer, intermediate_certs=[c for c in certs if c.dump() != signer.dump()],
                                     validation_context=vc)
    try:
        path = await validator.async_validate_usage(set(key_usage), set(extended_key_usage or ()) or None)
    except PathBuildingError as e:
        return _indeterminate("NO_CERTIFICATE_CHAIN_FOUND", str(e), **kw)
    except RevokedError as e:
        return _fail("REVOKED", str(e), **kw)
    except InsufficientRevinfoError as e:
        return _indeterminate("TRY_LATER", str(e), **kw)
    except ExpiredError as e:
        return _indeterminate("OUT_OF_BOUNDS_NO_POE", str(e), **kw)
    except PathValidationError as e:
        return _indeterminate("CERTIFICATE_CHAIN_GENERAL_FAILURE", str(e), **kw)
    except Exception as e:  # noqa: BLE001 - e.g. a key usage refusal: a finding, not a crash
        return _indeterminate("CHAIN_CONSTRAINTS_FAILURE", str(e), **kw)
    return GostVerdict("TOTAL-PASSED", None, None, chain=[c.subject.native.get("common_name", "") for c in path],
                       **kw)


def verify_cms(cms: bytes, data: bytes, *, trust_roots: Iterable[asn1_x509.Certificate],
               at: dt.datetime | None = None) -> GostVerdict:
    """Verify a detached GOST CMS (what NCALayer returns) over ``data``."""
    try:
        ci = asn1_cms.ContentInfo.load(cms)
        signed_data = ci["content"]
        signed_data.native  # noqa: B018 - parse it all now: a malformed CMS is a finding, not a crash later
    except (ValueError, TypeError, KeyError) as e:
        return _fail("FORMAT_FAILURE", f"not a CMS SignedData: {e}")
    return asyncio.run(async_verify_signed_data(signed_data, gost.streebog512(data), trust_roots=trust_roots,
                                                at=at))


# --- PDF ------------------------------------------------------------------------------------------------------


def byte_range_digest(data: bytes, byte_range: Iterable[int]) -> bytes:
    """Streebog-512 over the signed byte ranges of a PDF signature (``[start, length, start, length]``)."""
    br = list(byte_range)
    h = b"".join(data[br[i]:br[i] + br[i + 1]] for i in range(0, len(br), 2))
    return gost.streebog512(h)


async def async_sign_pdf_gost(data: bytes, *, field_name: str, key: gost.GostPrivateKey,
                              cert: asn1_x509.Certificate, chain: Iterable[asn1_x509.Certificate] = (),
                              crls: Iterable[asn1_crl.CertificateList] = (), signing_time: dt.datetime | None = None,
                              reserve: int = 32768) -> bytes:
    """Sign ``data`` in a new signature field: pyHanko reserves the field and the byte range, the Streebog digest
    and the CMS are ours (issue 16 §3).  B-B-like (CAdES-BES with signingTime, research/gost.md §4.4)."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers as ph_signers
    from pyhanko.sign.fields import SigSeedSubFilter

    writer = IncrementalPdfFileWriter(BytesIO(data), strict=False)
    # the placeholder signer: pyHanko needs a certificate to describe the field; it never signs
    placeholder = ph_signers.ExternalSigner(signing_cert=None, cert_registry=None, signature_value=bytes(128))
    meta = ph_signers.PdfSignatureMetadata(field_name=field_name, md_algorithm="sha256",
                                           subfilter=SigSeedSubFilter.ADOBE_PKCS7_DETACHED)
    pdf_signer = ph_signers.PdfSigner(meta, signer=placeholder)
    prep, _tbs, output = await pdf_signer.async_digest_doc_for_signing(writer, bytes_reserved=reserve)
    output.seek(0)
    prepared = output.read()
    br = [0, prep.reserved_region_start, prep.reserved_region_end, len(prepared) - prep.reserved_region_end]
    ci = sign_digest_cms(byte_range_digest(prepared, br), key=key, cert=cert, chain=chain, crls=crls,
                         signing_time=signing_time)
    out = BytesIO(prepared)
    prep.fill_with_cms(out, ci)
    return out.getvalue()


def sign_pdf_gost(data: bytes, **kwargs) -> bytes:
    return asyncio.run(async_sign_pdf_gost(data, **kwargs))


async def async_verify_pdf_gost(data: bytes, embedded_sig, *, trust_roots: Iterable[asn1_x509.Certificate],
                                at: dt.datetime | None = None) -> GostVerdict:
    """One embedded GOST signature of a PDF (pyHanko's ``EmbeddedPdfSignature``): the byte range must cover the
    whole revision but the signature's own hex string, the Streebog digest and the CMS as :func:`verify_cms`."""
    br = list(embedded_sig.byte_range)
    if len(br) != 4 or br[0] != 0:
        return _fail("FORMAT_FAILURE", f"an unusual byte range {br}")
    verdict = await async_verify_signed_data(embedded_sig.signed_data, byte_range_digest(data, br),
                                             trust_roots=trust_roots, at=at)
    return verdict


async def async_ltv_signature(reader, embedded_sig, trust_roots, at: dt.datetime, *, etsi: bool = False):
    """The archive's verdict (:class:`signing.ltv.LtvSignature`) on one embedded GOST signature (with its
    timestamps and the DSS), and with ``etsi`` its ETSI report: :func:`signing.gost_pades.ltv_signature`."""
    from .gost_pades import ltv_signature

    return await ltv_signature(reader, embedded_sig, trust_roots, at, etsi=etsi)  # (verdict, xml or None)

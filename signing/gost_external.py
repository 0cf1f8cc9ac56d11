"""Two-step signing with a GOST key held outside the server: NCALayer signing with an officer's GOST 2015/512 key
(issue 16; :class:`signing.external.ExternalSigner` hands GOST certificates here).

What NCALayer signs is the same as for RSA (research/ncalayer-protocol.md §5.2: ``basics.sign``, ``format:
"cms"``, ``decode: true``, ``encapsulate: false``): the bytes of the byte range, and it returns a detached
CAdES-BES CMS (research/gost.md §4.4).  pyHanko cannot digest or verify GOST (its hashes are pyca's), so:

- :func:`async_prepare` — the same local policy as a server-side GOST key (officer, role, organisation,
  validity: :func:`signing.policy.check_certificate_local`) and the path to the trusted roots (GOST signatures
  checked), then pyHanko reserves the field and draws the stamp (:func:`signing.gost_sign.prepare_field`); the
  prepared digest is Streebog-512 over the byte range (``md_algorithm`` :data:`MD_ALGORITHM`);
- :func:`async_finish` — the CMS must be signed by the prepared certificate (another officer's key is refused
  before this, :class:`signing.external.WrongSigner`), its messageDigest must be that Streebog-512 digest and its
  GOST signature must verify (:func:`signing.gost_cms.signature_verdict`), else "the outside CMS does not verify
  over the prepared document", as for RSA; the path and, from B-LT or with ``check_revocation``, the status are
  checked again now (hard-fail); then :func:`signing.gost_sign.complete` embeds it at the prepared level with
  the GOST TSA and OCSP: B-B and B-T with the CAs' CRLs in the CMS, B-T with a GOST signature timestamp, B-LT
  with the DSS, B-LTA with a GOST document timestamp.  A CMS that carries a timestamp of its own (NCALayer's
  ``tsaProfile``: the NCA's TSA signs with GOST 34.310-2004, which qamqor cannot verify) is refused.  The signed
  file is read back and its signature checked over its byte range before it is handed back.
"""

from __future__ import annotations

import datetime as dt
from io import BytesIO

from asn1crypto import cms as asn1_cms
from asn1crypto import x509 as asn1_x509

from . import gost, gost_cms, gost_sign
from .errors import SigningFailed

#: the prepared digest's algorithm for a GOST certificate (pyHanko's, for RSA, is sha256)
MD_ALGORITHM = "streebog512"
#: hex space for NCALayer's CMS: its chain as the key container holds it, our timestamp with its TSA's chain
RESERVE = 65536
_NOT_OVER = "the outside CMS does not verify over the prepared document"


def is_gost_certificate(cert: asn1_x509.Certificate) -> bool:
    """Whether ``cert`` holds a Kazakh GOST key (any of them: the others are refused by name, not by a crash)."""
    return cert.public_key.algorithm in gost.GOST_KEYS


def _tsa(options) -> str | None:
    return options.gost_tsa_url or options.tsa_url


async def async_prepare(options, pdf: bytes, field: str, *, certificate: asn1_x509.Certificate, chain,
                        officer_iin: str | None, document_kind: str, stamp, organisation_bin: str | None):
    """Prepare ``field`` of ``pdf`` for a GOST CMS made outside (module docstring); the approval is checked by
    the caller (:meth:`signing.external.ExternalSigner.async_prepare`)."""
    from .external import PreparedSignature
    from .policy import check_certificate_local
    from .sign import _stamp_style, open_field

    algorithm = certificate.public_key.algorithm
    if algorithm != gost.KEY_NAMES[gost.KEY_2015_512]:
        raise SigningFailed(f"qamqor cannot verify signatures made with a {gost.HUMAN.get(algorithm, algorithm)}",
                            remedy="sign with a GOST R 34.10-2015 512-bit key (NCA issues only these since 2024)")
    # ¶11 and the certificate policy: who may sign which kind, as for every other key
    ident = check_certificate_local(certificate, officer_iin=officer_iin, document_kind=document_kind,
                                    allowed_roles=options.allowed_roles, organisation_bin=organisation_bin)
    # the path now, the status too when the installation checks it; B-LT's status data is gathered at finish,
    # after the signature (so level "B-T" here: a TSA must be configured, no OCSP fetched twice)
    await gost_sign.check_signer(certificate, list(chain), options.roots,
                                 level="B-B" if options.level == "B-B" else "B-T", tsa_url=_tsa(options),
                                 check_revocation=options.check_revocation, timeout=options.timeout_s)
    w, box = open_field(pdf, field)
    now = dt.datetime.now(dt.UTC)
    prep, prepared, digest = await gost_sign.prepare_field(
        w, field=field, level=options.level, stamp_style=_stamp_style(stamp, ident, box, now),
        certify=options.certify, reserve=RESERVE)
    return PreparedSignature(
        field=field, document=prepared, reserved_region_start=prep.reserved_region_start,
        reserved_region_end=prep.reserved_region_end, digest=digest, md_algorithm=MD_ALGORITHM,
        certificate=certificate, level=options.level, post_sign=None,
    )


async def async_finish(options, prepared, ci: asn1_cms.ContentInfo) -> bytes:
    """Check the outside GOST CMS ``ci`` against ``prepared`` and embed it (module docstring)."""
    from pyhanko.sign.signers.pdf_byterange import PreparedByteRangeDigest

    cert = prepared.certificate
    signed_data = ci["content"]
    verdict = gost_cms.signature_verdict(signed_data, prepared.digest)
    if not verdict.passed or verdict.signer.dump() != cert.dump():
        raise SigningFailed(f"{_NOT_OVER}: {verdict.message or 'another certificate'}")
    unsigned = signed_data["signer_infos"][0]["unsigned_attrs"]
    if unsigned.native and any(a["type"].native == "signature_time_stamp_token" for a in unsigned):
        # NCALayer's own (tsaProfile): the NCA's TSA signs with GOST 34.310-2004, which qamqor cannot verify,
        # so the signature would be delivered INDETERMINATE; the desk asks for none, and ours is added below
        raise SigningFailed("the outside CMS carries a timestamp of its own, which qamqor cannot verify",
                            remedy="sign without NCALayer's timestamp (tsaProfile null): qamqor adds its own")
    chain = [c.chosen for c in signed_data["certificates"] or []
             if c.name == "certificate" and c.chosen.dump() != cert.dump()]
    revinfo = await gost_sign.check_signer(cert, chain, options.roots, level=prepared.level, tsa_url=_tsa(options),
                                           check_revocation=options.check_revocation, timeout=options.timeout_s)
    prep = PreparedByteRangeDigest(document_digest=prepared.digest, reserved_region_start=prepared.reserved_region_start,
                                   reserved_region_end=prepared.reserved_region_end)
    signed = await gost_sign.complete(prep, prepared.document, ci, revinfo=revinfo, level=prepared.level,
                                      tsa_url=_tsa(options), roots=options.roots, timeout=options.timeout_s,
                                      add_crls=True)
    check_signed(signed, prepared.field, cert)
    return signed


def check_signed(signed: bytes, field: str, cert: asn1_x509.Certificate) -> None:
    """Never hand back a signature that does not verify over its byte range (read back from the file)."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    sig = next((s for s in PdfFileReader(BytesIO(signed), strict=False).embedded_regular_signatures
                if s.field_name == field), None)
    br = list(sig.byte_range) if sig is not None else []
    ok = (len(br) == 4 and br[0] == 0 and br[2] + br[3] <= len(signed)
          and gost_cms.signature_verdict(sig.signed_data, gost_cms.byte_range_digest(signed, br)).passed
          and sig.signer_cert.dump() == cert.dump())
    if not ok:
        raise SigningFailed(_NOT_OVER)

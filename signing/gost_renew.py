"""Renewal of a GOST B-LTA's proof of existence (issue 16; ``qamqor archive renew``, as :mod:`signing.ltv`
renews RSA ones with pyHanko's ``PdfTimeStamper``, which hashes with pyca and so has no Streebog).

:func:`async_renew` adds, in two incremental updates:

1. a DSS update with fresh status data for the newest GOST archive timestamp's TSA and its CAs (OCSP where the
   TSA certificate names a responder, the CAs' CRLs, the responder's CRL), fetched now and checked before they
   are written (the TSA's path with GOST signatures, hard-fail: a revoked TSA is refused, nothing written);
2. a new GOST document timestamp over the whole file, from the GOST TSA, whose own status data the next
   renewal brings (:func:`async_complete` adds it once it can be issued after that timestamp).

The newest timestamp's TSA is the one to cover: its status data, issued after it and kept under the new
timestamp, is what lets a validator reach back past that TSA certificate's end (EN 319 102-1 §5.2.5.4).
"""

from __future__ import annotations

import datetime as dt
from io import BytesIO

from pyhanko.pdf_utils.reader import PdfFileReader

from . import gost_cms, gost_sign


def _newest_timestamp(reader: PdfFileReader):
    stamps = list(reader.embedded_timestamp_signatures)
    return stamps[-1] if stamps else None


def is_gost_document(data: bytes) -> bool:
    """Whether the file's proof of existence is GOST: its newest document timestamp is, or (none yet) its last
    signature is."""
    reader = PdfFileReader(BytesIO(data), strict=False)
    newest = _newest_timestamp(reader)
    if newest is None:
        sigs = list(reader.embedded_regular_signatures)
        return bool(sigs) and gost_cms.is_gost_cms(sigs[-1].signed_data)
    return gost_cms.is_gost_cms(newest.signed_data)


async def _fresh_status(reader: PdfFileReader, roots, timeout: float) -> gost_sign.Revinfo | None:
    """The newest GOST timestamp's TSA status data, fetched now and its path checked (module docstring)."""
    newest = _newest_timestamp(reader)
    if newest is None:
        return None
    tsa, certs = gost_sign._token_signer(newest.signed_data)
    revinfo = gost_sign.Revinfo()
    await revinfo.gather(tsa, certs, roots, required=True, timeout=timeout)
    await gost_sign.check_chain(tsa, certs, roots, revinfo=revinfo, key_usage=frozenset({"digital_signature"}),
                                ekus={"time_stamping"})
    return revinfo


def _with_dss(data: bytes, revinfo: gost_sign.Revinfo) -> bytes:
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    out = BytesIO(data)
    out.seek(0, 2)
    DocumentSecurityStore.add_dss(out, None, certs=revinfo.certs, ocsps=revinfo.ocsps, crls=revinfo.crls,
                                  strict=False)
    return out.getvalue()


async def async_renew(data: bytes, *, tsa_url: str, trust_roots, timeout: float = 30.0) -> bytes:
    """The DSS update and a new GOST document timestamp (module docstring)."""
    roots = list(trust_roots)
    reader = PdfFileReader(BytesIO(data), strict=False)
    revinfo = await _fresh_status(reader, roots, timeout)
    if revinfo is not None:
        data = _with_dss(data, revinfo)
    return await gost_sign.add_document_timestamp(data, tsa_url=tsa_url, roots=roots, timeout=timeout)


def _issued_after(revinfo: gost_sign.Revinfo, moment: dt.datetime) -> bool:
    from .ltv import _issued

    return any((t := _issued(i)) is not None and t > moment for i in [*revinfo.ocsps, *revinfo.crls])


async def async_complete(data: bytes, *, trust_roots, timeout: float = 30.0) -> bytes | None:
    """A DSS update with the newest GOST timestamp's status data fetched now, when it was issued after that
    timestamp; else None (try later), as :func:`signing.ltv.async_complete_evidence` does for RSA."""
    reader = PdfFileReader(BytesIO(data), strict=False)
    newest = _newest_timestamp(reader)
    if newest is None:
        return None
    moment = newest.self_reported_timestamp
    moment = moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment
    revinfo = await _fresh_status(reader, list(trust_roots), timeout)
    if revinfo is None or not _issued_after(revinfo, moment):
        return None
    return _with_dss(data, revinfo)

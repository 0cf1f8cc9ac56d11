"""Who may have signed a document (#14.13): the signing policy, as the application knows it, for verification.

The library applies the rules (:class:`signing.VerificationPolicy`: role for the kind, organisation, named
officials); this module gives it the facts:

- who signs which kind: ``forms/catalogue/documents.toml``, the one map signing reads too;
- the document's kind: the journal's, when the journal knows the document; else the kind the document's own XMP
  metadata names (``qamqor:DocumentKind``, written by :mod:`forms.render`) in the revision its first signature
  covers — a forger's own file may name any kind, but then its signer must hold that kind's role;
- when the journal knows the document: the organisation BIN its signers must carry (as at signing,
  :func:`pipeline.stages.sign.organisation_for`) and the officials it names.

So a certificate that merely chains to the trust root (a citizen's, an inspector's on an order) no longer makes a
document valid, for the desk's public pages as for ``verify``.
"""

from __future__ import annotations

from io import BytesIO
from typing import Any

#: the XMP namespace of our own properties (forms/render.py ``XMP_NS``)
XMP_NS = "urn:kz:qamqor:document:1"


def claims(data: bytes) -> tuple[str | None, str | None]:
    """``(document id, kind)`` as the document's XMP names them in the revision its first signature covers
    (``(None, None)`` when it names nothing, or cannot be read)."""
    from lxml import etree
    from pyhanko.pdf_utils.reader import PdfFileReader

    try:
        reader = PdfFileReader(BytesIO(data), strict=False)
        sigs = [s for s in reader.embedded_signatures if s.sig_object_type != "/DocTimeStamp"]
        root = reader.get_historical_root(sigs[0].signed_revision) if sigs else reader.root
        xmp = root.get("/Metadata")
        if xmp is None:
            return None, None
        tree = etree.fromstring(xmp.get_object().data, etree.XMLParser(resolve_entities=False, no_network=True,
                                                                      huge_tree=False))
    except Exception:  # noqa: BLE001 - a file we cannot read names nothing; verification says why it is invalid
        return None, None

    def first(name: str) -> str | None:
        # an element (as the renderer writes it) or an attribute of a description (as pyHanko rewrites it)
        tag = f"{{{XMP_NS}}}{name}"
        values = [e.text.strip() for e in tree.iter(tag) if e.text and e.text.strip()]
        values += [e.get(tag).strip() for e in tree.iter() if e.get(tag)]
        return values[0] if values else None

    return first("DocumentId"), first("DocumentKind")


def policy_for(data: bytes, services: Any = None) -> Any:
    """The :class:`signing.VerificationPolicy` for ``data``, with what the journal of ``services`` (when given)
    knows about the document."""
    return policy_for_claims(claims(data), services)


def policy_for_claims(named: tuple[str | None, str | None], services: Any = None) -> Any:
    """The policy for a document that names ``(document id, kind)`` (:func:`claims`)."""
    import signing
    from forms.catalogue import signers_by_role

    roles = {role: set(kinds) for role, kinds in signers_by_role().items()}
    document_id, kind = named
    if services is not None and document_id:
        from .journal import store
        from .stages.sign import organisation_for

        doc = store.get_document(services.journal, document_id[:120])
        if doc is not None:
            iins = [s.get("iin") for s in doc.signers]
            return signing.VerificationPolicy(
                roles, doc.kind, organisation_bin=organisation_for(services, doc),
                signer_iins=tuple(iins) if iins and all(iins) else ())
    return signing.VerificationPolicy(roles, kind)


def verify(config: Any, data: bytes, services: Any = None) -> Any:
    """:func:`signing.verify_pdf` against the configured trust roots, with the signing policy applied."""
    import signing

    return signing.verify_pdf(data, trust_roots=list(config.signing.trust_roots),
                              policy=policy_for(data, services))


def apply_to_ltv(report: Any, data: bytes, services: Any = None) -> Any:
    """The policy on a long-term validation report (:class:`signing.ltv.LtvReport`): a signature whose signer
    may not sign this document is INDETERMINATE / SIG_CONSTRAINTS_FAILURE (ETSI EN 319 102-1: the signature is
    sound, the signer's authority for it is not), with the reason."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    from signing.policy import CertificateIdentity

    policy = policy_for(data, services)
    try:
        reader = PdfFileReader(BytesIO(data), strict=False)
        certs = {s.field_name: s.signer_cert for s in reader.embedded_signatures
                 if s.sig_object_type != "/DocTimeStamp"}
    except Exception:  # noqa: BLE001 - unreadable: the report already says so
        return report
    for s in report.signatures:
        cert = certs.get(s.field)
        why = policy.problem(CertificateIdentity.of(cert)) if cert is not None else None
        if why and s.passed:
            s.indication, s.subindication = "INDETERMINATE", "SIG_CONSTRAINTS_FAILURE"
            s.message = f"signature valid, but the signer is not authorised for this document: {why}"
        elif why:
            s.message = "; ".join(filter(None, (s.message, f"the signer is not authorised for this document: {why}")))
    return report

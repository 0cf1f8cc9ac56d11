"""The signing policy: fail closed, before anything is signed.

Rules, checked in this order; the first that fails raises its own typed error (``rule`` says which):

1. ``key_usage``   the certificate's key usage has nonRepudiation (a signing key, not an AUTH key);
2. ``validity``    now lies within the certificate's validity;
3. ``officer_iin`` the approving officer's IIN equals the certificate's subject serialNumber ``IIN…``
                   (a system seal has no IIN: then ``officer_iin`` must be empty);
4. ``organisation`` when an organisation BIN is expected, the certificate's ``OU=BIN…`` equals it;
5. ``role``        the role in the certificate (subject ``title``) may sign this kind of document, by the map the
                   caller passes (``{role: {kind, …}}``; the application reads it from the catalogue,
                   ``forms/catalogue/documents.toml``): the library knows no roles or kinds of its own;
6. ``chain``       a path to the configured trust roots only (never the system store);
7. ``revocation``  when checking is configured: OCSP/CRL say good.  A revocation server that cannot be
                   reached is a :class:`~pipeline.errors.TransientError` (retry later), never a silent pass.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import x509 as asn1_x509
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator import errors as cv_errors

from .errors import (
    CertificateNotValidNow,
    CertificateRevoked,
    KeyUsageRefused,
    OfficerMismatch,
    OrganisationMismatch,
    RoleNotAllowed,
    SigningServiceDown,
    UntrustedChain,
)


@dataclass(frozen=True)
class CertificateIdentity:
    """What the Kazakh certificate profile says about its holder."""

    name: str
    iin: str | None
    bin: str | None
    role: str | None
    serial_hex: str
    issuer: str

    @classmethod
    def of(cls, cert: asn1_x509.Certificate) -> CertificateIdentity:
        subject = cert.subject.native
        serial = subject.get("serial_number") or ""
        ou = subject.get("organizational_unit_name") or ""
        if isinstance(ou, list):
            ou = next((x for x in ou if str(x).startswith("BIN")), ou[0] if ou else "")
        iin = serial[3:] if re.fullmatch(r"IIN\d{12}", serial) else None
        bin_ = ou[3:] if re.fullmatch(r"BIN\d{12}", ou) else None
        issuer_cn = cert.issuer.native.get("common_name") or cert.issuer.human_friendly
        return cls(
            name=subject.get("common_name") or "",
            iin=iin,
            bin=bin_,
            role=subject.get("title"),
            serial_hex=format(cert.serial_number, "x").upper(),
            issuer=issuer_cn,
        )


def load_trust_roots(roots: Iterable) -> list[asn1_x509.Certificate]:
    """Trust roots given as paths (PEM/DER), asn1crypto or ``cryptography`` certificates."""
    from pyhanko.keys import load_certs_from_pemder

    out: list[asn1_x509.Certificate] = []
    for r in roots:
        if isinstance(r, asn1_x509.Certificate):
            out.append(r)
        elif isinstance(r, str | Path):
            out.extend(load_certs_from_pemder([str(r)]))
        elif hasattr(r, "public_bytes"):  # cryptography.x509.Certificate
            from cryptography.hazmat.primitives.serialization import Encoding

            out.append(asn1_x509.Certificate.load(r.public_bytes(Encoding.DER)))
        else:
            raise TypeError(f"cannot use {r!r} as a trust root")
    return out


def check_certificate_local(
    cert: asn1_x509.Certificate,
    *,
    officer_iin: str | None,
    document_kind: str,
    allowed_roles: Mapping[str, Collection[str]],
    organisation_bin: str | None = None,
    now: dt.datetime | None = None,
) -> CertificateIdentity:
    """Rules 1–5 (no network, no chain)."""
    now = now or dt.datetime.now(dt.UTC)
    ident = CertificateIdentity.of(cert)
    ku = cert.key_usage_value
    bits = set(ku.native) if ku is not None else set()
    if "non_repudiation" not in bits:
        raise KeyUsageRefused(
            f"the certificate {ident.serial_hex} is not a signing certificate "
            f"(key usage: {', '.join(sorted(bits)) or 'none'}; nonRepudiation is required)"
        )
    validity = cert["tbs_certificate"]["validity"]
    not_before, not_after = validity["not_before"].native, validity["not_after"].native
    if now < not_before:
        raise CertificateNotValidNow(f"the certificate {ident.serial_hex} is valid only from {not_before:%Y-%m-%d %H:%M} UTC")
    if now > not_after:
        raise CertificateNotValidNow(f"the certificate {ident.serial_hex} expired on {not_after:%Y-%m-%d %H:%M} UTC")
    if (officer_iin or None) != ident.iin:
        raise OfficerMismatch(
            f"the approving officer's IIN {officer_iin or '(none)'} is not the certificate's ({ident.iin or 'none'})"
        )
    if organisation_bin is not None and ident.bin != organisation_bin:
        raise OrganisationMismatch(f"the certificate belongs to BIN {ident.bin or '(none)'}, not {organisation_bin}")
    if not any(document_kind in kinds for kinds in allowed_roles.values()):
        raise RoleNotAllowed(f"unknown document kind {document_kind!r}")
    if ident.role is None or document_kind not in allowed_roles.get(ident.role, set()):
        raise RoleNotAllowed(f"the role {ident.role or '(none)'} may not sign a {document_kind}")
    return ident


async def check_chain_and_revocation(
    cert: asn1_x509.Certificate,
    chain: Iterable[asn1_x509.Certificate],
    trust_roots: list[asn1_x509.Certificate],
    *,
    check_revocation: bool,
    fetcher_backend=None,
    now: dt.datetime | None = None,
) -> None:
    """Rules 6–7, with pyhanko-certvalidator and only the given roots."""
    if not trust_roots:
        raise UntrustedChain("no trust roots are configured")
    vc = ValidationContext(
        trust_roots=trust_roots,
        other_certs=list(chain),
        allow_fetching=check_revocation,
        revocation_mode="hard-fail" if check_revocation else "soft-fail",
        fetcher_backend=fetcher_backend,
        moment=now,
    )
    ident = CertificateIdentity.of(cert)
    validator = CertificateValidator(cert, validation_context=vc)
    try:
        await validator.async_validate_usage(key_usage={"non_repudiation"})
    except cv_errors.RevokedError as e:
        raise CertificateRevoked(f"the certificate {ident.serial_hex} is revoked ({e})") from e
    except cv_errors.InsufficientRevinfoError as e:
        raise SigningServiceDown(f"the revocation status of {ident.serial_hex} could not be obtained: {e}") from e
    except (cv_errors.ExpiredError, cv_errors.NotYetValidError) as e:
        raise CertificateNotValidNow(str(e)) from e
    except (cv_errors.PathBuildingError, cv_errors.PathValidationError) as e:
        raise UntrustedChain(f"the certificate {ident.serial_hex} does not chain to a configured trust root ({e})") from e
    except cv_errors.InvalidCertificateError as e:
        raise KeyUsageRefused(str(e)) from e


# --- the same policy when a signed document is verified (#14.13, #14.21) ---------------------------------------


@dataclass(frozen=True)
class VerificationPolicy:
    """Who may sign each kind of document for which organisation, applied when a signed document is verified
    (#14.13): rules 4 and 5 of signing (organisation, role), so that a certificate that merely chains to a trust
    root — any citizen's, an inspector's on an order — does not make a document valid.

    ``allowed_roles`` is the map signing uses (``{role: {kind, …}}``); ``document_kind`` the kind the document
    is (None: unknown — then nobody is authorised for it); ``organisation_bin`` the BIN its signers must carry,
    when the caller knows it; ``signer_iins``, when the document names its signers, the IINs one of which each
    signature must carry."""

    allowed_roles: Mapping[str, Collection[str]]
    document_kind: str | None
    organisation_bin: str | None = None
    signer_iins: Collection[str] = ()

    def problem(self, ident: CertificateIdentity) -> str | None:
        """Why the certificate's holder may not sign this document (None: they may)."""
        kind = self.document_kind
        if not kind:
            return "the document does not say which kind it is, so no signer can be authorised for it"
        if not any(kind in kinds for kinds in self.allowed_roles.values()):
            return f"no role signs a document of kind {kind!r}"
        if ident.role is None or kind not in self.allowed_roles.get(ident.role, ()):
            return f"the certificate's role {ident.role or '(none)'} may not sign a {kind}"
        if self.organisation_bin is not None and ident.bin != self.organisation_bin:
            return f"the certificate belongs to BIN {ident.bin or '(none)'}, not {self.organisation_bin}"
        if self.signer_iins and ident.iin not in self.signer_iins:
            return "the signer is none of the officials the document names"
        return None


def validity_problem(cert: asn1_x509.Certificate, claimed: dt.datetime | None) -> str | None:
    """Rule 2 at verification (#14.21): the certificate was valid at the claimed signing time (the signature
    timestamp's, else the signer's own claim).  None when it was, or when nothing is claimed."""
    if claimed is None:
        return None
    validity = cert["tbs_certificate"]["validity"]
    not_before, not_after = validity["not_before"].native, validity["not_after"].native
    at = claimed if claimed.tzinfo else claimed.replace(tzinfo=dt.UTC)
    if at < not_before:
        return (f"the certificate was not yet valid at the claimed signing time {at.astimezone(dt.UTC):%Y-%m-%d %H:%M} "
                f"UTC (valid from {not_before:%Y-%m-%d %H:%M} UTC)")
    if at > not_after:
        return (f"the certificate had expired at the claimed signing time {at.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC "
                f"(valid until {not_after:%Y-%m-%d %H:%M} UTC)")
    return None


def trust_problem(cert: asn1_x509.Certificate, indication: str | None) -> str:
    """What is wrong with a certificate that is not trusted, in words (#14.21): pyHanko's AdES sub-indication
    says whether it expired, is not valid yet, is revoked, or does not chain to a trust root."""
    validity = cert["tbs_certificate"]["validity"]
    not_before, not_after = validity["not_before"].native, validity["not_after"].native
    if indication in ("EXPIRED", "OUT_OF_BOUNDS_NO_POE", "OUT_OF_BOUNDS_NOT_REVOKED"):
        return f"the certificate expired on {not_after:%Y-%m-%d %H:%M} UTC"
    if indication == "NOT_YET_VALID":
        return f"the certificate is not valid before {not_before:%Y-%m-%d %H:%M} UTC"
    if indication in ("REVOKED", "REVOKED_NO_POE", "REVOKED_CA_NO_POE"):
        return "the certificate is revoked"
    if indication in ("NO_CERTIFICATE_CHAIN_FOUND", "NO_CERTIFICATE_CHAIN_FOUND_NO_POE", "CHAIN_CONSTRAINTS_FAILURE"):
        return "the certificate does not chain to a trust root"
    return "the certificate does not chain to a trust root, or is revoked or not valid"

"""Signing: keys and tokens, PAdES signatures (B-B … B-LTA), the visible stamp, verification, the demo PKI.

The pipeline codes against these names only; see each module for the why.
"""

from .errors import (
    ApprovalMismatch,
    CertificateNotValidNow,
    CertificateRevoked,
    FieldAlreadySigned,
    KeyNotFound,
    KeyUsageRefused,
    OfficerMismatch,
    OrganisationMismatch,
    RoleNotAllowed,
    SigningFailed,
    SigningRefused,
    SigningServiceDown,
    UntrustedChain,
    WrongSecret,
)
from .keys import SigningKey, load_pkcs11, load_pkcs12
from .pki import DemoPKI, Officer, create_demo_pki
from .policy import DEFAULT_ALLOWED_ROLES, DOCUMENT_KINDS, CertificateIdentity
from .sign import (
    ExternalSigner,
    PreparedSignature,
    SigningOptions,
    StampInfo,
    async_sign_pdf,
    sign_pdf,
)
from .verify import SignatureReport, VerificationReport, async_verify_pdf, verify_pdf

__all__ = [
    "DEFAULT_ALLOWED_ROLES", "DOCUMENT_KINDS", "ApprovalMismatch", "CertificateIdentity", "CertificateNotValidNow",
    "CertificateRevoked", "DemoPKI", "ExternalSigner", "FieldAlreadySigned", "KeyNotFound", "KeyUsageRefused",
    "Officer", "OfficerMismatch", "OrganisationMismatch", "PreparedSignature", "RoleNotAllowed", "SignatureReport",
    "SigningFailed", "SigningKey", "SigningOptions", "SigningRefused", "SigningServiceDown", "StampInfo",
    "UntrustedChain", "VerificationReport", "WrongSecret", "async_sign_pdf", "async_verify_pdf", "create_demo_pki",
    "load_pkcs11", "load_pkcs12", "sign_pdf", "verify_pdf",
]

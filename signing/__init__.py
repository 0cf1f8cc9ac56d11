"""Signing: keys and tokens, PAdES signatures (B-B … B-LTA), the visible stamp, verification.

The pipeline codes against these names only; see each module for the why.  The library imports nothing of
the application but :mod:`pipeline.errors` (its errors are that family), and knows no roles or document kinds:
who may sign what is passed in (``SigningOptions.allowed_roles``).  The demo PKI and the test TSA are in
:mod:`signing.testing`, not for production, and not imported from here.
"""

from . import speedups  # noqa: F401 - installs the two library speed-ups (issue 13)
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
from .external import ExternalSigner, PreparedSignature
from .keys import SigningKey, load_pkcs11, load_pkcs12
from .policy import CertificateIdentity, VerificationPolicy
from .sign import SigningOptions, StampInfo, async_sign_pdf, sign_pdf
from .verify import SignatureReport, VerificationReport, async_verify_pdf, verify_pdf

__all__ = [
    "ApprovalMismatch", "CertificateIdentity", "CertificateNotValidNow", "CertificateRevoked", "ExternalSigner",
    "FieldAlreadySigned", "KeyNotFound", "KeyUsageRefused", "OfficerMismatch", "OrganisationMismatch",
    "PreparedSignature", "RoleNotAllowed", "SignatureReport", "SigningFailed", "SigningKey", "SigningOptions",
    "SigningRefused", "SigningServiceDown", "StampInfo", "UntrustedChain", "VerificationPolicy",
    "VerificationReport", "WrongSecret",
    "async_sign_pdf", "async_verify_pdf", "load_pkcs11", "load_pkcs12", "sign_pdf", "verify_pdf",
]

"""Typed signing errors: which rule refused, which backend failed, which service is down.

Every class subclasses :mod:`pipeline.errors`, so the CLI maps them to exit codes without knowing about signing:
a policy refusal exits with ``signing_refused`` (nothing was signed), a backend failure with ``signing_failed``,
an unreachable TSA/OCSP/CRL server with ``transient`` (retry later, never reject).
"""

from __future__ import annotations

from pipeline.errors import ExitCode, QamqorError, TransientError


class SigningRefused(QamqorError):
    """The signing policy refused before anything was signed.  ``rule`` names the rule that failed."""

    exit_code = ExitCode.signing_refused
    code = "E-SIGN-REFUSED"
    rule = "policy"

    def __init__(self, message: str, *, remedy: str | None = None):
        super().__init__(f"signing refused [{self.rule}]: {message}", remedy=remedy)

    def to_dict(self):
        d = super().to_dict()
        d["rule"] = self.rule
        return d


class ApprovalMismatch(SigningRefused):
    rule = "approved_bytes"
    code = "E-SIGN-APPROVAL"
    remedy = "the document changed after approval: approve the current version again"


class KeyUsageRefused(SigningRefused):
    rule = "key_usage"
    code = "E-SIGN-KEY-USAGE"
    remedy = "use the signing key (RSA256_*/GOST*), not the authentication key (AUTH_*)"


class CertificateNotValidNow(SigningRefused):
    rule = "validity"
    code = "E-SIGN-VALIDITY"
    remedy = "the certificate is expired or not yet valid: renew it at the certification centre"


class UntrustedChain(SigningRefused):
    rule = "chain"
    code = "E-SIGN-CHAIN"
    remedy = "the certificate does not chain to a configured trust root: check the key or the trust roots"


class CertificateRevoked(SigningRefused):
    rule = "revocation"
    code = "E-SIGN-REVOKED"
    remedy = "the certificate is revoked: obtain a new one"


class OfficerMismatch(SigningRefused):
    rule = "officer_iin"
    code = "E-SIGN-OFFICER"
    remedy = "sign with the approving officer's own key"


class OrganisationMismatch(SigningRefused):
    rule = "organisation"
    code = "E-SIGN-ORGANISATION"
    remedy = "sign with a certificate issued to the organisation that issues the document"


class RoleNotAllowed(SigningRefused):
    rule = "role"
    code = "E-SIGN-ROLE"
    remedy = "this document must be signed by an officer of the role the configuration names"


class SigningFailed(QamqorError):
    """The signing backend failed (key file, token, CMS from outside); nothing was produced."""

    exit_code = ExitCode.signing_failed
    code = "E-SIGN-FAILED"


class WrongSecret(SigningFailed):
    code = "E-SIGN-SECRET"
    remedy = "check the password or PIN"


class KeyNotFound(SigningFailed):
    code = "E-SIGN-KEY-MISSING"
    remedy = "insert the token, or check the key file path, token label and key label"


class SigningServiceDown(TransientError):
    """A timestamp, OCSP or CRL server could not be reached: retry later."""

    code = "E-SIGN-SERVICE-DOWN"
    remedy = "the timestamp or revocation service is unreachable; the document stays in the queue, retry later"


class FieldAlreadySigned(SigningRefused):
    rule = "field"
    code = "E-SIGN-FIELD"
    remedy = "the signature field is already signed; a document is signed once per field"

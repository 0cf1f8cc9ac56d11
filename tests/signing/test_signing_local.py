"""PAdES B-B with PKCS#12 keys (RSA-2048, ECDSA P-256); approval bound to bytes; the policy fails closed."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import pytest
from signing_helpers import PROVIDER_BIN, make_pdf, sign_as, signing_options

from pipeline.errors import ExitCode
from signing import (
    ApprovalMismatch,
    CertificateNotValidNow,
    FieldAlreadySigned,
    KeyNotFound,
    KeyUsageRefused,
    OfficerMismatch,
    OrganisationMismatch,
    RoleNotAllowed,
    SigningFailed,
    SigningOptions,
    SigningRefused,
    UntrustedChain,
    WrongSecret,
    load_pkcs12,
    sign_pdf,
    verify_pdf,
)


@pytest.mark.parametrize("officer_id", ["head", "inspector-ec"])
def test_b_b_signature_is_valid_for_pyhanko_and_pdfsig(pki, keys, bb_options, pdfsig, officer_id):
    officer = pki.officer(officer_id)
    kind = "order" if officer.role == "head" else "inspection_act"
    field = "sig-head" if officer.role == "head" else "sig-inspector-1"
    pdf = make_pdf([field])
    signed = sign_as(pki, keys, officer_id, pdf, field, kind, bb_options)

    assert signed.startswith(pdf), "signing must be an incremental update"
    report = verify_pdf(signed, trust_roots=[pki.root_cert])
    assert report.valid, report.format_text()
    (sig,) = report.signatures
    assert (sig.field, sig.level, sig.signer_iin, sig.signer_role) == (field, "B-B", officer.iin, officer.role)
    assert sig.chain[0].startswith("НЕГІЗГІ") and sig.modification_level == "NONE"
    pdfsig(signed, 1)


def test_approval_is_bound_to_the_bytes(pki, keys, bb_options, order_pdf):
    approved = hashlib.sha256(order_pdf).hexdigest()
    changed = order_pdf.replace(b"CASE-1", b"CASE-2") if b"CASE-1" in order_pdf else order_pdf[:-10] + b" " + order_pdf[-9:]
    assert changed != order_pdf
    with pytest.raises(ApprovalMismatch) as e:
        sign_pdf(changed, field="sig-head", key=keys["head"], approved_sha256=approved,
                 officer_iin=pki.officer("head").iin, document_kind="order", stamp=None, options=bb_options)
    assert e.value.exit_code == ExitCode.signing_refused and e.value.rule == "approved_bytes"


@pytest.mark.parametrize(
    ("officer_id", "kind", "iin_of", "org_bin", "error", "rule"),
    [
        ("auth-only", "order", None, None, KeyUsageRefused, "key_usage"),
        ("expired", "order", None, None, CertificateNotValidNow, "validity"),
        ("head", "order", "inspector-1", None, OfficerMismatch, "officer_iin"),
        ("inspector-1", "order", None, None, RoleNotAllowed, "role"),
        ("head", "inspection_act", None, None, RoleNotAllowed, "role"),
        ("operator", "order", None, None, RoleNotAllowed, "role"),
        ("wrong-org", "order", None, PROVIDER_BIN, OrganisationMismatch, "organisation"),
    ],
)
def test_policy_refuses_before_signing(pki, keys, bb_options, order_pdf, officer_id, kind, iin_of, org_bin, error, rule):
    iin = pki.officer(iin_of or officer_id).iin
    with pytest.raises(error) as e:
        sign_pdf(order_pdf, field="sig-head", key=keys[officer_id], approved_sha256=hashlib.sha256(order_pdf).hexdigest(),
                 officer_iin=iin, document_kind=kind, stamp=None, options=bb_options, organisation_bin=org_bin)
    assert isinstance(e.value, SigningRefused)
    assert e.value.rule == rule and f"[{rule}]" in str(e.value)
    assert e.value.exit_code == ExitCode.signing_refused


def test_role_mapping_is_configurable(pki, keys, order_pdf, pdfsig):
    options = SigningOptions(trust_roots=[pki.root_cert], allowed_roles={"inspector": {"order"}})
    signed = sign_as(pki, keys, "inspector-1", order_pdf, "sig-head", "order", options, stamp=False)
    assert verify_pdf(signed, trust_roots=[pki.root_cert]).valid
    pdfsig(signed, 1)
    with pytest.raises(RoleNotAllowed):
        sign_as(pki, keys, "head", order_pdf, "sig-head", "order", options)


def test_chain_only_to_configured_roots(pki, keys, order_pdf, tmp_path):
    from signing.testing.pki import build_pki

    other = build_pki(tmp_path / "other", PROVIDER_BIN, "160440007161")
    options = signing_options(trust_roots=[other.root_cert])
    with pytest.raises(UntrustedChain) as e:
        sign_as(pki, keys, "head", order_pdf, "sig-head", "order", options)
    assert e.value.rule == "chain"
    with pytest.raises(UntrustedChain):
        sign_as(pki, keys, "head", order_pdf, "sig-head", "order", signing_options(trust_roots=[]))


def test_a_signed_field_is_not_signed_again(pki, keys, bb_options, order_pdf):
    signed = sign_as(pki, keys, "head", order_pdf, "sig-head", "order", bb_options)
    with pytest.raises(FieldAlreadySigned):
        sign_as(pki, keys, "head", signed, "sig-head", "order", bb_options)
    with pytest.raises(SigningFailed, match="no signature field"):
        sign_as(pki, keys, "head", order_pdf, "sig-nope", "order", bb_options)


def test_wrong_password_and_missing_file(pki, tmp_path):
    officer = pki.officer("head")
    with pytest.raises(WrongSecret) as e:
        load_pkcs12(officer.p12, b"not-the-password")
    assert e.value.exit_code == ExitCode.signing_failed
    with pytest.raises(KeyNotFound) as e2:
        load_pkcs12(tmp_path / "RSA256_missing.p12", b"x")
    assert e2.value.exit_code == ExitCode.signing_failed


def test_failures_leave_no_files(pki, keys, order_pdf, tmp_path, monkeypatch):
    """Every refusal and failure returns nothing and writes nothing, not even a temp file."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    before = set(Path(pki.directory).rglob("*"))
    for officer_id in ("expired", "auth-only"):
        with pytest.raises(SigningRefused):
            sign_as(pki, keys, officer_id, order_pdf, "sig-head", "order", signing_options(trust_roots=[pki.root_cert]))
    with pytest.raises(SigningRefused):
        sign_pdf(order_pdf, field="sig-head", key=keys["head"], approved_sha256="0" * 64, officer_iin=pki.officer("head").iin,
                 document_kind="order", stamp=None, options=signing_options(trust_roots=[pki.root_cert]))
    assert list(scratch.iterdir()) == []
    assert set(Path(pki.directory).rglob("*")) == before


def test_the_cms_space_is_estimated_once_a_key_and_again_when_a_signature_outgrows_it(pki, keys, bb_options,
                                                                                       monkeypatch):
    """#13: pyHanko's estimate of the CMS (a dry-run signature) is made for a key's first signature and its
    space reserved for the next ones; a signature that does not fit the space kept (a TSA's token grew) is
    made again on a fresh estimate, and is valid."""
    from pyhanko.sign.signers.pdf_signer import PdfSigningSession

    from signing import sign as signing_sign

    estimates = []
    original = PdfSigningSession.estimate_signature_container_size

    async def counted(self, *a, **k):
        estimates.append(1)
        return await original(self, *a, **k)

    monkeypatch.setattr(PdfSigningSession, "estimate_signature_container_size", counted)
    monkeypatch.setattr(signing_sign, "_reserved", {})
    first = sign_as(pki, keys, "head", make_pdf(["sig-head"]), "sig-head", "order", bb_options)
    second = sign_as(pki, keys, "head", make_pdf(["sig-head"]), "sig-head", "order", bb_options)
    assert len(estimates) == 1
    (space,) = signing_sign._reserved
    kept = signing_sign._reserved[space]
    assert kept == signing_sign.reserved_space(second, len(make_pdf(["sig-head"]))) > 0
    signing_sign._reserved[space] = 512  # far less than an RSA-2048 CMS with its chain
    third = sign_as(pki, keys, "head", make_pdf(["sig-head"]), "sig-head", "order", bb_options)
    assert len(estimates) == 2 and signing_sign._reserved[space] == kept
    for signed in (first, second, third):
        assert verify_pdf(signed, trust_roots=[pki.root_cert]).valid

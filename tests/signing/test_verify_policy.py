"""Verification applies the signing policy (#14.13) and the certificate's validity at the claimed signing time
(#14.21), as a forger would test it: certificates a trusted CA issued to the wrong people, signatures made with
pyHanko directly (no policy at signing), a signing time claimed before the certificate existed.

The trust root and certificates are made here with ``cryptography`` (real keys, real chains, real CMS); the
policy's map of who signs which kind is the catalogue's (forms/catalogue/documents.toml)."""

from __future__ import annotations

import datetime as dt
from io import BytesIO

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from signing_helpers import make_pdf

import signing
from forms.catalogue import signers_by_role
from pipeline import authorised

BIN = "040340001283"
OTHER_BIN = "990340001234"
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
ROLES = {role: set(kinds) for role, kinds in signers_by_role().items()}
XMP = """<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:qamqor="urn:kz:qamqor:document:1">
{props}</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>"""


def _name(cn: str, *, iin: str | None = None, bin_: str | None = None, title: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, "KZ"), x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if iin:
        attrs.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, f"IIN{iin}"))
    if bin_:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, f"BIN{bin_}"))
    if title:
        attrs.append(x509.NameAttribute(NameOID.TITLE, title))
    return x509.Name(attrs)


class CA:
    """A trust root that issues signing certificates directly (the demo NCA's shape, one level)."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = _name("TEST ROOT CA")
        self.cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(NOW - dt.timedelta(days=3650)).not_valid_after(NOW + dt.timedelta(days=3650))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                     .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                                  key_encipherment=False, data_encipherment=False,
                                                  key_agreement=False, key_cert_sign=True, crl_sign=True,
                                                  encipher_only=False, decipher_only=False), critical=True)
                     .sign(self.key, hashes.SHA256()))

    @property
    def root(self) -> asn1_x509.Certificate:
        return asn1_x509.Certificate.load(self.cert.public_bytes(serialization.Encoding.DER))

    def issue(self, subject: x509.Name, *, valid_from: dt.datetime, valid_to: dt.datetime) -> tuple:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(self.cert.subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(valid_from).not_valid_after(valid_to)
                .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True,
                                             key_encipherment=False, data_encipherment=False, key_agreement=False,
                                             key_cert_sign=False, crl_sign=False, encipher_only=False,
                                             decipher_only=False), critical=True)
                .sign(self.key, hashes.SHA256()))
        return key, cert


@pytest.fixture(scope="module")
def ca() -> CA:
    return CA()


@pytest.fixture(scope="module")
def blank() -> bytes:
    return make_pdf(["sig-official"])


def forge(ca: CA, blank: bytes, subject: x509.Name, *, kind: str | None = "order", document_id: str = "X-1-order",
          claimed: dt.datetime | None = None, valid_from: dt.datetime | None = None,
          valid_to: dt.datetime | None = None) -> bytes:
    """``blank`` with our XMP properties (when ``kind``) and a signature by a fresh certificate for ``subject``,
    made with pyHanko alone (no policy), its signing time claimed as ``claimed`` (default: now)."""
    from pyhanko.keys import load_private_key_from_pemder_data
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.metadata.xmp_xml import MetadataStream
    from pyhanko.sign import signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    key, cert = ca.issue(subject, valid_from=valid_from or NOW - dt.timedelta(days=30),
                         valid_to=valid_to or NOW + dt.timedelta(days=365))
    w = IncrementalPdfFileWriter(BytesIO(blank))
    if kind:
        props = f"<qamqor:DocumentKind>{kind}</qamqor:DocumentKind><qamqor:DocumentId>{document_id}</qamqor:DocumentId>"
        stream = MetadataStream(stream_data=XMP.format(props=props).encode())
        w.root[generic.NameObject("/Metadata")] = w.add_object(stream)
        w.update_root()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    signer = signers.SimpleSigner(
        signing_cert=asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)),
        signing_key=load_private_key_from_pemder_data(pem, None),
        cert_registry=SimpleCertificateStore.from_certs([ca.root]))

    class Backdating(signers.PdfSigner):  # what a forger's own tool does: claim any signing time
        def init_signing_session(self, pdf_out, existing_fields_only=False):
            session = super().init_signing_session(pdf_out, existing_fields_only=existing_fields_only)
            if claimed is not None:
                session.system_time = claimed
            return session

    out = Backdating(signers.PdfSignatureMetadata(field_name="sig-official"), signer=signer).sign_pdf(w)
    return out.getvalue()


def verify(ca: CA, data: bytes, **policy) -> signing.VerificationReport:
    pol = signing.VerificationPolicy(ROLES, **policy) if policy else authorised.policy_for(data)
    return signing.verify_pdf(data, trust_roots=[ca.root], policy=pol)


HEAD = dict(iin="780322300458", bin_=BIN, title="head")


# --- #14.13: who may sign which kind, for which organisation ---------------------------------------------------


def test_the_head_signing_an_order_is_valid_and_authorised(ca, blank):
    report = verify(ca, forge(ca, blank, _name("Сейітов Ерлан", **HEAD)))
    assert report.valid, report.format_text()
    assert report.signatures[0].authorised is True


def test_a_citizen_certificate_under_the_trusted_root_does_not_make_an_order_valid(ca, blank):
    data = forge(ca, blank, _name("Посторонний Гражданин", iin="900101400011"))
    unchecked = signing.verify_pdf(data, trust_roots=[ca.root])
    assert unchecked.valid  # the defect: chaining to the root was all it took
    report = verify(ca, data)
    assert not report.valid
    s = report.signatures[0]
    assert s.intact and s.valid and s.trusted and s.authorised is False
    assert any(p.startswith("signature valid, but the signer is not authorised for this document") for p in s.problems)
    assert "NOT VALID" in report.format_text()


def test_an_inspector_key_on_an_order_is_not_authorised(ca, blank):
    report = verify(ca, forge(ca, blank, _name("Инспектор", iin="900101400011", bin_=BIN, title="inspector")))
    assert not report.valid and report.signatures[0].authorised is False
    assert "inspector may not sign a order" in " ".join(report.signatures[0].problems)


def test_a_head_of_another_organisation_is_refused_when_the_bin_is_known(ca, blank):
    data = forge(ca, blank, _name("Серікова Айгүл", iin="870707400700", bin_=OTHER_BIN, title="head"))
    assert verify(ca, data).valid  # the kind alone allows a head …
    report = verify(ca, data, document_kind="order", organisation_bin=BIN)  # … of this organisation only
    assert not report.valid and f"BIN {OTHER_BIN}, not {BIN}" in " ".join(report.signatures[0].problems)


def test_only_the_officials_the_document_names(ca, blank):
    data = forge(ca, blank, _name("Сейітов Ерлан", **HEAD))
    assert verify(ca, data, document_kind="order", signer_iins=("780322300458",)).valid
    report = verify(ca, data, document_kind="order", signer_iins=("111111111111",))
    assert not report.valid and "none of the officials" in " ".join(report.signatures[0].problems)


def test_a_document_that_does_not_say_its_kind_has_no_authorised_signer(ca, blank):
    report = verify(ca, forge(ca, blank, _name("Сейітов Ерлан", **HEAD), kind=None))
    assert not report.valid and "does not say which kind" in " ".join(report.signatures[0].problems)


def test_the_kind_is_read_from_the_signed_revision(ca, blank):
    data = forge(ca, blank, _name("Сейітов Ерлан", **HEAD), kind="inspection_act", document_id="C-9-inspection_act")
    assert authorised.claims(data) == ("C-9-inspection_act", "inspection_act")
    assert not verify(ca, data).valid  # a head does not sign inspection acts


# --- #14.21: validity at the claimed signing time, and saying what is wrong -----------------------------------


def test_a_certificate_not_yet_valid_at_the_claimed_signing_time_is_not_valid(ca, blank):
    data = forge(ca, blank, _name("Сейітов Ерлан", **HEAD), valid_from=NOW - dt.timedelta(days=1),
                 claimed=NOW - dt.timedelta(days=10))
    report = verify(ca, data)
    assert not report.valid
    assert any("was not yet valid at the claimed signing time" in p for p in report.signatures[0].problems)


def test_an_expired_certificate_is_reported_as_expired(ca, blank):
    data = forge(ca, blank, _name("Ахметова Сәуле", **HEAD), valid_from=NOW - dt.timedelta(days=60),
                 valid_to=NOW - dt.timedelta(days=10), claimed=NOW - dt.timedelta(days=20))
    report = verify(ca, data)
    assert not report.valid
    problems = " ".join(report.signatures[0].problems)
    assert "the certificate expired on" in problems and "does not chain" not in problems, problems


def test_the_archive_verification_applies_the_policy_too(ca, blank):
    """``qamqor verify`` (the long-term validation of :mod:`signing.ltv`): a sound signature by a signer the policy
    does not allow is INDETERMINATE / SIG_CONSTRAINTS_FAILURE, with the reason; an allowed one stays passed."""
    from signing.ltv import LtvReport, LtvSignature

    def passed() -> LtvReport:
        return LtvReport("2027-01-08T00:00:00+00:00", [LtvSignature("sig-official", "TOTAL-PASSED", None)])

    citizen = authorised.apply_to_ltv(passed(), forge(ca, blank, _name("Посторонний", iin="900101400011")))
    s = citizen.signatures[0]
    assert not citizen.passed and (s.indication, s.subindication) == ("INDETERMINATE", "SIG_CONSTRAINTS_FAILURE")
    assert s.message.startswith("signature valid, but the signer is not authorised for this document")
    assert authorised.apply_to_ltv(passed(), forge(ca, blank, _name("Сейітов Ерлан", **HEAD))).passed

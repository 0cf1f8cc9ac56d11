"""Document-level behaviour: two inspectors on one act, PDF/A survives, the visible Kazakh stamp, tampering."""

from __future__ import annotations

import io
import re
import subprocess

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from signing_helpers import ARTEFACTS, make_pdf, sign_as, signing_options

from signing import verify_pdf


def test_act_signed_by_two_inspectors_keeps_both_valid(pki, keys, act_pdf, pdfsig):
    first = signing_options(trust_roots=[pki.root_cert], certify=True)  # DocMDP: form filling and signing only
    then = signing_options(trust_roots=[pki.root_cert])
    one = sign_as(pki, keys, "inspector-1", act_pdf, "sig-inspector-1", "inspection_act", first)
    two = sign_as(pki, keys, "inspector-2", one, "sig-inspector-2", "inspection_act", then)

    report = verify_pdf(two, trust_roots=[pki.root_cert])
    assert report.valid, report.format_text()
    by_field = {s.field: s for s in report.signatures}
    assert by_field["sig-inspector-1"].signer_iin == pki.officer("inspector-1").iin
    assert by_field["sig-inspector-2"].signer_iin == pki.officer("inspector-2").iin
    assert by_field["sig-inspector-1"].modification_level == "FORM_FILLING"
    assert by_field["sig-inspector-1"].docmdp_ok is True
    assert by_field["sig-inspector-2"].modification_level == "NONE"
    pdfsig(two, 2)


def test_changing_the_page_after_a_signature_is_detected(pki, keys, act_pdf):
    one = sign_as(pki, keys, "inspector-1", act_pdf, "sig-inspector-1", "inspection_act",
                  signing_options(trust_roots=[pki.root_cert], certify=True))
    w = IncrementalPdfFileWriter(io.BytesIO(one))
    page = w.root["/Pages"]["/Kids"][0].get_object()
    extra = w.add_object(generic.StreamObject(stream_data=b"BT /F1 24 Tf 100 700 Td (FORGED) Tj ET"))
    contents = page["/Contents"]
    page["/Contents"] = generic.ArrayObject(
        (list(contents) if isinstance(contents, generic.ArrayObject) else [page.raw_get("/Contents")]) + [extra])
    w.update_container(page)
    out = io.BytesIO()
    w.write(out)

    report = verify_pdf(out.getvalue(), trust_roots=[pki.root_cert])
    assert not report.valid
    (sig,) = report.signatures
    assert sig.intact and sig.valid  # the signed revision itself is untouched…
    assert sig.modification_level == "OTHER" and sig.problems  # …but what came after is not allowed


def test_flipped_byte_breaks_integrity(pki, keys, order_pdf):
    signed = bytearray(sign_as(pki, keys, "head", order_pdf, "sig-head", "order", signing_options(trust_roots=[pki.root_cert])))
    i = signed.index(b"CASE-1") if b"CASE-1" in signed else 200
    signed[i] ^= 0x01
    report = verify_pdf(bytes(signed), trust_roots=[pki.root_cert])
    assert not report.valid
    d = report.to_dict()
    assert d["valid"] is False
    assert "NOT VALID" in report.format_text()


def test_unsigned_and_unreadable_documents_are_not_valid(pki, order_pdf):
    assert not verify_pdf(order_pdf, trust_roots=[pki.root_cert]).valid
    assert not verify_pdf(b"not a pdf", trust_roots=[pki.root_cert]).valid


def test_report_to_dict_and_text(pki, keys, order_pdf, pdfsig):
    signed = sign_as(pki, keys, "head", order_pdf, "sig-head", "order", signing_options(trust_roots=[pki.root_cert]))
    pdfsig(signed, 1)
    report = verify_pdf(signed, trust_roots=[pki.root_cert])
    d = report.to_dict()
    assert d["valid"] is True
    s = d["signatures"][0]
    assert {s["field"], s["signer_iin"], s["level"], s["modification_level"]} == {
        "sig-head", pki.officer("head").iin, "B-B", "NONE"}
    assert s["certificate_serial"] and s["chain"]
    text = report.format_text()
    assert text.startswith("VALID") and pki.officer("head").name in text and "PAdES B-B" in text
    # an unknown root: the same file is not valid
    other = verify_pdf(signed, trust_roots=[pki.tsa_cert])
    assert not other.valid and "chain" in " ".join(other.signatures[0].problems)


def _pdfa_facts(data: bytes):
    r = PdfFileReader(io.BytesIO(data))
    meta = r.root["/Metadata"].get_object().data.decode()
    part = re.search(r"pdfaid:part[>=\"']+(\d)", meta)
    conf = re.search(r"pdfaid:conformance[>=\"']+(\w)", meta)
    intents = r.root.get("/OutputIntents")
    return {
        "id0": r.trailer_view["/ID"][0].original_bytes if hasattr(r.trailer_view["/ID"][0], "original_bytes") else bytes(r.trailer_view["/ID"][0]),
        "pdfaid": (part.group(1) if part else None, conf.group(1) if conf else None),
        "intents": len(intents) if intents is not None else 0,
    }


def _fonts_all_embedded(data: bytes, tmp_path) -> list[str]:
    p = tmp_path / "f.pdf"
    p.write_bytes(data)
    out = subprocess.run(["pdffonts", str(p)], capture_output=True, text=True, check=True).stdout.splitlines()[2:]
    return [line for line in out if line.split()[-5] != "yes"]  # the "emb" column


@pytest.mark.parametrize("level", ["B-B"])
def test_pdfa_survives_signing(pki, keys, tmp_path, pdfsig, level):
    pdf = make_pdf(["sig-head"], pdfa=True, case="PDFA")
    before = _pdfa_facts(pdf)
    assert before["pdfaid"] == ("3", "B") and before["intents"] == 1
    signed = sign_as(pki, keys, "head", pdf, "sig-head", "order", signing_options(level=level, trust_roots=[pki.root_cert]))
    assert signed.startswith(pdf)  # incremental update: the PDF/A revision is byte-for-byte inside
    after = _pdfa_facts(signed)
    assert after == before
    assert _fonts_all_embedded(signed, tmp_path) == []
    assert verify_pdf(signed, trust_roots=[pki.root_cert]).valid
    pdfsig(signed, 1)


def test_visible_stamp_in_kazakh(pki, keys, tmp_path, pdfsig):
    pdf = make_pdf(["sig-head"], case="STAMP")
    signed = sign_as(pki, keys, "head", pdf, "sig-head", "order", signing_options(trust_roots=[pki.root_cert]))
    pdfsig(signed, 1)
    path = tmp_path / "stamped.pdf"
    path.write_bytes(signed)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    flat = " ".join(text.split())
    assert "ЭЛЕКТРОНДЫҚ ЦИФРЛЫҚ ҚОЛТАҢБАМЕН ҚОЛ ҚОЙЫЛДЫ" in flat
    assert pki.officer("head").name in flat and "Білім бөлімінің басшысы" in flat
    assert "ҰЛТТЫҚ КУӘЛАНДЫРУШЫ" in flat and "Қол қойылған уақыты" in flat
    serial = keys["head"].certificate.serial_number
    assert format(serial, "X")[:12] in flat.replace(" ", "")
    assert _fonts_all_embedded(signed, tmp_path) == []

    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    png = ARTEFACTS / "signed-order-stamp-kk"
    subprocess.run(["pdftoppm", "-r", "110", "-png", "-singlefile", str(path), str(png)], check=True)
    assert (ARTEFACTS / "signed-order-stamp-kk.png").stat().st_size > 10_000


def test_visible_stamp_in_russian(pki, keys, tmp_path, pdfsig):
    from signing_helpers import stamp_for

    from signing import sign_pdf

    pdf = make_pdf(["sig-head"], case="STAMP-RU")
    officer = pki.officer("head")
    import hashlib

    signed = sign_pdf(pdf, field="sig-head", key=keys["head"], approved_sha256=hashlib.sha256(pdf).hexdigest(),
                      officer_iin=officer.iin, document_kind="order", stamp=stamp_for(officer, "ru"),
                      options=signing_options(trust_roots=[pki.root_cert]))
    path = tmp_path / "ru.pdf"
    path.write_bytes(signed)
    text = " ".join(subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout.split())
    assert "ПОДПИСАНО ЭЛЕКТРОННОЙ ЦИФРОВОЙ ПОДПИСЬЮ" in text and "Время подписания" in text
    pdfsig(signed, 1)

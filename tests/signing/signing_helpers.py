"""Helpers shared by the signing tests (plain functions; the fixtures are in conftest.py)."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

from forms.catalogue import signers_by_role
from signing import SigningOptions, StampInfo, sign_pdf

PROVIDER_BIN = "040340001283"
PSC_BIN = "160440007161"
MM = 72 / 25.4
ARTEFACTS = Path(__file__).resolve().parents[1] / "artefacts"

#: who signs which document kind, as the application passes it: from forms/catalogue/documents.toml
SIGNERS = signers_by_role()


def signing_options(**kw) -> SigningOptions:
    """``SigningOptions`` with the catalogue's signers unless ``allowed_roles`` is given (the library has none)."""
    kw.setdefault("allowed_roles", SIGNERS)
    return SigningOptions(**kw)


_HTML = """<!DOCTYPE html><html lang="kk"><head><meta charset="utf-8"><style>
@page {{ size: A4; margin: 20mm; }} body {{ font-family: 'DejaVu Serif'; font-size: 11pt; }}
</style></head><body><h1>{title}</h1><p>Жетім балаға қамқоршылық белгілеу туралы. Әә Ғғ Ққ Ңң Өө Ұұ Үү Һһ Іі.</p>
<p>Іс нөмірі: {case}</p></body></html>"""


def make_pdf(fields: list[str], *, title="Қамқоршылық белгілеу туралы бұйрық", case="CASE-1", pdfa=False) -> bytes:
    """A one-page document with empty 80×30 mm signature fields, made like the documents engineer's."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign.fields import SigFieldSpec, append_signature_field
    from weasyprint import HTML

    kwargs = {"pdf_variant": "pdf/a-3b"} if pdfa else {}
    pdf = HTML(string=_HTML.format(title=title, case=case)).write_pdf(**kwargs)
    w = IncrementalPdfFileWriter(io.BytesIO(pdf))
    for i, name in enumerate(fields):
        x, y = 20 * MM + i * 90 * MM, 40 * MM
        append_signature_field(w, SigFieldSpec(name, on_page=0, box=(x, y, x + 80 * MM, y + 30 * MM)))
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def stamp_for(officer, language="kk") -> StampInfo:
    position = {"head": "Білім бөлімінің басшысы", "inspector": "Бас маман", "operator": "Операциялық маман",
                "provider_seal": "Жүйелік мөр"}[officer.role]
    return StampInfo(language=language, signer_name=officer.name, position=position,
                     verify_url="https://qamqor.example.kz/v/6f1c2a4e-0d8b-4a51-9a4e-2b7f1c0d9e11")


def sign_as(pki, keys, officer_id, pdf, field, kind, options, *, stamp=True, **kw) -> bytes:
    officer = pki.officer(officer_id)
    return sign_pdf(pdf, field=field, key=keys[officer_id], approved_sha256=hashlib.sha256(pdf).hexdigest(),
                    officer_iin=officer.iin or None, document_kind=kind,
                    stamp=stamp_for(officer) if stamp else None, options=options, **kw)

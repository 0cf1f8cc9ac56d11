"""Rendering: a case's context → an archival PDF (PDF/A-3b) with empty signature fields, ready to sign.

One :class:`Renderer` is made per process and reused: it loads the fonts, parses the stylesheet and compiles the
templates once (research/perf-baseline.md §4b: a shared ``FontConfiguration`` and a pre-parsed ``CSS`` are what
makes WeasyPrint fast; HarfBuzz subsetting is required, see :func:`harfbuzz_subsetting_available`).

Safety: templates run in Jinja's ``SandboxedEnvironment`` with autoescape, so data prints as written; WeasyPrint
fetches nothing but ``data:`` URIs and files under the ``forms/`` folder (:class:`FormsOnlyFetcher`).

Archival: PDF/A-3b with sRGB output intent, every font embedded (subset), XMP with the case id, document kind and
language, the source event attached as an associated file, and no wall-clock or random value: the PDF dates come
from ``document.datetime`` / ``document.date`` and the file identifier from ``document.id`` — the same context
gives byte-identical bytes.

Signature fields (¶4, ¶5, ¶7, ¶9, ¶10, ¶11): each template reserves an 80 × 30 mm box per signer
(``<div class="sig-field" id="sig-…">``); after layout the renderer reads the box's place and writes an empty
AcroForm signature field (/FT /Sig widget) at that rect in the same pass, so signing never moves content.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import json
import re
import xml.etree.ElementTree as ET
import zlib
from dataclasses import dataclass
from functools import cached_property, lru_cache, partial
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

import pydyf
from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment
from weasyprint import CSS, HTML, Attachment
from weasyprint.pdf.metadata import DocumentMetadata
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher

from pipeline.core.case import local_time
from pipeline.errors import ExitCode, QamqorError
from signing import qr as qr_codes

from .catalogue import LANGUAGES, Catalogue, DocumentSpec

FORMS_DIR = Path(__file__).resolve().parent
#: zlib's level for the PDF's streams.  pydyf asks for 9; on a one-page order's streams (three font subsets of
#: ≈20 KB, the page) 9 costs 3.7 ms of CPU and 6 (zlib's own default) 1.3 ms, for 0.5 % more bytes (issue 13)
FLATE_LEVEL = 6
PX_TO_PT = 0.75  # CSS px → PDF points
SIG_WIDTH_MM, SIG_HEIGHT_MM = 80, 30
XMP_NS = "urn:kz:qamqor:document:1"


class RenderError(QamqorError, RuntimeError):
    """A document could not be rendered as the archive needs it; the message says what to fix.

    Still a ``RuntimeError`` for callers that catch it so.  The exit code is configuration's: what fixes it
    lies in ``forms/`` (templates, fonts, catalogue), which the README counts as configuration.
    """

    exit_code = ExitCode.config_error
    code = "E-RENDER"
    remedy = "fix the template or the context it names (forms/templates/)"


class FontFallbackError(RenderError):
    """Text would be drawn with a font the project does not ship, or with no glyph at all.

    The message names each character (code point and glyph) or the foreign font family.
    """

    code = "E-RENDER-FONT"
    remedy = ("ship a font that has the glyph in forms/fonts/ (with its licence), or correct the text; "
              "fonts installed on the machine are never used, so installing one does not help")


@dataclass(frozen=True)
class SignatureField:
    name: str
    page: int                                   # 0-based
    rect: tuple[float, float, float, float]     # x1, y1, x2, y2 in PDF points, origin bottom-left
    role: str                                   # 'operator' | 'provider_seal' | 'inspector' | 'head'


@dataclass(frozen=True)
class RenderedDocument:
    pdf: bytes
    pages: int
    signature_fields: tuple[SignatureField, ...]
    #: the modules of the verification link's QR code the page prints (rows, 1 = dark), for the signature stamp
    #: to draw the same code (signing/qr.py)
    qr: tuple[bytes, ...] = ()


def harfbuzz_subsetting_available() -> bool:
    """WeasyPrint subsets fonts with HarfBuzz only when libharfbuzz-subset0 is installed (6× faster)."""
    from weasyprint.text import ffi

    return getattr(ffi, "harfbuzz_subset", None) is not None


# --------------------------------------------------------------------------------------------------------------
# dates in the official style (research/kazakh-document-style.md §4): month names are data (months.toml)

def _as_datetime(value) -> dt.datetime:
    """A moment on Kazakhstan's clock (UTC+05:00), whatever offset it carried (issue 11 #9); a naive one is
    taken as Kazakhstan's own."""
    moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    return local_time(moment) if moment.tzinfo is not None else moment


def _as_date(value) -> dt.date:
    """A date; a moment gives its day in Kazakhstan (the day the core counts), never the sender's day."""
    if isinstance(value, dt.datetime):
        return _as_datetime(value).date()
    if isinstance(value, dt.date):
        return value
    text = str(value)
    if "T" in text:
        return _as_datetime(text).date()
    return dt.date.fromisoformat(text[:10])


def decimal_comma(value, places: int = 1) -> str:
    """«78,5»: Kazakh and Russian official style write a decimal comma; thousands grouped with a no-break space."""
    text = f"{float(value):,.{places}f}"
    return text.replace(",", "\u00a0").replace(".", ",")


class Dates:
    """The official date forms; patterns from service.toml ``[dates]``, month names from months.toml."""

    def __init__(self, months: dict, patterns: dict | None = None):
        self.months = months
        self.patterns = patterns or {}

    def kk(self, value, case: str = "nom") -> str:
        """«2026 жылғы 14 желтоқсан» (nom), «… 14 желтоқсандағы» (attr), «… желтоқсанда» (loc), abl, dat."""
        d = _as_date(value)
        return self.patterns["kk"].format(year=d.year, day=d.day, month=self.months["kk_" + case][d.month - 1])

    def ru(self, value) -> str:
        """«14 декабря 2026 года»."""
        d = _as_date(value)
        return self.patterns["ru"].format(year=d.year, day=d.day, month=self.months["ru_gen"][d.month - 1])

    def digits(self, value) -> str:
        return _as_date(value).strftime(self.patterns.get("digits", "%d.%m.%Y"))

    def hm(self, value) -> str:
        return _as_datetime(value).strftime(self.patterns.get("time", "%H:%M"))


def full_name(person) -> str:
    if not person:
        return ""
    if isinstance(person, str):
        return person
    parts = [person.get("surname"), person.get("given_name"), person.get("patronymic")]
    return " ".join(p for p in parts if p) or person.get("name", "") or person.get("full_name", "")


# --------------------------------------------------------------------------------------------------------------
# fetching: nothing but data: URIs and the project's own files under forms/

class FormsOnlyFetcher(URLFetcher):
    """Fetches ``data:`` URIs and ``file:`` URLs inside the forms folder; refuses everything else (no network)."""

    def __init__(self, root: Path):
        super().__init__(allowed_protocols={"data", "file"}, allow_redirects=False)
        self.root = root.resolve()
        self.refused: list[str] = []

    def fetch(self, url, headers=None):
        scheme = url.split(":", 1)[0].lower()
        if scheme == "data":
            return super().fetch(url, headers)
        if scheme == "file":
            path = Path(url2pathname(unquote(urlsplit(url).path))).resolve()
            if path.is_relative_to(self.root) and path.is_file():
                from weasyprint.urls import URLFetcherResponse

                return URLFetcherResponse(path.as_uri(), path.read_bytes())
        self.refused.append(url)
        raise ValueError(f"refused to fetch {url!r}: documents may only use files under {self.root}")


# --------------------------------------------------------------------------------------------------------------

class Renderer:
    """Renders every document of the catalogue in kk and ru. Make one per process; it is warm after __init__."""

    def __init__(self, forms_dir: Path | None = None):
        self.forms_dir = Path(forms_dir or FORMS_DIR).resolve()
        self.catalogue = Catalogue(self.forms_dir / "catalogue")
        self.dates = Dates(self.catalogue.months, self.catalogue.service.get("dates"))
        self.fetcher = FormsOnlyFetcher(self.forms_dir)
        self.base_url = (self.forms_dir / "templates").as_uri() + "/"
        self.font_config = FontConfiguration()
        styles = self.forms_dir / "styles"
        self.stylesheet = CSS(filename=str(styles / "base.css"), url_fetcher=self.fetcher,
                              font_config=self.font_config)
        self.rare_signs = CSS(filename=str(styles / "rare-signs.css"), url_fetcher=self.fetcher,
                              font_config=self.font_config)
        self.page_styles = {lang: CSS(string=self._page_css(lang), font_config=self.font_config)
                            for lang in LANGUAGES}
        self.fonts = self._load_fonts(self.forms_dir / "fonts", _font_files(styles / "base.css"))
        labels = "".join(s for lang in LANGUAGES for s in self.catalogue.service["pages"][lang])
        self._labels_need_fallback = not {ord(c) for c in labels} <= self.fonts["primary"]
        self.env = SandboxedEnvironment(
            loader=FileSystemLoader(str(self.forms_dir / "templates")),
            autoescape=True, undefined=StrictUndefined,
        )
        self.env.filters.update(
            date_kk=self.dates.kk, date_ru=self.dates.ru, digits=self.dates.digits, hm=self.dates.hm,
            fio=full_name, capitalize_first=lambda s: s[:1].upper() + s[1:], decimal=decimal_comma,
        )
        self._qr = lru_cache(maxsize=512)(self._qr_data_uri)
        for kind in self.catalogue.document_kinds():   # compile every template now, fail early
            for lang in LANGUAGES:
                self.env.get_template(self._template_name(self.catalogue.describe(kind), lang))
        self._warm_up()

    # ---- set-up helpers
    def _page_css(self, lang: str) -> str:
        a, b, c = (json.dumps(s, ensure_ascii=False) for s in self.catalogue.service["pages"][lang])
        return f"@page {{ @bottom-right {{ content: {a} counter(page) {b} counter(pages) {c}; }} }}"

    @staticmethod
    def _load_fonts(folder: Path, primary_files: set[str]) -> dict:
        """Digests and code points of the shipped fonts: ``cmap`` what any of them has, ``primary`` what every
        face of base.css's own family has (text within it needs no fallback font)."""
        from fontTools.ttLib import TTFont

        digests, cmap, primary = set(), set(), None
        for path in sorted(folder.glob("*.ttf")):
            data = path.read_bytes()
            digests.add(hashlib.sha256(data).hexdigest())
            points = set(TTFont(io.BytesIO(data)).getBestCmap())
            cmap |= points
            if path.name in primary_files:
                primary = points if primary is None else primary & points
        return {"digests": digests, "cmap": frozenset(cmap), "primary": frozenset(primary or ())}

    def _warm_up(self):
        # The first layout in a process loads fontconfig/Pango caches (~60 ms); pay it here, not on a document.
        HTML(string="<p>Қазақ — Русский <b>ә</b> <i>і</i></p>", base_url=self.base_url,
             url_fetcher=self.fetcher).render(stylesheets=[self.stylesheet], font_config=self.font_config)

    @staticmethod
    def _template_name(spec: DocumentSpec, lang: str) -> str:
        return f"{spec.template}.{lang}.html.j2"

    def _qr_data_uri(self, url: str) -> str:
        png = qr_codes.png(qr_codes.modules(url), scale=4, border=1)
        return "data:image/png;base64," + base64.b64encode(png).decode("ascii")

    # ---- the interface
    def render(self, kind: str, language: str, context: dict,
               attachments: list[tuple[str, bytes, str]] = ()) -> RenderedDocument:
        if language not in LANGUAGES:
            raise RenderError(f"unknown language {language!r}: use kk or ru")
        return self.render_html(kind, language, self.html(kind, language, context), context, attachments)

    def render_html(self, kind: str, language: str, html: str, context: dict,
                    attachments: list[tuple[str, bytes, str]] = ()) -> RenderedDocument:
        """The PDF of a document's HTML (:meth:`html`'s output for this ``context``): the second half of
        :meth:`render`, on its own so a benchmark can give WeasyPrint and another engine the same HTML."""
        spec = self.catalogue.describe(kind)
        stylesheets = [self.stylesheet, self.page_styles[language]]
        if self._check_glyphs(html) or self._labels_need_fallback:
            stylesheets.append(self.rare_signs)
        document = HTML(string=html, base_url=self.base_url, url_fetcher=self.fetcher).render(
            stylesheets=stylesheets, font_config=self.font_config)
        self._check_fonts(document)
        fields = self._signature_fields(document, spec)
        if not fields:
            raise RenderError(f"template {self._template_name(spec, language)} reserves no signature field")
        doc = context.get("document", {})
        self._set_xmp(document, spec, language, context)
        stamp = self._stamp(doc)
        pdf_attachments = [
            Attachment(file_obj=io.BytesIO(data), name=name, description=f"{mime}; source of {doc.get('id', '')}",
                       created=stamp, modified=stamp, relationship="Source", url_fetcher=self.fetcher)
            for name, data, mime in attachments
        ]
        identifier = hashlib.md5(str(doc.get("id", "")).encode(), usedforsecurity=False).hexdigest().encode()
        pdf = document.write_pdf(
            pdf_variant="pdf/a-3b", pdf_identifier=identifier, attachments=pdf_attachments or None,
            finisher=partial(_add_signature_fields, fields=fields),
        )
        url = doc.get("verify_url") or doc.get("id") or ""
        return RenderedDocument(pdf=pdf, pages=len(document.pages), signature_fields=tuple(fields),
                                qr=qr_codes.modules(url))

    def html(self, kind: str, language: str, context: dict) -> str:
        """The HTML of a document (the template output), before layout."""
        spec = self.catalogue.describe(kind)
        cat = self.catalogue
        application = context.get("application") or {}
        issuer = (application.get("psc") if spec.issuer == "psc" else None) or application.get("provider") or {}
        computed = context.get("computed") or {}
        service_name = computed.get(f"service_name_{language}") or cat.service["service"][f"name_{language}"]
        doc = dict(context.get("document") or {})
        if doc.get("number") == doc.get("id"):
            # the shell's fallback prints the internal id: the office's registration number, or none (issue 11 #9)
            doc["number"] = computed.get("registration_number") or ""
        values = dict(context)
        values["document"] = doc
        values.update(
            spec=spec, lang=language, title=spec.title(language), issuer=issuer, service_name=service_name,
            service=cat.service, rules=cat.service["rules"][language],
            rules_title_gen=cat.service["rules"][f"citation_{language}"], standard=cat.standard,
            form_label=cat.service["rules"][f"form_{language}"],
            edoc=cat.service["electronic_document"][language],
            qr_caption=cat.service["electronic_document"][f"qr_{language}"],
            state_corporation=cat.service["state_corporation"],
            qr=self._qr(doc.get("verify_url") or doc.get("id") or ""),
            term=partial(cat.term, language=language),
            ground_text=partial(cat.ground_text, language=language),
            ground_basis=partial(cat.ground_basis, language=language),
            document_name=partial(cat.document_name, language=language),
            created=self._stamp(doc).isoformat(),
        )
        values.setdefault("check", None)
        values.setdefault("inspection", None)
        values.setdefault("decision", None)
        values["computed"] = computed
        return self.env.get_template(self._template_name(spec, language)).render(values)

    # ---- checks: fail loudly instead of letting Pango fall back to another font (kazakh-document-style §8.1)
    def _check_glyphs(self, html: str) -> bool:
        """Raise if a character of the text is in no shipped font; say whether one needs the fallback font."""
        chars: set[str] = set()

        class _Text(HTMLParser):
            def handle_data(self, data):
                chars.update(data)

        _Text(convert_charrefs=True).feed(html)
        points = {ord(c) for c in chars} - {ord(c) for c in "\n\r\t"}
        missing = sorted(chr(p) for p in points - self.fonts["cmap"])
        if missing:
            shown = ", ".join(f"U+{ord(c):04X} {c!r}" for c in missing)
            raise FontFallbackError(f"no shipped font (forms/fonts/) has a glyph for: {shown}")
        return not points <= self.fonts["primary"]

    def _check_fonts(self, document):
        foreign = {font.family for font in document.fonts.values()
                   if hashlib.sha256(font.file_content).hexdigest() not in self.fonts["digests"]}
        if foreign:
            raise FontFallbackError(
                f"text fell back to fonts not shipped in forms/fonts/: {', '.join(sorted(foreign))}")

    # ---- signature fields: where the layout put each reserved box
    @staticmethod
    def _signature_fields(document, spec: DocumentSpec) -> list[SignatureField]:
        fields = []
        for number, page in enumerate(document.pages):
            height_pt = page.height * PX_TO_PT
            for box in page._page_box.descendants():
                element = getattr(box, "element", None)
                if element is None or getattr(box, "element_tag", None) != "div":
                    continue
                if "sig-field" not in (element.get("class") or "").split():
                    continue
                name = element.get("id")
                if not name or any(f.name == name for f in fields):
                    continue
                x, y = box.border_box_x(), box.border_box_y()
                w, h = box.border_width(), box.border_height()
                rect = (round(x * PX_TO_PT, 2), round(height_pt - (y + h) * PX_TO_PT, 2),
                        round((x + w) * PX_TO_PT, 2), round(height_pt - y * PX_TO_PT, 2))
                fields.append(SignatureField(name=name, page=number, rect=rect, role=spec.signer))
        return fields

    # ---- archival metadata
    @staticmethod
    def _stamp(doc: dict) -> dt.datetime:
        value = doc.get("datetime") or doc.get("date")
        if not value:
            raise RenderError("context.document has neither datetime nor date: the PDF dates come from it")
        text = str(value)
        if "T" not in text:
            text += "T00:00:00+05:00"   # Kazakhstan is UTC+05:00 (contract.md)
        return dt.datetime.fromisoformat(text)

    def _set_xmp(self, document, spec: DocumentSpec, language: str, context: dict):
        doc = context.get("document") or {}
        case = context.get("case") or {}
        stamp = self._stamp(doc).isoformat()
        meta = document.metadata
        meta.title = f"{spec.title(language)} № {doc.get('number', '')}".strip()
        meta.created = meta.modified = stamp
        meta.lang = language
        props = {
            "CaseId": case.get("case_id", ""), "DocumentKind": spec.kind, "DocumentId": doc.get("id", ""),
            "Language": language, "Paragraph": spec.paragraph,
        }
        meta.generate_rdf_metadata = partial(_rdf_with_case, meta, props)


def _font_files(stylesheet: Path) -> set[str]:
    """The font files a stylesheet's @font-face rules name (``url("../fonts/NAME")``)."""
    return set(re.findall(r'url\(\s*["\']?\.\./fonts/([^"\')]+)', stylesheet.read_text(encoding="utf-8")))


def _rdf_with_case(meta: DocumentMetadata, props: dict, variant, version, conformance) -> bytes:
    """WeasyPrint's XMP plus our own properties and their PDF/A extension schema (ISO 19005-2 §6.6.2.3)."""
    rdf = ET.fromstring(DocumentMetadata.generate_rdf_metadata(meta, variant, version, conformance))
    rdf_ns = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
    ET.register_namespace("qamqor", XMP_NS)
    ET.register_namespace("pdfaExtension", "http://www.aiim.org/pdfa/ns/extension/")
    ET.register_namespace("pdfaSchema", "http://www.aiim.org/pdfa/ns/schema#")
    ET.register_namespace("pdfaProperty", "http://www.aiim.org/pdfa/ns/property#")
    description = ET.SubElement(rdf, f"{{{rdf_ns}}}Description", {f"{{{rdf_ns}}}about": ""})
    for key, value in props.items():
        ET.SubElement(description, f"{{{XMP_NS}}}{key}").text = str(value)
    dc = "http://purl.org/dc/elements/1.1/"
    lang_el = ET.SubElement(ET.SubElement(description, f"{{{dc}}}language"), f"{{{rdf_ns}}}Bag")
    ET.SubElement(lang_el, f"{{{rdf_ns}}}li").text = props["Language"]
    ET.SubElement(description, f"{{{dc}}}identifier").text = props["DocumentId"]
    # extension schema, so PDF/A validators accept the custom properties
    ext = ET.SubElement(rdf, f"{{{rdf_ns}}}Description", {f"{{{rdf_ns}}}about": ""})
    schemas = ET.SubElement(ET.SubElement(ext, "{http://www.aiim.org/pdfa/ns/extension/}schemas"),
                            f"{{{rdf_ns}}}Bag")
    schema = ET.SubElement(schemas, f"{{{rdf_ns}}}li", {f"{{{rdf_ns}}}parseType": "Resource"})
    s = "http://www.aiim.org/pdfa/ns/schema#"
    ET.SubElement(schema, f"{{{s}}}schema").text = "qamqor document"
    ET.SubElement(schema, f"{{{s}}}namespaceURI").text = XMP_NS
    ET.SubElement(schema, f"{{{s}}}prefix").text = "qamqor"
    seq = ET.SubElement(ET.SubElement(schema, f"{{{s}}}property"), f"{{{rdf_ns}}}Seq")
    p = "http://www.aiim.org/pdfa/ns/property#"
    for key in props:
        item = ET.SubElement(seq, f"{{{rdf_ns}}}li", {f"{{{rdf_ns}}}parseType": "Resource"})
        ET.SubElement(item, f"{{{p}}}name").text = key
        ET.SubElement(item, f"{{{p}}}valueType").text = "Text"
        ET.SubElement(item, f"{{{p}}}category").text = "external"
        ET.SubElement(item, f"{{{p}}}description").text = f"qamqor {key}"
    return ET.tostring(rdf, encoding="utf-8")


def _add_signature_fields(document, pdf: pydyf.PDF, fields: list[SignatureField]):
    """WeasyPrint finisher: empty signature fields (/FT /Sig widgets) at the reserved boxes, one pass, no random."""
    pages = [obj for obj in pdf.objects if isinstance(obj, pydyf.Dictionary) and obj.get("Type") == "/Page"]
    refs = pydyf.Array()
    for field in fields:
        x1, y1, x2, y2 = field.rect
        appearance = pydyf.Stream([], extra={
            "Type": "/XObject", "Subtype": "/Form", "BBox": pydyf.Array([0, 0, x2 - x1, y2 - y1])})
        pdf.add_object(appearance)
        page = pages[field.page]
        widget = pydyf.Dictionary({
            "Type": "/Annot", "Subtype": "/Widget", "FT": "/Sig", "T": pydyf.String(field.name),
            "TU": pydyf.String(f"{field.role}: {field.name}"),
            "Rect": pydyf.Array([x1, y1, x2, y2]), "F": 4, "P": page.reference,
            "AP": pydyf.Dictionary({"N": appearance.reference}),
        })
        pdf.add_object(widget)
        page.setdefault("Annots", pydyf.Array()).append(widget.reference)
        refs.append(widget.reference)
    pdf.catalog["AcroForm"] = pydyf.Dictionary({"Fields": refs})
    for obj in pdf.objects:      # the last change to any stream: from here on their bytes are final
        if isinstance(obj, pydyf.Stream):
            obj.__class__ = _final_stream_class(type(obj))


class _Flate:
    """What pydyf uses of :mod:`zlib` (its module global ``zlib``), with the level of its streams at
    :data:`FLATE_LEVEL` whatever level it asks for."""

    @staticmethod
    def compressobj(level: int = -1, *args, **kwargs):
        return zlib.compressobj(FLATE_LEVEL, *args, **kwargs)

    compress = staticmethod(zlib.compress)


pydyf.zlib = _Flate


@lru_cache(maxsize=8)
def _final_stream_class(cls: type) -> type:
    """``cls`` (pydyf's or WeasyPrint's stream class) with its serialised, compressed bytes computed once.

    pydyf 0.13 serialises every object twice when the PDF has an identifier (PDF/A needs one): once to write it
    and once more to hash the whole file for the trailer's /ID, so each font subset and page stream went through
    zlib level 9 twice (~4 ms of a one-page order).  The bytes are the same; only the second compression goes.
    """
    if getattr(cls, "_final", False):
        return cls
    return type(f"Final{cls.__name__}", (cls,), {"data": cached_property(cls.data.fget), "_final": True})

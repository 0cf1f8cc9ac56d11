"""The visible signature stamp, in the document's language (kk/ru), drawn into the reserved signature field.

pyHanko 0.38's own text stamp spaces Kazakh letters about twice too wide (it writes CIDFont widths in font
units, perf-baseline.md §4d) and subsets the font on every signature, so the stamp is drawn differently:

- the layout (title, signer, position, certificate serial and issuer, the time label) is rendered by WeasyPrint,
  the documents' own renderer, from ``templates/stamp.html.j2`` into a one-page PDF the size of the field, with
  the font embedded; it is cached per (language, officer, certificate, field size) — it does not change between
  signatures, and so is its parsed form (importing it into the next document copies objects, parses nothing);
- what changes per signature is drawn as vector paths on top, with no font at all: the QR code of the document's
  verification URL (:mod:`signing.qr`, cached per URL) and the signing time (the font's glyph outlines via fontTools).
  Paths keep the stamp PDF/A-safe and cost well under a millisecond, where a WeasyPrint render costs ~50 ms.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from functools import lru_cache
from io import BytesIO
from pathlib import Path

from pyhanko.pdf_utils import content, generic, layout
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import BasePdfFileWriter
from pyhanko.stamp.base import BaseStamp, BaseStampStyle

from . import qr

_HERE = Path(__file__).parent
_FORMS_FONTS = _HERE.parent / "forms" / "fonts"
FONT_CANDIDATES = [
    _FORMS_FONTS / "DejaVuSans.ttf",
    _FORMS_FONTS / "LiberationSans-Regular.ttf",
    _FORMS_FONTS / "DejaVuSerif.ttf",
    _FORMS_FONTS / "LiberationSerif-Regular.ttf",
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
]
KAZAKH_LETTERS = "ӘәҒғҚқҢңӨөҰұҮүҺһІі"
KZ_TIME = dt.timezone(dt.timedelta(hours=5))
_INK = (0.043, 0.180, 0.420)  # the template's #0b2e6b


@lru_cache(maxsize=1)
def stamp_font() -> Path:
    """The first shipped font that covers every Kazakh letter."""
    from fontTools.ttLib import TTFont

    for path in FONT_CANDIDATES:
        if path.is_file():
            cmap = TTFont(str(path), lazy=True).getBestCmap()
            if all(ord(c) in cmap for c in KAZAKH_LETTERS):
                return path
    raise FileNotFoundError("no font with Kazakh letters: install fonts-dejavu-core or ship one in forms/fonts/")


# --- glyph outlines for the per-signature text ------------------------------------------------------------------


class _Glyphs:
    """Glyph outlines of the stamp font as PDF path operators, in font units, cached per character."""

    def __init__(self, font_path: Path):
        from fontTools.ttLib import TTFont

        self.font = TTFont(str(font_path))
        self.glyph_set = self.font.getGlyphSet()
        self.cmap = self.font.getBestCmap()
        self.upem = self.font["head"].unitsPerEm
        self._cache: dict[str, tuple[bytes, int]] = {}
        self._lock = threading.Lock()

    def glyph(self, ch: str) -> tuple[bytes, int]:
        got = self._cache.get(ch)
        if got is None:
            from fontTools.pens.basePen import BasePen

            ops: list[str] = []

            class Pen(BasePen):
                def _moveTo(self, p):
                    ops.append(f"{p[0]:g} {p[1]:g} m")

                def _lineTo(self, p):
                    ops.append(f"{p[0]:g} {p[1]:g} l")

                def _curveToOne(self, p1, p2, p3):
                    ops.append(f"{p1[0]:g} {p1[1]:g} {p2[0]:g} {p2[1]:g} {p3[0]:g} {p3[1]:g} c")

                def _closePath(self):
                    ops.append("h")

            with self._lock:
                name = self.cmap.get(ord(ch)) or ".notdef"
                g = self.glyph_set[name]
                g.draw(Pen(self.glyph_set))
                got = (" ".join(ops).encode(), g.width)
                self._cache[ch] = got
        return got

    def text_ops(self, text: str, x: float, y: float, size: float) -> bytes:
        scale = size / self.upem
        out = [b"q %g %g %g rg" % _INK]
        pen_x = 0.0
        for ch in text:
            ops, advance = self.glyph(ch)
            if ops:
                out.append(b"q %g 0 0 %g %g %g cm %s f Q" % (scale, scale, x + pen_x, y, ops))
            pen_x += advance * scale
        out.append(b"Q")
        return b" ".join(out)


@lru_cache(maxsize=1)
def _glyphs() -> _Glyphs:
    return _Glyphs(stamp_font())


@lru_cache(maxsize=1024)
def qr_ops(url: str, x: float, y: float, size: float, modules: tuple[bytes, ...] = ()) -> bytes:
    """The QR code of ``url`` as filled rectangles (runs of dark modules), ``size`` pt square incl. quiet zone.

    ``modules``: the code's rows (1 = dark) when the caller has them — the page's own code of the same link,
    which the renderer made (#13) — else made here.  Cached per URL and position: every signature of one document
    (the act's two inspectors, a retry) draws the same code.
    """
    matrix = modules or qr.modules(url)
    n = len(matrix)
    border = 2
    m = size / (n + 2 * border)
    rects = []
    for row_ix, row in enumerate(matrix):
        top = y + size - (row_ix + border + 1) * m
        col = 0
        while col < n:
            if row[col]:
                start = col
                while col < n and row[col]:
                    col += 1
                rects.append(b"%.3f %.3f %.3f %.3f re" % (x + (start + border) * m, top, (col - start) * m, m))
            else:
                col += 1
    return b"q 1 1 1 rg %g %g %g %g re f 0 0 0 rg %s f Q" % (x, y, size, size, b" ".join(rects))


# --- the cached layout -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Geometry:
    w: float
    h: float

    @property
    def qr_size(self) -> float:
        return self.h - 6

    @property
    def qr_x(self) -> float:
        return self.w - self.qr_size - 3

    @property
    def text_w(self) -> float:
        return self.qr_x - 7

    @property
    def time_top(self) -> float:  # from the top, for the template's time label
        return self.h - 17.5

    @property
    def time_baseline(self) -> float:  # from the bottom, for the time value
        return 4.6


_weasy_lock = threading.Lock()


@lru_cache(maxsize=256)
def _template_pdf(language: str, signer_name: str, position: str, serial: str, issuer: str, w: float, h: float) -> bytes:
    from jinja2 import Environment, FileSystemLoader, select_autoescape
    from weasyprint import HTML

    geo = _Geometry(w, h)
    env = Environment(loader=FileSystemLoader(str(_HERE / "templates")), autoescape=select_autoescape(["html", "j2"]))
    html = env.get_template("stamp.html.j2").render(
        language=language, signer_name=signer_name, position=position, serial=serial, issuer=issuer,
        font_url=stamp_font().as_uri(), w=w, h=h, text_w=geo.text_w, time_top=geo.time_top,
    )
    with _weasy_lock:
        return HTML(string=html, base_url=str(_HERE)).write_pdf()


def template_reader(language, signer_name, position, serial, issuer, w, h) -> PdfFileReader:
    return PdfFileReader(BytesIO(_template_pdf(language, signer_name, position, serial, issuer, round(w, 2), round(h, 2))))


class _ParsedTemplate:
    """A template PDF parsed once: pyHanko's reader keeps the objects it resolved, so importing the page into
    the next signature's writer copies them without re-parsing (~2.5 ms of ~4).  The reader reads from one
    stream, hence the lock."""

    def __init__(self, data: bytes):
        self.reader = PdfFileReader(BytesIO(data))
        self.lock = threading.Lock()

    def import_into(self, writer: BasePdfFileWriter):
        with self.lock:
            return writer.import_page_as_xobject(self.reader, page_ix=0)


@lru_cache(maxsize=256)
def _parsed_template(data: bytes) -> _ParsedTemplate:
    return _ParsedTemplate(data)


@dataclass(frozen=True)
class QamqorStampStyle(BaseStampStyle):
    """A stamp made of the cached WeasyPrint layout plus per-signature vector paths (QR, time)."""

    template_pdf: bytes = b""
    overlay: bytes = b""
    border_width: int = 0
    background_opacity: float = 1.0

    def create_stamp(self, writer: BasePdfFileWriter, box: layout.BoxConstraints, text_params: dict) -> BaseStamp:
        return _QamqorStamp(writer=writer, style=self, box=box)


class _QamqorStamp(BaseStamp):
    style: QamqorStampStyle

    def _render_inner_content(self):
        xobj = _parsed_template(self.style.template_pdf).import_into(self.writer)
        name = generic.pdf_name("/QamqorStamp")
        self.set_resource(category=content.ResourceType.XOBJECT, name=name, value=xobj)
        x1, y1, x2, y2 = (float(v) for v in xobj.get_object()["/BBox"])
        sx, sy = self.box.width / abs(x2 - x1), self.box.height / abs(y2 - y1)
        return [b"q %g 0 0 %g 0 0 cm /QamqorStamp Do %s Q" % (sx, sy, self.style.overlay)]


def format_time(when: dt.datetime, fmt: str = "%Y-%m-%d %H:%M:%S (UTC+05:00)") -> str:
    return when.astimezone(KZ_TIME).strftime(fmt)


def stamp_style(stamp, ident, when: dt.datetime, box: tuple[float, float]) -> QamqorStampStyle:
    """The style for one signature: ``stamp`` is a :class:`signing.StampInfo`, ``ident`` the certificate's."""
    w, h = round(box[0], 2), round(box[1], 2)
    geo = _Geometry(w, h)
    template = _template_pdf(stamp.language, stamp.signer_name, stamp.position, ident.serial_hex, ident.issuer, w, h)
    overlay = qr_ops(stamp.verify_url, geo.qr_x, (h - geo.qr_size) / 2, geo.qr_size,
                     stamp.qr) + b" " + _glyphs().text_ops(
        format_time(when, stamp.time_format), 4, geo.time_baseline, 6.2
    )
    return QamqorStampStyle(template_pdf=template, overlay=overlay)

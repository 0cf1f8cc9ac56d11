"""The verification link's QR code, printed on every page (forms/render.py) and in the signature stamp
(:mod:`signing.stamp`): ISO/IEC 18004, error correction M, never a Micro QR, the version the link needs.

Made by zxing-cpp (C++): 0.8 ms a code where segno's mask selection in Python took 7.5 ms, once per document
in every render worker (issue 13).  The same library reads a code back from an image, which the tests use to
check the pages carry the document's own link.
"""

from __future__ import annotations

import io
from functools import lru_cache

import zxingcpp

#: a code's rows, one byte per module (1 = dark), without the quiet zone
Modules = tuple[bytes, ...]


@lru_cache(maxsize=512)
def modules(url: str) -> Modules:
    """The QR code of ``url``: its modules, row by row (cached: every signature of a document draws the same)."""
    code = zxingcpp.create_barcode(url, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
    image = memoryview(code.to_image(scale=1, add_quiet_zones=False))
    width = image.shape[1]
    pixels = image.tobytes()
    return tuple(bytes(p < 128 for p in pixels[i:i + width]) for i in range(0, len(pixels), width))


def png(rows: Modules, *, scale: int = 4, border: int = 1) -> bytes:
    """The code as a black-and-white PNG, ``scale`` pixels a module, ``border`` modules of quiet zone."""
    from PIL import Image

    n = len(rows)
    side = n + 2 * border
    image = Image.new("1", (side, side), 1)
    image.putdata([0 if border <= y < n + border and border <= x < n + border and rows[y - border][x - border]
                   else 1 for y in range(side) for x in range(side)])
    out = io.BytesIO()
    image.resize((side * scale, side * scale), Image.NEAREST).save(out, "PNG", optimize=False)
    return out.getvalue()


def read(image) -> str | None:
    """The text of the QR code in ``image`` (a PIL image), or None."""
    found = zxingcpp.read_barcode(image, formats=zxingcpp.BarcodeFormat.QRCode)
    return found.text if found is not None and found.valid else None

"""The verification link's QR code (signing/qr.py, issue 13): what the page and the stamp print reads back as the
link, at error correction M, never as a Micro QR."""

from __future__ import annotations

import io

import pytest
import zxingcpp
from PIL import Image

from signing import qr

URLS = [
    "https://qamqor.example.kz/v/x?k=1",
    "https://qamqor.example.kz/v/C-2026-0004-acceptance_notice-kk?k=3f9a0c1d2e7b4a5c8d",
    "https://verify.qamqor.gov.kz/documents/" + "D" * 120 + "?k=" + "f" * 64,  # a long link: a larger version
]


@pytest.mark.parametrize("url", URLS)
def test_the_code_reads_back_as_the_link(url):
    rows = qr.modules(url)
    n = len(rows)
    assert n >= 21 and (n - 17) % 4 == 0 and all(len(r) == n for r in rows)  # a QR version, not Micro QR
    image = Image.open(io.BytesIO(qr.png(rows, scale=4, border=1))).convert("L")
    assert image.size == ((n + 2) * 4,) * 2
    found = zxingcpp.read_barcode(image)
    assert found is not None and found.text == url
    assert found.format == zxingcpp.BarcodeFormat.QRCode and found.ec_level == "M"
    assert qr.read(image) == url


def test_a_longer_link_needs_a_larger_code_and_the_same_link_the_same_code():
    assert len(qr.modules(URLS[2])) > len(qr.modules(URLS[0]))
    qr.modules.cache_clear()
    first = qr.modules(URLS[1])
    qr.modules.cache_clear()
    assert qr.modules(URLS[1]) == first  # deterministic: a re-render prints the same code


def test_no_code_is_found_in_a_blank_image():
    assert qr.read(Image.new("L", (120, 120), 255)) is None

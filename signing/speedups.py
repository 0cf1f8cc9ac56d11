"""Four hot spots of the libraries, made fast without changing what they return (issue 13).

Installed once, when :mod:`signing` is imported; each replaces a pure function by one that gives the same result
for every input (``tests/signing/test_speedups.py`` compares them with the originals), measured in
``bench/PROFILE.md``:

* **pyHanko's hex-string reader** (``pyhanko.pdf_utils.generic.read_hex_string_from_stream``) reads a ``<…>``
  string one byte at a time through ``read_non_whitespace``.  Every signature's ``/Contents`` is such a string,
  padded with zeros to the space reserved for the CMS (16 to 64 KB of hex digits), and every validation reads it:
  a third of the archive report of a fresh B-B document went there.  Ours reads it in blocks, drops the PDF
  whitespace and checks the digits at once.  A ``%`` inside the string (pyHanko's reader takes it for a comment)
  goes to the original reader, so even malformed files read exactly as before.
* **asn1crypto's RFC 4518 string preparation** (``NameTypeAndValue._ldap_string_prep``), run for every attribute
  of every name compared while matching certificates (issuer and serial, path building): names in Cyrillic walk
  the whole ``stringprep`` table each time.  It is a pure function of the string, so its results are kept (a
  bounded cache of 4,096 strings: the names of the installation's CAs, officers and TSAs).
* **asn1crypto's name comparison** (``x509.Name.__eq__``, RFC 5280 §7.1): pyHanko matches a signature's
  issuer and serial number against every certificate the file carries, and the comparison of two names that are
  not byte for byte the same prepares every attribute of both again (a fifth of the archive report of a fresh
  B-B document).  Whether two names are equal is a pure function of their two DER encodings, so the answers are
  kept (a bounded cache of 4,096 pairs: the installation's CAs, TSAs and signers); names with the same bytes are
  equal at once.
* **xsdata's binding metadata** for the ETSI report: pyHanko's ``generate_report`` makes a new ``XmlSerializer``
  for every report, and with it a new ``XmlContext``, whose cache of each report class's metadata (built from
  the classes' type hints) starts empty: a third of the report of a fresh B-B document was that metadata built
  again.  The serializer pyHanko looks up (``xsdata.formats.dataclass.serializers.XmlSerializer``) is replaced by
  one whose default context is shared by the process; the context depends only on the classes, and the
  serialized report is the same text.  Installed before the first report (:func:`share_xml_metadata`, from
  :mod:`signing.ltv`), not at import: xsdata takes 80 ms to import, and most commands make no report.
"""

from __future__ import annotations

import binascii
import functools
import re

from asn1crypto import x509 as _x509
from pyhanko.pdf_utils import generic as _generic
from pyhanko.pdf_utils.misc import PDF_WHITESPACE

ORIGINAL_READ_HEX = _generic.read_hex_string_from_stream
ORIGINAL_STRING_PREP = _x509.NameTypeAndValue._ldap_string_prep
ORIGINAL_NAME_EQ = _x509.Name.__eq__

_BLOCK = 16384
_NOT_HEX = re.compile(rb"[^0-9A-Fa-f]")


def read_hex_string_from_stream(stream):
    """``<hex digits and whitespace>`` at the stream's position → the string object, the stream after ``>``."""
    start = stream.tell()
    stream.read(1)  # the "<"
    parts = []
    while True:
        block = stream.read(_BLOCK)
        if not block:  # no ">" before the end: the original reader says so in its words
            stream.seek(start)
            return ORIGINAL_READ_HEX(stream)
        end = block.find(b">")
        if end >= 0:
            parts.append(block[:end])
            stream.seek(end + 1 - len(block), 1)
            break
        parts.append(block)
    digits = b"".join(parts).translate(None, PDF_WHITESPACE)
    if _NOT_HEX.search(digits):  # a comment or a stray byte: the original reader's own handling and error
        stream.seek(start)
        return ORIGINAL_READ_HEX(stream)
    if len(digits) % 2:
        digits += b"0"
    return _generic.pdf_string(binascii.unhexlify(digits))


@functools.lru_cache(maxsize=4096)
def _prepared(string: str) -> str:
    return ORIGINAL_STRING_PREP(None, string)  # the method never reads ``self``


def _ldap_string_prep(self, string):
    try:
        return _prepared(string)
    except TypeError:  # not hashable (no name attribute native to asn1crypto is, but never fail on one)
        return ORIGINAL_STRING_PREP(self, string)


@functools.lru_cache(maxsize=4096)
def _names_equal(a: bytes, b: bytes) -> bool:
    return _x509.RDNSequence.load(a) == _x509.RDNSequence.load(b)


def _name_eq(self, other):
    if not isinstance(other, _x509.Name):
        return False
    # the RDN sequences' encodings (as they are now, if changed since parsing), not the names': a name inside a
    # GeneralName carries its explicit tag in its own encoding
    a, b = self.chosen.dump(), other.chosen.dump()
    return a == b or _names_equal(a, b)


@functools.cache
def share_xml_metadata() -> type:
    """Make xsdata's ``XmlSerializer`` (as pyHanko's report generator imports it) one whose default context is
    shared by the process; idempotent.  Returns xsdata's own class."""
    from dataclasses import dataclass, field

    from xsdata.formats.dataclass import serializers
    from xsdata.formats.dataclass.context import XmlContext

    original = serializers.XmlSerializer
    shared = XmlContext()

    @dataclass
    class XmlSerializer(original):  # type: ignore[valid-type, misc]
        """xsdata's serializer, with the process's binding metadata unless given another context."""

        context: XmlContext = field(default_factory=lambda: shared)

    serializers.XmlSerializer = XmlSerializer
    return original


def install() -> None:
    _generic.read_hex_string_from_stream = read_hex_string_from_stream
    _x509.NameTypeAndValue._ldap_string_prep = _ldap_string_prep
    _x509.Name.__eq__ = _name_eq


install()


"""An input's bytes before any parser sees them: what kind of file it is, its size, strict UTF-8; the limits.

One place for these checks, so that reading a claimed file from disk (:func:`read_input`, for the runner) and
parsing bytes in memory (:func:`pipeline.ingest.parse_tree`) refuse the same input with the same words:

- ``E-FILE-TYPE``: a symbolic link, anything but a regular file, or a name that is neither ``.json`` nor ``.xml``;
- ``E-FILE-TOO-LARGE``: more bytes than the configured limit;
- ``E-ENCODING``: bytes that are not UTF-8, with the line and column of the first bad byte.

The limits on what a parser may be made to do (depth, items, findings) live here too, beside the size limit.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from pipeline.errors import InputError, Where

MAX_BYTES = 1_000_000
MAX_DEPTH = 32  # the contract's deepest member is 4 levels down; anything far deeper is an attack or an accident
MAX_FINDINGS = 100  # a clerk does not need more, and a hostile file must not make us produce millions
MAX_ITEMS = 100  # no array or object of the contract holds more (the schemas say 50 at most); checked first, cheaply

EVENT_SUFFIXES = (".json", ".xml")


def read_input(path: Path, original_name: str, max_bytes: int) -> bytes:
    """The bytes of one input file, judged by its original name; refuses what ingest must never read.

    ``lstat``, never ``stat``: a link is refused as a link, never followed.  The size is checked before reading,
    so a huge file is never loaded.
    """
    st = os.lstat(path)
    if not stat.S_ISREG(st.st_mode):
        what = "a symbolic link" if stat.S_ISLNK(st.st_mode) else "not a regular file"
        raise InputError("E-FILE-TYPE", what, Where())
    kind_of(original_name)
    check_size(st.st_size, max_bytes)
    return path.read_bytes()


def kind_of(filename: str) -> str:
    """``"json"`` or ``"xml"``, by the name's suffix (any case); ``E-FILE-TYPE`` for any other name."""
    name = filename.lower()
    if name.endswith(".json"):
        return "json"
    if name.endswith(".xml"):
        return "xml"
    raise InputError("E-FILE-TYPE", f"{filename!r} is neither .json nor .xml", Where())


def check_size(size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise InputError("E-FILE-TOO-LARGE", f"{size} bytes > {max_bytes}", Where())


def decode(data: bytes) -> str:
    """Strict UTF-8: the first byte that is not UTF-8 is ``E-ENCODING``, with its line and column."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line, col = line_col(data, e.start)
        raise InputError(
            "E-ENCODING", f"byte 0x{data[e.start]:02x} at offset {e.start} is not UTF-8", Where(line=line, column=col)
        ) from None


def line_col(data: bytes | str, offset: int) -> tuple[int, int]:
    """The 1-based line and column of an offset into bytes or text."""
    head = data[:offset]
    nl = b"\n" if isinstance(head, bytes) else "\n"
    return head.count(nl) + 1, offset - (head.rfind(nl) + 1) + 1

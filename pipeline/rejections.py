"""Bad input, set aside: the original bytes go to ``outbox/rejected/<day>/`` untouched, with a report that says
what is wrong and where (contract.md).  The report is journaled first (status ``rejecting``), then the files are
written; a crash in between is finished by the next pass.

What goes to the outbox is bounded and inert (#14.6–8): only a regular file's bytes are copied, never a link, a
FIFO or a device (the report says so, the thing itself stays in ``<state>/work/inputs/``); an input over the size
limit is copied as its first ``max_event_bytes`` only, and the report gives its size and hash; no original is
ever stored under a name ending in ``.error.json``, and none takes a name already used, so no input can pose as
a report nor a report overwrite an original."""

from __future__ import annotations

import logging
import os
import shutil
import stat
from typing import Any

from sqlalchemy import Connection

from . import clock
from .errors import InputError
from .faults import checkpoint
from .journal import store
from .outbox import atomic_write_json, rejected_dir, safe_component
from .services import Services

log = logging.getLogger("qamqor.rejections")

REPORT_SUFFIX = ".error.json"
#: bytes of a rejected original's name at most: with the report suffix and a temporary's dot and ``.tmp`` the
#: report's name stays below the 255 bytes a file name may have (#14.1)
MAX_NAME_BYTES = 200


def bounded(name: str, max_bytes: int) -> str:
    """``name`` cut to at most ``max_bytes`` bytes of UTF-8, never inside a character, keeping its suffix
    (``.json``/``.xml``) so that the cut name still says what the file is."""
    if len(name.encode()) <= max_bytes:
        return name
    stem, dot, suffix = name.rpartition(".")
    tail = f".{suffix}" if dot and stem and len(suffix.encode()) <= 16 else ""
    head = name[: len(name) - len(tail)].encode()[: max_bytes - len(tail.encode())]
    return head.decode("utf-8", "ignore") + tail


def printable(text: str) -> str:
    """``text`` for one log line: control and format characters (a newline forges a line, #14.16) escaped."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def original_name(row_name: str, input_id: str, folder: os.PathLike[str] | str) -> str:
    """The name the original takes in the day's rejected folder: never one a report has (or could have), never
    one taken by an earlier original or report (#14.7)."""
    name = bounded(safe_component(row_name), MAX_NAME_BYTES)
    if name.lower().endswith(REPORT_SUFFIX):
        name = name[: -len(".json")] + "_json"  # foo.json.error.json -> foo.json.error_json
    candidate, n = name, 0
    while (os.path.lexists(os.path.join(folder, candidate))
           or os.path.lexists(os.path.join(folder, candidate + REPORT_SUFFIX))):
        n += 1
        stamp = input_id.split("-", 1)[0]
        candidate = bounded(f"{stamp}{'' if n == 1 else f'-{n}'}-{name}", MAX_NAME_BYTES)
    return candidate


def journal_rejection(services: Services, conn: Connection, input_id: str, err: InputError) -> None:
    """Journal the rejection report (with where the original will go), in the caller's transaction."""
    row = store.get_input(conn, input_id)
    outbox = services.config.outbox
    folder = rejected_dir(outbox, clock.today())
    name = original_name(row.original_name, input_id, folder)
    report = {
        "input": row.original_name,
        "rejected_at": clock.now().isoformat(),
        "sha256": row.sha256,
        "size": row.size,
        "path": str((folder / name).relative_to(outbox)),
        **err.to_dict(),
    }
    kept = services.dirs.inputs / input_id
    st = os.lstat(kept) if os.path.lexists(kept) else None
    if st is not None and not stat.S_ISREG(st.st_mode):
        report["copied"] = ("nothing: a symbolic link, FIFO or device is never moved to the outbox; it is kept "
                            f"in the state folder as work/inputs/{input_id}")
    elif row.size > services.config.max_event_bytes:
        report["copied"] = (f"the first {services.config.max_event_bytes} of {row.size} bytes; the whole file is "
                            f"kept in the state folder as work/inputs/{input_id}")
    store.mark_rejecting(conn, input_id, report)


def reject(services: Services, input_id: str, err: InputError) -> None:
    """Journal the rejection, then move the original there."""
    with services.journal.tx() as conn:
        journal_rejection(services, conn, input_id, err)
    finish_rejection(services, input_id)


def finish_rejection(services: Services, input_id: str) -> None:
    """Copy the original and write the report, as journaled (idempotent: the same bytes to the same names)."""
    checkpoint("rejecting")
    row = store.get_input(services.journal, input_id)
    report = row.report or {}
    target = services.config.outbox / report["path"]
    source = services.dirs.inputs / input_id
    target.parent.mkdir(parents=True, exist_ok=True)
    if os.path.lexists(source) and stat.S_ISREG(os.lstat(source).st_mode):
        # the original bytes, untouched (a bounded prefix of an over-limit file: the disk is not amplified);
        # a link, FIFO or device is neither followed nor moved: nothing of it reaches the outbox
        tmp = target.with_name(f".{target.name}.tmp")
        with open(source, "rb") as src, open(tmp, "wb") as dst:
            shutil.copyfileobj(_Bounded(src, services.config.max_event_bytes), dst)
        os.replace(tmp, target)
    checkpoint("rejected-copied")
    atomic_write_json(target.with_name(target.name + REPORT_SUFFIX), report)
    with services.journal.tx() as conn:
        store.mark_rejected(conn, input_id, report)
    log.warning("rejected %s: %s", printable(row.original_name), printable(report["message"]))


class _Bounded:
    """A reader that ends after ``limit`` bytes."""

    def __init__(self, fh: Any, limit: int):
        self.fh, self.left = fh, limit

    def read(self, n: int = -1) -> bytes:
        if self.left <= 0:
            return b""
        n = self.left if n < 0 else min(n, self.left)
        data = self.fh.read(n)
        self.left -= len(data)
        return data

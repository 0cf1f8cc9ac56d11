"""The outbox: where every file appears atomically, under a deterministic name (contract.md, "Folders").

A file is written to a dot-named temporary in its target folder (consumers ignore dot-files, as writers into
the inbox do), flushed and fsynced, then renamed over the final name; the folder is fsynced too.  Writing the
same bytes to the same place twice is harmless, which is what lets every stage run twice safely.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
from pathlib import Path
from typing import Any

ROUTES = ("cabinet", "psc", "provider", "archive")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` at ``path`` so that no reader ever sees a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        # a full disk (or a kill) must not leave a partial temporary behind
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def atomic_write_all(items: list[tuple[Path, bytes]]) -> None:
    """Write several files as :func:`atomic_write` writes one, with their syncs together (#13: a delivery's five
    files cost five pairs of fsyncs, most of the driver's wall time per document): every file's data is made
    durable before any is renamed into place, then each folder once.  No reader sees a partial file; a crash
    leaves some of them in place, never half of one."""
    tmps = []
    try:
        for path, data in items:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.parent / f".{path.name}.{os.getpid()}.tmp"
            tmps.append(tmp)
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        for tmp, (path, _) in zip(tmps, items, strict=True):
            os.replace(tmp, path)
    except BaseException:
        for tmp in tmps:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise
    for folder in dict.fromkeys(path.parent for path, _ in items):
        fsync_dir(folder)


def json_bytes(obj: Any) -> bytes:
    return (json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode("utf-8")


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write(path, json_bytes(obj))


def route_dir(outbox: Path, route: str, *, case_id: str, applicant_iin: str, psc: str | None, provider: str,
              signed_on: dt.date) -> Path:
    """The folder of a route for one case (contract.md).  Every component has been validated by ingest
    (case_id ``[A-Za-z0-9-]{1,64}``, IIN 12 digits, office codes from the schema), so none can climb out."""
    if route == "cabinet":
        return outbox / "cabinet" / applicant_iin / case_id
    if route == "psc":
        if not psc:
            raise ValueError(f"case {case_id} has no PSC")
        return outbox / "psc" / psc / case_id
    if route == "provider":
        return outbox / "provider" / provider / case_id
    if route == "archive":
        return outbox / "archive" / f"{signed_on:%Y}" / f"{signed_on:%m}" / case_id
    raise ValueError(f"unknown route {route}")


def rejected_dir(outbox: Path, day: dt.date) -> Path:
    return outbox / "rejected" / f"{day:%Y}" / f"{day:%m}" / f"{day:%d}"


def safe_component(name: str) -> str:
    """A file name from outside, made safe to use as one path component (never a path)."""
    base = os.path.basename(name.replace("\\", "/")) or "input"
    cleaned = "".join(c if (c.isalnum() or c in "._-") else "_" for c in base)
    cleaned = cleaned.lstrip(".") or "input"
    return cleaned[:150]

"""Stage 1, claim: take settled files from ``inbox/`` and journal them.

A file is taken when its name is not temporary, its size and time are stable (a slow copy is not read
half-written) and it parses at all (or it has been still for ``incomplete_grace``: then it is taken to be
rejected).  The claim is an atomic rename into ``<state>/work/claimed/``, so two processes never take the same
file; on a network inbox (another filesystem) the file is renamed inside the inbox first, then copied over.
Journaled inputs move on to ``<state>/work/inputs/`` as a *copy* of the bytes journaled (their hash with them):
a writer that kept a hard link or a descriptor to the file it dropped cannot change the kept input afterwards
(#14.17).  Names are bounded in bytes, not characters, and names that are not UTF-8 are journaled escaped
(#14.1, #14.5); state files are private to the service (0600, #14.22).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import stat
import time
from pathlib import Path

from ..faults import checkpoint
from ..ingest import EVENT_SUFFIXES, syntax_complete
from ..journal import store
from ..outbox import safe_component, sha256
from ..rejections import bounded
from ..services import Services

TEMP_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".swp")
CROSS_CLAIM = ".claimed-"  # prefix of a file claimed inside the inbox (an inbox on another filesystem)
#: an input id's bytes at most: with ``CROSS_CLAIM`` or the ``.tmp`` of a copy it stays below the 255 bytes a
#: file name may have (#14.1: 120 two-byte letters are a legal name, and were 240 bytes before the stamp)
MAX_ID_BYTES = 200
#: claimed inputs are journaled together, in groups of at most this many bytes read (the bytes stay in memory
#: until their copy is kept)
HELD_BYTES = 8_000_000


def is_candidate(name: str) -> bool:
    """A name in the inbox that may be an event (temporary names and dot-files are never read)."""
    return not name.startswith(".") and not name.lower().endswith(TEMP_SUFFIXES) and not name.startswith("~")


def scan(inbox: Path) -> list[Path]:
    try:
        names = sorted(os.listdir(inbox))
    except FileNotFoundError:
        return []
    return [inbox / n for n in names if is_candidate(n)]


def _settled(services: Services, path: Path, st: os.stat_result) -> bool:
    """Size and modification time unchanged for ``settle_seconds`` (slow copies are not read half-written)."""
    age = time.time() - st.st_mtime
    if age >= services.config.settle_seconds:
        return True
    time.sleep(max(0.0, services.config.settle_seconds - age))
    try:
        st2 = os.lstat(path)
    except FileNotFoundError:
        return False
    return (st2.st_size, st2.st_mtime_ns) == (st.st_size, st.st_mtime_ns)


def _complete(services: Services, path: Path, st: os.stat_result) -> bool:
    """A file is taken when it parses; one that does not is taken (to be rejected) only once it has been
    still for ``incomplete_grace`` seconds — a slow copier that pauses is not read half-written."""
    config = services.config
    if time.time() - st.st_mtime >= config.incomplete_grace or st.st_size > config.max_event_bytes:
        return True
    if not path.name.lower().endswith(EVENT_SUFFIXES):
        return True
    try:
        data = path.read_bytes()
    except OSError:
        return False
    return syntax_complete(data, path.name)


def claim(services: Services, *, settle: bool = True, limit: int | None = None) -> int:
    """Claim up to ``limit`` settled files; then finish claims a crash interrupted.  Returns how many."""
    n = 0
    taken: list[tuple[str, str]] = []  #: (input id, original name), journaled together once all are claimed
    claimed_dir = services.dirs.claimed
    for path in scan(services.config.inbox):
        if limit is not None and n >= limit:
            break
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            continue
        if stat.S_ISDIR(st.st_mode):
            continue
        if settle and stat.S_ISREG(st.st_mode) and not _settled(services, path, st):
            continue
        if stat.S_ISREG(st.st_mode) and not _complete(services, path, st):
            continue  # still being written: left for a later pass
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
        input_id = input_id_of(stamp, path.name)
        try:
            os.rename(path, claimed_dir / input_id)  # the claim: atomic, so two workers never take the same file
        except FileNotFoundError:
            continue  # another worker was faster
        except OSError:
            # another filesystem (an NFS or SMB inbox): claim by a rename inside the inbox, then copy over
            hidden = path.with_name(f"{CROSS_CLAIM}{input_id}")
            try:
                os.rename(path, hidden)
            except FileNotFoundError:
                continue
            _copy_claimed(services, hidden, input_id)
        checkpoint("claimed")
        taken.append((input_id, display_name(path.name)))
        n += 1
    _record(services, taken)
    _recover_cross_claims(services)
    _recover_unrecorded(services)
    return n


def display_name(name: str) -> str:
    """A name from ``os.listdir`` as text the journal can store: bytes that are not UTF-8 (which Python hands
    over as lone surrogates) are written as ``\\xNN`` escapes (#14.5)."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def input_id_of(stamp: str, name: str) -> str:
    """The claimed input's id: the claim's time and the name made safe, at most ``MAX_ID_BYTES`` bytes."""
    return bounded(f"{stamp}-{safe_component(display_name(name))}", MAX_ID_BYTES)


def _copy_claimed(services: Services, hidden: Path, input_id: str) -> None:
    """Copy a file claimed inside the inbox into the state folder: to a temporary, fsynced, renamed — a
    crash mid-copy leaves the original, never a truncated input."""
    tmp = services.dirs.claimed / f".{input_id}.tmp"
    shutil.copyfile(hidden, tmp, follow_symlinks=False)
    if not os.path.islink(tmp):
        os.chmod(tmp, 0o600)
    if not os.path.islink(tmp):
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
    os.replace(tmp, services.dirs.claimed / input_id)
    os.unlink(hidden)


def _original(input_id: str) -> str:
    return input_id.split("-", 1)[1] if "-" in input_id else input_id


def _recover_cross_claims(services: Services) -> None:
    """Inputs claimed inside the inbox by a process that died before copying them over."""
    taken = []
    for name in os.listdir(services.config.inbox):
        if name.startswith(CROSS_CLAIM):
            input_id = name.removeprefix(CROSS_CLAIM)
            _copy_claimed(services, services.config.inbox / name, input_id)
            taken.append((input_id, _original(input_id)))
    _record(services, taken)


def _record(services: Services, taken: list[tuple[str, str]]) -> None:
    """Journal claimed inputs (input id, original name) in one transaction (per :data:`HELD_BYTES` read), then
    keep each among the journaled ones (a small folder stays small).

    An input ingest will read is kept as a fresh copy of the very bytes hashed and journaled (#14.17); one over
    the limit (never read) or one that is not a regular file (refused as such) is moved as it is.  The hash of an
    over-limit file is that of its first ``max_event_bytes``: the bytes its rejection copies to the outbox, so the
    report's ``sha256`` names what a consumer finds there (#14.8, #14.23).  A crash after the commit leaves the
    files in ``claimed/``: the next pass journals them again (nothing changes) and keeps them."""
    read: list[tuple[str, str, os.stat_result, bytes | None, str]] = []
    held = 0  #: bytes read and not yet kept: journaled and kept in groups of at most HELD_BYTES
    for input_id, original in taken:
        path = services.dirs.claimed / input_id
        if os.path.lexists(services.dirs.inputs / input_id) and store.get_input(services.journal, input_id):
            os.unlink(path)  # a crash after the copy, before the claimed file was removed: the copy is the input
            continue
        st = os.lstat(path)
        data: bytes | None = None
        if stat.S_ISREG(st.st_mode) and st.st_size <= services.config.max_event_bytes:
            data = path.read_bytes()
            digest = sha256(data)
        elif stat.S_ISREG(st.st_mode):
            with open(path, "rb") as fh:  # the bounded prefix that goes to outbox/rejected/, and only that is hashed
                digest = hashlib.sha256(fh.read(services.config.max_event_bytes)).hexdigest()
        else:
            digest = ""
        read.append((input_id, original, st, data, digest))
        held += len(data or b"")
        if held >= HELD_BYTES:
            _journal_and_keep(services, read)
            read, held = [], 0
    _journal_and_keep(services, read)


def _journal_and_keep(services: Services, read: list[tuple[str, str, os.stat_result, bytes | None, str]]) -> None:
    if not read:
        return
    # issue 10: one transaction (a commit, and on PostgreSQL its round trips) for a scan's inputs, not one each
    with services.journal.tx() as conn:
        for input_id, original, st, _data, digest in read:
            store.record_input(conn, input_id, original=original, sha256=digest, size=st.st_size)
    for input_id, _original_name, st, data, _digest in read:
        checkpoint("input-recorded")
        _keep(services, input_id, st, data)


def _keep(services: Services, input_id: str, st: os.stat_result, data: bytes | None) -> None:
    path = services.dirs.claimed / input_id
    kept = services.dirs.inputs / input_id
    if data is None:
        if stat.S_ISREG(st.st_mode):
            os.chmod(path, 0o600)
        os.rename(path, kept)
        return
    tmp = services.dirs.inputs / f".{input_id}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, kept)
    os.unlink(path)  # the writer's inode: whatever is written through it from now on is not ours


def _recover_unrecorded(services: Services) -> None:
    """Files claimed by a process that died before journaling them (or before moving them on)."""
    _record(services, [(name, _original(name)) for name in sorted(os.listdir(services.dirs.claimed))
                       if not name.startswith(".")])

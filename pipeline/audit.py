"""The audit log: every step and every officer's action, append-only and hash-chained (``<state>/audit.jsonl``).

Each line carries the SHA-256 of the line before it (``prev``) and its own ``hash`` over its content and
``prev``; ``audit.head`` keeps the sequence number and hash of the newest line made durable (:meth:`AuditLog.sync`,
once per pass), so removing lines at the end is found too.
``qamqor audit verify`` recomputes the chain and names the first line that was edited, removed or inserted.
Appends take an exclusive lock, so ``qamqor run`` and ``qamqor queue approve`` can write at the same time.

A chain alone proves nothing to someone who can rewrite it whole (#14.9): each sync also anchors the head in the
journal (a step ``audit-anchored``, :func:`pipeline.journal.store.anchor_audit`), and :meth:`AuditLog.verify`
checks the log against the journal — every anchor must still be in the log with its hash (a log deleted, or
rewritten with the chain recomputed, is found), and every line must be a step the journal holds (an entry
edited and re-hashed is found).  The log and its head are private to the service (0600, #14.22).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from pathlib import Path
from typing import Any

GENESIS = "0" * 64


def _digest(entry: dict[str, Any]) -> str:
    body = {k: v for k, v in entry.items() if k != "hash"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str).encode()).hexdigest()


def _canonical(at: Any, subject: Any, step: Any, detail: Any) -> str:
    return json.dumps([at, subject, step, detail or None], sort_keys=True, ensure_ascii=False, default=str)


class AuditLog:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.head = self.path.with_suffix(".head")
        self.journal: Any = None  #: the journal whose steps anchor the chain (bound when the journal opens)
        self._anchored: tuple[int, str] | None = None

    def bind(self, journal: Any) -> None:
        """Anchor this log in ``journal`` from now on (:meth:`sync`) and check it against it (:meth:`verify`)."""
        self.journal = journal

    def _head(self) -> tuple[int, str]:
        try:
            seq, h = self.head.read_text().split()
            return int(seq), h
        except (FileNotFoundError, ValueError):
            return 0, GENESIS

    def _last(self, fh: Any) -> tuple[int, str]:
        """Sequence number and hash of the file's last line (read from its end: cheap however long the log)."""
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        if size == 0:
            return 0, GENESIS
        back = min(size, 65536)
        fh.seek(size - back)
        lines = fh.read(back).splitlines()
        entry = json.loads(lines[-1])
        return int(entry["seq"]), entry["hash"]

    def append(self, entries: list[dict[str, Any]]) -> None:
        """Append under an exclusive lock.  Written through to the file at once; made durable (fsync) and the
        head recorded by :meth:`sync`, once per pass — the journal's ``steps`` table holds the same steps
        durably, so a power loss between two syncs loses no fact, only the newest lines of this mirror."""
        if not entries:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with os.fdopen(os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600), "a+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                seq, prev = self._last(fh)
                lines = []
                for e in entries:
                    seq += 1
                    entry = {"seq": seq, **e, "prev": prev}
                    entry["hash"] = prev = _digest(entry)
                    lines.append(json.dumps(entry, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                                            default=str))
                fh.seek(0, os.SEEK_END)
                fh.write(("\n".join(lines) + "\n").encode("utf-8"))
                fh.flush()
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def sync(self) -> None:
        """Make the log durable and record its head (the newest sequence number and hash)."""
        if not self.path.exists():
            return
        with open(self.path, "rb") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                seq, last = self._last(fh)
                os.fsync(fh.fileno())
                tmp = self.head.with_name(f".{self.head.name}.tmp")
                with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as out:
                    out.write(f"{seq} {last}\n")
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(tmp, self.head)
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
        self._anchor(seq, last)

    def _anchor(self, seq: int, last: str) -> None:
        """Record the head in the journal, when it moved since the last anchor."""
        if self.journal is None or not seq:
            return
        from .journal import store

        if self._anchored is None:
            anchors = store.audit_anchors(self.journal)
            self._anchored = anchors[-1] if anchors else (0, GENESIS)
        if self._anchored != (seq, last):
            with self.journal.tx() as conn:
                store.anchor_audit(conn, seq, last)
            self._anchored = (seq, last)

    def verify(self, journal: Any = None) -> list[str]:
        """Problems found, as lines a person reads; empty when the chain is intact and agrees with the journal
        (``journal``, else the bound one, else the state folder's SQLite journal if there is one)."""
        problems = self._verify_chain()
        if problems:
            return problems
        journal = journal or self.journal
        opened = None
        if journal is None and (self.path.parent / "journal.sqlite").exists():
            from .journal import Journal

            journal = opened = Journal(f"sqlite:///{self.path.parent / 'journal.sqlite'}", create=False)
        if journal is None:
            return problems
        try:
            return self._verify_against(journal)
        finally:
            if opened is not None:
                opened.close()

    def _verify_against(self, journal: Any) -> list[str]:
        """The log against the journal: every anchor still in the log, every line a step of the journal."""
        from collections import Counter

        from .journal import store

        entries = [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines()] \
            if self.path.exists() else []
        problems = []
        for seq, digest in store.audit_anchors(journal):
            if seq > len(entries):
                problems.append(f"the journal anchored the log at line {seq}, but the log ends at {len(entries)}: "
                                "the log was removed or cut short")
                return problems
            if entries[seq - 1]["hash"] != digest:
                problems.append(f"line {seq} is not the line the journal anchored: the log was rewritten")
                return problems
        steps = Counter(_canonical(*s) for s in store.mirrored_steps(journal))
        for n, e in enumerate(entries, 1):
            key = _canonical(e.get("at"), e.get("subject"), e.get("step"), e.get("detail"))
            if steps[key] <= 0:
                problems.append(f"line {n}: not a step the journal holds (edited, with the chain recomputed)")
                return problems
            steps[key] -= 1
        return problems

    def _verify_chain(self) -> list[str]:
        problems: list[str] = []
        prev, expected_seq = GENESIS, 1
        hashes: dict[int, str] = {}
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            lines = []
        for n, line in enumerate(lines, 1):
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                problems.append(f"line {n}: not JSON (edited)")
                return problems
            if entry.get("seq") != expected_seq:
                problems.append(f"line {n}: sequence {entry.get('seq')} where {expected_seq} was expected "
                                "(a line was removed or inserted)")
                return problems
            if entry.get("prev") != prev:
                problems.append(f"line {n}: does not follow the line before it (removed or reordered)")
                return problems
            if _digest(entry) != entry.get("hash"):
                problems.append(f"line {n}: content does not match its hash (edited)")
                return problems
            prev, expected_seq = entry["hash"], expected_seq + 1
            hashes[entry["seq"]] = entry["hash"]
        seq, head = self._head()
        last = expected_seq - 1
        if seq > last:
            problems.append(f"the log ends at {last} but its head says {seq}: lines were removed at the end")
        elif seq and hashes.get(seq) != head:
            problems.append(f"line {seq} is not the line the head recorded: the log was rewritten")
        return problems

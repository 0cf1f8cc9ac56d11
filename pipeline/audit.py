"""The audit log: every step and every officer's action, append-only and hash-chained (``<state>/audit.jsonl``).

Each line carries the SHA-256 of the line before it (``prev``) and its own ``hash`` over its content and
``prev``; ``audit.head`` keeps the sequence number and hash of the newest line made durable (:meth:`AuditLog.sync`,
once per pass), so removing lines at the end is found too.
``qamqor audit verify`` recomputes the chain and names the first line that was edited, removed or inserted.
Appends take an exclusive lock, so ``qamqor run`` and ``qamqor queue approve`` can write at the same time.
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


class AuditLog:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.head = self.path.with_suffix(".head")

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
        with open(self.path, "a+b") as fh:
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
                with open(tmp, "w") as out:
                    out.write(f"{seq} {last}\n")
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(tmp, self.head)
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def verify(self) -> list[str]:
        """Problems found, as lines a person reads; empty when the chain is intact."""
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

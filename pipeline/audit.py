"""The audit log: every step and every officer's action, append-only and hash-chained (``<state>/audit.jsonl``).

Each line carries the SHA-256 of the line before it (``prev``) and its own ``hash`` over its content and
``prev``; ``audit.head`` keeps the newest sequence number and hash, so removing lines at the end is found too.
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

    def _tail(self) -> tuple[int, str]:
        try:
            seq, h = self.head.read_text().split()
            return int(seq), h
        except (FileNotFoundError, ValueError):
            return 0, GENESIS

    def append(self, entries: list[dict[str, Any]]) -> None:
        if not entries:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            seq, prev = self._tail()
            lines = []
            for e in entries:
                seq += 1
                entry = {"seq": seq, **e, "prev": prev}
                entry["hash"] = prev = _digest(entry)
                lines.append(json.dumps(entry, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str))
            fh.write("\n".join(lines) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
            tmp = self.head.with_name(f".{self.head.name}.tmp")
            tmp.write_text(f"{seq} {prev}\n")
            os.replace(tmp, self.head)
            fcntl.flock(fh, fcntl.LOCK_UN)

    def verify(self) -> list[str]:
        """Problems found, as lines a person reads; empty when the chain is intact."""
        problems: list[str] = []
        prev, expected_seq = GENESIS, 1
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
        seq, head = self._tail()
        if (seq, head) != (expected_seq - 1, prev):
            problems.append(f"the log ends at {expected_seq - 1} but its head says {seq}: lines were removed at the end")
        return problems

"""The hash-chained audit log (issue 5 ¶7): appends, syncs, and finds edited, removed and truncated lines."""

from __future__ import annotations

from pathlib import Path

from pipeline.audit import AuditLog


def _log(tmp_path: Path, n: int = 5) -> AuditLog:
    log = AuditLog(tmp_path / "audit.jsonl")
    for i in range(n):
        log.append([{"at": f"t{i}", "subject": f"doc-{i}", "step": "signed", "detail": {"officer": "head"}}])
    return log


def test_intact_log_and_a_tail_not_yet_synced(tmp_path: Path):
    log = _log(tmp_path)
    log.sync()
    assert log.verify() == []
    log.append([{"at": "t9", "subject": "doc-9", "step": "delivered", "detail": None}])
    assert log.verify() == []  # written but not yet synced: the head lags, nothing is wrong


def test_edited_line_is_found(tmp_path: Path):
    log = _log(tmp_path)
    log.sync()
    lines = log.path.read_text().splitlines()
    lines[2] = lines[2].replace("head", "clerk")
    log.path.write_text("\n".join(lines) + "\n")
    assert "line 3" in log.verify()[0] and "edited" in log.verify()[0]


def test_removed_line_is_found(tmp_path: Path):
    log = _log(tmp_path)
    log.sync()
    lines = log.path.read_text().splitlines()
    del lines[1]
    log.path.write_text("\n".join(lines) + "\n")
    assert "line 2" in log.verify()[0]


def test_lines_removed_at_the_end_are_found(tmp_path: Path):
    log = _log(tmp_path)
    log.sync()
    lines = log.path.read_text().splitlines()
    log.path.write_text("\n".join(lines[:-2]) + "\n")
    assert "removed at the end" in log.verify()[0]


def test_a_rewritten_log_does_not_match_its_head(tmp_path: Path):
    log = _log(tmp_path)
    log.sync()
    head = log.head.read_text()
    other = AuditLog(tmp_path / "other.jsonl")
    for i in range(5):  # a whole new, self-consistent chain of the same length
        other.append([{"at": f"x{i}", "subject": f"doc-{i}", "step": "signed", "detail": None}])
    log.path.write_bytes(other.path.read_bytes())
    log.head.write_text(head)
    assert "rewritten" in log.verify()[0]

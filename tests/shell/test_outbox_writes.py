"""Several files written at once (a delivery's PDFs, then its manifests): all or none in place, none half-written,
no temporary left behind (pipeline.outbox.atomic_write_all, #13)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.outbox import atomic_write_all


def test_every_file_is_in_place_with_its_bytes_and_no_temporary_is_left(tmp_path: Path):
    items = [(tmp_path / "cabinet" / "a.pdf", b"%PDF-a"), (tmp_path / "archive" / "a.pdf", b"%PDF-b"),
             (tmp_path / "archive" / "a.pdf.etsi-report.xml", b"<r/>")]
    atomic_write_all(items)
    for path, data in items:
        assert path.read_bytes() == data
    assert not [p for p in tmp_path.rglob(".*.tmp")]


def test_a_failure_before_the_renames_puts_nothing_in_place_and_cleans_up(tmp_path: Path):
    (tmp_path / "blocked").write_text("a file where a folder should be")
    first = tmp_path / "archive" / "a.pdf"
    with pytest.raises(OSError):
        atomic_write_all([(first, b"%PDF-a"), (tmp_path / "blocked" / "b.pdf", b"%PDF-b")])
    assert not first.exists()  # data is made durable first, and renamed only once every file was written
    assert not [p for p in tmp_path.rglob(".*.tmp")]


def test_a_file_already_there_is_replaced_whole(tmp_path: Path):
    target = tmp_path / "a.json"
    target.write_bytes(b"old")
    atomic_write_all([(target, b'{"new": true}\n')])
    assert target.read_bytes() == b'{"new": true}\n'

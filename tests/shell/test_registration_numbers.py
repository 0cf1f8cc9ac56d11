"""Issue 11 #9: receipts, notices and refusals carry the office's registration number — a journal sequence per
office and year (pipeline/journal/store.py, next_registration_number; migration 0004) — never an internal id.
Real journal, real renders (the demo's examples through the runner)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from forms.catalogue import registration
from pipeline.config import Config
from pipeline.journal import Journal, store
from pipeline.runner import Runner


def test_the_sequence_is_per_office_and_year_and_survives_a_new_transaction(tmp_path: Path):
    journal = Journal(f"sqlite:///{tmp_path / 'journal.sqlite'}")
    with journal.tx() as conn:
        assert [store.next_registration_number(conn, "PSC-7", 2026) for _ in range(3)] == [1, 2, 3]
        assert store.next_registration_number(conn, "PSC-7", 2027) == 1
        assert store.next_registration_number(conn, "EDU-1", 2026) == 1
    with journal.tx() as conn:
        assert store.next_registration_number(conn, "PSC-7", 2026) == 4
    try:
        with journal.tx() as conn:
            store.next_registration_number(conn, "PSC-7", 2026)
            raise RuntimeError("rolled back")
    except RuntimeError:
        pass
    with journal.tx() as conn:  # a rolled-back number is given again: no gap
        assert store.next_registration_number(conn, "PSC-7", 2026) == 5
    journal.close()


def test_receipts_and_refusals_print_the_offices_number_never_the_internal_id(demo: Path):
    runner = Runner(Config.load(demo / "qamqor.toml"))
    runner.run_once(settle=False)
    fmt, kinds = registration()
    docs = [d for d in store.all_documents(runner.journal) if d.kind in kinds]
    assert docs, "the demo issues receipts or refusals"
    pattern = re.escape(fmt).replace(re.escape("{office}"), "(?P<office>.+)").replace(
        re.escape("{year}"), r"(?P<year>\d{4})").replace(re.escape("{seq:05d}"), r"(?P<seq>\d{5})")
    for doc in docs:
        if doc.pdf_path is None:
            continue
        m = re.fullmatch(pattern, doc.number or "")
        assert m and m["office"] == doc.office, (doc.document_id, doc.number)
        text = subprocess.run(["pdftotext", "-raw", doc.pdf_path, "-"], capture_output=True, text=True,
                              check=True).stdout.replace("\u00a0", " ")
        assert f"№ {doc.number}" in text
        assert f"№ {doc.document_id}" not in text
    # a second render of the same document keeps its number (given once, stored as the document's number)
    first = {d.document_id: d.number for d in docs}
    runner.run_once(settle=False)
    assert {d.document_id: d.number for d in store.all_documents(runner.journal) if d.kind in kinds} == first
    runner.close()

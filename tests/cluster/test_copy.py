"""Growing out of SQLite (issue 10 #5): `qamqor journal copy --to URL` moves a worked SQLite journal into a real
PostgreSQL, idempotently, with the counts verified; the installation then carries on on PostgreSQL."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from pipeline.journal import Journal, store
from tests.cluster.conftest import NOW
from tests.conftest import qamqor

ENV = {"QAMQOR_NOW": NOW}


@pytest.mark.slow
def test_journal_copy_moves_everything_once_and_the_installation_carries_on(demo: Path, pg):
    first = sorted(p for p in (demo / "inbox").iterdir())
    later = first[len(first) // 2:]
    aside = demo / "later"
    aside.mkdir()
    for p in later:
        p.rename(aside / p.name)
    qamqor(demo, "run", "--once", env=ENV, check=True)
    lite = Journal(f"sqlite:///{demo / 'var' / 'journal.sqlite'}", create=False)
    before_docs = {d.document_id: d.status for d in store.all_documents(lite)}
    before_inputs = len(store.all_inputs(lite))
    lite.close()
    assert before_docs

    url = pg.createdb(f"c_{uuid.uuid4().hex[:10]}")
    copied = qamqor(demo, "journal", "copy", "--to", url, env=ENV, check=True)
    assert "documents" in copied.stdout and "fewer rows" not in copied.stderr
    again = qamqor(demo, "journal", "copy", "--to", url, env=ENV, check=True)  # idempotent: nothing added
    assert all(line.endswith("(0 added)") for line in again.stdout.splitlines() if "in the source" in line)

    target = Journal(url, create=False)
    assert {d.document_id: d.status for d in store.all_documents(target)} == before_docs
    assert len(store.all_inputs(target)) == before_inputs
    target.close()

    # the installation moves over and carries on: the rest of the examples, on PostgreSQL
    with open(demo / "qamqor.toml", "a", encoding="utf-8") as fh:
        fh.write(f'\n[journal]\nurl = "{url}"\n')
    for p in later:
        (aside / p.name).rename(demo / "inbox" / p.name)
    qamqor(demo, "run", "--once", "--node", "n1", env=ENV, check=True)
    target = Journal(url, create=False)
    inputs = store.all_inputs(target)
    assert len(inputs) == len(first) and len({i.original_name for i in inputs}) == len(first)
    target.close()

"""The journal's schema comes from Alembic migrations, and they agree with the tables the code uses."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from pipeline import journal as J
from pipeline.journal import store


def test_migrations_build_exactly_the_tables_the_code_uses(tmp_path: Path):
    j = J.Journal(f"sqlite:///{tmp_path / 'journal.sqlite'}")
    with j.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), J.metadata)
        assert diff == [], diff
        assert MigrationContext.configure(conn).get_current_revision() == "0008"
    names = set(inspect(j.engine).get_table_names())
    assert {"inputs", "events", "case_log", "cases", "deadlines", "documents", "deliveries", "steps"} <= names
    # and the store reads the empty journal the migrations made
    assert store.all_inputs(j) == [] and store.all_documents(j) == [] and store.document_counts(j) == {}
    j.close()


def test_opening_twice_is_harmless_and_wal_is_on(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'journal.sqlite'}"
    J.Journal(url).close()
    j = J.Journal(url)
    with j.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    j.close()

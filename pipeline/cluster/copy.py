"""Growing out of SQLite (issue 10 #5): ``qamqor journal copy --to URL`` moves an installation's SQLite journal
into PostgreSQL — every table the migrations made (inputs, events, cases, documents, deliveries, deadlines, the
steps that anchor the audit head, …) — idempotently, and verifies the counts.

The target's schema is brought to the newest migration first (the same Alembic tree).  Rows are copied table by
table in the foreign keys' order; a row whose key is already there is left as it is, so a copy interrupted half
way is simply run again.  Tables with a generated id (steps, case_log) keep their ids, and PostgreSQL's sequences
are moved past them, so new rows never collide.  Stop ``qamqor run`` first: the source must not change meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, inspect, select, text

from ..journal import Journal, metadata

CHUNK = 2000


@dataclass(frozen=True)
class Copied:
    table: str
    source: int
    target: int
    added: int

    @property
    def ok(self) -> bool:
        return self.target >= self.source


def copy_journal(source: Journal, target: Journal) -> list[Copied]:
    from sqlalchemy.dialects.postgresql import insert as pg_insert

    out = []
    have = set(inspect(source.engine).get_table_names())
    for table in metadata.sorted_tables:
        if table.name not in have:
            continue
        keys = [c for c in table.primary_key.columns]
        with source.engine.connect() as src, target.engine.begin() as dst:
            before = dst.execute(select(func.count()).select_from(table)).scalar_one()
            rows = src.execute(select(table).order_by(*keys)).mappings()
            while batch := rows.fetchmany(CHUNK):
                stmt = pg_insert(table).values([dict(r) for r in batch]).on_conflict_do_nothing()
                dst.execute(stmt)
            after = dst.execute(select(func.count()).select_from(table)).scalar_one()
            for column in table.columns:
                if column.primary_key and column.autoincrement is True or (
                        column.primary_key and len(keys) == 1 and str(column.type) == "INTEGER"):
                    dst.execute(text(f"SELECT setval(pg_get_serial_sequence('{table.name}', '{column.name}'), "
                                     f"GREATEST((SELECT COALESCE(MAX({column.name}), 0) FROM {table.name}), 1))"))
        with source.engine.connect() as src:
            n = src.execute(select(func.count()).select_from(table)).scalar_one()
        out.append(Copied(table.name, n, after, after - before))
    return out

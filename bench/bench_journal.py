"""What one journal statement costs the process that runs it, SQLite against PostgreSQL (issue 10), on demand:
``.venv/bin/python bench/bench_journal.py``.

The node's own CPU per document is mostly its journal's statements (about 80 a document: ``bench_cluster.py
--statements``).  This prints, for the journal as qamqor opens it (:class:`pipeline.journal.Journal`: SQLite in
WAL mode on a local file; PostgreSQL on 127.0.0.1 in a throwaway cluster, as the tests start it), the client's
CPU (``time.process_time``, medians of ``--rounds``) of one transaction with one write, of each further
statement in it, and of a read outside a transaction; and for PostgreSQL the server's CPU per statement (its
backends' CPU from /proc over the same loop).

    --n 2000 (statements a round) · --rounds 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def server_cpu() -> float:
    """CPU seconds so far of every PostgreSQL process on this machine."""
    from bench_cluster import processes

    return sum(cpu for _, comm, cpu in processes().values() if comm.startswith("postgres"))


def measure(journal, n: int, marker: str) -> dict[str, float]:
    """Microseconds of client CPU: a transaction with one write, one more statement in it, an autocommit read;
    and of server CPU per statement of the two-statement loop."""
    write = f"UPDATE bench_rows SET value = value + 1 WHERE name = {marker}"
    read = f"SELECT value FROM bench_rows WHERE name = {marker}"
    arg = {"name": "a"} if marker.startswith("%") else ("a",)
    clock = time.process_time
    t = clock()
    for _ in range(n):
        with journal.tx() as conn:
            conn.exec_driver_sql(write, arg)
    one = (clock() - t) / n * 1e6
    s0, t = server_cpu(), clock()
    for _ in range(n):
        with journal.tx() as conn:
            conn.exec_driver_sql(write, arg)
            conn.exec_driver_sql(read, arg).scalar()
    two = (clock() - t) / n * 1e6
    server = (server_cpu() - s0) / (2 * n) * 1e6
    t = clock()
    for _ in range(n):
        with journal.reads.connect() as conn:
            conn.exec_driver_sql(read, arg).scalar()
    alone = (clock() - t) / n * 1e6
    return {"tx": one, "statement": two - one, "read": alone, "server": server}


def prepare(journal) -> None:
    with journal.tx() as conn:
        conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS bench_rows (name VARCHAR PRIMARY KEY, value INTEGER)")
        conn.exec_driver_sql("DELETE FROM bench_rows")
        conn.exec_driver_sql("INSERT INTO bench_rows VALUES ('a', 0)")


def main() -> None:
    from pipeline.journal import Journal
    from tests.pgserver import PgServer

    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="qamqor-journal-bench-"))
    sqlite = Journal(f"sqlite:///{folder / 'journal.sqlite'}")
    pg = PgServer().init().start()
    try:
        postgres = Journal(pg.createdb("bench"))
        prepare(sqlite)
        prepare(postgres)
        results: dict[str, list[dict[str, float]]] = {"SQLite": [], "PostgreSQL": []}
        for _ in range(args.rounds):  # interleaved: the machine's state is the same for both
            results["SQLite"].append(measure(sqlite, args.n, "?"))
            results["PostgreSQL"].append(measure(postgres, args.n, "%(name)s"))
        print(f"journal statements, client CPU in µs, medians of {args.rounds} rounds of {args.n} "
              f"(load {os.getloadavg()[0]:.1f}):")
        print(f"{'':12} {'tx + 1 write':>13} {'+1 statement':>13} {'read alone':>11} {'server/statement':>17}")
        for label, rows in results.items():
            med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
            server = f"{med['server']:.0f}" if label == "PostgreSQL" else "(in process)"
            print(f"{label:12} {med['tx']:13.0f} {med['statement']:13.0f} {med['read']:11.0f} {server:>17}")
        postgres.close()
    finally:
        sqlite.close()
        pg.destroy()


if __name__ == "__main__":
    main()

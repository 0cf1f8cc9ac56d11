"""The journal: every input, event, case, document, delivery and step, in SQLite (WAL) through SQLAlchemy Core.

SQLite is the embedded default; the same tables run on PostgreSQL later (``research/scale-out.md``), so the
schema goes through Alembic migrations (``pipeline/journal/migrations``) and the code through SQLAlchemy Core only.
A step is recorded *before* its effect on disk; the runner's recovery reads the journal and finishes (or redoes,
idempotently) whatever a crash interrupted.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, insert

from .tables import case_log, cases, deadlines, deliveries, documents, events, inputs, metadata, steps


def now_utc() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")  # a step is on disk before its effect
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


#: PostgreSQL: a pooled connection idle longer than this is pinged before it is handed out
PING_AFTER_IDLE = 1.0


def _ping_when_idle(engine: Engine) -> None:
    """Issue 10: a connection that died with a server restart is replaced, not handed out — as ``pool_pre_ping``
    does, but only for a connection idle over :data:`PING_AFTER_IDLE` seconds (pinging each checkout was a round
    trip per statement).  One used just before a restart fails its statement, and SQLAlchemy then replaces every
    connection of the pool; the job is retried from the journal."""
    import time

    from sqlalchemy import exc

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop("idle_since", None)
        if since is None or time.monotonic() - since < PING_AFTER_IDLE:
            return  # new, or used a moment ago
        try:
            engine.dialect.do_ping(dbapi)
        except Exception as err:  # noqa: BLE001 - any failure: the pool replaces this connection
            raise exc.DisconnectionError(str(err)) from err


MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision."""
    from alembic import command
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # several nodes starting at once: one upgrades, the others wait and then find the schema current
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7355608)")
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


class Journal:
    """A handle on the journal database.  Cheap to open; one per process."""

    #: a transaction's last applied event's place (``conn.info``), kept by :meth:`tx` for its transaction only
    SEQ = "last_seq"

    def __init__(self, url: str, *, create: bool = True, audit: Any = None,
                 idle_in_transaction: float | None = None):
        self.audit = audit  # pipeline.audit.AuditLog: every step is also appended there after its commit
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        # PostgreSQL: a node's jobs run in threads (2 × workers + 1), each may hold a transaction and a read at
        # once; room for them all, so an overflow connection (a server backend opened and closed) stays rare
        postgresql = url.startswith("postgresql")
        options: dict[str, Any] = {"pool_size": 20, "max_overflow": 20} if postgresql else {}
        if idle_in_transaction and postgresql:
            # PostgreSQL ends a session idle inside a transaction this long (a process frozen or stopped mid-way):
            # its locks would otherwise wait for it, however long (issue 10: a frozen node's fencing token)
            ms = max(1, round(idle_in_transaction * 1000))
            options["connect_args"] = {"options": f"-c idle_in_transaction_session_timeout={ms}"}
        self.engine = create_engine(url, future=True, **options)
        #: what reads outside a transaction use (:func:`.rows._reading`): on PostgreSQL in autocommit, one round
        #: trip per read instead of BEGIN, the read and ROLLBACK (issue 10: round trips were most of a node's CPU)
        self.reads: Engine = self.engine
        if self.engine.dialect.name == "postgresql":
            _ping_when_idle(self.engine)
            self.reads = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        #: PostgreSQL (pipeline/cluster/fencing.py): asked as each transaction starts; None, or a statement without
        #: parameters that goes with the transaction's BEGIN in one round trip and the check of the row it reads
        #: (the work the transaction writes for is still this node's, its token locked until the commit)
        self.opening: Callable[[], tuple[str, Callable[[Any], None]] | None] | None = None
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        open_guarded(self, create=create)  # #14.3, #14.19, #14.22: a past it lost, a folder it cannot write

    @contextmanager
    def tx(self) -> Iterator[Connection]:
        pending: list[dict[str, Any]] = []
        with self._begin() as conn:
            info = conn.info  # not asked again at the end: a connection the server closed has none to give
            info["audit"] = pending
            info["steps"] = written = []
            info[self.SEQ] = 0  # none given yet in this transaction (store._next_seq)
            try:
                yield conn
                if written:  # the transaction's steps in one statement, just before its commit (issue 10)
                    conn.execute(insert(steps), written)
            finally:
                info.pop("audit", None)
                info.pop("steps", None)
                info.pop(self.SEQ, None)
        if pending and self.audit is not None:
            self.audit.append(pending)

    @contextmanager
    def _begin(self) -> Iterator[Connection]:
        opening = self.opening() if self.opening is not None else None
        if opening is None:
            with self.engine.begin() as conn:
                yield conn
            return
        # issue 10: the driver sends a transaction's BEGIN on its own, a round trip per transaction; here the BEGIN
        # is ours, sent with the opening statement, and the connection (in autocommit) runs the rest inside it.
        # Commit and rollback go to the server as usual: the driver sees the transaction open.
        sql, check = opening
        with self.reads.connect() as conn, conn.begin():
            with conn.connection.dbapi_connection.cursor() as cur:
                cur.execute(f"BEGIN; {sql}")
                cur.nextset()
                check(cur.fetchone())
            yield conn

    def close(self) -> None:
        self.engine.dispose()

    # --- steps -------------------------------------------------------------------------------------------------

    @staticmethod
    def step(conn: Connection, subject: str, name: str, **detail: Any) -> None:
        Journal.steps(conn, [(subject, name, detail)])

    @staticmethod
    def steps(conn: Connection, entries: Iterable[tuple[str, str, dict[str, Any]]]) -> None:
        """Journal steps (subject, name, detail), and hand them to the audit log.  Inside :meth:`tx` they are
        written with the transaction's other steps in one statement as it commits (nothing reads a step in the
        transaction that wrote it; on PostgreSQL each statement is a round trip), in the order they were taken."""
        at = now_utc()
        entries = list(entries)
        if not entries:
            return
        rows = [{"at": at, "subject": subject, "step": name,
                 "detail": json.dumps(detail, ensure_ascii=False, default=str) if detail else None}
                for subject, name, detail in entries]
        written = conn.info.get("steps")
        if written is not None:
            written.extend(rows)
        else:
            conn.execute(insert(steps), rows)
        pending = conn.info.get("audit")
        if pending is not None:
            pending.extend({"at": at, "subject": subject, "step": name, "detail": detail or None}
                           for subject, name, detail in entries)


# --- opening safely (#14.3, #14.19, #14.22) ---------------------------------------------------------------------

#: the remedy for a journal that is lost or damaged
RESTORE = ("restore journal.sqlite (with its -wal file) from the last backup and run again; to start anew on "
           "purpose, move the state folder's audit.jsonl, audit.head and work/ aside first")


def open_guarded(journal: Journal, *, create: bool) -> None:
    """Open the journal (bringing its schema up to date when ``create``), refusing what would lose or corrupt
    state with a typed error and a remedy: a state folder or work folder it cannot write, a damaged file, and a
    journal that is empty although the state folder says it had a past (the audit log's head, the kept inputs) —
    taken for a new one, it would issue delivered documents again with new bytes.  State files are made private
    to the service's user (0600, folders 0700): they hold children's personal data."""
    from sqlalchemy.exc import DatabaseError, OperationalError

    from ..errors import JournalDamaged, StateError
    from . import store

    state = Path(journal.audit.path).parent if journal.audit is not None else None
    if journal.audit is not None:
        journal.audit.bind(journal)  # the journal's steps anchor the audit chain (#14.9)
    db = Path(str(journal.engine.url.database)) if journal.engine.dialect.name == "sqlite" else None
    if state is not None:
        for folder in (state, state / "work", *sorted(p for p in (state / "work").glob("*") if p.is_dir())):
            if folder.is_dir() and not os.access(folder, os.W_OK | os.X_OK):
                raise StateError(f"{folder} is not writable by this user",
                                 remedy="give the service's user write access to the state folder (and its work/ "
                                        "folders), or point [paths] state at a writable one")
            if folder != state and folder.is_dir():
                os.chmod(folder, 0o700)
    if db is not None and db.parent.is_dir():
        if not db.exists():
            os.close(os.open(db, os.O_WRONLY | os.O_CREAT, 0o600))  # before SQLite makes it with the umask's mode
        for f in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm"),
                  *((state / "audit.jsonl", state / "audit.head") if state is not None else ())):
            if f.exists():
                os.chmod(f, 0o600)
    try:
        if create:
            migrate(journal.engine)
        if state is None or (db is not None and not db.exists()):
            return
        past = _past(state)
        if past and not store.has_past(journal):
            raise JournalDamaged(f"the journal {db or journal.engine.url} is empty, but {past}: it lost its past",
                                 remedy=RESTORE)
    except OperationalError as exc:
        if db is None:
            raise
        text = str(exc.orig)
        if "readonly" in text or "unable to open" in text:
            raise StateError(f"the journal {db} cannot be written ({text})",
                             remedy="give the service's user write access to the state folder and the journal, or "
                                    "run on a writable state folder") from None
        raise JournalDamaged(f"the journal {db} cannot be read ({text})", remedy=RESTORE) from None
    except DatabaseError as exc:
        if db is None:
            raise
        raise JournalDamaged(f"the journal {db} is damaged ({exc.orig})", remedy=RESTORE) from None


def _past(state: Path) -> str:
    """What in the state folder says a journal has been kept there (empty: nothing)."""
    said = []
    head = state / "audit.head"
    try:
        seq = int(head.read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        seq = 0
    if seq:
        said.append(f"the audit head is at {seq}")
    elif (state / "audit.jsonl").exists() and (state / "audit.jsonl").stat().st_size:
        said.append("the audit log has entries")
    inputs = state / "work" / "inputs"
    kept = sum(1 for n in os.listdir(inputs) if not n.startswith(".")) if inputs.is_dir() else 0
    if kept:
        said.append(f"{kept} inputs are kept in {inputs}")
    return " and ".join(said)


__all__ = [
    "Journal", "metadata", "inputs", "events", "case_log", "cases", "deadlines", "documents", "deliveries",
    "steps", "now_utc", "migrate",
]

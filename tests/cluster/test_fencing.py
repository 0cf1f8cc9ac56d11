"""Fencing tokens and shared desk state on a real PostgreSQL journal (issue 10 #2, #4): no processes, two
"nodes" as two handles on the same database."""

from __future__ import annotations

import threading
import uuid

import pytest

from pipeline.cluster import fencing
from pipeline.errors import FencedOut
from pipeline.journal import Journal, store


@pytest.fixture
def two(pg):
    url = pg.createdb(f"f_{uuid.uuid4().hex[:10]}")
    a, b = Journal(url), Journal(url, create=False)
    fencing.install(a)
    fencing.install(b)
    yield a, b
    a.close()
    b.close()


def _in_thread(fn):
    """Run ``fn`` in its own thread (a fence is held per thread, as each job runs in its own)."""
    out: dict = {}

    def run():
        try:
            out["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            out["error"] = exc

    t = threading.Thread(target=run)
    t.start()
    t.join(60)
    if "error" in out:
        raise out["error"]
    return out.get("value")


def test_a_stale_holder_can_commit_nothing_the_new_holder_can(two):
    a, b = two
    with fencing.fenced(a, "doc:X", "node-a") as token_a:
        # meanwhile the reaper gave the job to another node, which took the work over
        token_b = _in_thread(lambda: _take(b, "doc:X", "node-b"))
        assert token_b == token_a + 1
        with pytest.raises(FencedOut, match="taken over"):
            with a.tx() as conn:
                store.note_error(conn, "doc:X", "the stale node's write")
        assert not fencing.still_mine(a)
    with a.engine.connect() as conn:  # the new holder's write is there, the stale one's is not
        from sqlalchemy import select

        from pipeline.journal.tables import steps

        written = [r.detail for r in conn.execute(select(steps).where(steps.c.subject == "doc:X"))]
    assert len(written) == 1 and "new holder" in written[0], written


def _take(journal, name, holder):
    with fencing.fenced(journal, name, holder) as token:
        with journal.tx() as conn:  # the new holder's write commits
            store.note_error(conn, "doc:X", "the new holder's write")
        return token


def test_tokens_taken_at_once_are_all_different(two):
    a, _ = two
    tokens: list[int] = []
    lock = threading.Lock()

    def take():
        with a.tx() as conn:
            t = store.take_fence(conn, "scan", threading.current_thread().name)
        with lock:
            tokens.append(t)

    threads = [threading.Thread(target=take) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(tokens) == list(range(1, 13))


def test_a_prepared_signature_is_taken_once_by_any_desk_process(two, monkeypatch):
    """Two desk processes share the journal: the one that finishes need not be the one that prepared, and a
    token is taken once only."""
    from pipeline.web.external import Prepared, PreparedStore

    a, b = two

    class FakePrepared:  # the store keeps PreparedSignature.to_bytes(); this stands in for the bytes only
        def to_bytes(self) -> bytes:
            return b'{"v": 1}'

    import signing

    monkeypatch.setattr(signing.PreparedSignature, "from_bytes", classmethod(lambda cls, data: data))
    desk_a, desk_b = PreparedStore(journal=a), PreparedStore(journal=b)
    desk_a.put(Prepared("tok-1", "head", "C-1-order", "ab" * 32, FakePrepared(), 0.0))
    with pytest.raises(Exception, match="unknown or expired"):
        desk_b.take("tok-1", "inspector-1")  # another officer cannot take it
    item = desk_b.take("tok-1", "head")
    assert (item.document_id, item.base_sha256, item.prepared) == ("C-1-order", "ab" * 32, b'{"v": 1}')
    with pytest.raises(Exception, match="unknown or expired"):
        desk_a.take("tok-1", "head")  # gone: signed once


def test_the_store_s_one_statement_writes_keep_their_rules_on_postgresql(pg):
    """#13's writes without a read before (a claim, an input's move, a new document's id) on PostgreSQL, where
    an INSERT's rowcount says nothing: the same check as on SQLite (tests/shell/test_journal.py)."""
    from tests.shell.test_journal import check_store_writes

    j = Journal(pg.createdb(f"w_{uuid.uuid4().hex[:10]}"))
    check_store_writes(j)
    j.close()


def test_a_take_over_while_a_holder_s_transaction_is_open_waits_for_its_commit(two):
    """The token is read and locked as a transaction opens (with its BEGIN, one round trip): a node that takes
    the work over meanwhile waits until that transaction ends, so the holder's commit is whole and before the
    take, and its next transaction is refused."""
    a, b = two
    taken: dict = {}
    with fencing.fenced(a, "doc:Y", "node-a") as token_a:
        with a.tx() as conn:
            store.note_error(conn, "doc:Y", "the holder's write")
            taker = threading.Thread(target=lambda: taken.update(token=_take_only(b, "doc:Y", "node-b")))
            taker.start()
            _wait_for_lock_wait(a)
            assert "token" not in taken  # the take waits on the row this transaction holds
        taker.join(60)
        assert taken["token"] == token_a + 1
        with pytest.raises(FencedOut, match="taken over"):
            with a.tx() as conn:
                store.note_error(conn, "doc:Y", "the stale node's write")
    with a.engine.connect() as conn:
        from sqlalchemy import select

        from pipeline.journal.tables import steps

        written = [r.detail for r in conn.execute(select(steps).where(steps.c.subject == "doc:Y"))]
    assert len(written) == 1 and "the holder's write" in written[0], written


def _take_only(journal, name, holder):
    with fencing.fenced(journal, name, holder) as token:
        return token


def _wait_for_lock_wait(journal, seconds: float = 30.0) -> None:
    """Until a session of the database waits on a row lock (polling pg_stat_activity, not sleeping blindly)."""
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with journal.reads.connect() as conn:
            waiting = conn.exec_driver_sql(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database()").scalar()
        if waiting:
            return
        time.sleep(0.02)
    raise AssertionError("no session waited on the fence's row")


def test_a_work_name_is_quoted_as_a_literal_in_the_opening_statement(two):
    """Document ids come from case events: one with quotes and a semicolon reads its own token, nothing more."""
    a, _ = two
    name = "doc:C-1'; DROP TABLE steps; --"
    with fencing.fenced(a, name, "node-a"):
        with a.tx() as conn:
            store.note_error(conn, name, "written under an odd name")
    with a.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM steps WHERE subject = %s", (name,)).scalar() == 1


def test_a_transaction_left_open_by_a_frozen_holder_is_ended_by_the_server_and_the_take_over_goes_on(pg):
    """A node frozen (SIGSTOP) inside a transaction holds its token's row; the server ends such a session after the
    stall timeout (``idle_in_transaction``, set from ``[cluster] stall_seconds``), so the node that takes the work
    over is not kept waiting for it, and the frozen holder's writes are lost, not committed."""
    from sqlalchemy.exc import DBAPIError

    url = pg.createdb(f"f_{uuid.uuid4().hex[:10]}")
    frozen, other = Journal(url, idle_in_transaction=1.0), Journal(url, create=False)
    fencing.install(frozen)
    try:
        with fencing.fenced(frozen, "doc:Z", "node-a"):
            with pytest.raises(DBAPIError):
                with frozen.tx() as conn:
                    store.note_error(conn, "doc:Z", "the frozen node's write")
                    token = _in_thread(lambda: _take_only(other, "doc:Z", "node-b"))  # waits ~1 s, then takes it
                    assert token == 2
                    store.note_error(conn, "doc:Z", "after it woke up")  # its session is gone
        with other.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM steps WHERE subject = 'doc:Z'").scalar() == 0
    finally:
        frozen.close()
        other.close()


def test_a_fenced_transaction_that_fails_half_way_leaves_nothing_and_one_that_ends_commits(two):
    """The BEGIN a fenced transaction sends itself: a failure after some writes rolls them all back, and the
    connection goes back to the pool usable; the next transaction commits."""
    a, _ = two
    with fencing.fenced(a, "doc:W", "node-a"):
        with pytest.raises(RuntimeError):
            with a.tx() as conn:
                store.note_error(conn, "doc:W", "written, then rolled back")
                raise RuntimeError("the job failed half-way")
        with a.tx() as conn:
            store.note_error(conn, "doc:W", "committed")
    with a.engine.connect() as conn:
        details = conn.exec_driver_sql("SELECT detail FROM steps WHERE subject = 'doc:W'").scalars().all()
        idle = conn.exec_driver_sql("SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction' "
                                    "AND datname = current_database()").scalar()
    assert len(details) == 1 and "committed" in details[0], details
    assert idle == 0  # no connection of the pool was left inside a transaction

"""The journal's schema comes from Alembic migrations, and they agree with the tables the code uses."""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import event, inspect

from pipeline import journal as J
from pipeline.config import Config
from pipeline.core.lifecycle import DocumentStatus, InputStatus
from pipeline.demo import EXAMPLES
from pipeline.journal import store
from pipeline.runner import Runner
from pipeline.services import Services
from pipeline.stages import accept, apply, claim
from pipeline.workers import InlineDispatcher


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


def test_claims_moves_and_document_ids_are_one_statement_each_and_keep_their_rules(tmp_path: Path):
    """#13: the store's writes without a read before each; what they refused before they still refuse (on
    PostgreSQL too: tests/cluster/test_fencing.py runs the same check)."""
    j = J.Journal(f"sqlite:///{tmp_path / 'journal.sqlite'}")
    check_store_writes(j)
    j.close()


def check_store_writes(j: J.Journal) -> None:
    import pytest

    from pipeline.core.case import DocumentRequest
    from pipeline.core.lifecycle import InputStatus
    from pipeline.errors import StateConflict

    with j.tx() as conn:
        assert store.record_input(conn, "in-1", original="a.json", sha256="00", size=2) is True
        assert store.record_input(conn, "in-1", original="again.json", sha256="11", size=3) is False
    (row,) = store.all_inputs(j)
    assert (row.original_name, row.status) == ("a.json", InputStatus.CLAIMED)  # the first claim stays
    with j.tx() as conn:
        store.mark_rejecting(conn, "in-1", {"code": "E-SCHEMA"})
    with pytest.raises(StateConflict, match="cannot go from rejecting to duplicate"), j.tx() as conn:
        store._set_input(conn, "in-1", InputStatus.DUPLICATE)
    assert store.get_input(j, "in-1").status == InputStatus.REJECTING
    request = DocumentRequest(case_id="C-1", kind="notice", language="kk", event_id="e-1",
                              signer_role="provider_seal", office="P-1", signers=(), routes=("cabinet",))
    with j.tx() as conn:  # the same document asked for three times: three documents, the id taken gets a suffix
        ids = [store._request_document(conn, request) for _ in range(3)]
    assert ids == ["C-1-notice", "C-1-notice-2", "C-1-notice-3"]
    assert {d.document_id for d in store.all_documents(j)} == set(ids)


def _burst(demo: Path, n: int) -> None:
    """``n`` complete portal applications in the inbox, settled."""
    for f in (demo / "inbox").iterdir():
        f.unlink()
    template = json.loads((EXAMPLES / "C-2026-0004" / "01-application.submitted.json").read_text())
    old = time.time() - 60
    for i in range(n):
        p = demo / "inbox" / f"B-{i:03d}.json"
        p.write_text(json.dumps(dict(template, event_id=str(uuid.uuid4()), case_id=f"B-{i:03d}")))
        os.utime(p, (old, old))


def test_a_document_its_worker_sealed_commits_twice_from_its_render_to_its_delivery(demo):
    """Issue 10: a notice sealed in its render worker is journaled rendered, signed and planned for delivery in one
    transaction (sign.store_sealed_render), and the delivery writes its files from that plan without planning
    them again; its registration number (issue 11 #9) was given as its event was applied, in the events' order.
    Two commits a document from its render to its delivery (four before: the number and the plan had a
    transaction each).  Every notice delivered to each of its routes, numbered 1, 2, 3, 4 of its office's year."""
    _burst(demo, 4)
    services = Services.build(Config.load(demo / "qamqor.toml"))
    runner = Runner(services)
    try:
        claim.claim(services, settle=True)
        accept.accept(services)
        apply.apply(services)
        ordered = store.all_documents(services.journal)
        assert ordered and all(d.status == DocumentStatus.ORDERED and d.signed_automatically for d in ordered)
        in_order = sorted(ordered, key=lambda d: store.get_event(services.journal, d.event_id).seq)  # as applied
        assert [d.number.rsplit("/", 1)[-1] for d in in_order] == ["00001", "00002", "00003", "00004"], \
            [d.number for d in in_order]
        commits = []
        event.listen(services.journal.engine, "commit", lambda conn: commits.append(1))
        runner.submit_renders()
        runner.harvest(block=True)
        docs = store.all_documents(services.journal)
        assert {d.status for d in docs} == {DocumentStatus.DELIVERED}
        assert {d.document_id: d.number for d in docs} == {d.document_id: d.number for d in ordered}
        for d in docs:
            rows = store.deliveries_of(services.journal, d.document_id)
            assert sorted(r.route for r in rows) == sorted(d.routes)
            assert all(Path(r.path).is_file() and Path(r.path).with_suffix(".json").is_file() for r in rows)
        assert len(commits) == 2 * len(docs), f"{len(commits)} commits for {len(docs)} documents"
    finally:
        runner.close()


def test_a_scan_journals_its_inputs_events_and_outcomes_in_one_transaction_each(demo):
    """Issue 10: claim, accept and apply each commit once for a scan's batch, not once per input: commits per
    document are what bound several nodes on one PostgreSQL (and each is a file sync on SQLite).  Twelve
    applications in, three commits for the scan, every event applied and every receipt ordered."""
    _burst(demo, 12)
    services = Services.build(Config.load(demo / "qamqor.toml"))
    commits = []
    event.listen(services.journal.engine, "commit", lambda conn: commits.append(1))
    try:
        assert claim.claim(services, settle=True) == 12
        accept.accept(services)
        apply.apply(services)
        assert len(commits) == 3, f"{len(commits)} commits for a scan of 12 inputs"
        inputs = store.all_inputs(services.journal)
        assert len(inputs) == 12 and {r.status for r in inputs} == {InputStatus.APPLIED}
        docs = store.all_documents(services.journal)
        assert len({d.case_id for d in docs}) == 12
    finally:
        services.close()


class _Recording(InlineDispatcher):
    """Renders in this process as if there were two workers, and notes how many inputs the journal had claimed
    when each render was handed over."""

    workers = 2

    def __init__(self, services: Services):
        self.services, self.claimed_at_submit = services, []

    def submit(self, fn, item):
        self.claimed_at_submit.append(len(store.all_inputs(self.services.journal)))
        return super().submit(fn, item)


def test_a_pass_hands_its_first_renders_over_before_it_claims_the_whole_backlog(demo):
    """Issue 13: the first step of a pass claims a handful of inputs (4 × workers), so the workers start on the
    first documents while the rest of a burst is claimed, accepted and applied; later steps take a batch.
    Twenty applications: the first render handed over when eight were claimed; all twenty notices delivered."""
    _burst(demo, 20)
    services = Services.build(Config.load(demo / "qamqor.toml"))
    dispatcher = _Recording(services)
    try:
        Runner(services, dispatcher=dispatcher).run_once()
        assert dispatcher.claimed_at_submit[0] == 8, dispatcher.claimed_at_submit
        assert len(dispatcher.claimed_at_submit) == 20
        docs = store.all_documents(services.journal)
        assert len(docs) == 20 and {d.status for d in docs} == {DocumentStatus.DELIVERED}, \
            sorted({d.status for d in docs})
    finally:
        services.close()


def test_at_b_b_the_demo_signs_without_starting_its_timestamp_and_ocsp_server(demo):
    """Issue 13: a B-B signature asks no TSA and (without ``check_revocation``) no OCSP, so the demo's run does not
    start (nor wait for) its certomancer server; every notice is still sealed and delivered.  At B-LTA (the
    demo's level) the runner starts it before its first render (`demo.needs_services`)."""
    import re

    from pipeline import demo as D

    toml = demo / "qamqor.toml"
    toml.write_text(re.sub(r'(?m)^level = ".*"$', 'level = "B-B"', toml.read_text()))
    D.stop_services()
    _burst(demo, 2)
    config = Config.load(toml)
    port = int(re.search(r":(\d+)/", config.signing.tsa_url).group(1))
    services = Services.build(config)
    try:
        Runner(services).run_once()
        assert D._services == {} and not D._listening(port), "the demo's server was started at B-B"
        docs = store.all_documents(services.journal)
        assert len(docs) == 2 and {d.status for d in docs} == {DocumentStatus.DELIVERED}
        assert all(d.signed_automatically for d in docs)
    finally:
        services.close()
    assert D.needs_services(Config.load(toml)) is False
    toml.write_text(re.sub(r'(?m)^level = ".*"$', 'level = "B-LTA"', toml.read_text()))
    assert D.needs_services(Config.load(toml)) is True

"""Several ``qamqor run`` nodes on one real PostgreSQL journal (issue 10): nodes SIGKILLed at random and
restarted, a node frozen past the stall timeout and woken, PostgreSQL itself restarted, two approvers at once —
and every input still has exactly one outcome, every document exactly one file per route, signed once, its
manifest matching its PDF, and the journal agreeing with the disk."""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from io import BytesIO
from pathlib import Path

import pytest

from pipeline.core.lifecycle import DeliveryStatus, DocumentStatus, InputStatus
from pipeline.journal import Journal, store
from tests.cluster.conftest import NOW, Nodes, burst, journal_url, wait_until
from tests.conftest import ROOT, qamqor

pytestmark = pytest.mark.slow
ENV = {"QAMQOR_NOW": NOW}


def _signatures(pdf: Path) -> int:
    from pyhanko.pdf_utils.reader import PdfFileReader

    sigs = PdfFileReader(BytesIO(pdf.read_bytes())).embedded_signatures
    return sum(1 for s in sigs if s.sig_object.get("/Type") != "/DocTimeStamp")  # an archive copy's B-LTA stamp


def delivered(root: Path, n_cases: list[str]) -> bool:
    from sqlalchemy.exc import DBAPIError

    j = Journal(journal_url(root), create=False)
    try:
        docs = {d.case_id: d for d in store.all_documents(j)}
        return all(c in docs and docs[c].status == DocumentStatus.DELIVERED for c in n_cases)
    except DBAPIError:
        return False  # the schema not made yet, or the server restarting
    finally:
        j.close()


def delivered_count(root: Path) -> int:
    from sqlalchemy.exc import DBAPIError

    j = Journal(journal_url(root), create=False)
    try:
        return store.document_counts(j).get(DocumentStatus.DELIVERED, 0)
    except DBAPIError:
        return 0  # the nodes have not made the schema yet
    finally:
        j.close()


def check_exactly_once(root: Path, *, expect_delivered: bool = True) -> Journal:
    """Every input one outcome; every document one file per route, signed once per field, manifest = PDF;
    no work or temporary file the journal does not name in the outbox."""
    j = Journal(journal_url(root), create=False)
    inputs = store.all_inputs(j)
    assert [f.name for f in (root / "inbox").iterdir() if not f.name.startswith(".")] == []
    assert Counter(r.original_name for r in inputs).most_common(1)[0][1] == 1, "an input was taken twice"
    assert {r.status for r in inputs} <= {InputStatus.APPLIED, InputStatus.REJECTED}
    docs = store.all_documents(j)
    assert len({(d.case_id, d.kind) for d in docs}) == len(docs), "a document was ordered twice"
    expected: Counter[str] = Counter()
    for d in docs:
        if expect_delivered:
            assert d.status == DocumentStatus.DELIVERED, (d.document_id, d.status, d.error)
        if d.status != DocumentStatus.DELIVERED:
            continue
        expected[d.document_id] += len(d.routes)
        # the work file the journal names is the one whose hash it journaled (a stale node's copy is elsewhere)
        assert hashlib.sha256(Path(d.pdf_path).read_bytes()).hexdigest() == d.pdf_sha256
        for row in store.deliveries_of(j, d.document_id):
            path = Path(row.path)
            assert row.status == DeliveryStatus.DONE and path.exists(), row
            if path.suffix == ".pdf":
                assert _signatures(path) == len(d.fields), (path, len(d.fields))
                manifest = json.loads(path.with_suffix(".json").read_text())
                assert manifest["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest() == d.pdf_sha256
    pdfs = Counter(p.name.removesuffix(".pdf") for p in (root / "outbox").rglob("*.pdf") if "rejected" not in p.parts)
    assert pdfs == expected, (pdfs - expected, expected - pdfs)
    assert [p for p in (root / "outbox").rglob(".*")] == []
    # each route of each document journaled as delivered once
    with j.engine.connect() as conn:
        from sqlalchemy import func, select

        from pipeline.journal.tables import steps

        twice = conn.execute(select(steps.c.subject, steps.c.detail, func.count()).where(steps.c.step == "delivered")
                             .group_by(steps.c.subject, steps.c.detail).having(func.count() > 1)).all()
    assert twice == [], twice
    return j


def test_the_demo_on_postgresql_gives_what_it_gives_on_sqlite(site: Path, demo_template: Path, tmp_path: Path):
    """One node on PostgreSQL (`qamqor run --once`) issues exactly the documents the embedded SQLite run does."""
    lite = tmp_path / "lite"
    shutil.copytree(demo_template, lite, symlinks=True)
    lite_run = qamqor(lite, "run", "--once", env=ENV, check=True)
    print("LITE", lite_run.stdout, lite_run.stderr[-3000:])
    pg = qamqor(site, "run", "--once", "--node", "n1", env=ENV, check=True)
    assert "node n1-" in pg.stdout

    def outputs(root: Path) -> list[str]:
        return sorted(str(p.relative_to(root / "outbox")) for p in (root / "outbox").rglob("*") if p.is_file())

    assert outputs(site) == outputs(lite) and outputs(site)
    check_exactly_once(site, expect_delivered=False).close()
    status = qamqor(site, "status", env=ENV, check=True)
    assert "n1-" in status.stdout, status.stdout  # the node, listed with its heartbeat


def test_three_nodes_killed_at_random_deliver_every_document_exactly_once(site: Path, nodes: Nodes):
    for f in (site / "inbox").iterdir():
        f.unlink()
    cases = burst(site, 45)
    from tests.pgserver import free_port

    port = free_port()
    nodes.start("n1", args=("--metrics-port", str(port)))  # the one never killed: its /metrics is read below
    for name in ("n2", "n3"):
        nodes.start(name)
    rng = random.Random(10)
    for _ in range(4):  # a node SIGKILLed at a random moment, started again
        victim = rng.choice(["n2", "n3"])
        time.sleep(rng.uniform(1.5, 4.0))
        nodes.kill(victim)
        nodes.start(victim)
    wait_until(lambda: delivered(site, cases), timeout=240, what="every notice delivered", on_fail=nodes.output)
    import urllib.request

    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    assert "qamqor_node_jobs_total" in text and "qamqor_node_heartbeat_timestamp_seconds" in text
    status = qamqor(site, "status", "--json", env=ENV, check=True)
    listed = json.loads(status.stdout)["nodes"]
    assert any(n["node"].startswith("n1-") and n["state"] == "alive" for n in listed), listed
    nodes.stop_all()
    check_exactly_once(site).close()


def test_a_node_frozen_past_the_stall_timeout_does_not_deliver_twice(site: Path, nodes: Nodes):
    """SIGSTOP a node in the middle of a render (its PDF written, not journaled); another node retries the job
    after the stall timeout and delivers; SIGCONT: the woken node's writes are fenced out."""
    for f in (site / "inbox").iterdir():
        f.unlink()
    cases = burst(site, 3)
    frozen = nodes.start("frozen", fault="rendered-written:1:stop")
    wait_until(lambda: Path(f"/proc/{frozen.pid}/stat").read_text().split(")")[1].split()[0] == "T",
               timeout=120, what="the node to freeze mid-render", on_fail=nodes.output)
    nodes.start("live")
    wait_until(lambda: delivered(site, cases), timeout=300, what="the other node to finish", on_fail=nodes.output)
    frozen.send_signal(signal.SIGCONT)  # it wakes up holding a stale token
    j = Journal(journal_url(site), create=False)
    wait_until(lambda: any(n["name"] == "frozen" and n["jobs_done"] >= 1 for n in store.list_nodes(j)),
               timeout=60, what="the woken node to finish its job", on_fail=nodes.output)
    nodes.stop_all()
    check_exactly_once(site).close()
    from sqlalchemy import func, select

    from pipeline.journal.tables import fences, steps

    with j.engine.connect() as conn:
        taken = conn.execute(select(fences.c.name, fences.c.value, fences.c.holder)
                             .where(fences.c.name.like("doc:%"))).all()
        rendered = dict(conn.execute(select(steps.c.subject, func.count()).where(steps.c.step == "rendered")
                                     .group_by(steps.c.subject)).all())
    # the frozen node's jobs were taken over (a token moved past the frozen node's first); once awake it may take
    # a token again for a job left in the queue, which then finds the document delivered and writes nothing
    assert any(t.value >= 2 for t in taken), taken
    assert set(rendered.values()) == {1}, rendered  # the woken node journaled no second render
    # the reaper acted: it retried the frozen node's jobs, or (procrastinate #1446) ended those whose work was
    # already deferred again and waiting
    assert "stalled on a dead or frozen node: retried" in nodes.output() or \
        "stalled on a dead or frozen node while the same work already waits: ended" in nodes.output()
    j.close()


def test_postgresql_restarted_mid_run_loses_and_doubles_nothing(site: Path, nodes: Nodes, pg):
    for f in (site / "inbox").iterdir():
        f.unlink()
    cases = burst(site, 30)
    nodes.start("n1")
    nodes.start("n2")
    wait_until(lambda: delivered_count(site) >= 3, timeout=120, what="the first deliveries", on_fail=nodes.output)
    pg.restart("fast")
    # every node's heartbeat lags while the server is away: the nodes must not take each other's running jobs
    # for stalled afterwards, nor leave a job whose fetch or end was lost (tests/cluster/test_heartbeat.py: the
    # node beats its stopping worker, keeps the lagging workers' rows, judges the others only once they had the
    # stall timeout to beat again, and retries what its own worker lost)
    wait_until(lambda: delivered(site, cases), timeout=240, what="every notice after the restart",
               on_fail=nodes.output)
    assert all(p.poll() is None for p in nodes.procs.values()), "a node died with the database restart"
    nodes.stop_all()
    check_exactly_once(site).close()


def test_two_approvers_at_once_one_killed_mid_batch_sign_each_document_once(site: Path):
    qamqor(site, "run", "--once", "--node", "n1", env=ENV, check=True)
    j = Journal(journal_url(site), create=False)
    queued = [d.document_id for d in store.queued_documents(j)]
    assert queued
    env = {**os.environ, "PYTHONPATH": str(ROOT), **ENV}
    cmd = [sys.executable, "-m", "pipeline.cli", "queue", "approve", "--all"]
    doomed = subprocess.Popen(cmd, cwd=site, env={**env, "QAMQOR_FAULT": "signed-written:2"},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    other = subprocess.Popen(cmd, cwd=site, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    doomed.communicate(timeout=300)
    out, _ = other.communicate(timeout=300)
    assert doomed.returncode == -signal.SIGKILL
    qamqor(site, "queue", "approve", "--all", env=ENV)  # what is left after the kill
    qamqor(site, "run", "--once", "--node", "n1", env=ENV, check=True)  # deliver
    for document_id in queued:
        d = store.get_document(j, document_id)
        assert d is not None and d.status == DocumentStatus.DELIVERED, (document_id, d and d.status, out)
        assert d.signatures_done == len(d.fields)
        assert _signatures(Path(d.pdf_path)) == len(d.fields)
    j.close()
    check_exactly_once(site).close()

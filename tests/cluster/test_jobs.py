"""The jobs a node's scan defers (issue 10 #2), on a real PostgreSQL and procrastinate's real tables, run in this
process without a worker: one job per document at a time, and the scan itself never renders or signs."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from pipeline.cluster import fencing, tasks
from pipeline.cluster.node import ensure_schema, make_app
from pipeline.config import Config
from pipeline.core.lifecycle import DocumentStatus
from pipeline.journal import store
from pipeline.services import Services
from pipeline.stages import render
from tests.cluster.conftest import NOW, burst


@pytest.fixture
def node(site: Path, monkeypatch):
    monkeypatch.setenv("QAMQOR_NOW", NOW)
    monkeypatch.chdir(site)
    for f in (site / "inbox").iterdir():
        f.unlink()
    services = Services.build(Config.load(site / "qamqor.toml"))
    fencing.install(services.journal)
    ensure_schema(services.journal)
    app = make_app(services.config.journal_url)
    saved = (tasks.here.services, tasks.here.app, tasks.here.node_id, tasks.here.dispatcher)
    tasks.here.services, tasks.here.app, tasks.here.node_id, tasks.here.dispatcher = services, app, "t-1", None
    with app.open():
        yield services
    tasks.here.services, tasks.here.app, tasks.here.node_id, tasks.here.dispatcher = saved
    services.close()


def jobs(services: Services) -> list[tuple[str, str, str]]:
    with services.journal.engine.connect() as conn:
        rows = conn.execute(text("SELECT task_name, lock, status FROM procrastinate_jobs "
                                 "WHERE task_name <> 'qamqor.scan' ORDER BY lock"))
        return [tuple(r) for r in rows]


def test_a_document_waiting_for_its_job_gets_no_second_one_and_the_scan_signs_nothing(node: Services):
    burst(node.config.root, 3)
    tasks.scan()
    docs = store.documents_in(node.journal, list(DocumentStatus))
    assert len(docs) == 3 and {d.status for d in docs} == {DocumentStatus.ORDERED}  # the scan rendered nothing
    expected = sorted(("qamqor.render", f"doc:{d.document_id}", "todo") for d in docs)
    assert jobs(node) == expected
    tasks.scan()  # again, while those jobs wait: nothing more is deferred
    assert jobs(node) == expected
    for d in docs:  # the render jobs, in this thread: rendered, sealed in the job, delivered
        tasks.render_document(d.document_id)
    assert {d.status for d in store.documents_in(node.journal, list(DocumentStatus))} == {DocumentStatus.DELIVERED}
    finish(node, "qamqor.render")
    tasks.scan()  # nothing left to render, seal or deliver: no job at all
    assert jobs(node) == []


def test_a_document_a_running_job_rendered_is_sealed_by_that_job_not_by_the_scan(node: Services):
    burst(node.config.root, 1)
    tasks.scan()
    (doc,) = store.documents_in(node.journal, [DocumentStatus.ORDERED])
    # the render job runs: its worker rendered and sealed the PDF, the job stored the render, not yet the seal
    with node.journal.engine.begin() as conn:
        conn.execute(text("UPDATE procrastinate_jobs SET status = 'doing' WHERE lock = :lock"),
                      {"lock": f"doc:{doc.document_id}"})
    result = render.run(render.job(node, doc, seal=True))
    assert result.signature is not None
    render.store_result(node, doc, result)
    tasks.scan()  # meanwhile: the scan leaves the document to its job
    assert store.get_document(node.journal, doc.document_id).status == DocumentStatus.RENDERED
    assert jobs(node) == [("qamqor.render", f"doc:{doc.document_id}", "doing")]
    # the job was lost (its node died) after the render: the next scan defers a seal job, which seals and delivers
    finish(node, "qamqor.render")
    tasks.scan()
    assert jobs(node) == [("qamqor.seal", f"doc:{doc.document_id}", "todo")]
    tasks.seal_document(doc.document_id)
    done = store.get_document(node.journal, doc.document_id)
    assert done.status == DocumentStatus.DELIVERED and len(done.signed_by) == 1


def test_the_scan_defers_its_jobs_in_one_batch_and_one_by_one_when_one_already_waits(node: Services):
    burst(node.config.root, 3)
    tasks.scan()  # three render jobs, deferred in one statement
    first, *others = sorted(d.document_id for d in store.documents_in(node.journal, [DocumentStatus.ORDERED]))
    with node.journal.engine.begin() as conn:
        # the first's job waits under its queueing lock but not its document's lock (the scan does not see it
        # held); the others' jobs are gone (their node died and they were pruned)
        conn.execute(text("UPDATE procrastinate_jobs SET lock = NULL WHERE lock = :lock"), {"lock": f"doc:{first}"})
        conn.execute(text("DELETE FROM procrastinate_jobs WHERE lock IS NOT NULL AND task_name = 'qamqor.render'"))
    tasks.scan()  # the batch of three hits the first's queueing lock: each deferred alone, the first refused
    with node.journal.engine.connect() as conn:
        rows = sorted(tuple(r) for r in conn.execute(text(
            "SELECT queueing_lock, lock FROM procrastinate_jobs WHERE task_name = 'qamqor.render'")))
    assert rows == sorted([(f"render:{first}", None)] + [(f"render:{d}", f"doc:{d}") for d in others])


def finish(services: Services, task: str) -> None:
    """As the worker ends a job (``delete_jobs="always"``), or as the reaper would after a node died."""
    with services.journal.engine.begin() as conn:
        conn.execute(text("DELETE FROM procrastinate_jobs WHERE task_name = :task"), {"task": task})


def test_the_scan_defers_no_render_before_its_next_attempt_and_no_seal_of_what_an_officer_signs(node: Services):
    burst(node.config.root, 3)
    tasks.scan()
    retry, officers, ready = sorted(d.document_id for d in store.documents_in(node.journal, [DocumentStatus.ORDERED]))
    finish(node, "qamqor.render")  # their jobs gone: the next scan decides again for each
    with node.journal.engine.begin() as conn:
        # a render that failed, its next attempt tomorrow; a document an officer is signing at the desk
        conn.execute(text("UPDATE documents SET next_attempt_at = '2027-01-09T12:00:00+05:00' WHERE document_id = :d"),
                     {"d": retry})
        conn.execute(text("UPDATE documents SET status = 'signing', signer_role = 'head' WHERE document_id = :d"),
                     {"d": officers})
    tasks.scan()
    assert jobs(node) == [("qamqor.render", f"doc:{ready}", "todo")]

"""Crash safety, proven (issue 5): the real ``qamqor`` process is killed with SIGKILL at every checkpoint
(``QAMQOR_FAULT``), started again, and every input still ends in exactly one outcome, every document exists
exactly once in each of its routes, signed exactly once, and the journal agrees with the disk."""

from __future__ import annotations

import json
import os
import signal
import time
from collections import Counter
from pathlib import Path

import pytest

from pipeline.core.lifecycle import DeliveryStatus, DocumentStatus, InputStatus
from pipeline.faults import CHECKPOINTS
from pipeline.journal import Journal, store
from tests.conftest import qamqor

ENV = {"QAMQOR_NOW": "2027-01-08T12:00:00+05:00"}
BROKEN = b'{"format": "qamqor.case-event/1", "event_id": "x", '


def _prepare(root: Path) -> None:
    # a PSC case from application to order (receipt, act with two inspectors, order, hand-off), a refused
    # package (refusal receipt), and one broken file (a rejection)
    for f in (root / "inbox").iterdir():
        if not (f.name.startswith("C-2026-0001") or f.name.startswith("C-2026-0003")):
            f.unlink()
    broken = root / "inbox" / "broken.json"
    broken.write_bytes(BROKEN)
    os.utime(broken, (time.time() - 3600, time.time() - 3600))  # sitting there for an hour: not being written


def _run(root: Path, *args: str, fault: str | None = None) -> int:
    env = dict(ENV)
    if fault:
        env["QAMQOR_FAULT"] = fault
    return qamqor(root, *args, env=env).returncode


def _signature_count(pdf: Path) -> int:
    from io import BytesIO

    from pyhanko.pdf_utils.reader import PdfFileReader

    sigs = PdfFileReader(BytesIO(pdf.read_bytes())).embedded_signatures
    return sum(1 for s in sigs if s.sig_object.get("/Type") != "/DocTimeStamp")  # an archive copy's B-LTA stamp


def _check_exactly_once(root: Path) -> None:
    j = Journal(f"sqlite:///{root / 'var' / 'journal.sqlite'}", create=False)
    inputs = store.all_inputs(j)
    # every input ends in exactly one outcome; the inbox is empty
    assert [f.name for f in (root / "inbox").iterdir() if not f.name.startswith(".")] == []
    assert Counter(r.original_name for r in inputs).most_common(1)[0][1] == 1, "an input was taken twice"
    assert {r.status for r in inputs} <= {InputStatus.APPLIED, InputStatus.REJECTED}, {
        r.original_name: r.status for r in inputs}
    rejected_files = [p for p in (root / "outbox" / "rejected").rglob("*") if p.is_file() and not p.name.endswith(".error.json")]
    assert sorted(p.name for p in rejected_files) == sorted(r.original_name for r in inputs
                                                            if r.status == InputStatus.REJECTED)
    assert any((root / "outbox" / "rejected").rglob("broken.json")), "the broken input was not rejected"
    # every document once in each route, signed exactly once per field
    docs = store.all_documents(j)
    assert docs and all(d.status == DocumentStatus.DELIVERED for d in docs), {d.document_id: d.status for d in docs}
    assert len({(d.case_id, d.kind) for d in docs}) == len(docs), "a document was ordered twice"
    expected = Counter()
    for d in docs:
        fields = d.fields
        expected[d.document_id] += len(d.routes)
        for row in store.deliveries_of(j, d.document_id):
            path = Path(row.path)
            assert row.status == DeliveryStatus.DONE and path.exists(), row
            if path.suffix == ".pdf":
                assert _signature_count(path) == len(fields), (path, len(fields))
                manifest = json.loads(path.with_suffix(".json").read_text())
                import hashlib

                assert manifest["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    pdfs = Counter(p.name.removesuffix(".pdf") for p in (root / "outbox").rglob("*.pdf")
                   if "rejected" not in p.parts)
    assert pdfs == expected, (pdfs, expected)
    leftovers = [p for p in (root / "outbox").rglob(".*")]
    assert leftovers == []
    j.close()


@pytest.mark.slow
@pytest.mark.parametrize("step", CHECKPOINTS)
def test_sigkill_at_every_step_still_yields_exactly_once(demo: Path, step: str):
    _prepare(demo)
    killed = False
    # the run: claim, ingest, apply, render, auto-seal and deliver the receipts
    rc = _run(demo, "run", "--once", "--workers", "2", fault=step)
    killed |= rc == -signal.SIGKILL
    assert rc in (0, -signal.SIGKILL)
    assert _run(demo, "run", "--once", "--workers", "2") == 0
    # the officers: the act (two inspectors in turn) and the order
    rc = _run(demo, "queue", "approve", "--all", fault=step)
    killed |= rc == -signal.SIGKILL
    for _ in range(3):
        _run(demo, "queue", "approve", "--all")
    assert _run(demo, "run", "--once", "--workers", "2") == 0
    assert killed, f"the checkpoint {step} was never reached"
    _check_exactly_once(demo)


@pytest.mark.slow
def test_a_render_and_its_seal_are_journaled_together_or_not_at_all(demo: Path):
    """Issue 10: a document its render worker sealed is journaled rendered and signed in one transaction.  Killed
    once both work files are written but before that commit, the journal still has it ordered (never rendered
    without its seal, never naming a file it did not commit); the next run renders it again and delivers it once."""
    _prepare(demo)
    assert _run(demo, "run", "--once", "--workers", "1", fault="signed-written:1") == -signal.SIGKILL
    j = Journal(f"sqlite:///{demo / 'var' / 'journal.sqlite'}", create=False)
    docs = store.all_documents(j)
    statuses = Counter(d.status for d in docs)
    assert statuses[DocumentStatus.ORDERED] >= 1 and not statuses[DocumentStatus.RENDERED], statuses
    assert not statuses[DocumentStatus.SIGNED] and not statuses[DocumentStatus.DELIVERED], statuses
    written = {p.name for p in (demo / "var" / "work" / "documents").glob("*.pdf")}
    assert written, "the kill came before any work file was written"
    assert all(d.pdf_path is None for d in docs), "the journal names a work file of a render it did not commit"
    j.close()
    assert _run(demo, "run", "--once", "--workers", "2") == 0
    rc = _run(demo, "queue", "approve", "--all")
    for _ in range(3):
        _run(demo, "queue", "approve", "--all")
    assert rc == 0 and _run(demo, "run", "--once", "--workers", "2") == 0
    _check_exactly_once(demo)


def _children(pid: int) -> list[int]:
    found = []
    for p in filter(str.isdigit, os.listdir("/proc")):
        try:
            if int(Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(p))
        except (OSError, IndexError, ValueError):
            continue
    return found


def _running(pid: int) -> bool:
    """Alive and not a zombie waiting to be reaped."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.slow
def test_a_killed_runner_leaves_neither_its_forkserver_nor_its_render_workers(demo: Path):
    """SIGKILL gives ``qamqor run`` no chance to stop its render workers: its forkserver, and the workers it
    forked, must end by themselves, or each killed run would leave warm interpreters holding memory and the
    state folder (pipeline/workers.py ``die_with_parent``)."""
    import subprocess

    from tests.conftest import QAMQOR, ROOT

    env = {**os.environ, **ENV, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([*QAMQOR, "run", "--workers", "2"], cwd=demo, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        server, workers = None, []
        while time.monotonic() < deadline and len(workers) < 2:
            time.sleep(0.2)
            for child in _children(proc.pid):
                if b"multiprocessing.forkserver" in Path(f"/proc/{child}/cmdline").read_bytes():
                    server, workers = child, _children(child)
        assert server is not None and len(workers) == 2, "the runner's forkserver and its two workers"
        time.sleep(1)  # the workers warming or rendering the demo's documents
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(map(_running, [server, *workers])):
            time.sleep(0.1)
        assert [p for p in (server, *workers) if _running(p)] == []
    finally:
        proc.kill()
        proc.wait()

"""The pipeline end to end with real files, a real SQLite journal, real renders and real signatures.

In-process tests drive :class:`pipeline.runner.Runner` directly (inline dispatcher); the command-line tests
run ``qamqor`` in its own process.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from pipeline import queue as Q
from pipeline.config import Config
from pipeline.core.lifecycle import DeliveryStatus, DocumentStatus
from pipeline.errors import Busy
from pipeline.journal import store
from pipeline.locks import StateLock
from pipeline.runner import Runner
from tests.conftest import QAMQOR, ROOT, qamqor

PSC = "PSC-ALM-07"


def pipeline(root: Path) -> Runner:
    return Runner(Config.load(root / "qamqor.toml"))


def outbox_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root / "outbox")) for p in (root / "outbox").rglob("*") if p.is_file())


def approve_all(p: Runner) -> int:
    """What `queue approve --all` does in the demo: each pending document with the officer it needs."""
    s = p.services
    n = 0
    for _ in range(4):
        items = Q.pending(s)
        if not items:
            break
        for item in items:
            row = Q.get(s, item.document_id)
            if Q.waiting_for(s, row):
                continue
            Q.approve(s, item.document_id, Q.demo_officer(s, row), None)
            n += 1
    return n


@pytest.fixture(scope="module")
def processed(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's examples run once and every queued document approved (shared by read-only tests)."""
    root = tmp_path_factory.mktemp("processed") / "site"
    shutil.copytree(demo_template, root)
    old = os.getcwd()
    os.environ["QAMQOR_NOW"] = "2027-01-08T12:00:00+05:00"
    try:
        os.chdir(root)
        p = pipeline(root)
        p.run_once(settle=False)
        approve_all(p)
        p.run_once(settle=False)
        p.close()
    finally:
        os.chdir(old)
        os.environ.pop("QAMQOR_NOW", None)
    return root


def test_examples_reach_every_route(processed: Path):
    """¶4, ¶5, ¶7, ¶9, ¶12, ¶13, ¶16: each example's documents land in the routes of contract.md."""
    files = outbox_files(processed)
    assert not (processed / "inbox").exists() or not [f for f in os.listdir(processed / "inbox") if not f.startswith(".")]
    # ¶4 acceptance receipt and ¶5 refusal receipt at the PSC
    assert f"psc/{PSC}/C-2026-0001/C-2026-0001-acceptance_receipt.pdf" in files
    assert f"psc/{PSC}/C-2026-0003/C-2026-0003-refusal_receipt.pdf" in files
    # ¶7 notice and ¶9 refusal in the personal cabinet
    assert any(f.startswith("cabinet/") and f.endswith("C-2026-0002/C-2026-0002-acceptance_notice.pdf") for f in files)
    assert any(f.startswith("cabinet/") and f.endswith("C-2026-0004-portal_refusal.pdf") for f in files)
    # ¶11–13 order: cabinet, PSC, archive; ¶16 hand-off to the provider
    assert f"psc/{PSC}/C-2026-0001/C-2026-0001-order.pdf" in files
    assert any(f.startswith("cabinet/") and f.endswith("C-2026-0001/C-2026-0001-order.pdf") for f in files)
    assert any(f.startswith("archive/2027/01/C-2026-0001/") and f.endswith("-order.pdf") for f in files)
    assert any(f.startswith("provider/") and f.endswith("C-2026-0001-allowance-handoff.json") for f in files)
    # ¶11 reasoned refusal of the portal case goes to the cabinet and the archive, not to a PSC
    assert any(f.endswith("C-2026-0002-reasoned_refusal.pdf") and f.startswith("cabinet/") for f in files)
    assert not any(f.startswith("psc/") and "C-2026-0002" in f for f in files)
    # every PDF has its manifest; no temporary file is left
    for f in files:
        if f.endswith(".pdf"):
            assert f[:-4] + ".json" in files
    assert not [f for f in files if Path(f).name.startswith(".")]


def test_manifest_says_what_the_contract_says(processed: Path):
    path = next((processed / "outbox" / "psc" / PSC / "C-2026-0001").glob("C-2026-0001-order.json"))
    m = json.loads(path.read_text())
    pdf = path.with_suffix(".pdf").read_bytes()
    import hashlib

    assert m["sha256"] == hashlib.sha256(pdf).hexdigest()
    assert m["case_id"] == "C-2026-0001" and m["document"] == "order" and m["route"] == "psc"
    assert m["language"] in ("kk", "ru") and m["signature_level"] == "B-LTA"  # the demo's default (#12.6)
    assert m["signed_by"]["iin"] and m["signed_by"]["certificate_serial"] and m["signed_at"]
    assert m["source_event_id"]


def test_signed_outputs_validate_with_pdfsig(processed: Path):
    """Issue 4: a second validator that is not pyHanko calls every signature valid."""
    pdfs = sorted((processed / "outbox" / "archive").rglob("*.pdf"))
    assert len(pdfs) >= 6
    for pdf in pdfs:
        out = subprocess.run(["pdfsig", str(pdf)], capture_output=True, text=True)
        assert "Signature is Valid." in out.stdout, (pdf, out.stdout)
        assert "Signature is Invalid" not in out.stdout


def test_inspection_act_carries_both_inspectors(processed: Path):
    """¶10: the act is signed in turn by each inspector; both signatures stay valid."""
    act = next((processed / "outbox" / "archive").rglob("C-2026-0001-inspection_act.pdf"))
    out = subprocess.run(["pdfsig", str(act)], capture_output=True, text=True).stdout
    assert out.count("Signature is Valid.") == 2


def test_journal_agrees_with_disk(processed: Path):
    p = pipeline(processed)
    docs = store.all_documents(p.journal)
    assert docs
    for doc in docs:
        for d in store.deliveries_of(p.journal, doc.document_id):
            assert d.status == DeliveryStatus.DONE
            assert Path(d.path).exists(), d.path
        assert doc.status == DocumentStatus.DELIVERED, (doc.document_id, doc.status, doc.error)
    p.close()


def aged(path: Path, seconds: float = 3600) -> Path:
    """A file that has been sitting in the inbox for a while (not one a copier is still writing)."""
    old = time.time() - seconds
    os.utime(path, (old, old), follow_symlinks=False)
    return path


def test_bad_input_is_rejected_untouched_with_a_report(demo: Path):
    bad = b'{"format": "qamqor.case-event/1", "event_id": '
    broken = demo / "inbox" / "broken.json"
    broken.write_bytes(bad)
    p = pipeline(demo)
    p.run_once(settle=False)
    assert broken.exists(), "a fresh file that does not parse may still be being written: not taken yet"
    aged(broken)
    p.run_once(settle=False)
    folder = demo / "outbox" / "rejected" / "2027" / "01" / "08"
    assert (folder / "broken.json").read_bytes() == bad
    report = json.loads((folder / "broken.json.error.json").read_text())
    assert report["code"] == "E-JSON-SYNTAX" and report["where"]["line"] == 1 and report["remedy"]
    # the pipeline carried on with the good examples
    assert (demo / "outbox" / "psc" / PSC / "C-2026-0001" / "C-2026-0001-acceptance_receipt.pdf").exists()


def test_duplicate_changes_nothing_and_conflict_is_rejected(demo: Path):
    first = sorted((demo / "inbox").glob("C-2026-0003-*"))[0]
    original = first.read_bytes()
    p = pipeline(demo)
    p.run_once(settle=False)
    before = outbox_files(demo)
    (demo / "inbox" / "again.xml").write_bytes(original)  # the same event, same bytes
    p.run_once(settle=False)
    assert outbox_files(demo) == before
    changed = original.replace(b"</case_event>", b"<!-- changed --></case_event>")
    assert changed != original
    (demo / "inbox" / "changed.xml").write_bytes(changed)
    p.run_once(settle=False)
    report = json.loads(next((demo / "outbox" / "rejected").rglob("changed.xml.error.json")).read_text())
    assert report["code"] == "E-EVENT-CONFLICT"


def test_out_of_order_event_is_rejected_with_the_reason(demo: Path):
    """contract.md: an order before the inspection act is rejected like any other bad input."""
    for f in (demo / "inbox").glob("*"):
        if "C-2026-0001" in f.name and ("inspection" in f.name or "result" in f.name):
            f.unlink()
    p = pipeline(demo)
    p.run_once(settle=False)
    report = json.loads(next((demo / "outbox" / "rejected").rglob("*decision.made*.error.json")).read_text())
    assert report["code"] == "E-OUT-OF-ORDER" and "inspection act" in report["message"]


def test_temporary_names_are_never_read(demo: Path):
    for name in ("x.json.part", "y.json.tmp", ".z.json"):
        (demo / "inbox" / name).write_text("{")
    pipeline(demo).run_once(settle=False)
    left = sorted(os.listdir(demo / "inbox"))
    assert left == sorted(["x.json.part", "y.json.tmp", ".z.json"])


def test_symlink_is_refused_and_not_followed(demo: Path, tmp_path: Path):
    secret = tmp_path / "secret.json"
    secret.write_text('{"not": "yours"}')
    os.symlink(secret, demo / "inbox" / "link.json")
    pipeline(demo).run_once(settle=False)
    report = json.loads(next((demo / "outbox" / "rejected").rglob("link.json.error.json")).read_text())
    assert report["code"] == "E-FILE-TYPE"
    assert secret.read_text() == '{"not": "yours"}'


def test_oversized_file_is_refused(demo: Path):
    (demo / "inbox" / "huge.json").write_bytes(b" " * 2_000_001)
    pipeline(demo).run_once(settle=False)
    report = json.loads(next((demo / "outbox" / "rejected").rglob("huge.json.error.json")).read_text())
    assert report["code"] == "E-FILE-TOO-LARGE"


def test_second_run_on_the_same_state_refuses(demo: Path):
    config = Config.load(demo / "qamqor.toml")
    with StateLock(config.state):
        with pytest.raises(Busy):
            StateLock(config.state).acquire()
        proc = qamqor(demo, "run", "--once")
    assert proc.returncode == 9 and "E-BUSY" in proc.stderr


def test_officer_sees_only_own_role_and_office(demo: Path):
    p = pipeline(demo)
    p.run_once(settle=False)
    s = p.services
    config = p.config
    inspector = config.officer("inspector-1")
    head = config.officer("head")
    kinds_for_inspector = {i.kind for i in Q.pending(s, officer=inspector)}
    kinds_for_head = {i.kind for i in Q.pending(s, officer=head)}
    assert kinds_for_inspector == {"inspection_act"}
    assert kinds_for_head <= {"order", "reasoned_refusal"}
    order = next(i for i in Q.pending(s) if i.kind == "order")
    from pipeline.errors import StateConflict

    with pytest.raises(StateConflict):
        Q.approve(s, order.document_id, inspector, None)


def test_approval_is_bound_to_the_bytes(demo: Path):
    """Issue 4 ¶5: signing refuses when the bytes differ from those the officer approved."""
    import signing

    p = pipeline(demo)
    p.run_once(settle=False)
    s = p.services
    act = next(i for i in Q.pending(s) if i.kind == "inspection_act")
    with pytest.raises(signing.ApprovalMismatch):
        Q.approve(s, act.document_id, p.config.officer("inspector-1"), None, approved_sha256="0" * 64)
    assert Q.get(s, act.document_id).status == DocumentStatus.QUEUED


def test_rejection_by_officer_returns_the_document_and_the_step_reopens(demo: Path):
    """A returned order: the back office gets the reason, the case stays open, a corrected decision is taken."""
    p = pipeline(demo)
    p.run_once(settle=False)
    s = p.services
    order = next(i for i in Q.pending(s) if i.kind == "order")
    Q.reject(s, order.document_id, p.config.officer("head"), "номер приказа неверный")
    assert Q.get(s, order.document_id).status == DocumentStatus.REJECTED
    report = next((demo / "outbox" / "provider").rglob(f"{order.document_id}.returned.json"))
    assert json.loads(report.read_text())["reason"] == "номер приказа неверный"
    from pipeline.cases import load_case

    state = load_case(s.journal, s.rules, "C-2026-0001")
    assert state.status == "inspected" and state.deadline("decision").closed_on is None
    from pipeline.demo import EXAMPLES

    tree = json.loads(next((EXAMPLES / "C-2026-0001").glob("*decision.made.json")).read_text())
    tree["event_id"] = "0b0e0c0d-1111-4222-8333-444455556666"
    tree["data"]["order_number"] = "14-12/0124"
    (demo / "inbox" / "corrected.json").write_text(json.dumps(tree, ensure_ascii=False))
    p.run_once(settle=False)
    corrected = Q.get(s, "C-2026-0001-order-2")
    assert corrected.status == DocumentStatus.QUEUED and corrected.number == "14-12/0124"


def test_order_waits_for_the_act(demo: Path):
    """¶10–11: the head cannot sign the order while the inspectors have not signed the act."""
    from pipeline.errors import StateConflict

    p = pipeline(demo)
    p.run_once(settle=False)
    with pytest.raises(StateConflict, match="inspection act"):
        Q.approve(p.services, "C-2026-0001-order", p.config.officer("head"), None)
    assert Q.get(p.services, "C-2026-0001-order").status == DocumentStatus.QUEUED


def test_unclaimed_result_moves_to_provider_and_back(processed: Path, tmp_path: Path, monkeypatch):
    """¶14: a result not issued within a month goes to the provider with a transfer record; a request brings it
    back to the PSC within 1 working day."""
    root = tmp_path / "site"
    shutil.copytree(processed, root)
    monkeypatch.chdir(root)
    # the copy's journal names the original folders: rebase its paths
    monkeypatch.setenv("QAMQOR_NOW", "2027-02-20T10:00:00+05:00")
    from sqlalchemy import text

    p = pipeline(root)
    # test-only surgery on a copied journal (no store function rewrites paths, and none should)
    with p.journal.tx() as conn:
        for table, col in (("documents", "pdf_path"), ("deliveries", "path")):
            conn.execute(text(f"UPDATE {table} SET {col} = replace({col}, :old, :new)"),
                         {"old": str(processed), "new": str(root)})
    p.run_once(settle=False)
    order_at_psc = root / "outbox" / "psc" / PSC / "C-2026-0001" / "C-2026-0001-order.pdf"
    moved = next((root / "outbox" / "provider").rglob("C-2026-0001-order.pdf"))
    assert not order_at_psc.exists() and moved.exists()
    record = json.loads(next((root / "outbox" / "provider").rglob("C-2026-0001-order.transfer-provider.json")).read_text())
    assert record["paragraph"] == "¶14" and record["to"] == "provider"
    from pipeline.demo import EXAMPLES

    req = next((EXAMPLES / "later").rglob("*result.requested*"))
    shutil.copyfile(req, root / "inbox" / req.name)
    monkeypatch.setenv("QAMQOR_NOW", "2027-02-22T10:00:00+05:00")
    p.run_once(settle=False)
    assert order_at_psc.exists()
    p.close()


def test_audit_log_finds_an_edited_line(processed: Path, tmp_path: Path):
    from pipeline.audit import AuditLog

    log = tmp_path / "audit.jsonl"
    shutil.copyfile(processed / "var" / "audit.jsonl", log)
    shutil.copyfile(processed / "var" / "audit.head", tmp_path / "audit.head")
    assert AuditLog(log).verify() == []
    lines = log.read_text().splitlines()
    lines[3] = lines[3].replace('"step":"', '"step":"x', 1)
    log.write_text("\n".join(lines) + "\n")
    assert "line 4" in AuditLog(log).verify()[0]
    del lines[3]
    log.write_text("\n".join(lines) + "\n")
    assert AuditLog(log).verify()


@pytest.mark.slow
def test_command_line_end_to_end(demo: Path):
    """make run's path: `qamqor run --once`, `queue approve --all`, `status`, `deadlines`, `verify`."""
    env = {"QAMQOR_NOW": "2027-01-08T12:00:00+05:00"}
    run = qamqor(demo, "run", "--once", "--workers", "2", env=env, check=True)
    assert "inputs:" in run.stdout
    listed = qamqor(demo, "queue", "list", env=env, check=True)
    assert "inspection_act" in listed.stdout and "order" in listed.stdout
    approved = qamqor(demo, "queue", "approve", "--all", env=env, check=True)
    assert "0 failure(s)" in approved.stdout
    status = qamqor(demo, "status", "C-2026-0001", env=env, check=True)
    assert "order" in status.stdout and "delivered" in status.stdout
    board = qamqor(demo, "deadlines", "--json", env=env, check=True)
    rows = json.loads(board.stdout)
    assert all(set(r) >= {"case_id", "due", "working_days_left", "paragraph"} for r in rows)
    pdfs = [str(p) for p in (demo / "outbox" / "archive").rglob("*.pdf")]
    verified = qamqor(demo, "verify", *pdfs, "--json", env=env)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert qamqor(demo, "status", "NO-SUCH-CASE", env=env).returncode == 4
    audit = qamqor(demo, "audit", "verify", env=env)
    assert audit.returncode == 0 and "intact" in audit.stdout


def test_unrenderable_document_is_set_aside_and_the_rest_carries_on(demo: Path, monkeypatch):
    """A poison input is not retried forever: a name no shipped font can print fails its document three times,
    then it is set aside as failed, with the reason; every other document is delivered."""
    src = next((demo / "inbox").glob("C-2026-0004-01-*"))
    tree = json.loads(src.read_text())
    tree["event_id"] = "7d0c7a5e-0000-4000-8000-000000000001"
    tree["case_id"] = "C-POISON"
    tree["data"]["applicant"]["given_name"] = "王小明"
    (demo / "inbox" / "poison.json").write_text(json.dumps(tree, ensure_ascii=False))
    p = pipeline(demo)
    s = p.services
    p.run_once(settle=False)
    row = Q.get(s, "C-POISON-acceptance_notice")
    assert row.status == DocumentStatus.ORDERED and row.attempts == 1 and "王" in (row.error or "")
    assert (demo / "outbox" / "psc" / PSC / "C-2026-0001" / "C-2026-0001-acceptance_receipt.pdf").exists()
    for day in ("2027-01-09", "2027-01-10"):
        monkeypatch.setenv("QAMQOR_NOW", f"{day}T12:00:00+05:00")
        p.run_once(settle=False)
    row = Q.get(s, "C-POISON-acceptance_notice")
    assert row.status == DocumentStatus.FAILED and row.attempts == 3
    monkeypatch.setenv("QAMQOR_NOW", "2027-01-20T12:00:00+05:00")
    p.run_once(settle=False)
    assert Q.get(s, "C-POISON-acceptance_notice").attempts == 3  # not tried again
    assert not list((demo / "outbox").rglob("C-POISON-*.pdf"))
    Q.retry(s, "C-POISON-acceptance_notice")  # an operator asks for another try (after fixing the cause)
    assert Q.get(s, "C-POISON-acceptance_notice").status == DocumentStatus.ORDERED


def test_signed_order_page_is_rendered_for_a_person_to_look_at(processed: Path):
    """Issue 4 ¶6: a picture of a signed page of a real pipeline document, in the tests' artefacts."""
    pdf = next((processed / "outbox" / "archive").rglob("C-2026-0001-order.pdf"))
    out = ROOT / "tests" / "artefacts"
    out.mkdir(exist_ok=True)
    pages = int(next(line.split()[-1] for line in subprocess.run(["pdfinfo", str(pdf)], capture_output=True,
                                                                    text=True).stdout.splitlines()
                     if line.startswith("Pages:")))
    subprocess.run(["pdftoppm", "-r", "70", "-png", "-f", str(pages), "-l", str(pages), "-singlefile", str(pdf),
                    str(out / "pipeline-order-signed")], check=True)
    assert (out / "pipeline-order-signed.png").stat().st_size > 10_000
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
    assert "БҰЙЫРАМЫН" in text or "ПРИКАЗЫВАЮ" in text


@pytest.mark.slow
def test_verify_says_no_to_a_changed_document(processed: Path, tmp_path: Path):
    """`qamqor verify` exits 0 only when every signature is valid; one changed byte makes it exit 1."""
    pdf = next((processed / "outbox" / "archive").rglob("C-2026-0001-order.pdf"))
    good = tmp_path / "good.pdf"
    shutil.copyfile(pdf, good)
    data = bytearray(pdf.read_bytes())
    i = data.index(b"/Producer")  # inside the signed byte range, before the signature
    data[i + 1] = ord("Q")
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(bytes(data))
    env = {"QAMQOR_NOW": "2027-01-08T12:00:00+05:00"}
    assert qamqor(processed, "verify", str(good), env=env).returncode == 0
    proc = qamqor(processed, "verify", str(bad), "--json", env=env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert report["passed"] is False and report["files"][0]["passed"] is False
    assert {s["indication"] for s in report["files"][0]["signatures"]} == {"TOTAL-FAILED"}


@pytest.mark.slow
def test_two_officers_approving_at_once_sign_once(demo: Path):
    """Two approvals of the same document at the same moment (the web desk and the command line, say): one signs,
    the other is told it is taken; the delivered file is the journal's file, signed once."""
    env = {"QAMQOR_NOW": "2027-01-08T12:00:00+05:00", "PYTHONPATH": str(ROOT)}
    assert qamqor(demo, "run", "--once", "--workers", "1", env=env).returncode == 0
    assert qamqor(demo, "queue", "approve", "--all", "--role", "inspector", env=env).returncode == 0  # the act
    procs = [subprocess.Popen([*QAMQOR, "queue", "approve",
                               "C-2026-0001-order", "--officer", "head"], cwd=demo, env={**os.environ, **env},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [p.communicate(timeout=120) + (p.returncode,) for p in procs]
    codes = sorted(r[2] for r in results)
    assert codes[0] == 0 and codes[1] in (0, 5, 7), results
    p = pipeline(demo)
    row = Q.get(p.services, "C-2026-0001-order")
    assert row.status == DocumentStatus.DELIVERED and row.signatures_done == 1
    import hashlib

    for f in (demo / "outbox").rglob("C-2026-0001-order.pdf"):
        assert hashlib.sha256(f.read_bytes()).hexdigest() == row.pdf_sha256
        out = subprocess.run(["pdfsig", str(f)], capture_output=True, text=True).stdout
        assert out.count("Signature is Valid.") == 1

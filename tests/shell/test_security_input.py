"""Security and reliability on the input and state side (issue 14, items 1–3, 5–10, 16–19, 22, 23): each with the
red team's reproduction — real files, links, FIFOs, sparse files, the real ``qamqor`` in its own process where
the review used it (``research/security-review.md``)."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from pipeline import queue as Q
from pipeline.config import Config
from pipeline.errors import JournalDamaged, StateConflict, StateError
from pipeline.journal import store
from pipeline.runner import Runner
from tests.conftest import ROOT, qamqor
from tests.shell.test_pipeline import aged

DAY = Path("outbox") / "rejected" / "2027" / "01" / "08"


def only(root: Path, *keep: str) -> None:
    """Leave in the demo's inbox only the examples whose names start with one of ``keep``."""
    for f in (root / "inbox").iterdir():
        if not f.name.startswith(keep):
            f.unlink()


def runner(root: Path) -> Runner:
    return Runner(Config.load(root / "qamqor.toml"))


def run_once(root: Path) -> None:
    p = runner(root)
    try:
        p.run_once(settle=False)
    finally:
        p.close()


def rejected(root: Path) -> dict[str, bytes]:
    folder = root / DAY
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())} if folder.is_dir() else {}


def report_of(root: Path, input_name: str) -> dict:
    for p in (root / DAY).glob("*.error.json"):
        report = json.loads(p.read_text())
        if report["input"] == input_name:
            return report
    raise AssertionError(f"no report for {input_name!r} in {sorted(os.listdir(root / DAY))}")


# --- 1, 5: names -----------------------------------------------------------------------------------------------


def test_a_long_name_of_two_byte_letters_does_not_halt_the_pipeline(demo: Path):
    """#14.1: 120 × Ж + .json is 245 bytes, a legal name; the claim's id was cut by characters, not bytes."""
    only(demo, "C-2026-0003-01")
    name = "Ж" * 120 + ".json"
    (demo / "inbox" / name).write_text("{}")
    aged(demo / "inbox" / name)
    proc = qamqor(demo, "run", "--once")
    assert proc.returncode == 0, proc.stderr
    assert report_of(demo, name)["code"] == "E-FORMAT"
    assert not os.listdir(demo / "inbox") and not os.listdir(demo / "var" / "work" / "claimed")
    assert list((demo / "outbox").rglob("C-2026-0003-*.pdf"))  # the valid event beside it went through
    assert all(len(n.encode()) <= 255 for n in os.listdir(demo / DAY))


def test_a_name_that_is_not_utf8_is_journaled_escaped(demo: Path):
    """#14.5: ``caf\\xe9.json`` crashed the pass writing the name to SQLite."""
    only(demo, "C-2026-0003-01")
    path = os.path.join(os.fsencode(demo / "inbox"), b"caf\xe9.json")
    with open(path, "wb") as fh:
        fh.write(b"{}")
    proc = qamqor(demo, "run", "--once")
    assert proc.returncode == 0, proc.stderr
    assert report_of(demo, "caf\\xe9.json")["code"] == "E-FORMAT"
    assert not os.listdir(demo / "inbox")


# --- 2: deep nesting --------------------------------------------------------------------------------------------


def test_a_fresh_deeply_nested_file_is_rejected_not_fatal(demo: Path):
    """#14.2: a JSON file nested 100,000 deep, still younger than the grace period, raised RecursionError in the
    syntax probe and stopped the watcher."""
    only(demo, "C-2026-0003-01")
    (demo / "inbox" / "deep.json").write_text("[" * 100_000 + "]" * 100_000)  # fresh: within incomplete_grace
    run_once(demo)
    report = report_of(demo, "deep.json")
    assert report["code"] == "E-JSON-SYNTAX" and "deep" in report["message"]


# --- 3, 19: the journal and the state folder --------------------------------------------------------------------


def test_an_emptied_journal_is_refused_not_taken_for_a_new_one(demo: Path):
    """#14.3: ``: > var/journal.sqlite`` made every command report an empty state, and an applied event sent
    again was issued again with new bytes."""
    only(demo, "C-2026-0004-01")
    qamqor(demo, "run", "--once", check=True)
    delivered = sorted((demo / "outbox").rglob("*.pdf"))
    assert delivered
    before = {p: p.read_bytes() for p in delivered}
    backup = demo / "journal.backup"
    shutil.copy(demo / "var" / "journal.sqlite", backup)
    (demo / "var" / "journal.sqlite").write_bytes(b"")
    for f in (demo / "var").glob("journal.sqlite-*"):
        f.unlink()
    kept = next((demo / "var" / "work" / "inputs").iterdir())
    shutil.copy(kept, demo / "inbox" / "again.json")
    for args in (("status",), ("run", "--once"), ("queue", "list")):
        proc = qamqor(demo, *args)
        assert proc.returncode == 10, (args, proc.stdout, proc.stderr)
        assert JournalDamaged.code in proc.stderr and "restore" in proc.stderr and "E-INTERNAL" not in proc.stderr
    assert (demo / "inbox" / "again.json").exists()
    assert {p: p.read_bytes() for p in delivered} == before
    proc = qamqor(demo, "audit", "verify")
    assert proc.returncode != 0 and "intact" not in proc.stdout
    # the remedy works: the backup restored, the pipeline goes on (the event again is a duplicate)
    shutil.copy(backup, demo / "var" / "journal.sqlite")
    qamqor(demo, "run", "--once", check=True)
    assert {p: p.read_bytes() for p in delivered} == before


def test_a_half_truncated_journal_is_a_typed_error(demo: Path):
    """#14.19: ``E-INTERNAL: DatabaseError … malformed`` became a one-line error with a remedy."""
    only(demo, "C-2026-0003-01")
    qamqor(demo, "run", "--once", check=True)
    db = demo / "var" / "journal.sqlite"
    db.write_bytes(db.read_bytes()[: db.stat().st_size // 2])
    proc = qamqor(demo, "status")
    assert proc.returncode == 10 and JournalDamaged.code in proc.stderr and "E-INTERNAL" not in proc.stderr
    assert "\n" not in proc.stderr.strip()


def _unprivileged(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``qamqor`` without the capabilities that let root write anywhere (the red team's ``setpriv``)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "pipeline.cli", *args]
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("root without setpriv: permissions are not enforced")
        cmd = ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner", *cmd]
    return subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("folder", ["var", "var/work/documents", "var/work/inputs"])
def test_a_state_folder_that_cannot_be_written_is_a_typed_error(demo: Path, folder: str):
    """#14.19: a read-only ``var/`` or an unwritable work folder gave ``E-INTERNAL`` and a SQLAlchemy message."""
    only(demo, "C-2026-0003-01")
    qamqor(demo, "run", "--once", check=True)
    shutil.copy(sorted((ROOT / "examples" / "C-2026-0001").glob("01-*"))[0], demo / "inbox" / "new.json")
    os.chmod(demo / folder, 0o555)
    try:
        proc = _unprivileged(demo, "run", "--once")
    finally:
        os.chmod(demo / folder, 0o700)
    assert proc.returncode == 10, proc.stderr
    assert StateError.code in proc.stderr and str(demo / folder) in proc.stderr and "E-INTERNAL" not in proc.stderr
    assert (demo / "inbox" / "new.json").exists()  # nothing taken


# --- 6, 7, 8, 16, 23: rejections --------------------------------------------------------------------------------


def test_links_and_fifos_are_reported_and_never_moved_to_the_outbox(demo: Path):
    """#14.6: a relative link moved into outbox/rejected/ resolved there to var/verify.key."""
    only(demo, "C-2026-0003-01")
    os.symlink("../../../../../var/verify.key", demo / "inbox" / "k.json")
    os.symlink("/etc/passwd", demo / "inbox" / "p.json")
    os.mkfifo(demo / "inbox" / "fifo.json")
    run_once(demo)
    for name in ("k.json", "p.json", "fifo.json"):
        report = report_of(demo, name)
        assert report["code"] == "E-FILE-TYPE" and "nothing" in report["copied"]
    for p in (demo / "outbox").rglob("*"):
        st = os.lstat(p)
        assert stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode), p
    key = (demo / "var" / "verify.key").read_bytes()
    assert not any(key in p.read_bytes() for p in (demo / "outbox").rglob("*") if p.is_file())


def test_rejected_names_never_collide_with_reports(demo: Path):
    """#14.7: ``foo.json.error.json`` as an input overwrote the report of ``foo.json``; in the other order a
    report overwrote an original."""
    only(demo, "none")
    (demo / "inbox" / "foo.json").write_bytes(b"A")
    (demo / "inbox" / "foo.json.error.json").write_bytes(b"B")
    for f in (demo / "inbox").iterdir():
        aged(f)
    run_once(demo)
    (demo / "inbox" / "bar.json.error.json").write_bytes(b"C")
    aged(demo / "inbox" / "bar.json.error.json")
    run_once(demo)
    (demo / "inbox" / "bar.json").write_bytes(b"D")
    aged(demo / "inbox" / "bar.json")
    run_once(demo)
    files = rejected(demo)
    assert files["foo.json"] == b"A" and json.loads(files["foo.json.error.json"])["input"] == "foo.json"
    for name, data in (("foo.json.error.json", b"B"), ("bar.json.error.json", b"C"), ("bar.json", b"D")):
        report = report_of(demo, name)
        assert files[Path(report["path"]).name] == data, name
    reports = [n for n in files if n.endswith(".error.json")]
    assert all(json.loads(files[n])["code"] for n in reports) and len(reports) == 4


def test_an_over_limit_file_keeps_a_bounded_prefix_and_says_so(demo: Path):
    """#14.8, #14.23: a sparse 2 GiB file became 2 GiB of real data in outbox/rejected/; its report's sha256 was
    empty."""
    only(demo, "none")
    sparse = demo / "inbox" / "s.json"
    subprocess.run(["truncate", "-s", "2G", str(sparse)], check=True)
    aged(sparse)
    run_once(demo)
    report = report_of(demo, "s.json")
    limit = Config.load(demo / "qamqor.toml").max_event_bytes
    copy = demo / "outbox" / report["path"]
    assert report["code"] == "E-FILE-TOO-LARGE" and report["size"] == 2 * 1024**3
    assert copy.stat().st_size == limit and str(limit) in report["copied"]
    import hashlib

    assert report["sha256"] == hashlib.sha256(copy.read_bytes()).hexdigest()
    assert (demo / "var" / "work" / "inputs").joinpath(report["copied"].rsplit("work/inputs/", 1)[1]).stat().st_size \
        == 2 * 1024**3  # the rest is left where it was, in the state folder


def test_a_newline_in_a_rejected_name_cannot_forge_a_log_line(demo: Path):
    """#14.16: the name ``evil.json\\n2027-01-06 … INFO qamqor.runner all inputs accepted.json``."""
    only(demo, "none")
    forged = "2027-01-06 10:00:00,000 INFO qamqor.runner all inputs accepted.json"
    (demo / "inbox" / f"evil.json\n{forged}").write_text("{}")
    aged(demo / "inbox" / f"evil.json\n{forged}")
    qamqor(demo, "run", "--once", check=True)
    lines = (demo / "var" / "qamqor.log").read_text().splitlines()
    assert not any(line.startswith("2027-01-06 10:00:00,000") for line in lines)
    assert any("evil.json\\n2027" in line for line in lines)


def test_xml_shape_findings_do_not_leak_internal_members(demo: Path):
    """#14.23: multi-finding XML reports carried ``_ptr``."""
    only(demo, "none")
    src = sorted((ROOT / "examples" / "C-2026-0001").glob("02-*"))[0].read_text()
    bad = re.sub(r"<event>", '<event a="1">', src, count=1).replace("<case_id>", '<case_id b="2">', 1)
    (demo / "inbox" / "x.xml").write_text(bad)
    run_once(demo)
    text = (demo / DAY / "x.xml.error.json").read_text()
    assert "_ptr" not in text and json.loads(text)["code"] == "E-SCHEMA" and len(json.loads(text)["errors"]) == 2


# --- 17, 22: the kept inputs and the modes of state files -------------------------------------------------------


def test_a_writer_keeping_a_hard_link_cannot_rewrite_the_kept_input(demo: Path, tmp_path: Path):
    """#14.17: the claim renamed the writer's inode; rewriting it through a hard link changed the kept input."""
    only(demo, "none")
    example = sorted((ROOT / "examples" / "C-2026-0003").glob("01-*"))[0]
    mine = tmp_path / "mine.xml"
    shutil.copy(example, mine)
    os.link(mine, demo / "inbox" / "linked.xml")
    with open(mine, "r+b") as writer:  # and a descriptor kept open
        run_once(demo)
        writer.seek(0)
        writer.write(b"TAMPERED AFTER CLAIM")
        writer.flush()
    mine.write_bytes(b"REWRITTEN BY WRITER")
    (kept,) = list((demo / "var" / "work" / "inputs").iterdir())
    assert kept.read_bytes() == example.read_bytes()
    p = runner(demo)
    try:
        row = store.get_input(p.journal, kept.name)
        import hashlib

        assert row.sha256 == hashlib.sha256(example.read_bytes()).hexdigest() and row.status != "rejected"
    finally:
        p.close()


def test_state_files_are_private(demo: Path):
    """#14.22: journal, audit log and kept inputs (children's data) followed the umask (0644)."""
    only(demo, "C-2026-0003-01")
    old = os.umask(0o022)
    try:
        qamqor(demo, "run", "--once", check=True)
    finally:
        os.umask(old)
    var = demo / "var"
    files = [var / "journal.sqlite", var / "audit.jsonl", var / "audit.head",
             *(var / "work" / "inputs").iterdir(), *var.glob("journal.sqlite-*")]
    assert len(files) >= 4
    for f in files:
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
    for d in [var / "work", *(var / "work").iterdir()]:
        assert stat.S_IMODE(d.stat().st_mode) == 0o700, d


# --- 9: the audit log anchored in the journal -------------------------------------------------------------------


def _audited(demo: Path) -> Path:
    only(demo, "C-2026-0003-01")
    qamqor(demo, "run", "--once", check=True)
    proc = qamqor(demo, "audit", "verify")
    assert proc.returncode == 0 and "intact" in proc.stdout, proc.stdout
    return demo / "var"


def test_a_deleted_audit_log_is_found_even_after_a_new_pass(demo: Path):
    """#14.9 (B7, B8): after ``rm audit.jsonl`` one pass started a new chain and ``audit verify`` said intact;
    removing the log and its head was never noticed."""
    var = _audited(demo)
    (var / "audit.jsonl").unlink()
    shutil.copy(sorted((ROOT / "examples" / "C-2026-0001").glob("01-*"))[0], demo / "inbox" / "next.json")
    qamqor(demo, "run", "--once", check=True)
    proc = qamqor(demo, "audit", "verify")
    assert proc.returncode == 1 and "journal anchored" in proc.stdout, proc.stdout
    (var / "audit.jsonl").unlink()
    (var / "audit.head").unlink()
    proc = qamqor(demo, "audit", "verify")
    assert proc.returncode == 1 and "intact" not in proc.stdout


def test_an_edited_audit_log_with_its_chain_recomputed_is_found(demo: Path):
    """#14.9 (B10): an entry re-attributed and one deleted, every hash and the head recomputed."""
    var = _audited(demo)
    from pipeline.audit import GENESIS, _digest

    lines = [json.loads(line) for line in (var / "audit.jsonl").read_text().splitlines()]
    lines[2]["subject"] = "someone-else"
    del lines[5]
    prev = GENESIS
    for i, e in enumerate(lines, 1):
        e["seq"], e["prev"] = i, prev
        e.pop("hash")
        e["hash"] = prev = _digest(e)
    (var / "audit.jsonl").write_text("".join(
        json.dumps(e, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n" for e in lines))
    (var / "audit.head").write_text(f"{len(lines)} {prev}\n")
    proc = qamqor(demo, "audit", "verify")
    assert proc.returncode == 1 and "intact" not in proc.stdout, proc.stdout


def test_an_edit_after_the_last_anchor_is_found_by_the_steps(demo: Path):
    """#14.9: lines newer than the journal's last anchor are checked against the journal's steps themselves."""
    var = _audited(demo)
    from pipeline.audit import AuditLog, _digest

    lines = [json.loads(line) for line in (var / "audit.jsonl").read_text().splitlines()]
    extra = {"seq": len(lines) + 1, "at": lines[-1]["at"], "subject": "C-2026-0003", "step": "approved",
             "detail": {"officer": "inspector-2"}, "prev": lines[-1]["hash"]}
    extra["hash"] = _digest(extra)
    with open(var / "audit.jsonl", "a") as fh:
        fh.write(json.dumps(extra, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n")
    problems = AuditLog(var / "audit.jsonl").verify()
    assert problems and "not a step" in problems[0]


# --- 10: a different officer for each field ---------------------------------------------------------------------


def test_one_inspector_cannot_sign_both_fields_of_an_act(demo: Path):
    """#14.10 (B13): an ``inspection.completed`` without the inspectors' IINs let inspector-1 sign twice."""
    only(demo, "C-2026-0001-01", "C-2026-0001-02", "C-2026-0001-03", "C-2026-0001-04")
    act = demo / "inbox" / "C-2026-0001-04-inspection.completed.xml"
    text = act.read_text()
    stripped = re.sub(r"(<inspector>(?:(?!</inspector>).)*?)\s*<iin>\d+</iin>", r"\1", text, flags=re.S)
    assert stripped.count("<iin>") == text.count("<iin>") - 2
    act.write_text(stripped)
    p = runner(demo)
    try:
        p.run_once(settle=False)
        s = p.services
        doc_id = next(d.document_id for d in Q.pending(s) if "inspection_act" in d.document_id)
        assert not any(sig.get("iin") for sig in store.get_document(s.journal, doc_id).signers)
        inspector = s.config.officer("inspector-1")
        Q.approve(s, doc_id, inspector, None)
        with pytest.raises(StateConflict, match="already signed"):
            Q.approve(s, doc_id, inspector, None)
        assert len(store.get_document(s.journal, doc_id).signed_by) == 1
        Q.approve(s, doc_id, s.config.officer("inspector-2"), None)
        assert {e["officer"] for e in store.get_document(s.journal, doc_id).signed_by} == {"inspector-1",
                                                                                          "inspector-2"}
    finally:
        p.close()


# --- 18: render scratch under var/ ------------------------------------------------------------------------------


def test_render_workers_keep_their_scratch_under_var_and_clean_it(demo: Path):
    """#14.18: every render worker left ~1.9 MB of ``weasyprint-*`` font subsets in the system temp folder."""
    from pipeline.workers import ProcessDispatcher

    only(demo, "C-2026-0003-01")
    system_tmp = Path(tempfile.gettempdir())
    before = set(system_tmp.glob("weasyprint-*"))
    scratch = demo / "var" / "tmp"
    p = Runner(Config.load(demo / "qamqor.toml"), dispatcher=ProcessDispatcher(2, scratch=scratch))
    try:
        p.run_once(settle=False)
        assert list(scratch.glob("worker-*")), "the workers' temporary folders are under var/"
    finally:
        p.close()
    assert sorted((demo / "outbox").rglob("*.pdf"))
    assert set(system_tmp.glob("weasyprint-*")) <= before
    assert not list(scratch.glob("worker-*"))

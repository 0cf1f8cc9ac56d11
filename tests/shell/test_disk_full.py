"""A full disk is transient (issue 5 ¶5): the run stops with a clear one-line error and exit code 75, leaves no
partial file and rejects nothing; once there is room, the next run resumes and every document still ends up
exactly once in each route.  The outbox is a real, deliberately small tmpfs (needs root, as CI has)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import qamqor
from tests.shell.test_crash import ENV, _check_exactly_once, _prepare


def _mount(path: Path, size: str) -> bool:
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True).returncode == 0


@pytest.mark.slow
def test_full_disk_stops_cleanly_and_resumes(demo: Path):
    _prepare(demo)
    outbox = demo / "outbox"
    outbox.mkdir(exist_ok=True)
    if not _mount(outbox, "120k"):
        pytest.skip("mounting a tmpfs needs root (CI and the dev machines run as root)")
    try:
        run = qamqor(demo, "run", "--once", "--workers", "2", env=ENV)
        assert run.returncode == 75, run.stderr
        last = run.stderr.strip().splitlines()[-1]
        assert last.startswith("E-TRANSIENT: no space left") and "Traceback" not in run.stderr
        assert [p for p in outbox.rglob(".*")] == [], "no partial temporary left"
        assert not (outbox / "rejected").exists() or not [
            p for p in (outbox / "rejected").rglob("*.error.json") if "broken" not in p.name], "nothing rejected for it"
        subprocess.run(["mount", "-o", "remount,size=50m", str(outbox)], check=True)
        assert qamqor(demo, "run", "--once", "--workers", "2", env=ENV).returncode == 0
        for _ in range(3):
            qamqor(demo, "queue", "approve", "--all", env=ENV)
        assert qamqor(demo, "run", "--once", "--workers", "2", env=ENV).returncode == 0
        _check_exactly_once(demo)
    finally:
        subprocess.run(["umount", "-l", str(outbox)], capture_output=True)


@pytest.mark.slow
def test_inbox_on_another_filesystem_is_claimed_by_copy(demo: Path, tmp_path: Path):
    """An inbox on another filesystem (an NFS or SMB share, here a tmpfs): a rename cannot cross into the state
    folder, so the file is claimed by a rename inside the inbox and copied over; nothing is lost or read twice."""
    keep = tmp_path / "keep"
    keep.mkdir()
    inbox = demo / "inbox"
    for f in inbox.iterdir():
        if f.name.startswith("C-2026-0003") or f.name.startswith("C-2026-0004"):
            f.rename(keep / f.name)
        else:
            f.unlink()
    if not _mount(inbox, "10m"):
        pytest.skip("mounting a tmpfs needs root (CI and the dev machines run as root)")
    try:
        for f in keep.iterdir():
            (inbox / f.name).write_bytes(f.read_bytes())
        # a claim a crashed run left behind, inside the inbox
        leftover = next(keep.glob("C-2026-0004-01*"))
        (inbox / leftover.name).unlink()
        (inbox / f".claimed-20270108T000000000000-{leftover.name}").write_bytes(leftover.read_bytes())
        assert qamqor(demo, "run", "--once", "--workers", "1", env=ENV).returncode == 0
        assert sorted(p.name for p in inbox.iterdir()) == []
        assert next((demo / "outbox" / "psc").rglob("C-2026-0003-refusal_receipt.pdf"))
        assert next((demo / "outbox" / "cabinet").rglob("C-2026-0004-acceptance_notice.pdf"))
        assert not (demo / "outbox" / "rejected").exists()
    finally:
        subprocess.run(["umount", "-l", str(inbox)], capture_output=True)

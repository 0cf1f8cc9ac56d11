"""Several nodes on a real PostgreSQL (issue 10): Debian's server in a throwaway cluster on 127.0.0.1 that the
suite starts itself (tests/pgserver.py), one fresh database per test, the demo installation pointed at it, and
real ``qamqor run`` node processes."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.pgserver import PgServer, pg_bin

NOW = "2027-01-08T12:00:00+05:00"
FAST = """
[cluster]
heartbeat_seconds = 1.0
stall_seconds = 4.0
poll_seconds = 0.3
"""


@pytest.fixture(scope="session")
def pg() -> Iterator[PgServer]:
    if pg_bin() is None:
        pytest.fail("PostgreSQL's server is not installed: scripts/ensure-debian-packages installs it")
    server = PgServer()  # its own folder under /tmp: pytest's is private to root, the server runs as postgres
    server.init().start()
    yield server
    server.destroy()


@pytest.fixture
def site(demo: Path, pg: PgServer) -> Path:
    """The demo on its own PostgreSQL database, with short heartbeats (the reaper acts within seconds)."""
    url = pg.createdb(f"q_{uuid.uuid4().hex[:12]}")
    with open(demo / "qamqor.toml", "a", encoding="utf-8") as fh:
        fh.write(f'\n[journal]\nurl = "{url}"\n{FAST}')
    (demo / "journal.url").write_text(url)
    return demo


def journal_url(root: Path) -> str:
    return (root / "journal.url").read_text()


def burst(root: Path, n: int, *, prefix: str = "B") -> list[str]:
    """``n`` complete portal applications (each: an acceptance notice, sealed without an officer), written to
    the inbox as a back office would (a temporary name, then a rename)."""
    from pipeline.demo import EXAMPLES

    template = json.loads((EXAMPLES / "C-2026-0004" / "01-application.submitted.json").read_text())
    names = []
    for i in range(n):
        case = f"{prefix}-{i:05d}"
        tree = dict(template, event_id=str(uuid.uuid4()), case_id=case)
        tmp = root / "inbox" / f".{case}.json.tmp"
        tmp.write_text(json.dumps(tree, ensure_ascii=False))
        old = time.time() - 60  # settled
        os.utime(tmp, (old, old))
        tmp.rename(root / "inbox" / f"{case}.json")
        names.append(case)
    return names


class Nodes:
    """Real ``qamqor run --node NAME`` processes of one installation."""

    def __init__(self, root: Path):
        self.root = root
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs = root / "node-logs"
        self.logs.mkdir(exist_ok=True)

    def start(self, name: str, *, fault: str | None = None, args: tuple[str, ...] = ()) -> subprocess.Popen:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "QAMQOR_NOW": NOW}
        env.pop("QAMQOR_FAULT", None)
        if fault:
            env["QAMQOR_FAULT"] = fault
        log = open(self.logs / f"{name}-{len(list(self.logs.iterdir()))}.log", "w")
        proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "run", "--node", name, *args], cwd=self.root,
                                env=env, stdout=log, stderr=subprocess.STDOUT)
        self.procs[name] = proc
        return proc

    def kill(self, name: str) -> None:
        proc = self.procs[name]
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)

        # a node killed with SIGKILL leaves the demo's TSA it had started (it ends with a clean exit only)
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    cwd = os.readlink(f"/proc/{pid}/cwd")
                    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
                except OSError:
                    continue
                if cwd.startswith(str(self.root)) and b"certomancer" in cmdline:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(int(pid), signal.SIGKILL)

    def output(self) -> str:
        for proc in self.procs.values():  # each live node prints its threads' stacks (faulthandler, SIGUSR1)
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGUSR1)
        time.sleep(1)
        logs = "\n".join(f"--- {p.name}\n{p.read_text()[-12000:]}" for p in sorted(self.logs.iterdir()))
        return f"{queue_state(self.root)}\n{logs}"


def queue_state(root: Path) -> str:
    """What a timed-out test needs to see: the jobs waiting or running, the workers' heartbeat ages and the
    server's sessions (a lock waited for, a transaction left open)."""
    import psycopg

    from pipeline.cluster import conninfo

    try:
        with psycopg.connect(conninfo(journal_url(root)), connect_timeout=5) as conn:
            jobs = conn.execute("SELECT id, status, task_name, lock, worker_id, attempts FROM procrastinate_jobs "
                                "WHERE status IN ('todo', 'doing') ORDER BY id LIMIT 40").fetchall()
            workers = conn.execute("SELECT id, round(extract(epoch FROM now() - last_heartbeat)::numeric, 1) "
                                   "FROM procrastinate_workers ORDER BY id").fetchall()
            sessions = conn.execute("SELECT pid, state, wait_event_type, wait_event, "
                                    "round(extract(epoch FROM now() - xact_start)::numeric, 1), left(query, 100) "
                                    "FROM pg_stat_activity WHERE datname = current_database() "
                                    "AND pid <> pg_backend_pid() ORDER BY xact_start NULLS LAST").fetchall()
    except Exception as exc:  # noqa: BLE001 - a diagnostic: the server may be the thing that is down
        return f"--- the queue: not readable ({type(exc).__name__}: {exc})"
    return (f"--- the queue: {len(jobs)} jobs waiting or running\n" + "\n".join(map(str, jobs))
            + "\n--- the workers (id, seconds since their heartbeat)\n" + "\n".join(map(str, workers))
            + "\n--- the server's sessions (pid, state, waiting for, seconds in a transaction, query)\n"
            + "\n".join(map(str, sessions)))


@pytest.fixture
def nodes(site: Path) -> Iterator[Nodes]:
    n = Nodes(site)
    yield n
    n.stop_all()


def wait_until(predicate, *, timeout: float, what: str, on_fail=lambda: "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{on_fail()}")


__all__ = ["NOW", "Nodes", "burst", "journal_url", "shutil", "wait_until"]

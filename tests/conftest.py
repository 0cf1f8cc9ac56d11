"""Shared fixtures: a demo setup (configuration, test PKI, example events) made once per session and copied
into each test's own folder, so tests never share a state folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def pytest_configure(config: pytest.Config) -> None:
    """Each xdist worker gets a temporary folder of its own (TMPDIR, inherited by the processes it starts), so a
    test that watches the temporary folder (#14.18) sees only what its own worker left there."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:
        import tempfile

        mine = Path(tempfile.gettempdir()) / f"qamqor-tests-{worker}"
        mine.mkdir(mode=0o755, exist_ok=True)  # traversable: the test PostgreSQL runs as another user
        os.chmod(mine, 0o755)
        os.environ["TMPDIR"] = str(mine)
        tempfile.tempdir = None
QAMQOR = [sys.executable, "-m", "pipeline.cli"]


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from pipeline.demo import make_demo

    root = tmp_path_factory.mktemp("demo-template")
    make_demo(root)
    return root


@pytest.fixture
def demo(demo_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh copy of the demo: qamqor.toml, var/demo-pki, inbox/ with the examples."""
    root = tmp_path / "site"
    shutil.copytree(demo_template, root, symlinks=True)
    monkeypatch.chdir(root)
    monkeypatch.delenv("QAMQOR_CONFIG", raising=False)
    monkeypatch.delenv("QAMQOR_FAULT", raising=False)
    monkeypatch.setenv("QAMQOR_NOW", "2027-01-08T12:00:00+05:00")
    yield root
    stop_strays(root)


def stop_strays(root: Path) -> None:
    """Kill what a test left running from this site: the demo's TSA and OCSP (certomancer, started by
    ``qamqor run``) outlive a run the test killed with SIGKILL, and would go on using a core."""
    import signal

    mark = str(root).encode()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            if mark in cmdline and int(pid) != os.getpid():
                os.kill(int(pid), signal.SIGKILL)
        except (OSError, ValueError):
            continue  # gone meanwhile, or not ours to look at


def qamqor(root: Path, *args: str, env: dict[str, str] | None = None, check: bool = False,
           timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run the real command in its own process."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    proc = subprocess.run([*QAMQOR, *args], cwd=root, env=full_env, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"qamqor {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc

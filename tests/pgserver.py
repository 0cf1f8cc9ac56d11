"""A throwaway PostgreSQL cluster for the tests and the cluster benchmark (issue 10): Debian's own server
(``postgresql`` from scripts/ensure-debian-packages), a data folder in a temporary directory, listening on
127.0.0.1 and a free port, started and stopped with ``pg_ctl``.

``initdb`` and ``pg_ctl`` refuse to run as root, so as root they run as the ``postgres`` user (``runuser``).
Durability as in production: ``fsync`` and ``synchronous_commit`` stay on.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def pg_bin() -> Path | None:
    """The newest installed server's bin folder (Debian keeps it off PATH), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    """``with PgServer() as pg: pg.url("qamqor")`` — a cluster that lives as long as the block."""

    def __init__(self, root: Path | None = None, port: int | None = None):
        bindir = pg_bin()
        if bindir is None:
            raise RuntimeError("PostgreSQL's server is not installed (scripts/ensure-debian-packages installs it)")
        self.bin = bindir
        self.root = Path(root or tempfile.mkdtemp(prefix="qamqor-pg-"))
        self.data = self.root / "data"
        self.port = port or free_port()
        self.log = self.root / "server.log"
        self._as_postgres = os.geteuid() == 0

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = list(args)
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=120)

    def init(self) -> PgServer:
        self.root.mkdir(parents=True, exist_ok=True)
        if self._as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                  "--locale=C.UTF-8")
        with open(self.data / "postgresql.conf", "a", encoding="utf-8") as fh:
            fh.write(f"\nlisten_addresses = '127.0.0.1'\nport = {self.port}\nunix_socket_directories = '{self.root}'\n"
                     "fsync = on\nsynchronous_commit = on\nmax_connections = 200\nlog_min_messages = warning\n")
        return self

    def start(self) -> PgServer:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")
        return self

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def restart(self, mode: str = "fast") -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-m", mode, "-w", "-t", "60",
                  "restart")

    def createdb(self, name: str) -> str:
        self._run(str(self.bin / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", "postgres",
                  "-v", "ON_ERROR_STOP=1", "-c", f'CREATE DATABASE "{name}"')
        return self.url(name)

    def url(self, name: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    def psql(self, name: str, sql: str) -> str:
        return self._run(str(self.bin / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d",
                         name, "-At", "-v", "ON_ERROR_STOP=1", "-c", sql).stdout

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PgServer:
        return self.init().start()

    def __exit__(self, *exc: object) -> None:
        self.destroy()

"""``qamqor run`` without ``--once``: watch the inbox and run a pass whenever something may have arrived.

Only the when is here; the work is :meth:`pipeline.runner.Runner.run_once`.  watchdog gives a prompt reaction,
and a full scan every ``scan_interval`` seconds backs it up: file-system events alone are not trusted, and on
network filesystems (NFS, SMB), where none arrive, watchdog's polling observer is used instead.  SIGTERM finishes
the pass in flight, then returns.
"""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from typing import Any

from .errors import TransientError
from .runner import Runner

log = logging.getLogger("qamqor.watch")

#: file-system types on which inotify sees no changes made by other machines
NETWORK_FS = ("nfs", "cifs", "smb", "fuse.sshfs", "9p")


def is_network_fs(path: Path, mounts: Path = Path("/proc/mounts")) -> bool:
    """Whether ``path`` lies on a network filesystem (the longest mount point that contains it decides)."""
    try:
        lines = mounts.read_text().splitlines()
    except OSError:
        return False
    best, fstype = "", ""
    target = str(path.resolve())
    for line in lines:
        parts = line.split()
        if len(parts) >= 3 and target.startswith(parts[1]) and len(parts[1]) > len(best):
            best, fstype = parts[1], parts[2]
    return fstype.startswith(NETWORK_FS)


def watch(runner: Runner) -> None:
    """Run passes until SIGTERM or Ctrl-C; a transient failure (a full disk, a server down) is logged and the
    next pass resumes — the watcher never gives up."""
    from watchdog.events import FileSystemEventHandler
    from watchdog.observers import Observer
    from watchdog.observers.polling import PollingObserver

    wake = threading.Event()
    stop = threading.Event()

    class Handler(FileSystemEventHandler):
        def on_any_event(self, event: Any) -> None:
            wake.set()

    def on_term(signum: int, frame: Any) -> None:
        stop.set()  # finish the pass in flight, then exit
        wake.set()

    signal.signal(signal.SIGTERM, on_term)
    config = runner.config
    observer = PollingObserver(timeout=config.scan_interval) if is_network_fs(config.inbox) else Observer()
    observer.schedule(Handler(), str(config.inbox), recursive=False)
    observer.start()
    log.warning("watching %s (every %.0f s and on file-system events)", config.inbox, config.scan_interval)
    try:
        while not stop.is_set():
            try:
                runner.run_once()
            except TransientError as err:
                log.warning("%s", err.one_line())
            wake.wait(timeout=config.scan_interval)
            wake.clear()
    except KeyboardInterrupt:
        pass
    finally:
        observer.stop()
        observer.join()

"""The public upload check, bounded (#14.4): anyone may upload a PDF to ``/verify``, so what one upload may cost
is limited, and what is over a limit is refused in words, never by a slow or dead desk.

- bytes: ``[web] max_upload_bytes`` (the body limit, before anything is read);
- signature fields: ``upload_max_signatures`` — pyHanko's difference analysis grows super-linearly with them (a
  392 KB file with 1,500 fields took 90 s of CPU and 1.26 GB);
- time and memory: the check runs in a process of its own (forked from a preloaded server, so it starts in
  milliseconds), killed after ``upload_seconds``, its address space capped at :data:`MEMORY_BYTES`;
- concurrency: at most ``upload_concurrency`` checks at once; one more is refused at once, not queued.

The child only reads the PDF (:func:`pipeline.authorised.claims`, :func:`signing.verify_pdf`); the signing policy
is applied here, in the desk, with what the journal knows (:func:`pipeline.authorised.policy_for_claims`).
"""

from __future__ import annotations

import multiprocessing
import threading
from dataclasses import dataclass
from typing import Any

#: the address space of one check's process
MEMORY_BYTES = 2 * 1024**3

_context_lock = threading.Lock()
_context: Any = None


def _mp() -> Any:
    """A forkserver whose server has pyHanko loaded: a fork of it starts warm (the desk's own process, which runs
    threads and an event loop, is never forked)."""
    global _context
    with _context_lock:
        if _context is None:
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(["signing", "pipeline.authorised", "pipeline.web.uploads"])
            _context = ctx
        return _context


@dataclass
class Outcome:
    """``kind``: ``ok`` (``report``, ``claims``), ``too_many`` (``count``), ``too_slow``, ``busy``,
    ``unreadable`` (``detail``)."""

    kind: str
    report: Any = None
    claims: tuple[str | None, str | None] = (None, None)
    count: int = 0
    detail: str = ""


def _count_signature_fields(data: bytes) -> int:
    from io import BytesIO

    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.fields import enumerate_sig_fields

    reader = PdfFileReader(BytesIO(data), strict=False)
    return sum(1 for _ in enumerate_sig_fields(reader, filled_status=None))


def _check(conn: Any, data: bytes, trust_roots: list[str], max_signatures: int) -> None:
    """In the child: count the fields, then verify; the outcome goes back through ``conn``."""
    import resource

    try:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
    except (ValueError, OSError):
        pass
    try:
        count = _count_signature_fields(data)
        if count > max_signatures:
            conn.send(Outcome("too_many", count=count))
            return
        import signing

        from ..authorised import claims

        report = signing.verify_pdf(data, trust_roots=trust_roots)
        conn.send(Outcome("ok", report=report, claims=claims(data)))
    except MemoryError:
        conn.send(Outcome("too_slow", detail="memory"))
    except Exception as e:  # noqa: BLE001 - anyone's file: a finding, never a traceback
        conn.send(Outcome("unreadable", detail=f"{type(e).__name__}: {e}"[:300]))
    finally:
        conn.close()


class UploadChecks:
    """The desk's bounded checks: a slot per concurrent check, a process per check."""

    def __init__(self, trust_roots: list[str], *, max_signatures: int, seconds: float, concurrency: int):
        self.trust_roots = [str(r) for r in trust_roots]
        self.max_signatures, self.seconds = max_signatures, seconds
        self.slots = threading.BoundedSemaphore(concurrency)

    def check(self, data: bytes) -> Outcome:
        """Blocking (run it in a worker thread)."""
        if not self.slots.acquire(blocking=False):
            return Outcome("busy")
        try:
            return self._run(data)
        finally:
            self.slots.release()

    def _run(self, data: bytes) -> Outcome:
        ctx = _mp()
        parent, child = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_check, args=(child, data, self.trust_roots, self.max_signatures), daemon=True)
        proc.start()
        child.close()
        try:
            if parent.poll(self.seconds):
                try:
                    return parent.recv()
                except EOFError:  # the child died (out of memory, killed): over a bound
                    return Outcome("too_slow", detail="ended")
            return Outcome("too_slow", detail="time")
        finally:
            parent.close()
            if proc.is_alive():
                proc.kill()
            proc.join(5)

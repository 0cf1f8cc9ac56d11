"""Stage functions that run in worker processes (see :mod:`pipeline.dispatch`): pure compute, no journal."""

from __future__ import annotations

import logging
from typing import Any

_renderer: Any = None
_sealers: dict[Any, Any] = {}


def die_with_parent() -> None:
    """A worker must not outlive the runner: if the runner is killed (SIGKILL leaves no chance to clean up), the
    kernel kills its workers too (Linux ``PR_SET_PDEATHSIG``), so no orphan holds memory, locks or pipes."""
    import ctypes
    import multiprocessing
    import os
    import signal

    parent = multiprocessing.parent_process()
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except OSError:
        return
    if parent is not None and os.getppid() != parent.pid:  # the parent died before the call
        os._exit(1)


def warm() -> None:
    """Worker initializer: die with the runner; load fonts, stylesheets and templates once per process."""
    global _renderer
    if _renderer is None:
        import multiprocessing

        if multiprocessing.parent_process() is not None:
            die_with_parent()
        from forms.render import Renderer

        _renderer = Renderer()


def render(job: dict[str, Any]) -> dict[str, Any]:
    """Render one document: ``job`` = {document_id, kind, language, context, attachments}.

    A failure comes back as ``{"document_id", "error"}`` rather than an exception, so one bad document (a
    character no shipped font has, a template bug) cannot stop the others; the runner retries it a few times,
    then sets it aside as failed.
    """
    try:
        warm()
        doc = _renderer.render(job["kind"], job["language"], job["context"], attachments=job.get("attachments", ()))
    except (MemoryError, OSError) as exc:
        # the machine, not the document: a full disk, no memory — retried later, never counted against it
        import errno

        transient = isinstance(exc, MemoryError) or exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.ENOMEM)
        return {"document_id": job["document_id"], "error": f"{type(exc).__name__}: {exc}", "transient": transient}
    except Exception as exc:  # noqa: BLE001 - reported per document, the traceback goes to the log
        logging.getLogger("qamqor.stages").debug("render failed", exc_info=True)
        return {"document_id": job["document_id"], "error": f"{type(exc).__name__}: {exc}"}
    result = {
        "document_id": job["document_id"],
        "pdf": doc.pdf,
        "pages": doc.pages,
        "fields": [
            {"name": f.name, "page": f.page, "rect": list(f.rect), "role": getattr(f, "role", None)}
            for f in doc.signature_fields
        ],
    }
    if job.get("seal") and result["fields"]:
        result.update(seal(job, doc.pdf, result["fields"][0]["name"]))
    return result


def seal(job: dict[str, Any], pdf: bytes, field: str) -> dict[str, Any]:
    """Seal a freshly rendered document that needs no officer, in the worker, with a key file every worker can
    load (PKCS#12); tokens are signed in the main process, one at a time.  Failures come back as data: a
    transient one (TSA down) is retried later by the runner, never turned into a rejection."""
    import hashlib

    from .errors import QamqorError, TransientError
    from .sealing import SigningService
    from .verification import verify_url

    config = job["seal"]["config"]
    service = _sealers.get(config.source)
    if service is None:
        service = _sealers[config.source] = SigningService(config)
    officer = config.officer(job["seal"]["officer"])
    try:
        signed, info = service.sign(
            pdf, field=field, officer=officer, secret=None, approved_sha256=hashlib.sha256(pdf).hexdigest(),
            document_kind=job["kind"], language=job["language"],
            verify_url=verify_url(config, job["document_id"]),
            organisation_bin=job["seal"].get("organisation_bin"),
        )
    except TransientError as err:
        return {"seal_error": err.one_line(), "transient": True}
    except QamqorError as err:
        return {"seal_error": err.one_line(), "transient": False}
    except Exception as exc:  # noqa: BLE001 - reported per document
        return {"seal_error": f"{type(exc).__name__}: {exc}", "transient": False}
    return {"signed": signed, "sign_info": info, "field": field, "officer": officer.id}

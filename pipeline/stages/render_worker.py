"""The half of stage 5 that runs in a render worker process: render one document, and sign it there when it is
signed automatically with a key file.  Pure compute: no journal, no outbox, and none of their imports (a worker
starts without SQLAlchemy; #13), so the driver (:mod:`pipeline.stages.render`) submits :func:`run` to a warm
process (:mod:`pipeline.workers`) and stores what comes back.
"""

from __future__ import annotations

import dataclasses
import errno
import logging
from typing import Any, NamedTuple

from ..config import Config
from ..errors import QamqorError, TransientError
from ..outbox import sha256
from ..verify_links import verify_url

log = logging.getLogger("qamqor.render")


@dataclasses.dataclass(frozen=True)
class SealJob:
    """Sign the rendered document in the worker, automatically, with this officer's key file."""

    config: Config
    officer: str  #: the officer's id in the configuration
    organisation_bin: str | None  #: the BIN the certificate must carry (None: not checked)


@dataclasses.dataclass(frozen=True)
class RenderJob:
    document_id: str
    kind: str
    language: str
    context: dict[str, Any]  #: what the templates read
    attachments: tuple[tuple[str, bytes, str], ...]  #: (name, bytes, MIME type): the source event
    seal: SealJob | None = None


class WorkerSignature(NamedTuple):
    field: str  #: the field signed
    officer: str  #: who signed (the officer's id)
    pdf: bytes  #: the signed PDF
    info: dict[str, Any]  #: the ``signed_by`` entry
    report: str | None = None  #: the archive's ETSI report of ``pdf``, made in the worker (#13; issue 12 #4)


class RenderResult(NamedTuple):
    document_id: str
    pdf: bytes | None = None  #: the rendered work file (None when rendering failed)
    pages: int = 0
    fields: tuple[dict[str, Any], ...] = ()  #: the reserved signature fields, in signing order
    failure: str | None = None  #: why rendering failed (a stable code and the message)
    transient: bool = False  #: the failure was the machine's (a full disk, no memory), not the document's
    signature: WorkerSignature | None = None  #: signed in the worker (``RenderJob.seal``)
    signature_failure: str | None = None  #: why signing in the worker failed
    signature_transient: bool = False


_renderer: Any = None
_signatures: dict[Any, Any] = {}


def warm() -> None:
    """Load fonts, stylesheets and templates once per process."""
    global _renderer
    if _renderer is None:
        from forms.render import Renderer

        _renderer = Renderer()


def run(job: RenderJob) -> RenderResult:
    """Render one document.  A failure comes back as data, not an exception, so one bad document (a character
    no shipped font has, a template bug) cannot stop the others; the driver retries it a few times, then sets
    it aside as failed."""
    try:
        warm()
        doc = _renderer.render(job.kind, job.language, job.context, attachments=job.attachments)
    except (MemoryError, OSError) as exc:
        # the machine, not the document: a full disk, no memory — retried later, never counted against it
        transient = isinstance(exc, MemoryError) or exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.ENOMEM)
        return RenderResult(job.document_id, failure=f"{type(exc).__name__}: {exc}", transient=transient)
    except QamqorError as err:
        return RenderResult(job.document_id, failure=err.one_line())
    except Exception as exc:  # noqa: BLE001 - reported per document, the traceback goes to the log
        log.debug("render failed", exc_info=True)
        return RenderResult(job.document_id, failure=f"{type(exc).__name__}: {exc}")
    fields = tuple({"name": f.name, "page": f.page, "rect": list(f.rect), "role": getattr(f, "role", None)}
                   for f in doc.signature_fields)
    result = RenderResult(job.document_id, doc.pdf, doc.pages, fields)
    if job.seal and fields:
        result = _sign_in_worker(job, result, doc.qr)
    return result


def _sign_in_worker(job: RenderJob, result: RenderResult, qr: tuple[bytes, ...] = ()) -> RenderResult:
    """Sign a freshly rendered automatic document with a key file every worker can load (PKCS#12).  Failures
    come back as data: a transient one (TSA down) is retried later, never turned into a rejection."""
    from forms.catalogue import signers_by_role

    from ..signatures import Signatures, SignRequest

    assert job.seal is not None and result.pdf is not None
    config = job.seal.config
    signatures = _signatures.get(config.source)
    if signatures is None:
        signatures = _signatures[config.source] = Signatures(config, signers_by_role())
    officer = config.officer(job.seal.officer)
    field = result.fields[0]["name"]
    url = verify_url(config, job.document_id)
    request = SignRequest(result.pdf, field, sha256(result.pdf), job.kind, job.language, url,
                          job.seal.organisation_bin, qr if url == job.context["document"].get("verify_url") else ())
    try:
        signed, info = signatures.backend(officer).sign(request)
    except TransientError as err:
        return result._replace(signature_failure=err.one_line(), signature_transient=True)
    except QamqorError as err:
        return result._replace(signature_failure=err.one_line())
    except Exception as exc:  # noqa: BLE001 - reported per document
        return result._replace(signature_failure=f"{type(exc).__name__}: {exc}")
    return result._replace(signature=WorkerSignature(field, officer.id, signed, info, _report(config, signed)))


def _report(config: Config, signed: bytes) -> str | None:
    """The archive route's ETSI report (issue 12 #4), made here beside the signature rather than at delivery in
    the driver (#13: the validation was most of the driver's time per document).  None when it cannot be made:
    the delivery then makes it."""
    from ..archive import etsi_report

    if not config.signing.trust_roots:
        return None
    try:
        return etsi_report(signed, list(config.signing.trust_roots))
    except Exception:  # noqa: BLE001 - a reading of the evidence, never a reason to lose the signature
        log.warning("no ETSI report for %s in the worker", config.source, exc_info=True)
        return None

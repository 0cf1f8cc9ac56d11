"""Stage 5, render: a requested document becomes its PDF/A work file.

:func:`job` builds a :class:`RenderJob` from the journal (the templates' context is data only: the case's
event trees and what the rules computed; the document's date is its event's, never the wall clock, so the same
event renders the same bytes); :func:`run` renders it in a worker process — pure compute, no journal — and, for a
document signed automatically with a key file, signs it there too (the signature is only *stored* by
:mod:`pipeline.stages.sign`); :func:`store` writes the work file and journals it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import errno
import logging
from typing import Any, NamedTuple

from ..cluster import fencing
from ..config import Config
from ..core import lifecycle
from ..core.rules import KZ_TZ, local_date
from ..errors import NotFound, QamqorError, TransientError
from ..faults import checkpoint
from ..journal import store
from ..outbox import atomic_write, sha256
from ..services import Services
from ..verify_links import verify_url

log = logging.getLogger("qamqor.render")

#: the event trees the templates read, by event type
SERVICE_EVENTS = {
    "application.submitted": "application",
    "documents.checked": "check",
    "inspection.completed": "inspection",
    "decision.made": "decision",
}


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


# --- in the main process: the job ----------------------------------------------------------------------------


def case_trees(services: Services, case_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The newest applied payload of each event type that templates read, and the application's envelope."""
    trees: dict[str, Any] = {v: None for v in SERVICE_EVENTS.values()}
    envelope: dict[str, Any] = {}
    for r in store.applied_events(services.journal, case_id):
        if r.event in SERVICE_EVENTS:
            trees[SERVICE_EVENTS[r.event]] = r.tree["data"]
        if r.event == "application.submitted":
            envelope = r.tree
    return trees, envelope


def organisation_bin(doc: store.DocumentRow, application: dict[str, Any] | None) -> str | None:
    """The BIN the signer's certificate must carry.  The PSC's BIN is not in the case events (contract.md),
    so an operator's organisation is not checked."""
    if doc.signer_role == "operator":
        return None
    return ((application or {}).get("provider") or {}).get("bin")


def context(services: Services, doc: store.DocumentRow) -> tuple[dict[str, Any], tuple[tuple[str, bytes, str], ...]]:
    source = store.get_event(services.journal, doc.event_id)
    if source is None:
        raise NotFound(f"event {doc.event_id} of document {doc.document_id} is not in the journal")
    moment = dt.datetime.fromisoformat(source.occurred_at).astimezone(KZ_TZ)
    trees, envelope = case_trees(services, doc.case_id)
    computed = dict(doc.context)
    app = trees["application"] or {}
    if "children" in computed and app:
        by_iin = {c["iin"]: c for c in app.get("children", [])}
        computed["children"] = [{**by_iin.get(c["iin"], {}), **c} for c in computed["children"]]
    decision = trees["decision"]
    if doc.kind == "order" and decision:
        date = dt.date.fromisoformat(decision.get("order_date") or local_date(moment).isoformat())
    else:
        date = local_date(moment)
    number = doc.number or register(services, doc, date.year)
    ctx = {
        "document": {
            "kind": doc.kind, "id": doc.document_id, "number": number or doc.document_id,
            "date": date.isoformat(), "datetime": moment.isoformat(), "language": doc.language,
            "verify_url": verify_url(services.config, doc.document_id),
        },
        "case": {"case_id": doc.case_id, "channel": app.get("channel"), "submitted_at": envelope.get("occurred_at")},
        **trees,
        "computed": computed,
    }
    attachments: tuple[tuple[str, bytes, str], ...] = ()
    input_path = services.dirs.inputs / source.input_id
    if input_path.exists():
        data = input_path.read_bytes()
        xml = data[:200].lstrip().startswith(b"<")
        attachments = ((f"event-{doc.event_id}{'.xml' if xml else '.json'}", data,
                        "application/xml" if xml else "application/json"),)
    return ctx, attachments


def register(services: Services, doc: store.DocumentRow, year: int) -> str | None:
    """Issue 11 #9: a receipt, notice or refusal gets its office's registration number (service.toml
    ``[registration]``) the first time it is rendered; kinds not listed there (the order, the act) keep the
    numbers their events give.  None: the kind is not registered so."""
    from forms.catalogue import registration

    fmt, kinds = registration()
    if doc.kind not in kinds:
        return None
    with services.journal.tx() as conn:
        return store.register_document(conn, doc.document_id, office=doc.office, year=year, fmt=fmt)


def job(services: Services, doc: store.DocumentRow, *, seal: bool = True) -> RenderJob:
    ctx, attachments = context(services, doc)
    seal_job = None
    if seal and doc.signed_automatically and services.config.signing.auto_seal:
        officer = services.signatures.auto_officer(doc.signer_role, doc.office, doc.named_signer)
        if officer is not None and officer.backend == "pkcs12":  # tokens sign in the main process, one at a time
            seal_job = SealJob(services.config, officer.id, organisation_bin(doc, ctx.get("application")))
    return RenderJob(doc.document_id, doc.kind, doc.language, ctx, attachments, seal_job)


def due(services: Services, now: dt.datetime, skip: set[str]) -> list[store.DocumentRow]:
    """Requested documents whose (next) attempt is due, oldest first."""
    return [d for d in store.documents_to_render(services.journal)
            if d.due_now(now) and d.document_id not in skip]


# --- in the worker: the render -------------------------------------------------------------------------------

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
        result = _sign_in_worker(job, result)
    return result


def _sign_in_worker(job: RenderJob, result: RenderResult) -> RenderResult:
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
    request = SignRequest(result.pdf, field, sha256(result.pdf), job.kind, job.language,
                          verify_url(config, job.document_id), job.seal.organisation_bin)
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


# --- back in the main process: the store ---------------------------------------------------------------------


def store_result(services: Services, doc: store.DocumentRow, result: RenderResult) -> bool:
    """Write the work file and journal it; a failure is counted (and retried with backoff) instead.  True when
    the document was rendered."""
    if result.failure is not None or result.pdf is None:
        failed(services, doc, result.failure or "no PDF", transient=result.transient)
        return False
    path = services.dirs.documents / f"{doc.document_id}{fencing.tag()}.pdf"
    fencing.ensure_mine(services.journal)  # several nodes: a stale node writes nothing (issue 10)
    atomic_write(path, result.pdf)
    checkpoint("rendered-written")
    with services.journal.tx() as conn:
        store.store_render(conn, doc, pdf_path=str(path), pdf_sha256=sha256(result.pdf),
                           fields=list(result.fields), pages=result.pages)
    checkpoint("rendered")
    return True


#: a document whose render fails this many times is set aside as failed (a poison input is not retried forever)
MAX_ATTEMPTS = 3


def failed(services: Services, doc: store.DocumentRow, error: str, *, transient: bool = False) -> None:
    from .. import clock

    attempts = doc.attempts + (0 if transient else 1)
    final = attempts >= MAX_ATTEMPTS
    with services.journal.tx() as conn:
        store.render_failed(conn, doc.document_id, attempts=attempts, error=error, final=final,
                            next_attempt_at=lifecycle.retry_at(clock.now(), attempts, base=10))
    log.error("rendering %s failed (%d/%d): %s", doc.document_id, attempts, MAX_ATTEMPTS, error)

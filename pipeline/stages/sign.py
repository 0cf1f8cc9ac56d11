"""Stage 6, sign: one signature of one document — the next reserved field, as one officer, with one backend.

Everything around a signature is here, once, whatever the backend (:mod:`pipeline.signatures`): the checks
before it (:func:`check`: the document waits for a signature, the officer's role and office, ¶10–11 the act
before the order, the officer the event named, the work file's bytes unchanged and bound to the approval), the
journaled ``signing`` step, adopting a signed file a crash left behind (only this officer's signature over the
approved bytes), and the conditional store.  The command line, the desk and the NCALayer path all come here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .. import clock
from ..archive import ready_report
from ..cluster import fencing
from ..config import Officer
from ..core import lifecycle
from ..errors import NotFound, QamqorError, StateConflict, TransientError
from ..faults import checkpoint
from ..journal import store
from ..locks import document_lock
from ..outbox import atomic_write_all, sha256
from ..services import Services
from ..signatures import SignatureBackend, SignRequest
from ..verify_links import verify_url
from .deliver import Signed, plan_in
from .render import RenderResult, case_trees, organisation_bin, work_file

log = logging.getLogger("qamqor.sign")


@dataclass(frozen=True)
class Ready:
    """A document that passed :func:`check`: what to sign, bound to which bytes."""

    doc: store.DocumentRow
    field: str
    data: bytes  #: the work file now
    approved_sha256: str


def may_act(services: Services, officer: Officer, doc: store.DocumentRow) -> bool:
    """An officer acts only within their role and office (an inspector cannot sign an order)."""
    return lifecycle.may_sign(officer.role, officer.office, doc.kind, doc.office, services.signers)


def waiting_for(services: Services, doc: store.DocumentRow) -> str | None:
    """Why a document cannot be signed yet, or None (¶10–11: the act before the order or the refusal)."""
    status = lifecycle.waits_for_act(doc.kind, store.act_statuses(services.journal, doc.case_id))
    return f"the inspection act of {doc.case_id} is {status}, not signed yet" if status else None


def check(services: Services, document_id: str, officer: Officer, approved_sha256: str | None = None, *,
          in_queue: bool = False) -> Ready:
    """The one check before a signature, for every path (automatic, the command line, the desk, NCALayer)."""
    doc = store.get_document(services.journal, document_id)
    if doc is None:
        raise NotFound(f"no document {document_id}", remedy="see `qamqor queue list`")
    waiting = lifecycle.IN_QUEUE if in_queue else lifecycle.AWAITING_SIGNATURE
    if doc.status not in waiting:
        raise StateConflict(f"{document_id} is {doc.status}, not waiting for a signature")
    if in_queue:
        if not may_act(services, officer, doc):
            raise StateConflict(f"{officer.id} ({officer.role}, {officer.office}) may not sign {doc.kind} of "
                                f"{doc.office}", remedy="the officer of that role and office approves it")
        blocked = waiting_for(services, doc)
        if blocked:
            raise StateConflict(blocked, remedy="the inspectors sign the act first")
    if not doc.fields:
        raise StateConflict(f"document {document_id} has no signature field", remedy="render it again")
    field = doc.next_field
    if field is None:
        raise StateConflict(f"document {document_id} is already signed by all its signers")
    expected = doc.next_signer
    if expected and expected.get("iin") and officer.iin != expected["iin"]:
        raise StateConflict(
            f"field {field['name']} of {document_id} is for {expected['name']} ({expected['iin']}), "
            f"not {officer.name} ({officer.iin})", remedy="the named officer approves it")
    # each field by a different officer (#14.10): an event that names two inspectors without their IINs must not
    # let one of them sign both fields of the act
    for earlier in doc.signed_by:
        if earlier.get("officer") == officer.id or (officer.iin and earlier.get("iin") == officer.iin):
            raise StateConflict(
                f"{officer.id} ({officer.name}) already signed {earlier.get('field', 'a field')} of {document_id}; "
                f"field {field['name']} is for another of its signers", remedy="another named officer approves it")
    data = open(doc.pdf_path or "", "rb").read()
    if sha256(data) != doc.pdf_sha256:
        raise StateConflict(f"the work file of {document_id} changed on disk", remedy="render it again")
    return Ready(doc, field["name"], data, approved_sha256 or doc.pdf_sha256 or "")


def organisation_for(services: Services, doc: store.DocumentRow) -> str | None:
    trees, _envelope = case_trees(services, doc.case_id)
    return organisation_bin(doc, trees.get("application"))


def request(services: Services, ready: Ready) -> SignRequest:
    doc = ready.doc
    return SignRequest(ready.data, ready.field, ready.approved_sha256, doc.kind, doc.language,
                       verify_url(services.config, doc.document_id), organisation_for(services, doc))


def sign(services: Services, document_id: str, backend: SignatureBackend, *,
         approved_sha256: str | None = None, in_queue: bool = False) -> dict[str, Any]:
    """Sign the document's next field with ``backend``; adopt a signed file a crash left behind.  One signer
    of a document at a time, across processes."""
    with document_lock(services.dirs.documents, document_id):
        ready = check(services, document_id, backend.officer, approved_sha256, in_queue=in_queue)
        doc, officer = ready.doc, backend.officer
        # the name _store writes: a crash's signed file is found again by the same process or a restarted one;
        # a node's retried job holds a newer fencing token, so it signs anew (its file has the new token's name)
        out = _signed_file(services, doc)
        with services.journal.tx() as conn:
            store.start_signing(conn, doc, field=ready.field, officer=officer.id)
        adopted = False
        if out.exists():
            previous = out.read_bytes()
            # A crash after writing: the signature is there.  Adopt it only if it is this officer's, over the
            # bytes the officer approved; anything else is discarded and signed anew.
            if (previous.startswith(ready.data) and len(previous) > len(ready.data)
                    and ready.approved_sha256 == sha256(ready.data) and backend.made_last_signature(previous)):
                signed, adopted = previous, True
            else:
                out.unlink()
        if adopted:
            from ..signatures import _last_signer_cert, describe

            sig = _last_signer_cert(signed)
            info = describe(officer, sig.signer_cert, services.signatures.level, sig.self_reported_timestamp)
        else:
            try:
                signed, info = backend.sign(request(services, ready))
            except Exception:
                with services.journal.tx() as conn:  # nothing half-signed: the work file is untouched
                    store.signing_failed(conn, doc)
                raise
        return _store(services, doc, ready.field, officer, signed, info, adopted=adopted)[0]


def _store(services: Services, doc: store.DocumentRow, field: str, officer: Officer, signed: bytes,
           info: dict[str, Any], *, adopted: bool = False, report: str | None = None,
           read_now: bool = False) -> tuple[dict[str, Any], lifecycle.DocumentStatus]:
    """Write the signed work file (unless a crash left it there already) and journal the signature; a
    ``report`` (the ETSI validation report the worker made of ``signed``) goes beside it for the delivery.
    ``read_now``: ``doc`` was read under the document's lock just before, so it is not read again before the
    file is written.  Returns the signature's entry and the document's new status."""
    out = _signed_file(services, doc)
    current = doc if read_now else store.get_document(services.journal, doc.document_id)
    if (current is None or current.signatures_done != doc.signatures_done
            or current.status not in lifecycle.AWAITING_SIGNATURE):
        raise StateConflict(f"{doc.document_id} changed while it was being signed", remedy="look at it again")
    if not adopted:
        atomic_write_all(_signed_files(out, signed, report))
    checkpoint("signed-written")
    entry = _entry(info, field, officer)
    with services.journal.tx() as conn:
        status = store.store_signature(conn, doc, pdf_path=str(out), pdf_sha256=sha256(signed), entry=entry,
                                       adopted=adopted).status
    checkpoint("signed")
    return entry, status


def _signed_file(services: Services, doc: store.DocumentRow) -> Path:
    """Where the next signature of ``doc`` is written; several nodes (issue 10): the token in the name keeps a
    stale node's file apart (as :func:`pipeline.stages.render.work_file`)."""
    return services.dirs.documents / f"{doc.document_id}.s{doc.signatures_done + 1}{fencing.tag()}.pdf"


def _signed_files(out: Path, signed: bytes, report: str | None) -> list[tuple[Path, bytes]]:
    """The signed work file and the ETSI report the worker made of it (beside it, for the delivery), report first."""
    return [*([(ready_report(out), report.encode("utf-8"))] if report else []), (out, signed)]


def _entry(info: dict[str, Any], field: str, officer: Officer) -> dict[str, Any]:
    """A signature's journal entry: what the backend said of it, the field, the officer, the service's time."""
    return {**info, "field": field, "officer": officer.id, "service_at": clock.now().isoformat()}


# --- automatic signatures (receipts, portal notices: ¶4, ¶7) -------------------------------------------------


def store_sealed_render(services: Services, doc: store.DocumentRow, result: RenderResult) -> Signed | None:
    """Stages 5 and 6 stored at once for a document its render worker rendered and sealed: the rendered and the
    signed work files (the report beside it) written as one group, then one transaction journals the render, the
    signature and, once signed, where its copies go (7's plan), as :func:`pipeline.stages.render.store_result`,
    :func:`store_worker_signature` and the delivery's own plan would one after the other.  A crash before the
    commit leaves the document ordered (rendered again next time), never rendered without its seal.  Issue 10:
    two transactions, their commits and three reads fewer for every document sealed so (on PostgreSQL each is a
    round trip; commits are what bound several nodes).  The document signed, for its delivery; None when it
    waits for another signature."""
    signature = result.signature
    assert signature is not None and result.pdf is not None
    rendered, out = work_file(services, doc), _signed_file(services, doc)
    officer = services.config.officer(signature.officer)
    with document_lock(services.dirs.documents, doc.document_id):
        atomic_write_all([(rendered, result.pdf), *_signed_files(out, signature.pdf, signature.report)])
        checkpoint("rendered-written")
        checkpoint("signed-written")
        with services.journal.tx() as conn:
            status = store.store_render(conn, doc, pdf_path=str(rendered), pdf_sha256=sha256(result.pdf),
                                        fields=list(result.fields), pages=result.pages)
            now_rendered = replace(doc, status=status, fields=tuple(result.fields), pdf_path=str(rendered))
            signed = store.store_signature(conn, now_rendered, pdf_path=str(out), pdf_sha256=sha256(signature.pdf),
                                           entry=_entry(signature.info, signature.field, officer), adopted=False)
            planned = plan_in(conn, services, signed) if signed.status == lifecycle.DocumentStatus.SIGNED else None
    checkpoint("rendered")
    checkpoint("signed")
    return Signed(signed.document_id, signed, planned) if planned is not None else None


def store_worker_signature(services: Services, document_id: str, result: RenderResult) -> bool:
    """Store the signature a render worker made (or its failure) for a document just rendered; without one,
    sign it here (a token's key).  True when the document is now signed."""
    signature = result.signature
    if signature is not None:
        with document_lock(services.dirs.documents, document_id):
            doc = store.get_document(services.journal, document_id)
            if doc is None or doc.status != lifecycle.DocumentStatus.RENDERED:
                return False
            officer = services.config.officer(signature.officer)
            _entry, status = _store(services, doc, signature.field, officer, signature.pdf, signature.info,
                                    report=signature.report, read_now=True)
        return status == lifecycle.DocumentStatus.SIGNED
    doc = store.get_document(services.journal, document_id)
    if doc is None or doc.status != lifecycle.DocumentStatus.RENDERED:
        return False
    if result.signature_failure is not None:
        _failed(services, doc, result.signature_failure, transient=result.signature_transient)
        return False
    automatic(services, doc)
    signed = store.get_document(services.journal, document_id)
    return signed is not None and signed.status == lifecycle.DocumentStatus.SIGNED


def automatic(services: Services, doc: store.DocumentRow) -> None:
    """Sign a document that needs no officer with the configured key; a transient failure (TSA down…) is
    retried later with backoff, never turned into a rejection."""
    if not doc.due_now(clock.now()):
        return
    officer = services.signatures.auto_officer(doc.signer_role, doc.office, doc.named_signer)
    if officer is None:
        who = f" (IIN {doc.named_signer})" if doc.named_signer else ""
        with services.journal.tx() as conn:
            store.hold_in_queue(conn, doc.document_id,
                                f"no key configured for the {doc.signer_role}{who} of {doc.office}")
        return
    try:
        sign(services, doc.document_id, services.signatures.backend(officer))
    except TransientError as err:
        _failed(services, doc, err.one_line(), transient=True)
    except StateConflict as err:
        log.warning("%s: %s", doc.document_id, err.one_line())  # another process has it now
    except QamqorError as err:
        _failed(services, doc, err.one_line(), transient=False)
    except OSError as exc:
        import errno

        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise
        _failed(services, doc, f"{type(exc).__name__}: {exc}", transient=False)


def automatic_all(services: Services) -> None:
    """Documents rendered (or interrupted while signing) that need no officer."""
    for doc in store.documents_to_sign_automatically(services.journal):
        automatic(services, doc)


def _failed(services: Services, doc: store.DocumentRow, error: str, *, transient: bool) -> None:
    with services.journal.tx() as conn:
        if transient:
            attempts = doc.attempts + 1
            store.retry_later(conn, doc.document_id, attempts=attempts,
                              at=lifecycle.retry_at(clock.now(), attempts, base=5), error=error)
            return
        store.hold_in_queue(conn, doc.document_id, error, step_name="seal-failed")
    log.error("signing %s automatically failed: %s", doc.document_id, error)

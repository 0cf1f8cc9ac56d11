"""The runner: inbox → journal → rules → documents → signatures → outbox, exactly once.

Every phase reads what to do from the journal, so a process killed at any point (``pipeline.faults``) resumes
where it stopped when started again: a step is journaled before its effect on disk, every effect is idempotent
(deterministic names, atomic renames of the same bytes), and a signed file already written is adopted rather
than signed again.

Phases of one pass (:meth:`Pipeline.run_once`):

1. *claim*: settled files in ``inbox/`` are renamed into ``<state>/work/inputs/`` (atomic: two workers never
   take the same file);
2. *ingest*: each input is parsed (:mod:`pipeline.ingest`); bad input goes to ``outbox/rejected/…`` with its
   ``.error.json``; a known ``event_id`` with the same bytes is a duplicate, with other bytes a conflict;
3. *apply*: each case's pending events, in ``occurred_at`` order, through the rules core (:mod:`pipeline.core.rules`);
4. *clock*: ¶14 transfers of unclaimed results;
5. *render*: ordered documents, in warm worker processes (:mod:`pipeline.dispatch`);
6. *seal*: documents that need no officer are signed with the configured key; others wait in the queue;
7. *deliver*: signed documents to their routes, each file atomically with its manifest.
"""

from __future__ import annotations

import datetime as dt
import errno
import fcntl
import json
import logging
import os
import shutil
import stat
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from sqlalchemy import and_, select, update

from . import clock
from .core import rules
from forms.catalogue import load_rules_context
from . import journal as J
from .config import Config
from .dispatch import Dispatcher, InlineDispatcher
from .errors import Busy, InputError, QamqorError, StateConflict, TransientError, Where
from .core.events import Event
from .faults import checkpoint
from .outbox import atomic_write, atomic_write_json, rejected_dir, safe_component, sha256

log = logging.getLogger("qamqor.runner")

TEMP_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".swp")
EVENT_SUFFIXES = (".json", ".xml")
AUTO_ROLES = ("operator", "provider_seal")  # receipts and portal notices: sealed without an officer (¶4, ¶7)
RESULT_KINDS = ("order", "reasoned_refusal")


CROSS_CLAIM = ".claimed-"  # prefix of a file claimed inside the inbox (an inbox on another filesystem)


def is_candidate(name: str) -> bool:
    """A name in the inbox that may be an event (temporary names and dot-files are never read)."""
    return not name.startswith(".") and not name.lower().endswith(TEMP_SUFFIXES) and not name.startswith("~")


def syntax_complete(data: bytes, name: str) -> bool:
    """Whether the bytes parse as JSON or XML at all (a cheap check; ingest does the real one)."""
    if name.lower().endswith(".json"):
        try:
            json.loads(data)
        except ValueError:
            return False
        return True
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        etree.fromstring(data, parser)
    except etree.XMLSyntaxError:
        return False
    return True


class StateLock:
    """One ``qamqor run`` per state folder: a second one refuses to start with a clear message."""

    def __init__(self, state: Path):
        state.mkdir(parents=True, exist_ok=True)
        self.path = state / "run.lock"
        self._fh: Any = None

    def acquire(self) -> StateLock:
        fh = open(self.path, "a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            fh.close()
            raise Busy(f"another qamqor run ({holder}) is working on {self.path.parent}",
                       remedy="stop it first, or give this one another state folder") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}")
        fh.flush()
        self._fh = fh
        return self

    def release(self) -> None:
        if self._fh:
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None

    def __enter__(self) -> StateLock:
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()


class Pipeline:
    def __init__(
        self,
        config: Config,
        *,
        dispatcher: Dispatcher | None = None,
        signing: Any = None,
        ctx: rules.RulesContext | None = None,
        progress: Callable[[str, int, int], None] | None = None,
    ):
        self.config = config
        from .audit import AuditLog

        self.journal = J.Journal(config.journal_url, audit=AuditLog(config.state / "audit.jsonl"))
        self.ctx = ctx or load_rules_context()
        self.dispatcher = dispatcher or InlineDispatcher()
        if signing is None:
            from .sealing import SigningService

            signing = SigningService(config)
        self.signing = signing
        self.progress = progress or (lambda phase, done, total: None)
        self._in_flight: dict[Any, tuple[Any, bool]] = {}  # render jobs handed to the workers
        self._in_flight_ids: set[str] = set()
        self._done_count = 0
        self.inputs_dir = config.work / "inputs"  # every input taken, kept as it came (journaled)
        self.claimed_dir = config.work / "claimed"  # just claimed, not journaled yet (a crash leaves them here)
        self.docs_dir = config.work / "documents"
        for d in (config.inbox, config.outbox, self.inputs_dir, self.claimed_dir, self.docs_dir):
            d.mkdir(parents=True, exist_ok=True)
        from .verification import ensure_key

        ensure_key(config)  # before any worker needs it

    # --- the whole pass ------------------------------------------------------------------------------------

    #: inputs claimed per pass: the pipeline works through any backlog in bounded steps (memory stays flat)
    batch = 64
    #: a document whose render fails this many times is set aside as failed (a poison input is not retried forever)
    max_attempts = 3

    def run_once(self, *, settle: bool = True) -> dict[str, int]:
        """Process what is in the inbox, in batches, and finish in-flight work.

        A full disk is a transient error: the pass stops where it is (every step is journaled before its
        effect) and the next pass resumes; nothing is rejected because of it."""
        try:
            return self._run_once(settle=settle)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                self.harvest_quietly()
                raise TransientError(f"no space left on the device writing {exc.filename or 'a file'}",
                                     remedy="free disk space; the next pass resumes where this one stopped") from exc
            raise

    def harvest_quietly(self) -> None:
        """Forget render jobs in flight (their documents stay 'ordered' and are rendered again next pass)."""
        for future in list(self._in_flight):
            future.cancel()
        self._in_flight.clear()
        self._in_flight_ids.clear()

    def _run_once(self, *, settle: bool = True) -> dict[str, int]:
        claimed = 0
        while True:
            n = self.claim(settle=settle, limit=self.batch)
            claimed += n
            self.ingest()
            self.apply()
            self.clock_tick()
            self.submit_ordered()
            if n < self.batch:
                break
        self.harvest(block=True)
        self.seal()
        self.deliver()
        self.sync_audit()
        return {"claimed": claimed, **self.counts()}

    def sync_audit(self) -> None:
        if self.journal.audit is not None:
            self.journal.audit.sync()

    def counts(self) -> dict[str, int]:
        from sqlalchemy import func

        with self.journal.engine.connect() as conn:
            rows = conn.execute(select(J.documents.c.status, func.count()).group_by(J.documents.c.status)).all()
        return {f"documents_{s}": n for s, n in rows}

    # --- 1. claim ------------------------------------------------------------------------------------------

    def scan(self) -> list[Path]:
        try:
            names = sorted(os.listdir(self.config.inbox))
        except FileNotFoundError:
            return []
        return [self.config.inbox / n for n in names if is_candidate(n)]

    def _settled(self, path: Path, st: os.stat_result) -> bool:
        """Size and modification time unchanged for ``settle_seconds`` (slow copies are not read half-written)."""
        age = time.time() - st.st_mtime
        if age >= self.config.settle_seconds:
            return True
        time.sleep(max(0.0, self.config.settle_seconds - age))
        try:
            st2 = os.lstat(path)
        except FileNotFoundError:
            return False
        return (st2.st_size, st2.st_mtime_ns) == (st.st_size, st.st_mtime_ns)

    def _complete(self, path: Path, st: os.stat_result) -> bool:
        """A file is taken when it parses; one that does not is taken (to be rejected) only once it has been
        still for ``incomplete_grace`` seconds — a slow copier that pauses is not read half-written."""
        if time.time() - st.st_mtime >= self.config.incomplete_grace or st.st_size > self.config.max_event_bytes:
            return True
        if not path.name.lower().endswith(EVENT_SUFFIXES):
            return True
        try:
            data = path.read_bytes()
        except OSError:
            return False
        return syntax_complete(data, path.name)

    def claim(self, *, settle: bool = True, limit: int | None = None) -> int:
        n = 0
        for path in self.scan():
            if limit is not None and n >= limit:
                break
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                continue
            if stat.S_ISDIR(st.st_mode):
                continue
            if settle and stat.S_ISREG(st.st_mode) and not self._settled(path, st):
                continue
            if stat.S_ISREG(st.st_mode) and not self._complete(path, st):
                continue  # still being written: left for a later pass
            stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
            input_id = f"{stamp}-{safe_component(path.name)}"
            target = self.claimed_dir / input_id
            try:
                os.rename(path, target)  # the claim: atomic, so two workers never take the same file
            except FileNotFoundError:
                continue  # another worker was faster
            except OSError:
                # another filesystem (an NFS or SMB inbox): claim by a rename inside the inbox, then copy over
                hidden = path.with_name(f"{CROSS_CLAIM}{input_id}")
                try:
                    os.rename(path, hidden)
                except FileNotFoundError:
                    continue
                self._copy_claimed(hidden, input_id)
            checkpoint("claimed")
            self._record_input(input_id, original=path.name)
            n += 1
        self._recover_cross_claims()
        self._recover_unrecorded()
        return n

    def _copy_claimed(self, hidden: Path, input_id: str) -> None:
        """Copy a file claimed inside the inbox into the state folder: to a temporary, fsynced, renamed — a
        crash mid-copy leaves the original, never a truncated input."""
        tmp = self.claimed_dir / f".{input_id}.tmp"
        shutil.copyfile(hidden, tmp, follow_symlinks=False)
        if not os.path.islink(tmp):
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, self.claimed_dir / input_id)
        os.unlink(hidden)

    def _recover_cross_claims(self) -> None:
        """Inputs claimed inside the inbox by a process that died before copying them over."""
        for name in os.listdir(self.config.inbox):
            if name.startswith(CROSS_CLAIM):
                input_id = name.removeprefix(CROSS_CLAIM)
                self._copy_claimed(self.config.inbox / name, input_id)
                self._record_input(input_id, original=input_id.split("-", 1)[1] if "-" in input_id else input_id)

    def _record_input(self, input_id: str, original: str) -> None:
        """Journal a claimed input, then move it among the journaled ones (a small folder stays small)."""
        path = self.claimed_dir / input_id
        st = os.lstat(path)
        digest = sha256(path.read_bytes()) if stat.S_ISREG(st.st_mode) and st.st_size <= self.config.max_event_bytes else ""
        with self.journal.tx() as conn:
            if not conn.execute(select(J.inputs.c.input_id).where(J.inputs.c.input_id == input_id)).first():
                conn.execute(J.inputs.insert().values(
                    input_id=input_id, original_name=original, sha256=digest, size=st.st_size, status="claimed",
                    claimed_at=J.now_utc(),
                ))
                J.Journal.step(conn, input_id, "claimed", original=original)
        checkpoint("input-recorded")
        os.rename(path, self.inputs_dir / input_id)

    def _recover_unrecorded(self) -> None:
        """Files claimed by a process that died before journaling them (or before moving them on)."""
        for name in sorted(os.listdir(self.claimed_dir)):
            if not name.startswith("."):
                original = name.split("-", 1)[1] if "-" in name else name
                self._record_input(name, original=original)

    # --- 2. ingest -----------------------------------------------------------------------------------------

    def ingest(self) -> None:
        from .ingest import parse_event

        pending = self.journal.all(select(J.inputs).where(J.inputs.c.status.in_(("claimed", "rejecting"))))
        for row in pending:
            if row["status"] == "rejecting":
                self._finish_rejection(row["input_id"])
                continue
            path = self.inputs_dir / row["input_id"]
            try:
                data = self._read_input(path, row["original_name"])
                event = parse_event(data, filename=row["original_name"], max_bytes=self.config.max_event_bytes)
            except InputError as err:
                self._reject(row["input_id"], err)
                continue
            self._record_event(row["input_id"], event, sha256(data))

    def _read_input(self, path: Path, original: str) -> bytes:
        st = os.lstat(path)
        if not stat.S_ISREG(st.st_mode):
            kind = "a symbolic link" if stat.S_ISLNK(st.st_mode) else "not a regular file"
            raise InputError("E-FILE-TYPE", kind, Where())
        if not original.lower().endswith(EVENT_SUFFIXES):
            raise InputError("E-FILE-TYPE", f"{original!r} is neither .json nor .xml", Where())
        if st.st_size > self.config.max_event_bytes:
            raise InputError("E-FILE-TOO-LARGE", f"{st.st_size} bytes > {self.config.max_event_bytes}", Where())
        return path.read_bytes()

    def _record_event(self, input_id: str, event: Event, digest: str) -> None:
        with self.journal.tx() as conn:
            known = conn.execute(select(J.events).where(J.events.c.event_id == event.event_id)).mappings().first()
            if known is not None:
                if known["sha256"] == digest:
                    # The same event again: nothing changes and nothing new is issued.
                    conn.execute(update(J.inputs).where(J.inputs.c.input_id == input_id).values(
                        status="duplicate", event_id=event.event_id, case_id=event.case_id, finished_at=J.now_utc()))
                    J.Journal.step(conn, input_id, "duplicate", event_id=event.event_id)
                    return
                conflict = InputError("E-EVENT-CONFLICT", event.event_id, Where(pointer="/event_id"))
            else:
                conflict = None
                conn.execute(J.events.insert().values(
                    event_id=event.event_id, case_id=event.case_id, event=event.event,
                    occurred_at=event.occurred_at.isoformat(), sha256=digest, input_id=input_id,
                    raw=json.dumps(event.raw, ensure_ascii=False), status="pending", recorded_at=J.now_utc(),
                ))
                conn.execute(update(J.inputs).where(J.inputs.c.input_id == input_id).values(
                    status="parsed", event_id=event.event_id, case_id=event.case_id))
                J.Journal.step(conn, input_id, "event-recorded", event_id=event.event_id, case_id=event.case_id)
        if conflict is not None:
            self._reject(input_id, conflict)
        else:
            checkpoint("event-recorded")

    # --- rejections ----------------------------------------------------------------------------------------

    def _reject(self, input_id: str, err: InputError, *, conn: Any = None) -> None:
        """Journal the rejection (with where the original will go), then move it there."""
        row = self.journal.one(select(J.inputs).where(J.inputs.c.input_id == input_id))
        folder = rejected_dir(self.config.outbox, clock.today())
        name = safe_component(row["original_name"])
        if (folder / name).exists() and (folder / f"{name}.error.json").exists():
            name = f"{input_id.split('-', 1)[0]}-{name}"  # another input of the same name that day
        report = {
            "input": row["original_name"],
            "rejected_at": clock.now().isoformat(),
            "sha256": row["sha256"],
            "path": str((folder / name).relative_to(self.config.outbox)),
            **err.to_dict(),
        }
        values = {"status": "rejecting", "error": json.dumps(report, ensure_ascii=False)}
        if conn is not None:
            conn.execute(update(J.inputs).where(J.inputs.c.input_id == input_id).values(**values))
            J.Journal.step(conn, input_id, "rejecting", code=err.code)
            return
        with self.journal.tx() as c:
            c.execute(update(J.inputs).where(J.inputs.c.input_id == input_id).values(**values))
            J.Journal.step(c, input_id, "rejecting", code=err.code)
        self._finish_rejection(input_id)

    def _finish_rejection(self, input_id: str) -> None:
        checkpoint("rejecting")
        row = self.journal.one(select(J.inputs).where(J.inputs.c.input_id == input_id))
        report = json.loads(row["error"])
        target = self.config.outbox / report["path"]
        source = self.inputs_dir / input_id
        target.parent.mkdir(parents=True, exist_ok=True)
        if os.path.lexists(source):
            st = os.lstat(source)
            if stat.S_ISREG(st.st_mode):
                tmp = target.with_name(f".{target.name}.tmp")
                shutil.copyfile(source, tmp)  # the original bytes, untouched
                os.replace(tmp, target)
            else:
                # a link or device is moved as it is, never followed
                os.replace(source, target)
        checkpoint("rejected-copied")
        atomic_write_json(target.with_name(target.name + ".error.json"), report)
        with self.journal.tx() as conn:
            conn.execute(update(J.inputs).where(J.inputs.c.input_id == input_id).values(
                status="rejected", finished_at=J.now_utc()))
            J.Journal.step(conn, input_id, "rejected", code=report["code"], path=report["path"])
        log.warning("rejected %s: %s", row["original_name"], report["message"])

    # --- 3. apply ------------------------------------------------------------------------------------------

    def load_case(self, case_id: str, conn: Any = None) -> rules.CaseState | None:
        def run(c: Any) -> rules.CaseState | None:
            items: list[Any] = []
            log_rows = c.execute(select(J.case_log).where(J.case_log.c.case_id == case_id).order_by(J.case_log.c.id))
            raws = {r.event_id: r.raw for r in c.execute(
                select(J.events.c.event_id, J.events.c.raw).where(J.events.c.case_id == case_id))}
            for r in log_rows.mappings():
                if r["event_id"]:
                    items.append(Event.from_dict(json.loads(raws[r["event_id"]])))
                else:
                    items.append(rules.Transition(r["transition"], r["day"]))
            return rules.fold(items, self.ctx)

        if conn is not None:
            return run(conn)
        with self.journal.engine.connect() as c:
            return run(c)

    def apply(self) -> None:
        pending = self.journal.all(
            select(J.events).where(J.events.c.status == "pending").order_by(J.events.c.case_id, J.events.c.occurred_at))
        by_case: dict[str, list[Any]] = {}
        for row in pending:
            by_case.setdefault(row["case_id"], []).append(row)
        for rows in by_case.values():
            # contract.md, "Time": the events of one case that wait together apply in occurred_at order
            rows.sort(key=lambda r: (dt.datetime.fromisoformat(r["occurred_at"]), r["recorded_at"]))
            for row in rows:
                self._apply_one(row)

    def _apply_one(self, row: Any) -> None:
        event = Event.from_dict(json.loads(row["raw"]))
        with self.journal.tx() as conn:
            state = self.load_case(event.case_id, conn)
            try:
                outcome = rules.apply(state, event, self.ctx)
            except InputError as err:
                conn.execute(update(J.events).where(J.events.c.event_id == event.event_id).values(status="rejected"))
                self._reject(row["input_id"], err, conn=conn)
                reject_input = row["input_id"]
            else:
                reject_input = None
                self._store_outcome(conn, event, outcome)
        if reject_input:
            self._finish_rejection(reject_input)
            return
        checkpoint("applied")

    def _store_outcome(self, conn: Any, event: Event | None, outcome: rules.Outcome,
                       transition: rules.Transition | None = None) -> None:
        s = outcome.state
        if event is not None:
            conn.execute(update(J.events).where(J.events.c.event_id == event.event_id).values(
                status="applied", seq=self.journal.next_seq(conn)))
            conn.execute(update(J.inputs).where(J.inputs.c.event_id == event.event_id).where(
                J.inputs.c.status == "parsed").values(status="applied", finished_at=J.now_utc()))
            conn.execute(J.case_log.insert().values(case_id=s.case_id, event_id=event.event_id, at=J.now_utc()))
        else:
            conn.execute(J.case_log.insert().values(
                case_id=s.case_id, transition=transition.name, day=transition.day, at=J.now_utc()))
        values = dict(status=s.status, channel=s.channel, language=s.language, provider=s.provider, psc=s.psc,
                      applicant_iin=s.applicant_iin, submitted_on=s.submitted_on, result_at=s.result_at,
                      updated_at=J.now_utc())
        if conn.execute(select(J.cases.c.case_id).where(J.cases.c.case_id == s.case_id)).first():
            conn.execute(update(J.cases).where(J.cases.c.case_id == s.case_id).values(**values))
        else:
            conn.execute(J.cases.insert().values(case_id=s.case_id, **values))
        conn.execute(J.deadlines.delete().where(J.deadlines.c.case_id == s.case_id))
        for d in s.deadlines:
            conn.execute(J.deadlines.insert().values(
                case_id=s.case_id, key=d.key, term=d.term, paragraph=d.paragraph, opened_on=d.opened_on, due=d.due,
                closed_on=d.closed_on))
        for order in outcome.documents:
            self._order_document(conn, order)
        for action in outcome.actions:
            J.Journal.step(conn, s.case_id, f"action:{action}")
        J.Journal.step(conn, s.case_id, f"applied:{event.event if event else transition.name}", status=s.status)

    def _order_document(self, conn: Any, order: rules.DocumentOrder) -> None:
        doc_id = order.document_id
        n = 1
        while conn.execute(select(J.documents.c.document_id).where(J.documents.c.document_id == doc_id)).first():
            n += 1
            doc_id = f"{order.document_id}-{n}"
        conn.execute(J.documents.insert().values(
            document_id=doc_id, case_id=order.case_id, kind=order.kind, language=order.language,
            event_id=order.event_id, signer_role=order.signer_role, office=order.office,
            signers=json.dumps([asdict(s) for s in order.signers], ensure_ascii=False),
            routes=json.dumps(list(order.routes)), number=order.number, status="ordered",
            order=json.dumps(order.computed, ensure_ascii=False, default=str), signatures_done=0, attempts=0,
            created_at=J.now_utc(), updated_at=J.now_utc(),
        ))
        J.Journal.step(conn, doc_id, "ordered", kind=order.kind)

    def transition(self, case_id: str, name: str, day: dt.date) -> rules.Outcome:
        with self.journal.tx() as conn:
            state = self.load_case(case_id, conn)
            t = rules.Transition(name, day)
            outcome = rules.step(state, t, self.ctx)
            self._store_outcome(conn, None, outcome, t)
        return outcome

    # --- 4. the service's clock (¶14) -----------------------------------------------------------------------

    def clock_tick(self) -> None:
        """¶14: results unclaimed at the PSC past their month go to the provider; requested ones go back.
        Reads only the open deadlines that are due (an index), so it stays cheap however many cases there are."""
        from .delivery import move_result

        today = clock.today()
        expired = self.journal.all(select(J.deadlines.c.case_id).where(
            J.deadlines.c.key == "storage", J.deadlines.c.closed_on.is_(None), J.deadlines.c.due < today))
        for r in expired:
            state = self.load_case(r["case_id"])
            if state is not None and rules.storage_expired(state, today):
                move_result(self, state, to="provider", day=today)
        requested = self.journal.all(select(J.deadlines.c.case_id).where(
            J.deadlines.c.key == "return", J.deadlines.c.closed_on.is_(None)))
        for r in requested:
            state = self.load_case(r["case_id"])
            if state is not None and state.result_at == rules.AT_PROVIDER:
                move_result(self, state, to="psc", day=today)

    # --- 5. render -----------------------------------------------------------------------------------------

    def submit_ordered(self, *, seal: bool = True) -> None:
        """Hand ordered documents to the worker pool without waiting for them: the workers render (and seal)
        while this process claims, ingests and applies the next batch.  At most ``4 × workers`` are in flight,
        so memory stays bounded whatever the backlog."""
        from .documents import build_job

        now = clock.now().isoformat()
        rows = [r for r in self.journal.all(select(J.documents).where(J.documents.c.status == "ordered")
                                            .order_by(J.documents.c.created_at))
                if (not r["next_attempt_at"] or r["next_attempt_at"] <= now)
                and r["document_id"] not in self._in_flight_ids]
        limit = 4 * getattr(self.dispatcher, "workers", 1)
        for row in rows:
            while len(self._in_flight) >= limit:
                self.harvest(block=True, one=True)
            try:
                job = self._job(build_job, row, seal)
            except QamqorError as err:
                self._render_failed(row, err.one_line())
                continue
            future = self.dispatcher.submit(_render_stage, job)
            self._in_flight[future] = (row, seal)
            self._in_flight_ids.add(row["document_id"])
            self._harvest_done()

    def _harvest_done(self) -> None:
        for future in [f for f in self._in_flight if f.done()]:
            self._finish(future)

    def harvest(self, *, block: bool, one: bool = False) -> None:
        """Take in what the workers finished: all that is done now, or (``block``) wait — for one, or for all."""
        from concurrent.futures import FIRST_COMPLETED, wait

        if not block:
            self._harvest_done()
            return
        while self._in_flight:
            done, _ = wait(list(self._in_flight), return_when=FIRST_COMPLETED)
            for future in done:
                self._finish(future)
            if one:
                return

    def _finish(self, future: Any) -> None:
        from concurrent.futures.process import BrokenProcessPool

        row, seal = self._in_flight.pop(future)
        self._in_flight_ids.discard(row["document_id"])
        try:
            result = future.result()
        except BrokenProcessPool:
            # a worker died (out of memory, a crash in a native library): count it against the document being
            # rendered and start fresh workers, so one poison document cannot stop the pipeline
            self._render_failed(row, "a render worker died while rendering this document")
            self.dispatcher.restart()
            return
        except Exception as exc:  # noqa: BLE001 - one document's failure is recorded, the pass goes on
            self._render_failed(row, f"{type(exc).__name__}: {exc}")
            return
        try:
            self._store_render(row, result, seal)
        except QamqorError as err:
            log.error("%s: %s", row["document_id"], err.one_line())
        self._done_count += 1
        self.progress("render", self._done_count, self._done_count + len(self._in_flight))

    def _store_render(self, row: Any, result: dict[str, Any], seal: bool) -> None:
        doc_id = result["document_id"]
        if "error" in result:
            self._render_failed(row, result["error"], transient=result.get("transient", False))
            return
        path = self.docs_dir / f"{doc_id}.pdf"
        atomic_write(path, result["pdf"])
        checkpoint("rendered-written")
        auto = row["signer_role"] in AUTO_ROLES and self.config.signing.auto_seal
        with self.journal.tx() as conn:
            conn.execute(update(J.documents).where(J.documents.c.document_id == doc_id).values(
                status="rendered" if auto else "queued",
                pdf_path=str(path), pdf_sha256=sha256(result["pdf"]), attempts=0, next_attempt_at=None,
                error=None, updated_at=J.now_utc(),
                order=_merge_json(row["order"], {"_fields": result["fields"], "_pages": result["pages"]}),
            ))
            J.Journal.step(conn, doc_id, "rendered", pages=result["pages"])
        checkpoint("rendered")
        if not (auto and seal):
            return
        current = self.journal.one(select(J.documents).where(J.documents.c.document_id == doc_id))
        if "signed" in result:  # sealed in the worker
            from .documents import document_lock, store_signature

            officer = self.config.officer(result["officer"])
            with document_lock(self, doc_id):
                store_signature(self, current, result["field"], officer, result["signed"], result["sign_info"])
        elif "seal_error" in result:
            self._seal_failed(current, result["seal_error"], transient=result["transient"])
        else:
            self._seal_one(current)
        signed = self.journal.one(select(J.documents).where(J.documents.c.document_id == doc_id))
        if signed["status"] == "signed":
            self._deliver_one(signed)

    def _job(self, build: Callable[..., dict[str, Any]], row: Any, seal: bool) -> dict[str, Any]:
        job = build(self, row)
        if seal and row["signer_role"] in AUTO_ROLES and self.config.signing.auto_seal:
            officer = self.signing.auto_officer(row["signer_role"], row["office"], _named_signer(row))
            if officer is not None and officer.backend == "pkcs12":
                from .documents import organisation_bin

                # from the context the job already carries: no second read of the case
                job["seal"] = {"config": self.config, "officer": officer.id,
                               "organisation_bin": organisation_bin(row, job["context"].get("application"))}
        return job

    def _render_failed(self, row: Any, error: str, *, transient: bool = False) -> None:
        attempts = (row["attempts"] or 0) + (0 if transient else 1)
        failed = attempts >= self.max_attempts
        when = clock.now() + dt.timedelta(seconds=min(3600, 10 * 2 ** attempts))
        with self.journal.tx() as conn:
            conn.execute(update(J.documents).where(J.documents.c.document_id == row["document_id"]).values(
                status="failed" if failed else "ordered", attempts=attempts, error=error,
                next_attempt_at=None if failed else when.isoformat(), updated_at=J.now_utc()))
            J.Journal.step(conn, row["document_id"], "render-failed", error=error, attempts=attempts, final=failed)
        log.error("rendering %s failed (%d/%d): %s", row["document_id"], attempts, self.max_attempts, error)

    # --- 6. seal -------------------------------------------------------------------------------------------

    def seal(self) -> None:
        rows = self.journal.all(select(J.documents).where(and_(
            J.documents.c.status.in_(("rendered", "signing")), J.documents.c.signer_role.in_(AUTO_ROLES))))
        for row in rows:
            self._seal_one(row)

    def _seal_one(self, row: Any) -> None:
        """Seal a document that needs no officer; a transient failure (TSA down…) is retried later with backoff,
        never turned into a rejection."""
        if row["next_attempt_at"] and dt.datetime.fromisoformat(row["next_attempt_at"]) > clock.now():
            return
        named = _named_signer(row)
        officer = self.signing.auto_officer(row["signer_role"], row["office"], named)
        if officer is None:
            who = f" (IIN {named})" if named else ""
            with self.journal.tx() as conn:
                conn.execute(update(J.documents).where(J.documents.c.document_id == row["document_id"]).values(
                    status="queued", error=f"no key configured for the {row['signer_role']}{who} of {row['office']}",
                    updated_at=J.now_utc()))
            return
        try:
            self.sign_document(row["document_id"], officer, secret=None)
        except TransientError as err:
            self._seal_failed(row, err.one_line(), transient=True)
        except StateConflict as err:
            log.warning("%s: %s", row["document_id"], err.one_line())  # another process has it now
        except QamqorError as err:
            self._seal_failed(row, err.one_line(), transient=False)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise
            self._seal_failed(row, f"{type(exc).__name__}: {exc}", transient=False)

    def _seal_failed(self, row: Any, error: str, *, transient: bool) -> None:
        if transient:
            self._retry_later(row, error)
            return
        with self.journal.tx() as conn:
            conn.execute(update(J.documents).where(J.documents.c.document_id == row["document_id"]).values(
                status="queued", error=error, updated_at=J.now_utc()))
            J.Journal.step(conn, row["document_id"], "seal-failed", error=error)
        log.error("sealing %s failed: %s", row["document_id"], error)

    def _retry_later(self, row: Any, error: str) -> None:
        attempts = (row["attempts"] or 0) + 1
        delay = min(3600, 5 * 2 ** min(attempts, 10))  # exponential backoff, capped at an hour
        when = clock.now() + dt.timedelta(seconds=delay)
        with self.journal.tx() as conn:
            conn.execute(update(J.documents).where(J.documents.c.document_id == row["document_id"]).values(
                status="rendered", attempts=attempts, next_attempt_at=when.isoformat(), error=error,
                updated_at=J.now_utc()))
            J.Journal.step(conn, row["document_id"], "retry-later", error=error, attempts=attempts)

    def sign_document(self, document_id: str, officer: Any, secret: bytes | None, *,
                      approved_sha256: str | None = None) -> dict[str, Any]:
        """Sign the next reserved field of a document as ``officer``; adopt a signed file a crash left behind."""
        from .documents import sign_step

        return sign_step(self, document_id, officer, secret, approved_sha256=approved_sha256)

    # --- 7. deliver ----------------------------------------------------------------------------------------

    def deliver(self) -> None:
        rows = self.journal.all(select(J.documents).where(J.documents.c.status == "signed"))
        for i, row in enumerate(rows, 1):
            self._deliver_one(row)
            self.progress("deliver", i, len(rows))

    def _deliver_one(self, row: Any) -> None:
        """Deliver one document; its failure (other than a full disk) is recorded and retried next pass."""
        from .delivery import deliver_document

        try:
            deliver_document(self, row)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise
            self._note_error(row, f"delivery failed: {exc}")
        except QamqorError as err:
            self._note_error(row, err.one_line())

    def _note_error(self, row: Any, error: str) -> None:
        with self.journal.tx() as conn:
            conn.execute(update(J.documents).where(J.documents.c.document_id == row["document_id"]).values(
                error=error, updated_at=J.now_utc()))
            J.Journal.step(conn, row["document_id"], "error", error=error)
        log.error("%s: %s", row["document_id"], error)

    def close(self) -> None:
        self.sync_audit()
        self.dispatcher.close()
        self.journal.close()


def _named_signer(row: Any) -> str | None:
    """The IIN of the official the document names as its first signer, if the event gave one."""
    signers = json.loads(row["signers"] or "[]")
    return signers[0].get("iin") if signers else None


def _render_stage(job: dict[str, Any]) -> dict[str, Any]:
    from .stages import render

    return render(job)


def _merge_json(text: str, extra: dict[str, Any]) -> str:
    obj = json.loads(text or "{}")
    obj.update(extra)
    return json.dumps(obj, ensure_ascii=False, default=str)

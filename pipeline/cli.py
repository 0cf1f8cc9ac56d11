"""The ``qamqor`` command (contract.md, "Command line").

Errors a user can meet print one line (``E-CODE: message — remedy``) and exit with the typed code of
:class:`pipeline.errors.ExitCode`; a traceback goes to the log (``<state>/qamqor.log``), or to the terminal with
``--debug``.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import logging
import os
import sys
import threading
import traceback
from pathlib import Path
from typing import Any

import click

from .config import Config
from .errors import ConfigError, ExitCode, NotFound, QamqorError, TransientError

log = logging.getLogger("qamqor")


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps({"at": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
                           "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage()},
                          ensure_ascii=False)


class NoTracebacks(logging.Filter):
    """The terminal gets one line per error; tracebacks go to the log file (or the terminal with --debug)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.exc_info is None or "--debug" in sys.argv


def setup_logging(config: Config | None, fmt: str, verbose: bool) -> None:
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for h in list(root.handlers):
        root.removeHandler(h)
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.DEBUG if verbose else logging.WARNING)
    console.setFormatter(JsonLines() if fmt == "json" else logging.Formatter("%(levelname)s %(message)s"))
    console.addFilter(NoTracebacks())
    root.addHandler(console)
    if config is not None:
        config.state.mkdir(parents=True, exist_ok=True)
        fh = logging.FileHandler(config.state / "qamqor.log", encoding="utf-8")
        fh.setFormatter(JsonLines() if fmt == "json" else logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        root.addHandler(fh)
    for noisy in ("fontTools", "weasyprint", "alembic", "pyhanko"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


class State:
    def __init__(self, config_path: str | None, debug: bool, log_format: str, verbose: bool):
        self.config_path = Path(config_path) if config_path else None
        self.debug = debug
        self.log_format = log_format
        self.verbose = verbose
        self._config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = Config.load(self.config_path)
            setup_logging(self._config, self.log_format, self.verbose)
        return self._config

    def pipeline(self, **kw: Any) -> Any:
        from .runner import Pipeline

        return Pipeline(self.config, **kw)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", envvar="QAMQOR_CONFIG", help="configuration file (default ./qamqor.toml)")
@click.option("--debug", is_flag=True, help="show tracebacks")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", help="text or JSON lines")
@click.option("-v", "--verbose", is_flag=True)
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, debug: bool, log_format: str, verbose: bool) -> None:
    """qamqor — documents and e-signatures for the guardianship service."""
    ctx.obj = State(config_path, debug, log_format, verbose)
    setup_logging(None, log_format, verbose)


# --- run ---------------------------------------------------------------------------------------------------


@cli.command()
@click.option("--once", is_flag=True, help="process what is in the inbox, finish in-flight work, exit")
@click.option("--workers", type=int, default=None, help="render processes (default: configuration, else one per core)")
@click.pass_obj
def run(state: State, once: bool, workers: int | None) -> None:
    """Watch inbox/ and process case events."""
    from .dispatch import InlineDispatcher, ProcessDispatcher
    from .runner import StateLock
    from .stages import warm

    config = state.config
    n = workers if workers is not None else config.workers
    with StateLock(config.state):
        dispatcher = InlineDispatcher() if n == 1 else ProcessDispatcher(n, initializer=warm)
        show = sys.stderr.isatty()

        def progress(phase: str, done: int, total: int) -> None:
            if show and total > 1:
                width = 30
                filled = int(width * done / total)
                click.echo(f"\r{phase:8} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}", err=True,
                           nl=done == total)

        pipeline = state.pipeline(dispatcher=dispatcher, progress=progress)
        try:
            if once:
                counts = pipeline.run_once()
                click.echo(_summary(pipeline, counts))
            else:
                _watch(pipeline)
        finally:
            pipeline.close()


def _summary(pipeline: Any, counts: dict[str, int]) -> str:
    from sqlalchemy import func, select

    from . import journal as J

    rows = pipeline.journal.all(select(J.inputs.c.status, func.count().label("n")).group_by(J.inputs.c.status))
    inputs = ", ".join(f"{r['status']} {r['n']}" for r in rows) or "none"
    docs = ", ".join(f"{k.removeprefix('documents_')} {v}" for k, v in sorted(counts.items())
                     if k.startswith("documents_")) or "none"
    return f"inputs: {inputs}\ndocuments: {docs}"


def _is_network_fs(path: Path) -> bool:
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return False
    best, fstype = "", ""
    target = str(path.resolve())
    for line in mounts:
        parts = line.split()
        if len(parts) >= 3 and target.startswith(parts[1]) and len(parts[1]) > len(best):
            best, fstype = parts[1], parts[2]
    return fstype.startswith(("nfs", "cifs", "smb", "fuse.sshfs", "9p"))


def _watch(pipeline: Any) -> None:
    """watchdog for prompt reaction, plus a full scan every few seconds: events alone are not trusted, and on
    network filesystems (NFS, SMB) where none arrive, watchdog's polling observer is used."""
    from watchdog.events import FileSystemEventHandler
    from watchdog.observers import Observer
    from watchdog.observers.polling import PollingObserver

    wake = threading.Event()

    class Handler(FileSystemEventHandler):
        def on_any_event(self, event: Any) -> None:
            wake.set()

    import signal

    stop = threading.Event()

    def on_term(signum: int, frame: Any) -> None:
        stop.set()  # finish the pass in flight, then exit
        wake.set()

    signal.signal(signal.SIGTERM, on_term)
    config = pipeline.config
    observer = PollingObserver(timeout=config.scan_interval) if _is_network_fs(config.inbox) else Observer()
    observer.schedule(Handler(), str(config.inbox), recursive=False)
    observer.start()
    log.warning("watching %s (every %.0f s and on file-system events)", config.inbox, config.scan_interval)
    try:
        while not stop.is_set():
            try:
                pipeline.run_once()
            except TransientError as err:  # a full disk, a server down: wait and resume, never give up
                log.warning("%s", err.one_line())
            wake.wait(timeout=config.scan_interval)
            wake.clear()
    except KeyboardInterrupt:
        pass
    finally:
        observer.stop()
        observer.join()


# --- demo --------------------------------------------------------------------------------------------------


@cli.command()
@click.option("--force", is_flag=True, help="overwrite an existing demo configuration")
@click.pass_obj
def demo(state: State, force: bool) -> None:
    """Make a demo setup here (NOT FOR PRODUCTION) and drop example events into inbox/."""
    from .demo import make_demo

    cwd = Path.cwd()
    path = make_demo(cwd, force=force)
    click.echo(f"demo configuration: {path} (insecure: demo secrets inside, not for production)")
    click.echo("example events are in inbox/; next: qamqor run --once, then qamqor queue approve --all")


# --- queue -------------------------------------------------------------------------------------------------


@cli.group()
def queue() -> None:
    """The signature queue."""


def _officer(state: State, officer_id: str | None) -> Any:
    config = state.config
    oid = officer_id or config.default_officer
    if oid is None:
        return None
    return config.officer(oid)


@queue.command("list")
@click.option("--role", help="operator, provider_seal, inspector or head")
@click.option("--officer", "officer_id", help="act as this officer (sees only their role and office)")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def queue_list(state: State, role: str | None, officer_id: str | None, as_json: bool) -> None:
    from . import queue as Q

    pipeline = state.pipeline()
    items = Q.pending(pipeline, officer=_officer(state, officer_id), role=role)
    if as_json:
        click.echo(json.dumps([i.to_dict() for i in items], ensure_ascii=False, indent=2))
        return
    if not items:
        click.echo("the queue is empty")
        return
    for i in items:
        nxt = f" next: {i.next_signer['name']}" if i.next_signer else ""
        click.echo(f"{i.document_id:40} {i.kind:18} {i.language} {i.role:9} {i.office:12} "
                   f"{i.signatures_done}/{i.signatures_needed} due {i.due or '-'}{nxt}")


@queue.command("show")
@click.argument("document_id")
@click.option("--officer", "officer_id")
@click.pass_obj
def queue_show(state: State, document_id: str, officer_id: str | None) -> None:
    from . import queue as Q

    pipeline = state.pipeline()
    row = Q.get(pipeline, document_id)
    officer = _officer(state, officer_id)
    if officer is not None and not Q.may_act(officer, row):
        raise NotFound(f"no document {document_id} for {officer.id}")
    item = Q._item(pipeline, row)
    for k, v in item.to_dict().items():
        click.echo(f"{k:17} {v}")
    click.echo(f"{'status':17} {row['status']}")
    click.echo(f"{'file':17} {row['pdf_path']}")


def _ask_secret(state: State, officer: Any, pipeline: Any) -> bytes | None:
    secret = pipeline.signing.secret_for(officer, None)
    if secret is not None:
        return secret
    if not sys.stdin.isatty():
        raise ConfigError(f"no secret for {officer.id} and no terminal to ask",
                          remedy=f"set the environment variable {officer.secret_env or '(secret_env)'}",
                          code="E-SECRET")
    label = "PIN" if officer.backend == "pkcs11" else "password"
    return getpass.getpass(f"{label} for {officer.name} ({officer.id}): ").encode()


@queue.command("approve")
@click.argument("document_ids", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="every pending document the officer may sign")
@click.option("--role")
@click.option("--officer", "officer_id")
@click.pass_obj
def queue_approve(state: State, document_ids: tuple[str, ...], all_: bool, role: str | None,
                  officer_id: str | None) -> None:
    """Approve and sign documents; the secret is asked once per batch."""
    from . import queue as Q

    if not document_ids and not all_:
        raise click.UsageError("name documents or give --all")
    pipeline = state.pipeline()
    officer = _officer(state, officer_id)
    config = state.config
    if officer is None and not config.demo:
        raise click.UsageError("give --officer (or set pipeline.default_officer)")
    failures = 0
    codes: set[int] = set()
    signed = 0
    # One pass per signature round: an act needs its inspectors in turn.
    for _round in range(8):
        if all_:
            items = Q.pending(pipeline, officer=officer, role=role)
            ids = [i.document_id for i in items]
        else:
            ids = [d for d in document_ids if Q.get(pipeline, d)["status"] in Q.WAITING] if _round else list(document_ids)
        if not ids:
            break
        secrets: dict[str, bytes | None] = {}
        progressed = False
        for doc_id in ids:
            row = Q.get(pipeline, doc_id)
            if all_ and Q.waiting_for(pipeline, row):
                continue  # its turn comes in a later round (the order after the act)
            who = officer or _demo_officer(pipeline, row)
            if who is None:
                click.echo(f"{doc_id}: no demo officer may sign {row['kind']} of {row['office']}", err=True)
                failures += 1
                continue
            if who.id not in secrets:
                secrets[who.id] = _ask_secret(state, who, pipeline)
            try:
                entry = Q.approve(pipeline, doc_id, who, secrets[who.id])
            except QamqorError as err:
                click.echo(f"{doc_id}: {err.one_line()}", err=True)
                failures += 1
                codes.add(int(err.exit_code))
                continue
            signed += 1
            progressed = True
            click.echo(f"signed {doc_id} ({entry.get('field')}) as {who.name}")
        if not progressed or not all_ and officer is not None:
            break
    click.echo(f"{signed} signature(s), {failures} failure(s)")
    if failures:
        # one kind of failure: its own code (README's table); several kinds: "signing failed"
        sys.exit(codes.pop() if len(codes) == 1 else int(ExitCode.signing_failed))


def _demo_officer(pipeline: Any, row: Any) -> Any:
    from . import queue as Q

    signers = json.loads(row["signers"] or "[]")
    done = row["signatures_done"] or 0
    want = signers[done].get("iin") if done < len(signers) else None
    candidates = [o for o in pipeline.config.officers if Q.may_act(o, row)]
    for o in candidates:
        if want and o.iin == want:
            return o
    return candidates[0] if candidates and not want else (candidates[done] if done < len(candidates) else None)


@queue.command("reject")
@click.argument("document_id")
@click.option("--reason", required=True)
@click.option("--officer", "officer_id")
@click.pass_obj
def queue_reject(state: State, document_id: str, reason: str, officer_id: str | None) -> None:
    from . import queue as Q

    pipeline = state.pipeline()
    officer = _officer(state, officer_id)
    if officer is None:
        row = Q.get(pipeline, document_id)
        officer = _demo_officer(pipeline, row) if state.config.demo else None
        if officer is None:
            raise click.UsageError("give --officer")
    Q.reject(pipeline, document_id, officer, reason)
    click.echo(f"returned {document_id} to the back office: {reason}")


@queue.command("retry")
@click.argument("document_ids", nargs=-1, required=True)
@click.pass_obj
def queue_retry(state: State, document_ids: tuple[str, ...]) -> None:
    """Render again documents set aside as failed (after the cause was fixed); `qamqor run` picks them up."""
    from . import queue as Q

    pipeline = state.pipeline()
    for doc_id in document_ids:
        Q.retry(pipeline, doc_id)
        click.echo(f"{doc_id}: ordered again")


# --- verify ------------------------------------------------------------------------------------------------


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def verify(state: State, files: tuple[str, ...], as_json: bool) -> None:
    """Validate every signature in PDFs; exit 0 only if all are valid."""
    import signing

    config = state.config
    roots = list(config.signing.trust_roots)
    reports = []
    all_valid = True
    for f in files:
        p = Path(f)
        if not p.exists():
            raise NotFound(f"no file {f}")
        report = signing.verify_pdf(p.read_bytes(), trust_roots=roots)
        all_valid &= bool(report.valid)
        reports.append((f, report))
    if as_json:
        click.echo(json.dumps([{"file": f, **r.to_dict()} for f, r in reports], ensure_ascii=False, indent=2,
                              default=str))
    else:
        for f, r in reports:
            click.echo(f"{f}:")
            click.echo(r.format_text())
    sys.exit(0 if all_valid else int(ExitCode.invalid))


# --- status and deadlines ----------------------------------------------------------------------------------


@cli.command()
@click.argument("case_id", required=False)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def status(state: State, case_id: str | None, as_json: bool) -> None:
    """The pipeline, or one case: its state, documents and deadlines."""
    from .reports import case_status, pipeline_status

    pipeline = state.pipeline()
    data = case_status(pipeline, case_id) if case_id else pipeline_status(pipeline)
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
        return
    from .reports import format_status

    click.echo(format_status(data))


@cli.command()
@click.option("--overdue", is_flag=True, help="only overdue deadlines")
@click.option("--as-of", "as_of", type=click.DateTime(formats=["%Y-%m-%d"]), help="the day to count from")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def deadlines(state: State, overdue: bool, as_of: dt.datetime | None, as_json: bool) -> None:
    """Every open deadline of every case, in working days (overdue first)."""
    from .reports import deadline_board

    pipeline = state.pipeline()
    rows = deadline_board(pipeline, as_of.date() if as_of else None, overdue_only=overdue)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2, default=str))
        return
    if not rows:
        click.echo("no open deadlines")
    for r in rows:
        mark = "OVERDUE" if r["overdue"] else "       "
        click.echo(f"{mark} {r['case_id']:16} {r['key']:22} {r['paragraph']:4} due {r['due']} "
                   f"({r['working_days_left']:+d} working days)")


# --- serve ---------------------------------------------------------------------------------------------------


@cli.command()
@click.option("--host", default=None, help="default: [web] host, else 127.0.0.1")
@click.option("--port", type=int, default=None, help="default: [web] port")
@click.pass_obj
def serve(state: State, host: str | None, port: int | None) -> None:
    """The officers' web desk: the signature queue, cases and verification in the browser."""
    from .web import serve as run_server

    run_server(state.config, host=host, port=port)


# --- audit -------------------------------------------------------------------------------------------------


@cli.group()
def audit() -> None:
    """The append-only, hash-chained audit log."""


@audit.command("verify")
@click.pass_obj
def audit_verify(state: State) -> None:
    from .audit import AuditLog

    problems = AuditLog(state.config.state / "audit.jsonl").verify()
    if problems:
        for p in problems:
            click.echo(p)
        sys.exit(int(ExitCode.invalid))
    click.echo("audit log intact")


def main() -> None:
    debug = "--debug" in sys.argv
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except QamqorError as err:
        if debug:
            traceback.print_exc()
        logging.getLogger("qamqor").debug("error", exc_info=True)
        click.echo(err.one_line(), err=True)
        sys.exit(int(err.exit_code))
    except SystemExit:
        raise
    except BaseException as exc:  # a bug: one line here, the traceback in the log
        if debug:
            traceback.print_exc()
        logging.getLogger("qamqor").error("internal error", exc_info=True)
        click.echo(f"E-INTERNAL: {type(exc).__name__}: {exc} — see the log (or run with --debug)", err=True)
        sys.exit(int(ExitCode.internal))
    sys.exit(0)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()

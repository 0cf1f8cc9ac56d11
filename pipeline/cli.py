"""The ``qamqor`` command (contract.md, "Command line"): the commands and their options only.

The work is elsewhere: a pass is :class:`pipeline.runner.Runner`, watching the inbox :mod:`pipeline.watch`, the
queue and its batches :mod:`pipeline.queue`, the reports :mod:`pipeline.reports`, logging :mod:`pipeline.logs`.
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
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .config import Config, Officer
from .errors import ConfigError, ExitCode, NotFound, QamqorError
from .logs import setup_logging

if TYPE_CHECKING:
    from .runner import Runner
    from .services import Services

log = logging.getLogger("qamqor")


class State:
    """What the group's options say, and the installation built from them on first use."""

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

    @contextmanager
    def services(self) -> Iterator[Services]:
        """The journal and the signers, for a command that reads or signs but runs no pass (no workers)."""
        from .services import Services

        services = Services.build(self.config)
        try:
            yield services
        finally:
            services.close()

    @contextmanager
    def runner(self, workers: int | None = None) -> Iterator[Runner]:
        """A runner with its dispatcher (inline for one worker, else warm worker processes) and, on a terminal,
        a progress bar."""
        from .progress import NullProgress, TerminalBar
        from .runner import Runner
        from .workers import InlineDispatcher, ProcessDispatcher

        n = workers if workers is not None else self.config.workers
        # the workers' temporary files (font subsets) under the state folder, removed with them (#14.18)
        dispatcher = InlineDispatcher() if n == 1 else ProcessDispatcher(n, scratch=self.config.state / "tmp")
        runner = Runner(self.config, dispatcher=dispatcher,
                        progress=TerminalBar() if sys.stderr.isatty() else NullProgress())
        try:
            yield runner
        finally:
            runner.close()


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
@click.option("--node", default=None, help="this node's name, with a PostgreSQL journal (default: the host name)")
@click.option("--metrics-port", type=int, default=None, help="a node: serve its /metrics on this port")
@click.pass_obj
def run(state: State, once: bool, workers: int | None, node: str | None, metrics_port: int | None) -> None:
    """Watch inbox/ and process case events."""
    from .cluster import is_cluster_url
    from .locks import StateLock

    if is_cluster_url(state.config.journal_url):
        from .cluster.node import Node

        result = Node(state.config, node, workers, metrics_port).run(once=once)  # issue 10: one node of several
        if once:
            click.echo(" · ".join(f"{k} {v}" for k, v in result.items()))
        return
    with StateLock(state.config.state), state.runner(workers) as runner:
        if once:
            from .reports import format_pass

            click.echo(format_pass(runner.services, runner.run_once()))
        else:
            from .watch import watch

            watch(runner)


# --- demo --------------------------------------------------------------------------------------------------


@cli.command()
@click.option("--force", is_flag=True, help="overwrite an existing demo configuration")
@click.option("--gost", is_flag=True, help="the head signs with a GOST R 34.10-2015 512-bit key (issue 16)")
@click.pass_obj
def demo(state: State, force: bool, gost: bool) -> None:
    """Make a demo setup here (NOT FOR PRODUCTION) and drop example events into inbox/."""
    from .demo import make_demo

    path = make_demo(Path.cwd(), force=force, gost=gost)
    click.echo(f"demo configuration: {path} (insecure: demo secrets inside, not for production)")
    click.echo("example events are in inbox/; next: qamqor run --once, then qamqor queue approve --all")


# --- queue -------------------------------------------------------------------------------------------------


@cli.group()
def queue() -> None:
    """The signature queue."""


def _officer(state: State, officer_id: str | None) -> Officer | None:
    oid = officer_id or state.config.default_officer
    return state.config.officer(oid) if oid is not None else None


@queue.command("list")
@click.option("--role", help="operator, provider_seal, inspector or head")
@click.option("--officer", "officer_id", help="act as this officer (sees only their role and office)")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def queue_list(state: State, role: str | None, officer_id: str | None, as_json: bool) -> None:
    from . import queue as Q

    with state.services() as s:
        items = Q.pending(s, officer=_officer(state, officer_id), role=role)
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

    with state.services() as s:
        doc = Q.get(s, document_id)
        officer = _officer(state, officer_id)
        if officer is not None and not Q.may_act(s, officer, doc):
            raise NotFound(f"no document {document_id} for {officer.id}")
        item = Q.item(s, doc)
    for k, v in item.to_dict().items():
        click.echo(f"{k:17} {v}")
    click.echo(f"{'status':17} {doc.status}")
    click.echo(f"{'file':17} {doc.pdf_path}")


def _ask_secret(services: Services, officer: Officer) -> bytes | None:
    """The officer's secret from the environment (or the demo configuration), else asked on the terminal."""
    secret = services.signatures.secret_for(officer, None)
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
    officer = _officer(state, officer_id)
    if officer is None and not state.config.demo:
        raise click.UsageError("give --officer (or set pipeline.default_officer)")
    signed, failures, codes = 0, 0, set()
    with state.services() as s:
        for a in Q.approve_batch(s, None if all_ else document_ids, officer=officer, role=role,
                                 secret=lambda who: _ask_secret(s, who)):
            if a.ok:
                signed += 1
                click.echo(f"signed {a.document_id} ({(a.entry or {}).get('field')}) as {a.officer.name}")
                continue
            failures += 1
            if a.error is not None:
                codes.add(int(a.error.exit_code))
            click.echo(f"{a.document_id}: {a.message}", err=True)
    click.echo(f"{signed} signature(s), {failures} failure(s)")
    if failures:
        # one kind of failure: its own code (README's table); several kinds: "signing failed"
        sys.exit(codes.pop() if len(codes) == 1 else int(ExitCode.signing_failed))


@queue.command("reject")
@click.argument("document_id")
@click.option("--reason", required=True)
@click.option("--officer", "officer_id")
@click.pass_obj
def queue_reject(state: State, document_id: str, reason: str, officer_id: str | None) -> None:
    from . import queue as Q

    officer = _officer(state, officer_id)
    with state.services() as s:
        if officer is None and state.config.demo:
            officer = Q.demo_officer(s, Q.get(s, document_id))
        if officer is None:
            raise click.UsageError("give --officer")
        Q.reject(s, document_id, officer, reason)
    click.echo(f"returned {document_id} to the back office: {reason}")


@queue.command("retry")
@click.argument("document_ids", nargs=-1, required=True)
@click.pass_obj
def queue_retry(state: State, document_ids: tuple[str, ...]) -> None:
    """Render again documents set aside as failed (after the cause was fixed); `qamqor run` picks them up."""
    from . import queue as Q

    with state.services() as s:
        for doc_id in document_ids:
            Q.retry(s, doc_id)
            click.echo(f"{doc_id}: ordered again")


# --- status and deadlines ----------------------------------------------------------------------------------


@cli.command()
@click.argument("case_id", required=False)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def status(state: State, case_id: str | None, as_json: bool) -> None:
    """The pipeline, or one case: its state, documents and deadlines."""
    from .reports import case_status, pipeline_status

    with state.services() as s:
        data = case_status(s, case_id) if case_id else pipeline_status(s)
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
    from forms.catalogue import unconfirmed_calendar_years

    from . import clock
    from .reports import deadline_board

    with state.services() as s:
        rows = deadline_board(s, as_of.date() if as_of else None, overdue_only=overdue)
    years = unconfirmed_calendar_years(as_of.date() if as_of else clock.today())
    if years:  # issue 11 #11: a decree not entered moves deadlines by a day
        click.echo(f"warning: no confirmed decree moving days off for {', '.join(map(str, years))} in "
                   "forms/calendar/overrides.toml: deadlines may be off by a working day", err=True)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2, default=str))
        return
    if not rows:
        click.echo("no open deadlines")
    for r in rows:
        mark = "OVERDUE" if r["overdue"] else "       "
        # issue 11 #6: "¶12/¶15" — the step's own term ran past the ¶15 total, so it is due on the ¶15 day
        capped = "  (capped at the ¶15 total term)" if "/" in r["paragraph"] else ""
        click.echo(f"{mark} {r['case_id']:16} {r['key']:22} {r['paragraph']:7} due {r['due']} "
                   f"({r['working_days_left']:+d} working days){capped}")


# --- serve ---------------------------------------------------------------------------------------------------


@cli.command()
@click.option("--host", default=None, help="default: [web] host, else 127.0.0.1")
@click.option("--port", type=int, default=None, help="default: [web] port")
@click.pass_obj
def serve(state: State, host: str | None, port: int | None) -> None:
    """The officers' web desk: the signature queue, cases and verification in the browser."""
    from .web import serve as run_server

    run_server(state.config, host=host, port=port)


from .cli_records import archive, audit, journal, verify  # noqa: E402 - the commands about the records

for _command in (verify, archive, audit, journal):
    cli.add_command(_command)


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
        log.debug("error", exc_info=True)
        click.echo(err.one_line(), err=True)
        sys.exit(int(err.exit_code))
    except SystemExit:
        raise
    except BaseException as exc:  # a bug: one line here, the traceback in the log
        if debug:
            traceback.print_exc()
        log.error("internal error", exc_info=True)
        click.echo(f"E-INTERNAL: {type(exc).__name__}: {exc} — see the log (or run with --debug)", err=True)
        sys.exit(int(ExitCode.internal))
    sys.exit(0)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()

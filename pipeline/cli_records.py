"""The commands about the records: ``verify`` (as an archive validates), ``archive renew``, ``audit verify`` and
``journal copy``.  Registered on the ``qamqor`` group by :mod:`pipeline.cli`, which keeps the working commands."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .errors import ExitCode, NotFound

if TYPE_CHECKING:
    from .cli import State


# --- verify ------------------------------------------------------------------------------------------------


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--trust", "trust", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="a root certificate to trust (PEM or DER), repeatable; no qamqor.toml needed "
                   "(default: [signing] trust_roots of the configuration)")
@click.option("--at", "at", default=None, help="validate as of this ISO date or time, past or future (default: now)")
@click.option("--online", is_flag=True, help="fetch OCSP responses and CRLs (default: offline, from the file only)")
@click.option("--report", "fmt", type=click.Choice(["text", "json", "etsi"]), default=None,
              help="text (default), json, or the ETSI TS 119 102-2 XML report")
@click.option("--json", "as_json", is_flag=True, help="the same as --report json")
@click.option("--no-policy", "no_policy", is_flag=True,
              help="the signatures only, not who may sign the qamqor document kind (a PDF not made by qamqor)")
@click.pass_obj
def verify(state: State, files: tuple[str, ...], trust: tuple[str, ...], at: str | None, online: bool,
           fmt: str | None, as_json: bool, no_policy: bool) -> None:
    """Long-term validation of every signature (ETSI EN 319 102-1, as an archive runs it): exit 0 only when
    every signature of every file is TOTAL-PASSED."""
    from .archive import emit, parse_moment, trust_from_config, verify_files

    paths = [Path(f) for f in files]
    for p in paths:
        if not p.exists():
            raise NotFound(f"no file {p}")
    roots = [Path(t) for t in trust] or trust_from_config(state.config_path)
    report = fmt or ("json" if as_json else "text")
    results = verify_files(paths, trust=roots, at=parse_moment(at), online=online, etsi=report == "etsi",
                           policy=not no_policy)
    emit(results, report)
    sys.exit(0 if results and all(r.passed for _, r in results) else int(ExitCode.invalid))


# --- archive -------------------------------------------------------------------------------------------------


@click.group()
def archive() -> None:
    """The archive route's upkeep: renewal of the archived PDFs' proofs of existence."""


@archive.command("renew")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False))
@click.option("--before", "before_days", type=click.IntRange(min=0), default=365, show_default=True,
              help="renew when the newest archive timestamp's TSA certificate ends within DAYS")
@click.option("--tsa-url", default=None, help="default: [signing] tsa_url")
@click.option("--trust", "trust", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="default: [signing] trust_roots")
@click.pass_obj
def archive_renew(state: State, files: tuple[str, ...], before_days: int, tsa_url: str | None,
                  trust: tuple[str, ...]) -> None:
    """Add a DSS update and a document timestamp to every archived PDF (default: all of outbox/archive/) whose
    proof of existence is due, on the pipeline's clock; journaled, idempotent; says what it renewed."""
    from .archive import format_renewals, renew_installation

    done = renew_installation(state.config, before_days=before_days, files=[Path(f) for f in files] or None,
                              tsa_url=tsa_url, trust=[Path(t) for t in trust] or None)
    click.echo(format_renewals(done))
    sys.exit(int(ExitCode.signing_failed) if any(not (r.renewed or r.completed) for r in done) else 0)


# --- audit -------------------------------------------------------------------------------------------------


@click.group()
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


# --- journal (issue 10 #5) -----------------------------------------------------------------------------------


@click.group()
def journal() -> None:
    """The journal's database."""


@journal.command("copy")
@click.option("--to", "url", required=True, help="postgresql+psycopg://user@host:port/db")
@click.pass_obj
def journal_copy(state: State, url: str) -> None:
    """Copy this installation's journal into PostgreSQL (idempotent; counts verified).  Stop `qamqor run`
    first; then set [journal] url to the target."""
    from .cluster import is_cluster_url
    from .cluster.copy import copy_journal
    from .journal import Journal

    if not is_cluster_url(url):
        raise click.UsageError("--to takes a PostgreSQL URL: postgresql+psycopg://user@host:port/db")
    source = Journal(state.config.journal_url, create=False)
    target = Journal(url)  # the schema brought to the newest migration
    try:
        copied = copy_journal(source, target)
    finally:
        source.close()
        target.close()
    for c in copied:
        click.echo(f"{c.table:22} {c.source:8} in the source  {c.target:8} in the target  ({c.added} added)")
    if not all(c.ok for c in copied):
        click.echo("the target has fewer rows than the source: run the copy again", err=True)
        sys.exit(int(ExitCode.invalid))
    click.echo(f"copied: set [journal] url = \"{url}\" in qamqor.toml")

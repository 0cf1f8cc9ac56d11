"""The archive's commands: ``qamqor verify`` as an archive runs it, ``qamqor archive renew``, report files (#12).

An archive has no ``qamqor.toml``: ``verify`` takes its trust roots from ``--trust`` (repeatable), validates as
of ``--at`` (default: the system clock), offline unless ``--online``, and exits 0 only when every signature of
every file is TOTAL-PASSED (ETSI EN 319 102-1; the engine is :mod:`signing.ltv`).  ``renew`` adds a document
timestamp and the DSS update to every archived PDF whose newest archive timestamp's TSA certificate ends within
the window, and writes the TS 119 102-2 report beside it.

:mod:`pipeline.cli` wires them as ``qamqor verify`` and ``qamqor archive renew`` (with the configuration's
defaults and the journal); ``python -m pipeline.archive`` runs them with no installation at all.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import click

from .errors import ConfigError

REPORT_SUFFIX = ".etsi-report.xml"


def parse_moment(text: str | None) -> dt.datetime | None:
    """``--at``: an ISO date or date-time; a date means its midnight UTC, a naive time is UTC."""
    if not text:
        return None
    try:
        t = dt.datetime.fromisoformat(text)
    except ValueError as e:
        raise ConfigError(f"--at {text!r} is not an ISO date or date-time",
                          remedy="write e.g. 2031-06-01 or 2031-06-01T12:00:00+05:00") from e
    return t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t


def verify_files(files: list[Path], *, trust: list[Path], at: dt.datetime | None = None, online: bool = False,
                 etsi: bool = False, policy: bool = True):
    """Validate each file; returns ``[(path, LtvReport)]``.  ``policy``: also who may sign the qamqor document
    kind the file names (#14.13); off, the signatures only (a PDF that is not one of qamqor's documents)."""
    from signing.ltv import validate_archive

    if not trust:
        raise ConfigError("no trust root given", remedy="pass --trust ROOT.crt (the root certificate you trust)")
    from .authorised import apply_to_ltv  # #14.13: the signing policy (who may sign this kind), as at signing

    checked = []
    for p in files:
        data = Path(p).read_bytes()
        report = validate_archive(data, trust_roots=trust, at=at, online=online, etsi=etsi)
        checked.append((p, apply_to_ltv(report, data) if policy else report))
    return checked


def ready_report(pdf: Path) -> Path:
    """Where the report of a signed work file made in the render worker waits for its delivery (#13)."""
    return pdf.with_name(pdf.name + REPORT_SUFFIX)


def write_report(pdf: Path, xml: str) -> Path:
    """The ETSI report beside the archived PDF (``<name>.etsi-report.xml``), written atomically."""
    from .outbox import atomic_write

    target = pdf.with_name(pdf.name + REPORT_SUFFIX)
    atomic_write(target, xml.encode("utf-8"))
    return target


def etsi_report(data: bytes, trust: list, at: dt.datetime | None = None) -> str | None:
    """The ETSI TS 119 102-2 report of ``data`` as of ``at`` (default: now), or None when nothing was validated."""
    from signing.ltv import validate_archive

    return validate_archive(data, trust_roots=trust, at=at, etsi=True).etsi_xml


def report_for(pdf: Path, data: bytes, trust: list, at: dt.datetime | None = None) -> Path | None:
    """Validate ``data`` (the archived bytes of ``pdf``) and write its ETSI report beside it (delivery, renewal)."""
    xml = etsi_report(data, trust, at)
    return write_report(pdf, xml) if xml else None


@dataclass
class Renewal:
    path: Path
    newest_timestamp: str
    tsa_valid_until: str
    renewed: bool
    report: Path | None = None
    error: str | None = None
    new_timestamp: str | None = None
    new_tsa_valid_until: str | None = None
    completed: bool = False  # not renewed: the newest timestamp's status data, issued after it, added


def _complete(p: Path, data: bytes, *, tsa_url: str, trust: list, timeout_s: float) -> bool:
    """A later run's half of a renewal: once status data issued after the newest archive timestamp can be had,
    add it (what lets a validator reach back past that TSA certificate's end); True when the file changed."""
    from signing.ltv import evidence_complete

    from .outbox import atomic_write

    try:
        if evidence_complete(data):
            return False
        completed = asyncio.run(_complete_online(data, trust=trust, timeout_s=timeout_s))
    except Exception:  # noqa: BLE001 - a status server down: the next run tries again
        return False
    if completed is None:
        return False
    atomic_write(p, completed)
    return True


async def _complete_online(data: bytes, *, trust: list, timeout_s: float) -> bytes | None:
    from signing.gost_renew import async_complete, is_gost_document

    if is_gost_document(data):  # issue 16: the GOST TSA's status data, from the GOST OCSP responder and CRLs
        from signing.policy import load_trust_roots

        return await async_complete(data, trust_roots=load_trust_roots(trust), timeout=timeout_s)
    import aiohttp
    from pyhanko_certvalidator import ValidationContext
    from pyhanko_certvalidator.fetchers.aiohttp_fetchers import AIOHttpFetcherBackend

    from signing.ltv import async_complete_evidence
    from signing.policy import load_trust_roots

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as session:
        vc = ValidationContext(trust_roots=load_trust_roots(trust), allow_fetching=True, revocation_mode="hard-fail",
                               fetcher_backend=AIOHttpFetcherBackend(session, per_request_timeout=timeout_s))
        return await async_complete_evidence(data, validation_context=vc)


def _document_id(pdf: Path) -> str | None:
    """The document id its sidecar manifest names (contract.md), if it has one."""
    try:
        return json.loads(pdf.with_suffix(".json").read_text(encoding="utf-8")).get("document_id")
    except (OSError, ValueError, AttributeError):
        return None


def renew_archive(files: list[Path], *, tsa_url: str, trust: list, before_days: int,
                  now: dt.datetime | None = None, timeout_s: float = 30.0, journal=None,
                  gost_tsa_url: str | None = None) -> list[Renewal]:
    """Renew every file that needs it (``signing.ltv.needs_renewal``): a DSS update and a new document timestamp,
    then the ETSI report beside it.  Files that do not need it are left untouched, and so is a file whose bytes
    are still those its last journaled renewal left (renewing it again with the same TSA would prove nothing
    new), so a second run renews nothing (idempotent).  With ``journal``, each renewal (or failure) is one row
    of ``archive_renewals`` and one step, at ``now`` (the pipeline's clock)."""
    from signing.ltv import archive_timestamps_of, needs_renewal

    from .outbox import atomic_write, sha256

    now = now or dt.datetime.now(dt.UTC)
    out = []
    for p in files:
        p = Path(p)
        data = p.read_bytes()
        before_sha = sha256(data)
        try:
            due = needs_renewal(data, now=now, before=dt.timedelta(days=before_days))
        except Exception as e:  # noqa: BLE001 - an unreadable archived file is a finding; the others go on
            due, unreadable = None, f"{type(e).__name__}: {e}"
        else:
            unreadable = None
        if unreadable is None and due is None:
            if not _complete(p, data, tsa_url=tsa_url, trust=trust, timeout_s=timeout_s):
                continue
            item = Renewal(p, "", "", renewed=False, completed=True)
            item.report = report_for(p, p.read_bytes(), trust)
            if journal is not None:
                from .journal import store

                with journal.tx() as conn:
                    store.record_renewal(conn, path=str(p), document_id=_document_id(p), at=now.isoformat(),
                                         status="completed", sha256_before=before_sha,
                                         sha256_after=sha256(p.read_bytes()),
                                         report=str(item.report) if item.report else None)
            out.append(item)
            continue
        if journal is not None and unreadable is None:
            from .journal import store

            if store.last_renewed_sha256(journal, str(p)) == before_sha:
                continue
        item = Renewal(p, due.time if due else "", due.tsa_valid_until if due else "", renewed=False,
                       error=unreadable)
        if unreadable is None:
            try:
                renewed = asyncio.run(_renew_online(data, tsa_url=tsa_url, trust=trust, timeout_s=timeout_s,
                                                    gost_tsa_url=gost_tsa_url))
            except Exception as e:  # noqa: BLE001 - one file's TSA/OCSP failure must not stop the others
                item.error = f"{type(e).__name__}: {e}"
            else:
                atomic_write(p, renewed)
                item.renewed = True
                newest = archive_timestamps_of(renewed)[-1]
                item.new_timestamp, item.new_tsa_valid_until = newest.time, newest.tsa_valid_until
                item.report = report_for(p, renewed, trust)
        if journal is not None:
            from .journal import store

            with journal.tx() as conn:
                store.record_renewal(
                    conn, path=str(p), document_id=_document_id(p), at=now.isoformat(),
                    status="renewed" if item.renewed else "failed", sha256_before=before_sha,
                    previous_timestamp=item.newest_timestamp or None,
                    previous_tsa_valid_until=item.tsa_valid_until or None, new_timestamp=item.new_timestamp,
                    new_tsa_valid_until=item.new_tsa_valid_until,
                    sha256_after=sha256(p.read_bytes()) if item.renewed else None,
                    report=str(item.report) if item.report else None, error=item.error)
        out.append(item)
    return out


def archived_pdfs(outbox: Path) -> list[Path]:
    """Every PDF of the archive route (``outbox/archive/<yyyy>/<mm>/<case_id>/``), dot-files left out."""
    return sorted(p for p in (Path(outbox) / "archive").glob("*/*/*/*.pdf") if not p.name.startswith("."))


def renew_installation(config, *, before_days: int, files: list[Path] | None = None,
                       tsa_url: str | None = None, trust: list | None = None,
                       now: dt.datetime | None = None) -> list[Renewal]:
    """``qamqor archive renew`` inside an installation: the archive route's PDFs (or ``files``), the configured
    TSA and trust roots, the pipeline's clock (``QAMQOR_NOW`` or the system clock), the journal."""
    from . import clock
    from .audit import AuditLog
    from .journal import Journal

    tsa_url = tsa_url or config.signing.tsa_url
    trust = list(trust or config.signing.trust_roots)
    if not tsa_url:
        raise ConfigError("no timestamp authority to renew with",
                          remedy="set [signing] tsa_url in qamqor.toml, or pass --tsa-url")
    if not trust:
        raise ConfigError("no trust root", remedy="set [signing] trust_roots, or pass --trust ROOT.crt")
    journal = Journal(config.journal_url, audit=AuditLog(config.state / "audit.jsonl"))
    try:
        return renew_archive(files if files else archived_pdfs(config.outbox), tsa_url=tsa_url, trust=trust,
                             before_days=before_days, now=now or clock.now(), journal=journal,
                             gost_tsa_url=config.signing.gost_tsa_url)
    finally:
        if journal.audit is not None:
            journal.audit.sync()
        journal.close()


async def _renew_online(data: bytes, *, tsa_url: str, trust: list, timeout_s: float,
                        gost_tsa_url: str | None = None) -> bytes:
    from signing.gost_renew import async_renew, is_gost_document

    if is_gost_document(data):  # issue 16: a GOST proof of existence, renewed by the GOST TSA (no Streebog in pyca)
        from signing.policy import load_trust_roots

        return await async_renew(data, tsa_url=gost_tsa_url or tsa_url, trust_roots=load_trust_roots(trust),
                                 timeout=timeout_s)
    import aiohttp
    from pyhanko.sign.timestamps import HTTPTimeStamper
    from pyhanko_certvalidator import ValidationContext
    from pyhanko_certvalidator.fetchers.aiohttp_fetchers import AIOHttpFetcherBackend

    from signing.ltv import async_renew_pdf
    from signing.policy import load_trust_roots

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as session:
        vc = ValidationContext(trust_roots=load_trust_roots(trust), allow_fetching=True, revocation_mode="hard-fail",
                               fetcher_backend=AIOHttpFetcherBackend(session, per_request_timeout=timeout_s))
        return await async_renew_pdf(data, timestamper=HTTPTimeStamper(tsa_url, session=session),
                                     validation_context=vc)


# --- the commands' words ---------------------------------------------------------------------------------------

def trust_from_config(config_path: Path | None = None) -> list[Path]:
    """``verify`` without ``--trust`` inside an installation: the configuration's ``[signing] trust_roots``.
    Outside one (no qamqor.toml, ``--config`` or ``QAMQOR_CONFIG``) there is nothing to trust: say so."""
    import os

    from .config import CONFIG_NAME, Config

    if config_path is None and not os.environ.get("QAMQOR_CONFIG") and not Path(CONFIG_NAME).exists():
        raise ConfigError("no trust root given and no qamqor.toml here",
                          remedy="pass --trust ROOT.crt (the root certificate you trust; repeatable)")
    roots = [Path(r) for r in Config.load(config_path).signing.trust_roots]
    if not roots:
        raise ConfigError("the configuration names no trust root",
                          remedy="pass --trust ROOT.crt, or set [signing] trust_roots")
    return roots


def emit(results, fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps({"passed": bool(results) and all(r.passed for _, r in results),
                               "files": [{"file": str(p), **r.to_dict()} for p, r in results]},
                              ensure_ascii=False, indent=2))
    elif fmt == "etsi":
        for _, r in results:
            click.echo(r.etsi_xml or "")
    else:
        for p, r in results:
            click.echo(f"{p}:\n{r.format_text()}")


def format_renewals(done: list[Renewal]) -> str:
    lines = []
    for r in done:
        if r.completed:
            lines.append(f"completed: {r.path} — the newest archive timestamp's status data, issued after it")
        elif r.renewed:
            lines.append(f"renewed: {r.path} — archive timestamp {r.new_timestamp} (TSA certificate until "
                         f"{r.new_tsa_valid_until}; the previous one until {r.tsa_valid_until or 'none'})"
                         + (f"; report {r.report}" if r.report else ""))
        else:
            lines.append(f"FAILED: {r.path} — {r.error}")
    failed = sum(not r.renewed and not r.completed for r in done)
    lines.append(f"{sum(r.renewed for r in done)} renewed, {failed} failed"
                 + (f", {sum(r.completed for r in done)} completed" if any(r.completed for r in done) else ""))
    return "\n".join(lines)


# --- ``python -m pipeline.archive`` (the same commands, with no installation) -------------------------------

@click.command("verify")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--trust", "trust", multiple=True, required=True, type=click.Path(exists=True, path_type=Path),
              help="a root certificate to trust (PEM or DER); repeatable")
@click.option("--at", "at", default=None, help="validate as of this ISO date/time (default: now)")
@click.option("--online", is_flag=True, help="fetch OCSP/CRLs for the current-time validation")
@click.option("--report", "fmt", type=click.Choice(["text", "json", "etsi"]), default="text")
@click.option("--no-policy", "no_policy", is_flag=True,
              help="the signatures only, not who may sign the qamqor document kind (a PDF not made by qamqor)")
def verify_command(files, trust, at, online, fmt, no_policy):
    """AdES long-term validation; exit 0 only when every signature is TOTAL-PASSED."""
    results = verify_files(list(files), trust=list(trust), at=parse_moment(at), online=online, etsi=fmt == "etsi",
                           policy=not no_policy)
    emit(results, fmt)
    sys.exit(0 if results and all(r.passed for _, r in results) else 1)


@click.group("archive")
def archive_group():
    """The archive route's upkeep."""


@archive_group.command("renew")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--tsa-url", required=True)
@click.option("--trust", "trust", multiple=True, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--before", "before_days", type=int, default=365, show_default=True,
              help="renew when the newest archive timestamp's TSA certificate ends within DAYS")
def renew_command(files, tsa_url, trust, before_days):
    """Add a document timestamp + DSS update to every given PDF that needs one (not journaled: no installation)."""
    done = renew_archive(list(files), tsa_url=tsa_url, trust=list(trust), before_days=before_days)
    click.echo(format_renewals(done))
    sys.exit(1 if any(not r.renewed and not r.completed for r in done) else 0)


@click.group()
def main():
    """``python -m pipeline.archive``: the archive commands outside an installation (``qamqor verify`` and
    ``qamqor archive renew`` are the same, with the configuration's defaults and the journal)."""


main.add_command(verify_command)
main.add_command(archive_group)

if __name__ == "__main__":
    main()

"""The archive's commands: ``qamqor verify`` as an archive runs it, ``qamqor archive renew``, report files (#12).

An archive has no ``qamqor.toml``: ``verify`` takes its trust roots from ``--trust`` (repeatable), validates as
of ``--at`` (default: the system clock), offline unless ``--online``, and exits 0 only when every signature of
every file is TOTAL-PASSED (ETSI EN 319 102-1; the engine is :mod:`signing.ltv`).  ``renew`` adds a document
timestamp and the DSS update to every archived PDF whose newest archive timestamp's TSA certificate ends within
the window, and writes the TS 119 102-2 report beside it.

Until the click wiring lands in :mod:`pipeline.cli`, the same commands run as ``python -m pipeline.archive``.
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
                 etsi: bool = False):
    """Validate each file; returns ``[(path, LtvReport)]``."""
    from signing.ltv import validate_archive

    if not trust:
        raise ConfigError("no trust root given", remedy="pass --trust ROOT.crt (the root certificate you trust)")
    return [(p, validate_archive(Path(p).read_bytes(), trust_roots=trust, at=at, online=online, etsi=etsi))
            for p in files]


def write_report(pdf: Path, xml: str) -> Path:
    """The ETSI report beside the archived PDF (``<name>.etsi-report.xml``), written atomically."""
    from .outbox import atomic_write

    target = pdf.with_name(pdf.name + REPORT_SUFFIX)
    atomic_write(target, xml.encode("utf-8"))
    return target


def report_for(pdf: Path, data: bytes, trust: list, at: dt.datetime | None = None) -> Path | None:
    """Validate ``data`` (the archived bytes of ``pdf``) and write its ETSI report beside it (delivery, renewal)."""
    from signing.ltv import validate_archive

    report = validate_archive(data, trust_roots=trust, at=at, etsi=True)
    return write_report(pdf, report.etsi_xml) if report.etsi_xml else None


@dataclass
class Renewal:
    path: Path
    newest_timestamp: str
    tsa_valid_until: str
    renewed: bool
    report: Path | None = None
    error: str | None = None


def renew_archive(files: list[Path], *, tsa_url: str, trust: list, before_days: int,
                  now: dt.datetime | None = None, timeout_s: float = 30.0) -> list[Renewal]:
    """Renew every file that needs it (``signing.ltv.needs_renewal``); files that do not are left untouched,
    so a second run the same day renews nothing (idempotent)."""
    from signing.ltv import needs_renewal

    now = now or dt.datetime.now(dt.UTC)
    out = []
    for p in files:
        p = Path(p)
        data = p.read_bytes()
        due = needs_renewal(data, now=now, before=dt.timedelta(days=before_days))
        if due is None:
            continue
        item = Renewal(p, due.time, due.tsa_valid_until, renewed=False)
        try:
            renewed = asyncio.run(_renew_online(data, tsa_url=tsa_url, trust=trust, timeout_s=timeout_s))
        except Exception as e:  # noqa: BLE001 - one file's TSA/OCSP failure must not stop the others
            item.error = f"{type(e).__name__}: {e}"
            out.append(item)
            continue
        from .outbox import atomic_write

        atomic_write(p, renewed)
        item.renewed = True
        item.report = report_for(p, renewed, trust)
        out.append(item)
    return out


async def _renew_online(data: bytes, *, tsa_url: str, trust: list, timeout_s: float) -> bytes:
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


# --- click ---------------------------------------------------------------------------------------------------

def _emit(results, fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps({"passed": all(r.passed for _, r in results),
                               "files": [{"file": str(p), **r.to_dict()} for p, r in results]},
                              ensure_ascii=False, indent=2))
    elif fmt == "etsi":
        for _, r in results:
            click.echo(r.etsi_xml or "")
    else:
        for p, r in results:
            click.echo(f"{p}:\n{r.format_text()}")


@click.command("verify")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--trust", "trust", multiple=True, required=True, type=click.Path(exists=True, path_type=Path),
              help="a root certificate to trust (PEM or DER); repeatable")
@click.option("--at", "at", default=None, help="validate as of this ISO date/time (default: now)")
@click.option("--online", is_flag=True, help="fetch OCSP/CRLs for the current-time validation")
@click.option("--report", "fmt", type=click.Choice(["text", "json", "etsi"]), default="text")
def verify_command(files, trust, at, online, fmt):
    """AdES long-term validation; exit 0 only when every signature is TOTAL-PASSED."""
    results = verify_files(list(files), trust=list(trust), at=parse_moment(at), online=online, etsi=fmt == "etsi")
    _emit(results, fmt)
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
    """Add a document timestamp + DSS update to every archived PDF that needs one; report what was renewed."""
    done = renew_archive(list(files), tsa_url=tsa_url, trust=list(trust), before_days=before_days)
    for r in done:
        click.echo(f"{'renewed' if r.renewed else 'FAILED'}: {r.path} (TSA certificate until {r.tsa_valid_until})"
                   + (f" — {r.error}" if r.error else ""))
    click.echo(f"{sum(r.renewed for r in done)} renewed, {sum(not r.renewed for r in done)} failed")
    sys.exit(1 if any(not r.renewed for r in done) else 0)


@click.group()
def main():
    """``python -m pipeline.archive``: the archive commands before their wiring into ``qamqor``."""


main.add_command(verify_command)
main.add_command(archive_group)

if __name__ == "__main__":
    main()

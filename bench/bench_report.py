"""The archive's ETSI report of a fresh document (issue 12 #4, made in the render worker since issue 13), run on
demand, not a test: ``.venv/bin/python bench/bench_report.py``.

Runs the real ``qamqor run --once`` on N portal notices at B-B and at the demo's B-LTA, then times
``pipeline.archive.etsi_report`` (CPU, ``time.process_time``) on the delivered archive copies, interleaved, with
``signing/speedups.py``'s four replacements installed and with the libraries' own functions (pyHanko's hex-string
reader, asn1crypto's name preparation and name comparison, xsdata's serializer with a fresh context per report):
the baseline of the same run.  Both give the same report.

    --events 25 (default) · --rounds 3
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import os
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_pipeline import NOW, finish_site, make_site, run_pipeline  # noqa: E402


def archived(n: int, level: str | None) -> tuple[Path, list[bytes]]:
    with contextlib.redirect_stdout(io.StringIO()):  # the demo's sign-in notes
        root, staging = make_site(n)
    if level:
        toml = root / "qamqor.toml"
        toml.write_text(re.sub(r'(?m)^level = ".*"$', f'level = "{level}"', toml.read_text()))
    run_pipeline(root, staging, 2)
    return root, [p.read_bytes() for p in sorted((root / "outbox" / "archive").rglob("*.pdf"))]


def stock(on: bool, ours: dict) -> None:
    """The libraries' own functions (``on``), or ours again."""
    from asn1crypto import x509
    from pyhanko.pdf_utils import generic
    from xsdata.formats.dataclass import serializers

    from signing import speedups

    generic.read_hex_string_from_stream = speedups.ORIGINAL_READ_HEX if on else ours["hex"]
    x509.NameTypeAndValue._ldap_string_prep = speedups.ORIGINAL_STRING_PREP if on else ours["prep"]
    x509.Name.__eq__ = speedups.ORIGINAL_NAME_EQ if on else ours["name_eq"]
    serializers.XmlSerializer = ours["xml_original"] if on else ours["xml"]


def _without_poe_time(xml: str | None) -> str:
    """A report without its proof-of-existence times (pyHanko takes them from the real clock)."""
    return re.sub(r"<vr:POETime>[^<]*</vr:POETime>", "", xml or "")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=25)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    os.environ["QAMQOR_NOW"] = NOW
    from asn1crypto import x509
    from pyhanko.pdf_utils import generic
    from xsdata.formats.dataclass import serializers

    from pipeline.archive import etsi_report
    from pipeline.config import Config
    from signing import speedups

    original = speedups.share_xml_metadata()
    ours = {"hex": generic.read_hex_string_from_stream, "prep": x509.NameTypeAndValue._ldap_string_prep,
            "name_eq": x509.Name.__eq__,
            "xml": serializers.XmlSerializer, "xml_original": original}
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    print(f"{'archive report, CPU per document':34} {'qamqor':>10} {'libraries as shipped':>22}")
    for level in ("B-B", None):
        root, pdfs = archived(args.events, level)
        roots = list(Config.load(root / "qamqor.toml").signing.trust_roots)
        at = dt.datetime.now(dt.UTC)  # one validation time, so the two reports can be compared
        times: dict[bool, list[float]] = {False: [], True: []}
        reports: dict[bool, str | None] = {}
        for _ in range(args.rounds):
            for baseline in (False, True):  # interleaved
                stock(baseline, ours)
                for data in pdfs:
                    t = time.process_time()
                    reports[baseline] = etsi_report(data, roots, at)
                    times[baseline].append(time.process_time() - t)
        stock(False, ours)
        if _without_poe_time(reports[False]) != _without_poe_time(reports[True]):
            raise SystemExit("the two reports differ")
        med = {b: statistics.median(v) * 1000 for b, v in times.items()}
        print(f"{level or 'B-LTA (the demo)':34} {med[False]:8.1f} ms {med[True]:19.1f} ms  "
              f"({len(pdfs)} documents × {args.rounds})")
        finish_site(root, False)


if __name__ == "__main__":
    main()

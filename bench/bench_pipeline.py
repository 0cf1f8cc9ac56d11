"""Benchmark of the whole pipeline (run on demand, not a test): ``.venv/bin/python bench/bench_pipeline.py``.

Drops N ``application.submitted`` events into the inbox at once and runs the real ``qamqor run --once`` on them,
timed from the process start (start-up included): journal, rules, rendering in warm worker processes, signing
with the visible stamp (B-LTA by the demo's defaults; ``--level B-B`` without the TSA's round trips), the archive's
ETSI report, routing to cabinet/, archive/ (and psc/) with manifests.  ``--channel portal`` (default): the
portal's acceptance notices (¶7), sealed by the provider's system; ``--channel psc``: the PSC's acceptance
receipts (¶4), signed by its operator's key — the burst of 500 receipts of issue 13 is
``--channel psc --events 500``.

Prints events and documents per second, the median and p95 time from the drop to each signed output in
``outbox/``, the throughput of each successive thousand, the peak memory and the CPU of every process (the demo's
TSA/OCSP servers apart: in production they are NCA's).  In the same run, as baselines: a naive script (for each
file: parse, render with a plain WeasyPrint call, sign with pyHanko's stock defaults, write) on a smaller sample,
and the renderer alone on the same documents (their journaled contexts) in the same number of warm processes.

    --events 1000 (default) · --long (10,000) · --naive 40 · --workers 2 · --channel portal|psc · --level B-B
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NOW = "2027-01-08T12:00:00+05:00"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


#: the application each channel's burst repeats, and the document it gives (¶7 the portal's notice, sealed by
#: the provider's system; ¶4 the PSC's receipt, signed by its operator's key): both signed without an officer
CHANNELS = {"portal": ("C-2026-0004", "acceptance_notice"), "psc": ("C-2026-0001", "acceptance_receipt")}


def make_site(n: int, channel: str = "portal") -> tuple[Path, Path]:
    from pipeline.demo import EXAMPLES, make_demo

    root = Path(tempfile.mkdtemp(prefix="qamqor-bench-"))
    make_demo(root)
    for f in (root / "inbox").iterdir():
        f.unlink()
    template = json.loads((EXAMPLES / CHANNELS[channel][0] / "01-application.submitted.json").read_text())
    staging = root / "staging"
    staging.mkdir()
    for i in range(n):
        tree = dict(template, event_id=str(uuid.uuid4()), case_id=f"B-{i:06d}")
        (staging / f"B-{i:06d}.json").write_text(json.dumps(tree, ensure_ascii=False))
    return root, staging


def tree_pids(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo += [int(c) for c in fh.read().split()]
        except (FileNotFoundError, ProcessLookupError):
            pass
    return out


def rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return ""


def is_demo_service(command: str) -> bool:
    """The demo's TSA/OCSP servers (certomancer's Animator, the GOST services): NCA's servers in production, not
    qamqor."""
    return "certomancer" in command or "signing.testing.animator" in command or "gost_services" in command


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0.0


def run_pipeline(root: Path, staging: Path, workers: int) -> dict:
    env = {**os.environ, "QAMQOR_NOW": NOW, "PYTHONPATH": str(ROOT)}
    t0 = time.time()
    for f in sorted(staging.iterdir()):
        os.rename(f, root / "inbox" / f.name)
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "run", "--once", "--workers", str(workers)],
                            cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peaks: dict[int, int] = {}
    cpu: dict[int, float] = {}
    commands: dict[int, str] = {}
    samples: list[int] = []

    def sample() -> None:
        while proc.poll() is None:
            total = 0
            for p in tree_pids(proc.pid):
                kb = rss_kb(p)
                total += kb
                peaks[p] = max(peaks.get(p, 0), kb)
                cpu[p] = max(cpu.get(p, 0.0), cpu_s(p))
                commands.setdefault(p, cmdline(p))
            samples.append(total)
            time.sleep(0.25)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - start
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"qamqor run failed ({proc.returncode}):\n{out}\n{err}")
    manifests = sorted((root / "outbox" / "archive").rglob("*.json"))
    latencies = sorted(m.stat().st_mtime - t0 for m in manifests)
    return {"wall": wall, "latencies": latencies, "docs": len(manifests), "peaks": peaks, "samples": samples,
            "stdout": out, "cpu": cpu, "main": proc.pid, "commands": commands}


def _render_only(job) -> float:
    from pipeline.stages import render

    t = time.perf_counter()
    render.run(job)
    return time.perf_counter() - t


def run_renderer(root: Path, n: int, processes: int = 2) -> float:
    """The renderer's own rate on the pipeline's own documents (their journaled contexts, nothing signed), with
    ``processes`` warm processes: what the end-to-end rate is compared with (#13 target 1)."""
    import multiprocessing as mp

    from pipeline.config import Config
    from pipeline.journal.reads import all_documents
    from pipeline.services import Services
    from pipeline.stages import render
    from pipeline.workers import warm_worker

    services = Services.build(Config.load(root / "qamqor.toml"))
    try:
        jobs = [render.job(services, d, seal=False) for d in all_documents(services.journal)[:n]]
    finally:
        services.close()
    with mp.get_context("spawn").Pool(processes, initializer=warm_worker) as pool:
        pool.map(_render_only, jobs[: processes * 3], chunksize=1)  # every worker warm before timing
        start = time.perf_counter()
        pool.map(_render_only, jobs, chunksize=1)
        return len(jobs) / (time.perf_counter() - start)


def run_naive(root: Path, staging_files: list[Path], out_dir: Path) -> float:
    """For each file: parse, render with a plain WeasyPrint call, sign with pyHanko's defaults, write."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from weasyprint import HTML

    from forms.preview import sample_context
    from forms.render import FORMS_DIR, Renderer

    renderer = Renderer()
    css = (FORMS_DIR / "styles" / "base.css").read_text().replace("../fonts/", (FORMS_DIR / "fonts").as_uri() + "/")
    pki = json.loads((root / "var" / "demo-pki" / "pki.json").read_text())
    operator = next(o for o in pki["officers"] if o["role"] == "provider_seal")
    context = sample_context("acceptance_notice", "kk")
    out_dir.mkdir(exist_ok=True)
    start = time.perf_counter()
    for f in staging_files:
        tree = json.loads(f.read_text())
        ctx = dict(context, application=tree["data"])
        html = renderer.html("acceptance_notice", "kk", ctx).replace("</head>", f"<style>{css}</style></head>", 1)
        pdf = HTML(string=html, base_url=str(FORMS_DIR)).write_pdf()
        signer = signers.SimpleSigner.load_pkcs12(operator["p12"], passphrase=operator["password"].encode())
        w = IncrementalPdfFileWriter(io.BytesIO(pdf))
        fields.append_signature_field(w, fields.SigFieldSpec("Signature", on_page=0, box=(50, 50, 250.5, 120)))
        signed = signers.sign_pdf(w, signers.PdfSignatureMetadata(field_name="Signature"), signer=signer)
        (out_dir / (f.stem + ".pdf")).write_bytes(signed.getvalue())
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1000)
    ap.add_argument("--long", action="store_true", help="10,000 events")
    ap.add_argument("--naive", type=int, default=40, help="events for the naive baseline")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--channel", choices=sorted(CHANNELS), default="portal",
                    help="portal: acceptance notices (¶7); psc: the PSC's acceptance receipts (¶4)")
    ap.add_argument("--render", type=int, default=200, help="documents for the renderer-alone rate")
    ap.add_argument("--keep", action="store_true", help="keep the temporary site")
    ap.add_argument("--level", default=None,
                    help="sign at this PAdES level instead of the demo's (B-LTA for the archive copies since issue 12; "
                         "B-B compares with a commit before it)")
    args = ap.parse_args()
    n = 10_000 if args.long else args.events

    root, staging = make_site(n, args.channel)
    if args.level:
        import re

        toml = root / "qamqor.toml"
        toml.write_text(re.sub(r'(?m)^level = ".*"$', f'level = "{args.level}"', toml.read_text()))
    naive_files = sorted(staging.iterdir())[: args.naive]
    naive_copy = root / "naive-in"
    naive_copy.mkdir()
    for f in naive_files:
        shutil.copyfile(f, naive_copy / f.name)
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    print(f"naive script on {len(naive_files)} events (render with plain WeasyPrint, stock pyHanko signature) ...")
    naive_wall = run_naive(root, sorted(naive_copy.iterdir()), root / "naive-out")
    naive_rate = len(naive_files) / naive_wall
    print(f"qamqor run --once --workers {args.workers} on {n} {args.channel} applications dropped at once "
          f"({CHANNELS[args.channel][1]}) ...")
    r = run_pipeline(root, staging, args.workers)
    print(f"the renderer alone on {min(n, args.render)} of the same documents, {args.workers} warm processes ...")
    render_rate = run_renderer(root, args.render, args.workers)

    lat = r["latencies"]
    rate = r["docs"] / r["wall"]
    print()
    print(f"{'':34} {'qamqor':>12} {'naive':>12}")
    print(f"{'events/s':34} {n / r['wall']:12.1f} {naive_rate:12.1f}")
    print(f"{'signed documents/s (end to end)':34} {rate:12.1f} {naive_rate:12.1f}")
    print(f"{'speed-up':34} {rate / naive_rate:11.1f}x")
    print(f"{'the renderer alone (documents/s)':34} {render_rate:12.1f}")
    print(f"{'end to end / renderer alone':34} {rate / render_rate * 100:11.0f}%  (target 90 %; "
          "from the process start)")
    print(f"{'documents':34} {r['docs']:12d}")
    print(f"{'wall time (s)':34} {r['wall']:12.1f}")
    print(f"drop → signed output in outbox: median {statistics.median(lat):.1f} s, p95 {percentile(lat, 95):.1f} s "
          "(all dropped at once, so this is the backlog's wait)")
    if len(lat) >= 2000:
        print("throughput per successive thousand (documents/s):")
        for k in range(0, len(lat) - 999, 1000):
            chunk = lat[k:k + 1000]
            print(f"  {k:6d}–{k + 999:6d}: {1000 / max(1e-9, chunk[-1] - chunk[0]):6.1f}")
    else:
        half = len(lat) // 2
        a, b = lat[:half], lat[half:]
        steady = len(b) / max(1e-9, b[-1] - b[0])
        print(f"first half {half / max(1e-9, a[-1] - a[0]):.1f} docs/s, second half {steady:.1f} docs/s "
              f"({steady / render_rate * 100:.0f} % of the renderer alone)")
    print("peak memory per process (MB): " + ", ".join(
        f"{p}: {kb / 1024:.0f}" for p, kb in sorted(r["peaks"].items(), key=lambda x: -x[1]) if kb))
    busy = {p: c for p, c in r["cpu"].items() if c > 0.05}
    services = {p for p in busy if is_demo_service(r["commands"].get(p, ""))}
    print("CPU seconds per process (main first, + the demo's TSA/OCSP servers): " + ", ".join(
        f"{p}{'*' if p == r['main'] else '+' if p in services else ''}: {c:.1f}"
        for p, c in sorted(busy.items(), key=lambda x: (x[0] != r["main"], x[0] in services))))
    docs = max(1, r["docs"])
    own = sum(c for p, c in busy.items() if p not in services)
    print(f"CPU per document: {own / docs * 1000:.0f} ms in qamqor's processes "
          f"({busy.get(r['main'], 0) / docs * 1000:.0f} ms in the main one), start-up included; "
          f"{sum(busy[p] for p in services) / docs * 1000:.0f} ms more in the demo's TSA/OCSP servers")
    s = r["samples"]
    if len(s) >= 8:
        q = len(s) // 4
        print("total RSS of the process tree (MB), quarters of the run: "
              + ", ".join(f"{max(s[i * q:(i + 1) * q]) / 1024:.0f}" for i in range(4)))
    finish_site(root, args.keep)


def finish_site(root: Path, keep: bool) -> None:
    """Remove a benchmark's temporary site, or say where it was kept (``--keep``)."""
    if keep:
        print(f"site kept in {root}")
    else:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

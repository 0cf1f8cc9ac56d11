"""Web desk benchmark (run on demand: ``.venv/bin/python bench/bench_web.py [-n 50] [--queue 1000]``; never a
timed test).

1. Approving a batch of ``n`` one-page documents (reasoned refusals of ``n`` copies of the demo's case
   C-2026-0002) through the web desk — one POST to ``/queue/approve`` on a real server on 127.0.0.1, which signs,
   delivers and verifies each — against the CLI path (``pipeline.queue.approve`` per document, what
   ``qamqor queue approve`` does, without the verification) on another ``n``: signatures per second of both.
2. The queue page under load (issue 15): ``--clients`` concurrent clients (20) reading ``GET /queue`` for
   ``--seconds`` against ``qamqor serve`` in a process of its own — first with the demo's few rows, then with
   ``--queue`` pending documents (1,000; rows cloned in the journal) — printing p50/p95 and requests per second
   beside the same load on ``/healthz`` (the server's floor) from the same run, and the figures the issue measured
   before paging (136 req/s at p95 280 ms with about 10 rows; 57 req/s at p95 667 ms with 82 rows).  Target: p95 at
   most 200 ms with 1,000 pending documents.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

os.environ.setdefault("QAMQOR_NOW", "2027-01-08T12:00:00+05:00")

from pipeline.demo import EXAMPLES, make_demo  # noqa: E402

PASSWORD = "bench-password-1"


def copies(inbox: Path, n: int, prefix: str) -> None:
    """``n`` copies of case C-2026-0002 up to its decision: each ends with a reasoned refusal in the queue."""
    sources = sorted((EXAMPLES / "C-2026-0002").iterdir())[:4]
    for i in range(n):
        case = f"{prefix}-{i:04d}"
        for src in sources:
            text = src.read_text(encoding="utf-8").replace("C-2026-0002", case)
            text = re.sub(r'("event_id": ")[^"]+(")', lambda m: m.group(1) + str(uuid.uuid4()) + m.group(2), text)
            text = re.sub(r"(<event_id>)[^<]+(</event_id>)", lambda m: m.group(1) + str(uuid.uuid4()) + m.group(2), text)
            (inbox / f"{case}-{src.name}").write_text(text, encoding="utf-8")


def setup(root: Path, n: int) -> None:
    from pipeline.web.passwords import hash_password

    make_demo(root)
    for f in (root / "inbox").iterdir():
        f.unlink()
    copies(root / "inbox", n, "W")
    copies(root / "inbox", n, "C")
    with open(root / "qamqor.toml", "a", encoding="utf-8") as fh:
        fh.write(f'\n[web]\n[[web.accounts]]\nofficer = "head"\npassword_hash = "{hash_password(PASSWORD)}"\n')


def clone_queue(root: Path, total: int) -> None:
    """Clone a queued row until ``total`` documents wait (the queue page reads rows, never the files)."""
    db = sqlite3.connect(root / "var/journal.sqlite")
    db.row_factory = sqlite3.Row
    row = dict(db.execute("SELECT * FROM documents WHERE status = 'delivered' AND kind = 'reasoned_refusal' "
                          "LIMIT 1").fetchone())
    have = db.execute("SELECT count(*) FROM documents WHERE status IN ('queued', 'signing')").fetchone()[0]
    with db:
        for i in range(max(0, total - have)):
            r = {**row, "document_id": f"{row['document_id']}-clone-{i}", "status": "queued",
                 "signatures_done": 0, "signed_by": None}
            cols = ", ".join(f'"{c}"' for c in r)
            db.execute(f"INSERT INTO documents ({cols}) VALUES ({', '.join('?' for _ in r)})", list(r.values()))
    db.close()


def _docs(ids: list[str], services) -> str:
    from urllib.parse import urlencode

    from pipeline import queue as Q

    return urlencode([("doc", f"{d}:{Q.get(services, d).pdf_sha256}") for d in ids])


class serving:
    """``qamqor serve`` on a free port in a process of its own (so the clients do not share its interpreter)."""

    def __init__(self, root: Path):
        self.root = root

    def __enter__(self) -> str:
        import socket

        import httpx2 as httpx

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        exe = Path(sys.executable).with_name("qamqor")
        self.proc = subprocess.Popen([str(exe), "--config", str(self.root / "qamqor.toml"), "serve", "--port", str(port)],
                                     cwd=self.root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    return base
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("qamqor serve did not start")
            time.sleep(0.1)  # waiting for a child server to listen

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def signed_in(base: str) -> dict[str, str]:
    import httpx2 as httpx

    from tests.web.conftest import csrf_of

    with httpx.Client(base_url=base, follow_redirects=True) as http:
        page = http.get("/login")
        http.post("/login", data={"officer": "head", "password": PASSWORD, "csrf": csrf_of(page.text)})
        return dict(http.cookies)


def hammer(base: str, path: str, cookies: dict[str, str], clients: int, seconds: float) -> dict[str, float]:
    """``clients`` concurrent clients GETting ``path`` for ``seconds``: p50/p95 latency (ms) and requests/s."""
    import httpx2 as httpx

    async def run() -> tuple[list[float], float]:
        lat: list[float] = []
        async with httpx.AsyncClient(base_url=base, cookies=cookies, timeout=60,
                                     limits=httpx.Limits(max_connections=clients)) as http:
            await http.get(path)  # warm
            end = time.perf_counter() + seconds

            async def client() -> None:
                while time.perf_counter() < end:
                    t0 = time.perf_counter()
                    r = await http.get(path)
                    assert r.status_code == 200, r.status_code
                    lat.append((time.perf_counter() - t0) * 1000)

            t0 = time.perf_counter()
            await asyncio.gather(*(client() for _ in range(clients)))
            return lat, time.perf_counter() - t0

    lat, wall = asyncio.run(run())
    lat.sort()
    return {"p50": statistics.median(lat), "p95": lat[max(0, int(len(lat) * 0.95) - 1)], "rps": len(lat) / wall}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=50, help="documents per batch")
    ap.add_argument("--queue", type=int, default=1000, help="pending documents for the queue page")
    ap.add_argument("--clients", type=int, default=20, help="concurrent clients reading the queue page")
    ap.add_argument("--seconds", type=float, default=20.0, help="how long each load lasts")
    args = ap.parse_args()

    import httpx2 as httpx

    from pipeline import queue as Q
    from pipeline.config import Config
    from pipeline.runner import Runner
    from pipeline.web import create_app
    from tests.web.conftest import Server, csrf_of

    tmp = Path(tempfile.mkdtemp(prefix="bench-web-"))
    root = tmp / "site"
    root.mkdir()
    try:
        os.chdir(root)
        t0 = time.perf_counter()
        setup(root, args.n)
        config = Config.load(root / "qamqor.toml")
        runner = Runner(config)
        runner.run_once(settle=False)
        s = runner.services
        # ¶10–11: the inspectors sign the acts first (not timed), then the head signs the decisions
        for _ in range(3):
            for item in Q.pending(s, role="inspector"):
                Q.approve(s, item.document_id, Q.demo_officer(s, Q.get(s, item.document_id)), None)
        print(f"set-up: {2 * args.n} cases rendered, their acts signed, in {time.perf_counter() - t0:.1f} s")
        head = config.officer("head")
        secret = head.secret

        # --- the CLI path: queue.approve per document --------------------------------------------------
        cli_docs = [i.document_id for i in Q.pending(s, officer=head) if i.case_id.startswith("C-")][: args.n]
        t0 = time.perf_counter()
        for d in cli_docs:
            Q.approve(s, d, head, secret.encode())
        cli_s = time.perf_counter() - t0
        s.signatures.forget(head)

        # --- the web desk: one POST signs the batch, then verifies each -----------------------------------
        app = create_app(config, services=s)
        with Server(app) as server, httpx.Client(base_url=server.url, follow_redirects=True, timeout=600) as http:
            page = http.get("/login")
            page = http.post("/login", data={"officer": "head", "password": PASSWORD, "csrf": csrf_of(page.text)})
            ids = [i.document_id for i in Q.pending(s, officer=head) if i.case_id.startswith("W-")][: args.n]
            for d in ids:  # issue 15 #4: opened before it can be selected (not timed)
                http.get(f"/documents/{d}")
            values = [v for v in re.findall(r'name="doc" value="(W-[^"]+)"', http.get(f"/queue/confirm?{_docs(ids, s)}").text)]
            t0 = time.perf_counter()
            r = http.post("/queue/approve", data={"csrf": csrf_of(page.text), "doc": values, "secret": secret})
            web_s = time.perf_counter() - t0
            valid = r.text.count('class="badge valid"')

        load = {"healthz": None, "queue_demo_rows": None, "queue_1000": None}
        with serving(root) as base:
            cookies = signed_in(base)
            load["healthz"] = hammer(base, "/healthz", cookies, args.clients, args.seconds)
            rows_before = len(Q.pending(s, officer=head))
            load["queue_demo_rows"] = hammer(base, "/queue", cookies, args.clients, args.seconds)
            clone_queue(root, args.queue)
            load["queue_1000"] = hammer(base, "/queue", cookies, args.clients, args.seconds)
        pending = len(Q.pending(s))
        runner.close()
        print(json.dumps({
            "batch": args.n,
            "cli_signatures_per_s": round(len(cli_docs) / cli_s, 1),
            "web_signatures_per_s": round(len(values) / web_s, 1),
            "web_batch_seconds": round(web_s, 2),
            "web_valid_on_results_page": valid,
        }, indent=2))
        print(f"\nGET under {args.clients} concurrent clients, {args.seconds:g} s each (p50 / p95 ms, requests/s):")
        print(f"  {'page':<34} {'p50':>8} {'p95':>8} {'req/s':>8}")
        for name, label in (("healthz", "/healthz (floor, same run)"),
                            ("queue_demo_rows", f"/queue, {rows_before} rows of the head"),
                            ("queue_1000", f"/queue, {pending} pending documents")):
            r = load[name]
            print(f"  {label:<34} {r['p50']:>8.1f} {r['p95']:>8.1f} {r['rps']:>8.1f}")
        print("  before (issue 15): /queue ~10 rows p95 280 ms at 136 req/s; 82 rows p95 667 ms at 57 req/s")
        print(f"  target: /queue with 1,000 pending documents p95 <= 200 ms -> "
              f"{'met' if load['queue_1000']['p95'] <= 200 else 'NOT met'}")
    finally:
        os.chdir("/")
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

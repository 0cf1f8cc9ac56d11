"""Web desk benchmark (run on demand: ``.venv/bin/python bench/bench_web.py [-n 50] [--queue 1000]``; never a
timed test).

1. Approving a batch of ``n`` one-page documents (reasoned refusals of ``n`` copies of the demo's case
   C-2026-0002) through the web desk — one POST to ``/queue/approve`` on a real server on 127.0.0.1, which signs,
   delivers and verifies each — against the CLI path (``pipeline.queue.approve`` per document, what
   ``qamqor queue approve`` does, without the verification) on another ``n``: signatures per second of both.
2. The queue page with ``--queue`` pending documents (rows cloned in the journal): median latency of
   ``GET /queue`` over 20 requests (target < 200 ms).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sqlite3
import statistics
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=50, help="documents per batch")
    ap.add_argument("--queue", type=int, default=1000, help="pending documents for the queue page")
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
            values = re.findall(r'name="doc" value="(W-[^"]+)"', page.text)[: args.n]
            t0 = time.perf_counter()
            r = http.post("/queue/approve", data={"csrf": csrf_of(page.text), "doc": values, "secret": secret})
            web_s = time.perf_counter() - t0
            valid = r.text.count('class="badge valid"')

            clone_queue(root, args.queue)
            pending = len(Q.pending(s))
            http.get("/queue")
            lat = []
            for _ in range(20):
                t0 = time.perf_counter()
                q = http.get("/queue")
                lat.append((time.perf_counter() - t0) * 1000)
                assert q.status_code == 200
        print(json.dumps({
            "batch": args.n,
            "cli_signatures_per_s": round(len(cli_docs) / cli_s, 1),
            "web_signatures_per_s": round(len(values) / web_s, 1),
            "web_batch_seconds": round(web_s, 2),
            "web_valid": valid,
            "queue_pending": pending,
            "queue_page_median_ms": round(statistics.median(lat), 1),
            "queue_page_p90_ms": round(sorted(lat)[int(len(lat) * 0.9) - 1], 1),
            "queue_page_target_ms": 200,
        }, indent=2))
        runner.close()
    finally:
        os.chdir("/")
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

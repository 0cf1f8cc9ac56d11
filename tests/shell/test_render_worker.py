"""A render worker is pure compute (pipeline/stages/render_worker.py, issue 13): it renders a document without
loading the journal, the database driver or the job engine, which is what keeps a worker's start-up short."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_PROBE = """
import json, sys
from forms.preview import sample_context
from pipeline.stages import render_worker as w
w.warm()
result = w.run(w.RenderJob("D-1", "acceptance_receipt", "kk", sample_context("acceptance_receipt", "kk"), ()))
print(json.dumps({"pages": result.pages, "failure": result.failure, "pdf": (result.pdf or b"")[:5].decode(),
                  "loaded": sorted(m for m in sys.modules if m.split(".")[0] in ("sqlalchemy", "alembic",
                  "psycopg", "procrastinate") or m.startswith(("pipeline.journal", "pipeline.cluster")))}))
"""


def test_a_worker_renders_without_the_journal_or_the_database(tmp_path):
    out = subprocess.run([sys.executable, "-c", _PROBE], cwd=tmp_path, capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["failure"] is None and seen["pdf"] == "%PDF-" and seen["pages"] >= 1
    assert seen["loaded"] == []


def test_the_driver_submits_the_worker_module_s_own_function():
    # what a process pool pickles is the function's module and name: the worker imports only that module
    from pipeline.stages import render, render_worker

    assert render.run is render_worker.run and render.run.__module__ == "pipeline.stages.render_worker"


def test_the_stamp_draws_the_page_s_own_qr_code_made_once(demo, monkeypatch):
    """Issue 13: a document sealed in the worker has its verification QR code made once — the page's, which the
    stamp draws too — not twice; the stamp's drawing is the same as of a code made for it."""
    import zxingcpp

    from forms.preview import sample_context
    from pipeline.config import Config
    from pipeline.stages import render_worker as w
    from pipeline.verify_links import verify_url
    from signing import qr, stamp

    config = Config.load(demo / "qamqor.toml")
    context = sample_context("acceptance_receipt", "kk")
    context["document"] = {**context["document"], "id": "D-QR-1", "verify_url": verify_url(config, "D-QR-1")}
    job = w.RenderJob("D-QR-1", "acceptance_receipt", "kk", context, (), w.SealJob(config, "operator", None))
    made = []
    real_create = zxingcpp.create_barcode
    monkeypatch.setattr(zxingcpp, "create_barcode", lambda content, *a, **kw: made.append(content)
                        or real_create(content, *a, **kw))
    qr.modules.cache_clear()
    stamp.qr_ops.cache_clear()
    result = w.run(job)
    assert result.signature is not None, result.signature_failure
    assert made == [verify_url(config, "D-QR-1")]  # once, for the page and the stamp

    url, modules = made[0], qr.modules(made[0])
    stamp.qr_ops.cache_clear()
    qr.modules.cache_clear()
    assert stamp.qr_ops(url, 10.0, 20.0, 60.0, modules) == stamp.qr_ops(url, 10.0, 20.0, 60.0)

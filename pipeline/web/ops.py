"""Operations: liveness (``/healthz``), readiness (``/readyz``) and Prometheus metrics (``/metrics``).

Readiness means the desk can do its work now: the journal takes a write lock, every officer's key is reachable
(a PKCS#12 file, a PKCS#11 module, an external officer's certificate), and the timestamp server answers a TCP
connection when one is configured.  Metrics are read from the journal on each scrape (``prometheus_client``
renders them), so ``qamqor run`` and the desk always report the same numbers.
"""

from __future__ import annotations

import datetime as dt
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from sqlalchemy import func, select

from .. import journal as J
from ..queue import WAITING

FAILURE_STEPS = ("seal-failed", "signing-failed")


def _journal_writable(pipeline: Any) -> str | None:
    raw = pipeline.journal.engine.raw_connection()
    try:
        cur = raw.cursor()
        if pipeline.journal.engine.dialect.name == "sqlite":
            cur.execute("PRAGMA busy_timeout=2000")
            cur.execute("BEGIN IMMEDIATE")  # takes the write lock, writes nothing
            cur.execute("ROLLBACK")
            cur.execute("PRAGMA busy_timeout=30000")
        else:
            cur.execute("SELECT 1")
        return None
    except Exception as e:  # any failure is "not ready"; the message says which
        return f"{type(e).__name__}: {e}"
    finally:
        raw.close()


def _key_problem(config: Any, officer: Any) -> str | None:
    if officer.backend in ("pkcs12", "pkcs11", "external"):
        if not officer.key:
            return "no key configured"
        path = Path(officer.key)
        if not path.is_absolute():
            path = (config.base or config.root) / path
        return None if path.exists() else "the key file is missing"  # no paths on a public endpoint
    return f"unknown backend {officer.backend!r}"


def _tsa_problem(url: str, timeout: float = 2.0) -> str | None:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            return None
    except OSError as e:
        return f"{parts.hostname}:{port}: {e.strerror or e}"


def readiness(pipeline: Any) -> dict[str, Any]:
    config = pipeline.config
    checks: dict[str, Any] = {"journal": _journal_writable(pipeline) or "ok"}
    for o in config.officers:
        checks[f"key:{o.id}"] = _key_problem(config, o) or "ok"
    if config.signing.tsa_url:
        checks["tsa"] = _tsa_problem(config.signing.tsa_url) or "ok"
    return {"ready": all(v == "ok" for v in checks.values()), "checks": checks}


class _JournalCollector:
    def __init__(self, pipeline: Any):
        self.pipeline = pipeline

    def collect(self):  # noqa: ANN201 — prometheus_client's protocol
        j = self.pipeline.journal
        by_state = j.all(select(J.documents.c.status, func.count().label("n")).group_by(J.documents.c.status))
        docs = GaugeMetricFamily("qamqor_documents", "Documents in the journal, by state", labels=["state"])
        for r in by_state:
            docs.add_metric([r["status"]], r["n"])
        yield docs
        depth = sum(r["n"] for r in by_state if r["status"] in WAITING)
        yield GaugeMetricFamily("qamqor_queue_depth", "Documents waiting for an officer's signature", value=depth)
        oldest = j.one(select(func.min(J.documents.c.created_at).label("at"))
                       .where(J.documents.c.status.in_(WAITING)))
        age = 0.0
        if oldest and oldest["at"]:
            age = max(0.0, (dt.datetime.now(dt.UTC) - dt.datetime.fromisoformat(oldest["at"])).total_seconds())
        yield GaugeMetricFamily("qamqor_queue_oldest_age_seconds",
                                "Age of the oldest document waiting for a signature", value=age)
        fails = CounterMetricFamily("qamqor_signing_failures", "Signing failures recorded in the journal",
                                    labels=["step"])
        counts = {r["step"]: r["n"] for r in j.all(select(J.steps.c.step, func.count().label("n"))
                                                    .where(J.steps.c.step.in_(FAILURE_STEPS))
                                                    .group_by(J.steps.c.step))}
        for step in FAILURE_STEPS:
            fails.add_metric([step], counts.get(step, 0))
        yield fails


def metrics_text(pipeline: Any) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_JournalCollector(pipeline))
    return generate_latest(registry)

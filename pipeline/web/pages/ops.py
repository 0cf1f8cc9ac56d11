"""Operations: liveness (``/healthz``), readiness (``/readyz``) and Prometheus metrics (``/metrics``).

Readiness means the desk can do its work now: the journal takes a write lock, every officer's key is reachable
(a PKCS#12 file, a PKCS#11 module, an external officer's certificate), and the timestamp server answers a TCP
connection when one is configured.  Neither endpoint names an officer, and both can ask for a bearer token
(``[web] ops_token``) when they are reachable from outside (#14.20).  Metrics are read from the journal on each scrape (``prometheus_client``
renders them), so ``qamqor run`` and the desk always report the same numbers.
"""

from __future__ import annotations

import datetime as dt
import hmac
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from ...core.lifecycle import IN_QUEUE
from ...journal import store
from ...services import Services
from ..desk import desk_of

FAILURE_STEPS = ("seal-failed", "signing-failed")


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


def readiness(services: Services) -> dict[str, Any]:
    """The checks, with no officer's id (#14.20): how many officers' keys are unreachable, and why."""
    config = services.config
    checks: dict[str, Any] = {"journal": store.write_lock_problem(services.journal) or "ok"}
    problems = [p for p in (_key_problem(config, o) for o in config.officers) if p]
    checks["keys"] = "ok" if not problems else (
        f"{len(problems)} of {len(config.officers)} officers' keys: " + "; ".join(sorted(set(problems))))
    if config.signing.tsa_url:
        checks["tsa"] = _tsa_problem(config.signing.tsa_url) or "ok"
    return {"ready": all(v == "ok" for v in checks.values()), "checks": checks}


class _JournalCollector:
    def __init__(self, services: Services):
        self.services = services

    def collect(self) -> Iterator[Metric]:
        j = self.services.journal
        by_state = store.document_counts(j)
        docs = GaugeMetricFamily("qamqor_documents", "Documents in the journal, by state", labels=["state"])
        for status, n in by_state.items():
            docs.add_metric([status], n)
        yield docs
        depth = sum(n for status, n in by_state.items() if status in IN_QUEUE)
        yield GaugeMetricFamily("qamqor_queue_depth", "Documents waiting for an officer's signature", value=depth)
        oldest = store.oldest_created_at(j, IN_QUEUE)
        age = 0.0
        if oldest:
            age = max(0.0, (dt.datetime.now(dt.UTC) - dt.datetime.fromisoformat(oldest)).total_seconds())
        yield GaugeMetricFamily("qamqor_queue_oldest_age_seconds",
                                "Age of the oldest document waiting for a signature", value=age)
        fails = CounterMetricFamily("qamqor_signing_failures", "Signing failures recorded in the journal",
                                    labels=["step"])
        counts = store.step_counts(j, FAILURE_STEPS)
        for step in FAILURE_STEPS:
            fails.add_metric([step], counts.get(step, 0))
        yield fails


def metrics_text(services: Services) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_JournalCollector(services))
    return generate_latest(registry)


# --- the endpoints -------------------------------------------------------------------------------------------


def healthz(request: Request) -> Response:
    return PlainTextResponse("ok\n")


def _ops_allowed(request: Request) -> bool:
    """``[web] ops_token`` set: /readyz and /metrics answer only ``Authorization: Bearer <token>`` (#14.20)."""
    want = desk_of(request).settings.ops_token
    if not want:
        return True
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), want.encode())


def _refused() -> Response:
    return PlainTextResponse("a bearer token is needed\n", status_code=401, headers={"www-authenticate": "Bearer"})


def readyz(request: Request) -> Response:
    if not _ops_allowed(request):
        return _refused()
    result = readiness(desk_of(request).services)
    return JSONResponse(result, status_code=200 if result["ready"] else 503)


def metrics(request: Request) -> Response:
    if not _ops_allowed(request):
        return _refused()
    return Response(metrics_text(desk_of(request).services), media_type="text/plain; version=0.0.4; charset=utf-8")

"""A node's own ``/metrics`` (issue 10 #6), Prometheus' text format: ``qamqor run --node N --metrics-port P``
serves it on ``[cluster] metrics_host`` (127.0.0.1 unless configured).  Counts of this process only; the
installation's documents are the desk's ``/metrics`` and ``qamqor status``."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

REGISTRY = CollectorRegistry()
JOBS = Counter("qamqor_node_jobs", "jobs this node ran, by task and outcome", ["task", "outcome"], registry=REGISTRY)
SECONDS = Histogram("qamqor_node_job_seconds", "time per job, by task", ["task"], registry=REGISTRY,
                    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
IN_FLIGHT = Gauge("qamqor_node_jobs_in_flight", "jobs running on this node now", registry=REGISTRY)
HEARTBEAT = Gauge("qamqor_node_heartbeat_timestamp_seconds", "the node's last heartbeat", registry=REGISTRY)
REAPED = Counter("qamqor_node_reaped_jobs", "stalled jobs of other nodes this node's reaper retried or ended",
                 ["action"], registry=REGISTRY)


def serve(port: int, host: str = "127.0.0.1") -> None:
    start_http_server(port, addr=host, registry=REGISTRY)

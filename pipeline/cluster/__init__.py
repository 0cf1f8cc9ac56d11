"""Several nodes on one PostgreSQL journal (issue 10).

With ``[journal] url = "postgresql+psycopg://…"`` every ``qamqor run`` is a node (:mod:`.node`): it runs a
procrastinate worker over the stages as jobs (:mod:`.tasks`), defers the inbox scan, beats its heartbeat and
reaps the jobs of nodes that died (:mod:`.reaper`).  Fencing tokens (:mod:`.fencing`) keep a node that stalled
and woke up from writing twice.  SQLite keeps the one-process driver, :class:`pipeline.runner.Runner`.
"""

from __future__ import annotations


def is_cluster_url(url: str) -> bool:
    return url.startswith("postgresql")


def conninfo(url: str) -> str:
    """A SQLAlchemy ``postgresql+psycopg://`` URL as the libpq connection string psycopg and procrastinate take."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)

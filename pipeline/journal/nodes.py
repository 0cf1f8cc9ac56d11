"""Several nodes (issue 10): fencing tokens and the nodes' heartbeats: part of :mod:`.store`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select, update

from . import Journal, now_utc
from .rows import _all, _upsert

step = Journal.step


# --- several nodes (issue 10): fencing tokens and nodes -----------------------------------------------------------


def take_fence(conn: Connection, name: str, holder: str) -> int:
    """Take the work ``name`` (``scan``, ``doc:<id>``): its fencing token goes up by one and is returned.  One
    statement, so two nodes taking it at once get two different tokens; the older one is fenced out."""
    from .tables import fences

    stmt = _upsert(conn)(fences).values(name=name, value=1, holder=holder, taken_at=now_utc())
    stmt = stmt.on_conflict_do_update(index_elements=[fences.c.name],
                                      set_={"value": fences.c.value + 1, "holder": holder, "taken_at": now_utc()})
    return int(conn.execute(stmt.returning(fences.c.value)).scalar_one())


def fence_value(conn: Connection, name: str) -> int | None:
    """The current token of ``name``."""
    from .tables import fences

    if conn.dialect.name == "postgresql":
        # asked before each file a node's job writes: straight to the driver (nothing to compile or wrap: ~55 µs
        # of CPU instead of 150–280, issue 10)
        row = conn.connection.driver_connection.execute(
            "SELECT value FROM fences WHERE name = %s", (name,)).fetchone()
        return None if row is None else int(row[0])
    value = conn.execute(select(fences.c.value).where(fences.c.name == name)).scalar()
    return None if value is None else int(value)


def fence_lock_sql(name: str) -> str:
    """PostgreSQL: the statement that reads the token of ``name`` and holds its row shared until the transaction
    ends (no node can take the work over before the commit), with the name quoted as a literal: it goes with the
    transaction's BEGIN, in a query without parameters (:meth:`Journal.tx`)."""
    from psycopg import sql

    return sql.SQL("SELECT value FROM fences WHERE name = {} FOR SHARE").format(sql.Literal(name)).as_string()


def register_node(conn: Connection, node_id: str, *, name: str, host: str, pid: int) -> None:
    from .tables import nodes

    at = now_utc()
    conn.execute(nodes.insert().values(node_id=node_id, name=name, host=host, pid=pid, started_at=at,
                                       heartbeat_at=at, jobs_done=0))
    step(conn, node_id, "node-started", node=name, host=host, pid=pid)


def node_heartbeat(conn: Connection, node_id: str, *, current_job: str | None = None, done: int = 0) -> None:
    from .tables import nodes

    conn.execute(update(nodes).where(nodes.c.node_id == node_id).values(
        heartbeat_at=now_utc(), current_job=current_job, jobs_done=nodes.c.jobs_done + done))


def node_stopped(conn: Connection, node_id: str) -> None:
    from .tables import nodes

    conn.execute(update(nodes).where(nodes.c.node_id == node_id).values(stopped_at=now_utc(), current_job=None))
    step(conn, node_id, "node-stopped")


def list_nodes(db: Journal | Connection, *, since: str | None = None) -> list[dict[str, Any]]:
    """Nodes newest first; ``since`` (an ISO time): only those that started or beat since then."""
    from .tables import nodes

    stmt = select(nodes).order_by(nodes.c.started_at.desc())
    if since is not None:
        stmt = stmt.where(nodes.c.heartbeat_at >= since)
    return [dict(r) for r in _all(db, stmt)]

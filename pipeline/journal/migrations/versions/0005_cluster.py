"""Several nodes (issue 10): fencing tokens for each piece of work, and the nodes with their heartbeats.

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fences",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("value", sa.Integer, nullable=False),
        sa.Column("holder", sa.String(120), nullable=False),
        sa.Column("taken_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "nodes",
        sa.Column("node_id", sa.String(120), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("started_at", sa.String(40), nullable=False),
        sa.Column("heartbeat_at", sa.String(40), nullable=False),
        sa.Column("stopped_at", sa.String(40)),
        sa.Column("jobs_done", sa.Integer, nullable=False),
        sa.Column("current_job", sa.String(200)),
    )


def downgrade() -> None:
    op.drop_table("nodes")
    op.drop_table("fences")

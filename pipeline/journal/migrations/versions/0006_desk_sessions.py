"""Desk sessions and lock-outs in the journal (issue 14 #11, #12, #20; issue 10 #4): a logout ends the session on
the server for every desk process, and a lock-out (per account and per client) is counted atomically and holds
across processes and restarts.

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "desk_sessions",
        sa.Column("sid_hash", sa.String(64), primary_key=True),
        sa.Column("officer", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_desk_sessions_officer", "desk_sessions", ["officer"])
    op.create_table(
        "desk_attempts",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("window_start", sa.Float(), nullable=False),
        sa.Column("locked_until", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("desk_attempts")
    op.drop_index("ix_desk_sessions_officer", table_name="desk_sessions")
    op.drop_table("desk_sessions")

"""An index on open deadlines: the deadline board and the ¶14 clock read only open, due ones.

Revision ID: 0002
Revises: 0001
"""
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_deadlines_open", "deadlines", ["key", "closed_on", "due"])


def downgrade() -> None:
    op.drop_index("ix_deadlines_open", table_name="deadlines")

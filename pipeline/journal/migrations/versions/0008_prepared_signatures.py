"""Prepared NCALayer signatures in the journal (issue 10 #4): several desk processes share them.

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "prepared_signatures",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("officer_id", sa.String(64), nullable=False),
        sa.Column("document_id", sa.String(120), nullable=False),
        sa.Column("base_sha256", sa.String(64), nullable=False),
        sa.Column("prepared", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("prepared_signatures")

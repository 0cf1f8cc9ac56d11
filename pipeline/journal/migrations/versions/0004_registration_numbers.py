"""Registration numbers of the office, a sequence per office and year (issue 11 #9). Owner: helper A.

Receipts, notices and refusals carry the office's registration number (forms/catalogue/service.toml
``[registration]``), never an internal id: one row per office and year holds the last number given
(pipeline/journal/store.py, ``next_registration_number``).

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "registration_numbers",
        sa.Column("office", sa.String(64), primary_key=True),
        sa.Column("year", sa.Integer, primary_key=True),
        sa.Column("last", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("registration_numbers")

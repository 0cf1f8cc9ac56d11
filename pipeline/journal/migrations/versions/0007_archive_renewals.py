"""Archive renewals journaled (issue 12 #3): one row per archived PDF a renewal run timestamped again.

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "archive_renewals",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("document_id", sa.String(120)),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("previous_timestamp", sa.String(40)),
        sa.Column("previous_tsa_valid_until", sa.String(40)),
        sa.Column("new_timestamp", sa.String(40)),
        sa.Column("new_tsa_valid_until", sa.String(40)),
        sa.Column("sha256_before", sa.String(64), nullable=False),
        sa.Column("sha256_after", sa.String(64)),
        sa.Column("report", sa.Text),
        sa.Column("error", sa.Text),
    )
    op.create_index("ix_archive_renewals_path", "archive_renewals", ["path", "id"])


def downgrade() -> None:
    op.drop_index("ix_archive_renewals_path", table_name="archive_renewals")
    op.drop_table("archive_renewals")

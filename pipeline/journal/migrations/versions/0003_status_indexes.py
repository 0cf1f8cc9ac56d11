"""Indexes for the runner's per-pass reads (inputs and events by status, inputs by event, the events' order):
without them each pass scanned the whole journal, and a long backlog slowed down as it went.

Revision ID: 0003
Revises: 0002
"""
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_inputs_status", "inputs", ["status"])
    op.create_index("ix_inputs_event_id", "inputs", ["event_id"])
    op.create_index("ix_events_status", "events", ["status"])
    op.create_index("ix_events_seq", "events", ["seq"])


def downgrade() -> None:
    for name, table in (("ix_events_seq", "events"), ("ix_events_status", "events"),
                        ("ix_inputs_event_id", "inputs"), ("ix_inputs_status", "inputs")):
        op.drop_index(name, table_name=table)

"""Notifications: the outbox of what each party must be told, with delivery, lead time, ack and escalation.

Revision ID: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from deconflict.store.schema import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = sa.String(64)


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", ID, primary_key=True),
        sa.Column("recipient_id", ID, sa.ForeignKey("parties.id"), nullable=False, index=True),
        sa.Column("sender_id", ID, sa.ForeignKey("parties.id"), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("declaration_id", ID, sa.ForeignKey("declarations.id"), nullable=False, index=True),
        sa.Column("declaration_version", sa.Integer, nullable=False),
        sa.Column("conflict_id", ID, nullable=True),
        sa.Column("agreement_ids", sa.JSON, nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("starts_at", UTCDateTime(), nullable=False),
        sa.Column("min_notice_s", sa.Float, nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("delivered_at", UTCDateTime(), nullable=True),
        sa.Column("delivered_via", sa.String(16), nullable=True),
        sa.Column("lead_time_s", sa.Float, nullable=True),
        sa.Column("late", sa.Boolean, nullable=True),
        sa.Column("ack_deadline_at", UTCDateTime(), nullable=False),
        sa.Column("acked_at", UTCDateTime(), nullable=True),
        sa.Column("ack_reply", sa.String(16), nullable=True),
        sa.Column("ack_text", sa.String(2000), nullable=True),
        sa.Column("escalation_level", sa.Integer, nullable=False),
        sa.Column("escalation_step_s", sa.Float, nullable=False),
        sa.Column("escalation_contacts", sa.JSON, nullable=False),
        sa.Column("next_escalation_at", UTCDateTime(), nullable=True, index=True),
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), nullable=False, index=True),
    )


def downgrade() -> None:
    op.drop_table("notifications")

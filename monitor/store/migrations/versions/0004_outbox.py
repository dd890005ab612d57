"""Outbox: the deliveries owed to Telegram, email and the file sink, and the articles each covers.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from monitor.store.tables import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "delivery",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=True),
        sa.Column("claim_token", sa.String(), nullable=True),
        sa.Column("claimed_at", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("remote_id", sa.String(), nullable=True),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.UniqueConstraint("key", name="uq_delivery_key"),
    )
    op.create_index("ix_delivery_channel_state", "delivery", ["channel", "state"])
    op.create_table(
        "delivery_item",
        sa.Column("delivery_id", sa.Integer(), sa.ForeignKey("delivery.id"), primary_key=True),
        sa.Column("article_id", sa.Integer(), sa.ForeignKey("article.id"), primary_key=True),
    )
    op.create_index("ix_delivery_item_article_id", "delivery_item", ["article_id"])


def downgrade() -> None:
    op.drop_table("delivery_item")
    op.drop_table("delivery")

"""Backfill: remember a site's Retry-After, so a rerun before it has passed fetches nothing.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from monitor.store.tables import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("backfill_state") as batch:
        batch.add_column(sa.Column("retry_after_until", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("backfill_state") as batch:
        batch.drop_column("retry_after_until")

"""A date is what the source says, or unknown: `article.published_at` may be NULL.

Archives made before this stored the fetch time (`date_source` "fetched") or, for seeds, the load
time ("loaded") where the source gave no date, so a 2024 journal article could be the newest item
of the archive. Those rows lose the invented date here; their `fetched_at` still says when they
were read.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from monitor.store.tables import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("article") as batch:
        batch.alter_column("published_at", existing_type=UTCDateTime(), nullable=True)
    op.execute(
        sa.text(
            "UPDATE article SET published_at = NULL, published_offset_min = 0, "
            "date_source = 'unknown' WHERE date_source IN ('fetched', 'loaded')"
        )
    )


def downgrade() -> None:
    # Back to a required date: the unknown ones take their fetch time again, as before 0009.
    op.execute(
        sa.text(
            "UPDATE article SET published_at = fetched_at, date_source = 'fetched' "
            "WHERE published_at IS NULL"
        )
    )
    with op.batch_alter_table("article") as batch:
        batch.alter_column("published_at", existing_type=UTCDateTime(), nullable=False)

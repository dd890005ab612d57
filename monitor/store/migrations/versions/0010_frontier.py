"""A durable frontier, and the stage each article has passed.

`frontier` holds every article URL discovery found and the archive has not yet taken (see
monitor.store.tables.FrontierRow). `article.stage` is the last stage an article passed: rows
archived before this revision are "tagged" when they carry a tagging, "deduped" when they have a
sketch, and "extracted" otherwise, so the next cycle finishes what they lack.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from monitor.store.tables import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "frontier",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("link", sa.Text(), nullable=True),
        sa.Column("via", sa.String(), nullable=False),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("lang", sa.String(), nullable=True),
        sa.Column("listed_at", UTCDateTime(), nullable=True),
        sa.Column("listed_offset_min", sa.Integer(), nullable=False),
        sa.Column("discovered_at", UTCDateTime(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_try_at", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("claimed_by", sa.String(), nullable=True),
        sa.Column("claimed_until", UTCDateTime(), nullable=True),
        sa.UniqueConstraint("source", "key", name="uq_frontier_source_key"),
    )
    op.create_index(
        "ix_frontier_source_state_due", "frontier", ["source", "state", "next_try_at"]
    )
    with op.batch_alter_table("article") as batch:
        batch.add_column(
            sa.Column("stage", sa.String(), nullable=False, server_default="extracted")
        )
        batch.create_index("ix_article_stage", ["stage"])
    op.execute(
        sa.text(
            "UPDATE article SET stage = CASE "
            "WHEN tagged_with IS NOT NULL THEN 'tagged' "
            "WHEN id IN (SELECT article_id FROM dedupe_sketch) THEN 'deduped' "
            "ELSE 'extracted' END"
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("article") as batch:
        batch.drop_index("ix_article_stage")
        batch.drop_column("stage")
    op.drop_index("ix_frontier_source_state_due", table_name="frontier")
    op.drop_table("frontier")

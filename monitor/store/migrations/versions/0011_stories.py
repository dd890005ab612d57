"""Stories: one real-world event across sites and languages (monitor.link).

`story` holds one row per event, `story_signature` what linking keeps of each article (its
embedding, names, numbers and date), and `article.story_id` the story an article reports. Articles
archived before this revision wait at the new last stage, "linked", and the next cycle links them.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from monitor.store.tables import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "story",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("first_at", UTCDateTime(), nullable=True),
        sa.Column("last_at", UTCDateTime(), nullable=True),
        sa.Column("articles", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_story_first_at", "story", ["first_at"])
    op.create_index("ix_story_last_at", "story", ["last_at"])
    op.create_index("ix_story_updated_at", "story", ["updated_at"])
    op.create_table(
        "story_signature",
        sa.Column(
            "article_id",
            sa.Integer(),
            sa.ForeignKey("article.id"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("content_hash", sa.String(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=True),
        sa.Column("lang", sa.String(), nullable=True),
        sa.Column("words", sa.Integer(), nullable=False),
        sa.Column("names", sa.Text(), nullable=False),
        sa.Column("numbers", sa.Text(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_story_signature_at", "story_signature", ["at"])
    with op.batch_alter_table("article") as batch:
        batch.add_column(sa.Column("story_id", sa.Integer(), nullable=True))
        batch.create_index("ix_article_story_id", ["story_id"])


def downgrade() -> None:
    with op.batch_alter_table("article") as batch:
        batch.drop_index("ix_article_story_id")
        batch.drop_column("story_id")
    op.drop_index("ix_story_signature_at", table_name="story_signature")
    op.drop_table("story_signature")
    for column in ("updated_at", "last_at", "first_at"):
        op.drop_index(f"ix_story_{column}", table_name="story")
    op.drop_table("story")

"""Tagging: relevance, score and reasons on the article; topics and entities in their own tables
so that search and digests can filter on them with an index on SQLite and PostgreSQL alike.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("article") as batch:
        batch.add_column(sa.Column("relevant", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("score", sa.Float(), nullable=True))
        batch.add_column(sa.Column("reasons", sa.Text(), nullable=True))
        batch.add_column(sa.Column("tagged_with", sa.String(), nullable=True))
    op.create_index("ix_article_relevant", "article", ["relevant"])
    op.create_table(
        "article_topic",
        sa.Column("article_id", sa.Integer(), sa.ForeignKey("article.id"), primary_key=True),
        sa.Column("topic", sa.String(), primary_key=True),
    )
    op.create_index("ix_article_topic_topic", "article_topic", ["topic"])
    op.create_table(
        "article_entity",
        sa.Column("article_id", sa.Integer(), sa.ForeignKey("article.id"), primary_key=True),
        sa.Column("kind", sa.String(), primary_key=True),
        sa.Column("entity", sa.String(), primary_key=True),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
    )
    op.create_index("ix_article_entity_entity", "article_entity", ["entity"])


def downgrade() -> None:
    op.drop_table("article_entity")
    op.drop_table("article_topic")
    op.drop_index("ix_article_relevant", "article")
    with op.batch_alter_table("article") as batch:
        for column in ("tagged_with", "reasons", "score", "relevant"):
            batch.drop_column(column)

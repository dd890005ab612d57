"""The first schema: source state, HTTP cache, robots, fetch and poll logs, articles and aliases.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from monitor.store.tables import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "source_state",
        sa.Column("name", sa.String(), primary_key=True),
        sa.Column("next_check_at", UTCDateTime(), nullable=True),
        sa.Column("last_attempt_at", UTCDateTime(), nullable=True),
        sa.Column("last_success_at", UTCDateTime(), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("retry_after_until", UTCDateTime(), nullable=True),
    )
    op.create_table(
        "http_cache",
        sa.Column("url", sa.String(), primary_key=True),
        sa.Column("etag", sa.String(), nullable=True),
        sa.Column("last_modified", sa.String(), nullable=True),
        sa.Column("checked_at", UTCDateTime(), nullable=True),
    )
    op.create_table(
        "robots_file",
        sa.Column("origin", sa.String(), primary_key=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("fetched_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "fetch_log",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("purpose", sa.String(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("bytes", sa.Integer(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error_kind", sa.String(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
    )
    op.create_index("ix_fetch_log_source_at", "fetch_log", ["source", "at"])
    op.create_table(
        "poll_log",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("discovered", sa.Integer(), nullable=False),
        sa.Column("new", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("empty", sa.Integer(), nullable=False),
        sa.Column("not_modified", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Text(), nullable=True),
    )
    op.create_index("ix_poll_log_source_started", "poll_log", ["source", "started_at"])
    op.create_table(
        "article",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("author", sa.String(), nullable=True),
        sa.Column("lang", sa.String(), nullable=True),
        sa.Column("published_at", UTCDateTime(), nullable=False),
        sa.Column("published_offset_min", sa.Integer(), nullable=False),
        sa.Column("date_source", sa.String(), nullable=False),
        sa.Column("listed_at", UTCDateTime(), nullable=True),
        sa.Column("fetched_at", UTCDateTime(), nullable=False),
        sa.Column("first_seen_at", UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", UTCDateTime(), nullable=False),
        sa.Column("content_hash", sa.String(), nullable=False),
        sa.Column("extraction", sa.String(), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=False),
        sa.Column("revisions", sa.Integer(), nullable=False),
        sa.Column("warc_file", sa.String(), nullable=True),
        sa.Column("warc_offset", sa.Integer(), nullable=True),
        sa.Column("warc_length", sa.Integer(), nullable=True),
        sa.UniqueConstraint("source", "key", name="uq_article_source_key"),
    )
    op.create_index("ix_article_source", "article", ["source"])
    op.create_index("ix_article_url", "article", ["url"])
    op.create_index("ix_article_published_at", "article", ["published_at"])
    op.create_index("ix_article_content_hash", "article", ["content_hash"])
    op.create_table(
        "article_alias",
        sa.Column("source", sa.String(), primary_key=True),
        sa.Column("key", sa.String(), primary_key=True),
        sa.Column("article_id", sa.Integer(), sa.ForeignKey("article.id"), nullable=False),
    )
    op.create_index("ix_article_alias_article_id", "article_alias", ["article_id"])


def downgrade() -> None:
    for table in (
        "article_alias",
        "article",
        "poll_log",
        "fetch_log",
        "robots_file",
        "http_cache",
        "source_state",
    ):
        op.drop_table(table)

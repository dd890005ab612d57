"""The facts a search reads of each match, in a covering index of `article` (SQLite).

A search on SQLite takes its matches from FTS5, then reads each of the (up to 1,000) matches it
ranks from `article` for its boosts and date: the relevance, the copy, `published_at`. Those
columns lie after the text in the row, so each look-up read the text too, over its overflow
pages for a long article; a filtered search (a language, dates) read every match's row to
count them. This index holds the id and every fact a search ranks, filters and
groups by, so the look-up reads the index alone. PostgreSQL's search reads the same facts from
its own index rows (revision 0013) and gets no such index.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

from monitor.store.fulltext import is_sqlite

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

# as monitor.store.tables.SEARCH_FACTS_COLUMNS at this revision
COLUMNS = ["id", "published_at", "lang", "source", "relevant", "duplicate_of", "story_id"]


def upgrade() -> None:
    if is_sqlite(op.get_bind()):
        op.create_index("ix_article_facts", "article", COLUMNS)


def downgrade() -> None:
    if is_sqlite(op.get_bind()):
        op.drop_index("ix_article_facts", table_name="article")

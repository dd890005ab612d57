"""A covering index of the originals, for counting a query's matches per period.

`monitor trends` and the web page's charts count matches per day, week or month and language or
source; reading each match's date and language from its `article` row reads the row's text too.
This partial index holds, for originals only, the id and what the counts read (the date,
language and source they group by, relevance, a filter), so they can be answered from it: a scan
of every original (the empty query, the denominators of a share) is `SCAN ... USING COVERING
INDEX` on SQLite and an index-only scan on PostgreSQL. Copies are left out: the default counts
skip them, and a copy's `duplicate_of` (a URL of any length) is then never part of a key.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# as monitor.store.tables.ORIGINALS_INDEX_COLUMNS at this revision
COLUMNS = ["id", "published_at", "lang", "source", "relevant", "duplicate_of"]
ORIGINALS = sa.text("duplicate_of IS NULL")


def upgrade() -> None:
    op.create_index(
        "ix_article_originals",
        "article",
        COLUMNS,
        sqlite_where=ORIGINALS,
        postgresql_where=ORIGINALS,
    )


def downgrade() -> None:
    op.drop_index("ix_article_originals", table_name="article")

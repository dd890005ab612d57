"""The facts a search filters, ranks and groups by, beside each article's vector (PostgreSQL).

A search on PostgreSQL joined every match to its `article` row for its date, language, source,
relevance, copy and story: at 100,000 articles a frequent word's 25,000 matches read ~60 ms of
article rows before any filter or ranking. `article_search` now holds those facts itself, copied
when a row is indexed and kept current by a trigger on `article`
(`monitor.store.fulltext.add_search_facts`). Then the articles not yet in the index are indexed
(all of them, for an archive that predates search).

On PostgreSQL the newest articles first (the empty query, `ORDER BY published_at DESC NULLS
LAST, id DESC`) sorted every row: an index in that order makes it a read of 20 entries (48 ms ->
under 1 ms at 100,000). SQLite needs none: its NULLs sort last when descending, and every index
ends with the rowid, so `ix_article_published_at` read backwards is that order.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from monitor.store.fulltext import add_search_facts, drop_search_facts, is_sqlite, reindex

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    if not is_sqlite(conn):
        add_search_facts(conn)
        op.create_index(
            "ix_article_newest",
            "article",
            [sa.text("published_at DESC NULLS LAST"), sa.text("id DESC")],
        )
    reindex(conn)


def downgrade() -> None:
    conn = op.get_bind()
    if not is_sqlite(conn):
        op.drop_index("ix_article_newest", table_name="article")
        drop_search_facts(conn)

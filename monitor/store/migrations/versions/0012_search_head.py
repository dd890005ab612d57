"""Search on PostgreSQL ranks by a small vector of each article's title and lead (`head`), so a
word found in a quarter of the archive ranks its matches without reading every whole vector.

Rows indexed before this revision keep ranking by their whole vector (the search reads
`coalesce(head, vector)`) until `monitor search --reindex` redoes them: an archive of 100,000
articles takes minutes to re-analyse, which an upgrade should not hold the monitor for. SQLite's
FTS5 index ranks inside itself and does not change.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

from monitor.store.fulltext import PG_TABLE

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "sqlite":
        conn.exec_driver_sql(f"ALTER TABLE {PG_TABLE} ADD COLUMN IF NOT EXISTS head TSVECTOR")


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "sqlite":
        conn.exec_driver_sql(f"ALTER TABLE {PG_TABLE} DROP COLUMN IF EXISTS head")

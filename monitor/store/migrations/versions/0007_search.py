"""Full-text search: the FTS5 table (SQLite) or tsvector table with its GIN index (PostgreSQL),
filled from the articles already archived, so an existing archive is searchable at once.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

from monitor.store.fulltext import create_index, drop_index, reindex

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    create_index(conn)
    reindex(conn, everything=True)  # the index is new: no need to look for what it holds


def downgrade() -> None:
    drop_index(op.get_bind())

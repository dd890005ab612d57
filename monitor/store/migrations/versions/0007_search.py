"""Full-text search: the FTS5 table (SQLite) or tsvector table with its GIN index (PostgreSQL).
Filled from the articles already archived by 0013, once the index has the columns the present
code writes (this revision once filled it itself, with code that now writes those columns too).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

from monitor.store.fulltext import create_index, drop_index

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_index(op.get_bind())


def downgrade() -> None:
    drop_index(op.get_bind())

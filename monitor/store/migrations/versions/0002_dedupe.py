"""Dedupe: each article's duplicate_of and similarity, its sketch, and the band and fingerprint
indexes (primary keys only; on SQLite WITHOUT ROWID, so each index is one B-tree).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("article", sa.Column("duplicate_of", sa.Text(), nullable=True))
    op.add_column("article", sa.Column("similarity", sa.Float(), nullable=True))
    op.add_column(
        "poll_log", sa.Column("duplicates", sa.Integer(), nullable=False, server_default="0")
    )
    op.create_table(
        "dedupe_sketch",
        sa.Column(
            "article_id",
            sa.Integer(),
            sa.ForeignKey("article.id"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("reference", sa.Text(), nullable=False),
        sa.Column("body_hash", sa.String(), nullable=False),
        sa.Column("words", sa.Integer(), nullable=False),
        sa.Column("minhash", sa.LargeBinary(), nullable=False),
        sa.Column("fingerprints", sa.LargeBinary(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    op.create_index("ix_dedupe_sketch_body_hash", "dedupe_sketch", ["body_hash"])
    op.create_table(
        "dedupe_band",
        sa.Column("band", sa.SmallInteger(), primary_key=True, autoincrement=False),
        sa.Column("hash", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("article_id", sa.Integer(), primary_key=True, autoincrement=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "dedupe_fingerprint",
        sa.Column("hash", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("article_id", sa.Integer(), primary_key=True, autoincrement=False),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("dedupe_fingerprint")
    op.drop_table("dedupe_band")
    op.drop_table("dedupe_sketch")
    with op.batch_alter_table("article") as batch:
        batch.drop_column("similarity")
        batch.drop_column("duplicate_of")
    with op.batch_alter_table("poll_log") as batch:
        batch.drop_column("duplicates")

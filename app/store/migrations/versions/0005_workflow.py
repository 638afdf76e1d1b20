"""workflow: entry status, publish_at, edit tracking, entry_revisions

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every existing entry was written to be read: it becomes `published`, never edited,
    # with no earlier versions kept.
    with op.batch_alter_table("entries", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("status", sa.String(length=10), nullable=False, server_default="published")
        )
        batch_op.add_column(sa.Column("publish_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("edited_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("edited_by", sa.String(length=100), nullable=True))
        batch_op.add_column(
            sa.Column("revisions", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.drop_index("ix_entries_feed_timeline")
        batch_op.create_index(
            "ix_entries_feed_status_timeline",
            ["feed_id", "status", "published_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_entries_status_publish_at", ["status", "publish_at"], unique=False
        )
    op.create_table(
        "entry_revisions",
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("media", sa.JSON(), nullable=False),
        sa.Column("author", sa.String(length=100), nullable=True),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("written_by", sa.String(length=100), nullable=True),
        sa.Column("replaced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replaced_by", sa.String(length=100), nullable=True),
        sa.Column("reason", sa.String(length=10), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["entries.id"],
            name=op.f("fk_entry_revisions_entry_id_entries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("entry_id", "number", name=op.f("pk_entry_revisions")),
    )


def downgrade() -> None:
    op.drop_table("entry_revisions")
    with op.batch_alter_table("entries", schema=None) as batch_op:
        batch_op.drop_index("ix_entries_status_publish_at")
        batch_op.drop_index("ix_entries_feed_status_timeline")
        batch_op.create_index(
            "ix_entries_feed_timeline", ["feed_id", "published_at", "id"], unique=False
        )
        batch_op.drop_column("revisions")
        batch_op.drop_column("edited_by")
        batch_op.drop_column("edited_at")
        batch_op.drop_column("publish_at")
        batch_op.drop_column("status")

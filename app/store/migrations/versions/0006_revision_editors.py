"""revision editors: the account behind each version (entries.edited_by_id,
entry_revisions.written_by_id / replaced_by_id)

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _account(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.Integer(), nullable=True)


def upgrade() -> None:
    # Versions written before know their editor by name only: their ids stay NULL.
    with op.batch_alter_table("entries", schema=None) as batch_op:
        batch_op.add_column(_account("edited_by_id"))
        batch_op.create_foreign_key(
            "fk_entries_edited_by_id_users", "users", ["edited_by_id"], ["id"], ondelete="SET NULL"
        )
    with op.batch_alter_table("entry_revisions", schema=None) as batch_op:
        for column in ("written_by_id", "replaced_by_id"):
            batch_op.add_column(_account(column))
            batch_op.create_foreign_key(
                f"fk_entry_revisions_{column}_users", "users", [column], ["id"], ondelete="SET NULL"
            )


def downgrade() -> None:
    with op.batch_alter_table("entry_revisions", schema=None) as batch_op:
        for column in ("replaced_by_id", "written_by_id"):
            batch_op.drop_constraint(f"fk_entry_revisions_{column}_users", type_="foreignkey")
            batch_op.drop_column(column)
    with op.batch_alter_table("entries", schema=None) as batch_op:
        batch_op.drop_constraint("fk_entries_edited_by_id_users", type_="foreignkey")
        batch_op.drop_column("edited_by_id")

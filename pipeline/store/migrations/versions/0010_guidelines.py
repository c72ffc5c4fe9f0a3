"""Reviewer guidelines as versions edited by admins, and the version each answer was given
under.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AWARE = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "guidelines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", AWARE, nullable=False),
        sa.CheckConstraint("version >= 2", name=op.f("ck_guidelines_version")),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_guidelines_author_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guidelines")),
        sa.UniqueConstraint("task", "version", name=op.f("uq_guidelines_task_version")),
    )
    # A plain ADD COLUMN on both databases (a batch copy on SQLite would trip the foreign keys
    # that point at answers).
    op.add_column("answers", sa.Column("guideline_version", sa.Integer(), nullable=True))


def downgrade() -> None:
    # SQLite >= 3.35 drops a column in place (no table copy, so the foreign keys hold).
    op.execute("ALTER TABLE answers DROP COLUMN guideline_version")
    op.drop_table("guidelines")

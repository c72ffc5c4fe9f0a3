"""Each account's language in the web app (Vietnamese or English; none: the site's default).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN on both databases: a batch (copy-and-rename) on SQLite would trip the
    # foreign keys that point at users.
    op.add_column("users", sa.Column("language", sa.String(8), nullable=True))


def downgrade() -> None:
    # SQLite >= 3.35 drops a column in place (no table copy, so the foreign keys hold).
    op.execute("ALTER TABLE users DROP COLUMN language")

"""Work distribution: items assigned to a reviewer, and reviewers' short claims on the items
they opened to answer.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
AWARE = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "assignments",
        sa.Column("item_id", BigId, autoincrement=False, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("assigned_by", sa.String(64), nullable=False),
        sa.Column("assigned_at", AWARE, nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_assignments_item_id_items")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_assignments_user_id_users")
        ),
        sa.PrimaryKeyConstraint("item_id", name=op.f("pk_assignments")),
    )
    op.create_index(op.f("ix_assignments_user_id"), "assignments", ["user_id"])
    op.create_table(
        "claims",
        sa.Column("item_id", BigId, autoincrement=False, nullable=False),
        sa.Column("user_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("claimed_at", AWARE, nullable=False),
        sa.Column("expires_at", AWARE, nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], name=op.f("fk_claims_item_id_items")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_claims_user_id_users")),
        sa.PrimaryKeyConstraint("item_id", "user_id", name=op.f("pk_claims")),
    )
    op.create_index(op.f("ix_claims_user_id"), "claims", ["user_id"])


def downgrade() -> None:
    op.drop_table("claims")
    op.drop_table("assignments")

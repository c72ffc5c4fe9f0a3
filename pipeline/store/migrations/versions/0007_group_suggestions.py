"""Group suggestions: near-duplicate groups a post may belong to, between the suggest and the
join thresholds, for a reviewer to confirm or reject.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
AWARE = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "group_suggestions",
        sa.Column("id", BigId, nullable=False),
        sa.Column("item_id", BigId, nullable=False),
        sa.Column("candidate_id", BigId, nullable=False),
        sa.Column("group_id", BigId, nullable=True),
        sa.Column("similarity", sa.Float(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", AWARE, nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", AWARE, nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'confirmed', 'rejected')",
            name=op.f("ck_group_suggestions_status"),
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_group_suggestions_item_id_items")
        ),
        sa.ForeignKeyConstraint(
            ["candidate_id"], ["items.id"], name=op.f("fk_group_suggestions_candidate_id_items")
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["item_groups.id"],
            name=op.f("fk_group_suggestions_group_id_item_groups"),
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["users.id"], name=op.f("fk_group_suggestions_decided_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_suggestions")),
        sa.UniqueConstraint(
            "item_id", "candidate_id", name=op.f("uq_group_suggestions_item_id_candidate_id")
        ),
    )
    op.create_index(op.f("ix_group_suggestions_item_id"), "group_suggestions", ["item_id"])
    op.create_index(
        op.f("ix_group_suggestions_candidate_id"), "group_suggestions", ["candidate_id"]
    )


def downgrade() -> None:
    op.drop_table("group_suggestions")

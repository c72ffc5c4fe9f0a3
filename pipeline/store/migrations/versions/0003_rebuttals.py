"""Rebuttals for confirmed narratives, the approval right of communicators, and when each
item's label was decided (the time of a reviewed label in corpus exports).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
AWARE = sa.DateTime(timezone=True)

# Labels decided before this column existed. ``answered``: the newest answer (its answers
# agreed then). ``done``: the newest audit row that decided it (adjudication or the group's
# label). Failing those, when the item was added.
_NEWEST_ANSWER = "(SELECT MAX(answers.created_at) FROM answers WHERE answers.item_id = items.id)"
_NEWEST_DECISION = """(SELECT MAX(audit.at) FROM audit WHERE audit.entity = 'item'
        AND audit.entity_id = CAST(items.id AS VARCHAR(64))
        AND audit.action IN ('adjudicate', 'label_from_group'))"""
BACKFILL_DECIDED_AT = f"""
UPDATE items SET decided_at = CASE
    WHEN status = 'done' THEN COALESCE({_NEWEST_DECISION}, {_NEWEST_ANSWER}, created_at)
    ELSE COALESCE({_NEWEST_ANSWER}, created_at) END
WHERE status IN ('answered', 'done')
"""


def upgrade() -> None:
    # Plain ADD / DROP COLUMN (SQLite >= 3.35 has both): a batch copy of ``items`` would fail
    # on SQLite with rows in the tables that refer to it.
    op.add_column(
        "users",
        sa.Column(
            "approves_rebuttals", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
    )
    op.add_column("items", sa.Column("decided_at", AWARE, nullable=True))
    op.execute(BACKFILL_DECIDED_AT)
    op.create_table(
        "rebuttals",
        sa.Column("id", BigId, nullable=False),
        sa.Column("group_id", BigId, nullable=False),
        sa.Column("task", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("editor_id", sa.Integer(), nullable=False),
        sa.Column("approver_id", sa.Integer(), nullable=True),
        sa.Column("reused_from_id", BigId, nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", AWARE, nullable=False),
        sa.Column("updated_at", AWARE, nullable=False),
        sa.Column("approved_at", AWARE, nullable=True),
        sa.Column("published_at", AWARE, nullable=True),
        sa.CheckConstraint(
            "status IN ('draft', 'approved', 'published')", name=op.f("ck_rebuttals_status")
        ),
        sa.ForeignKeyConstraint(
            ["group_id"], ["item_groups.id"], name=op.f("fk_rebuttals_group_id_item_groups")
        ),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_rebuttals_author_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["editor_id"], ["users.id"], name=op.f("fk_rebuttals_editor_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["approver_id"], ["users.id"], name=op.f("fk_rebuttals_approver_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["reused_from_id"],
            ["rebuttals.id"],
            name=op.f("fk_rebuttals_reused_from_id_rebuttals"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rebuttals")),
    )
    op.create_index(op.f("ix_rebuttals_group_id"), "rebuttals", ["group_id"])
    op.create_index("ix_rebuttals_status_group", "rebuttals", ["status", "group_id"])


def downgrade() -> None:
    op.drop_index("ix_rebuttals_status_group", table_name="rebuttals")
    op.drop_index(op.f("ix_rebuttals_group_id"), table_name="rebuttals")
    op.drop_table("rebuttals")
    op.drop_column("items", "decided_at")
    op.drop_column("users", "approves_rebuttals")


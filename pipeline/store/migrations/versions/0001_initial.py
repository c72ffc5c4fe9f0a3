"""The review store: users, items, near-duplicate groups, LSH bands, answers, audit.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
AWARE = sa.DateTime(timezone=True)

SQLITE_AUDIT_TRIGGERS = [
    f"""CREATE TRIGGER audit_append_only_{verb.lower()} BEFORE {verb} ON audit
    BEGIN SELECT RAISE(ABORT, 'audit is append-only: {verb} refused'); END"""
    for verb in ("UPDATE", "DELETE")
]
POSTGRESQL_AUDIT_TRIGGERS = [
    """CREATE FUNCTION kiemtin_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'audit is append-only: % refused', TG_OP;
    END $$""",
    """CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION kiemtin_audit_append_only()""",
    """CREATE TRIGGER audit_append_only_truncate BEFORE TRUNCATE ON audit
    FOR EACH STATEMENT EXECUTE FUNCTION kiemtin_audit_append_only()""",
]


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("created_at", AWARE, nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.CheckConstraint(
            "role IN ('admin', 'trainer', 'reviewer', 'communicator', 'analyst')",
            name=op.f("ck_users_role"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("name", name=op.f("uq_users_name")),
    )
    # items and item_groups point at each other. SQLite accepts a key to a table created
    # later (and cannot add one afterwards); PostgreSQL adds it once both exist.
    representative_fk = (
        [
            sa.ForeignKeyConstraint(
                ["representative_id"],
                ["items.id"],
                name=op.f("fk_item_groups_representative_id_items"),
            )
        ]
        if sqlite
        else []
    )
    op.create_table(
        "item_groups",
        sa.Column("id", BigId, nullable=False),
        sa.Column("task", sa.String(64), nullable=False),
        sa.Column("representative_id", BigId, nullable=False),
        sa.Column("created_at", AWARE, nullable=False),
        *representative_fk,
        sa.PrimaryKeyConstraint("id", name=op.f("pk_item_groups")),
    )
    op.create_index(
        op.f("ix_item_groups_representative_id"), "item_groups", ["representative_id"]
    )
    op.create_table(
        "items",
        sa.Column("id", BigId, nullable=False),
        sa.Column("task", sa.String(64), nullable=False),
        sa.Column("text_key", sa.String(64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("source_id", sa.Text(), nullable=True),
        sa.Column("input_hash", sa.String(64), nullable=False),
        sa.Column("model_label", sa.String(64), nullable=False),
        sa.Column("proba", sa.JSON(), nullable=False),
        sa.Column("risk", sa.Float(), nullable=False),
        sa.Column("uncertainty", sa.Float(), nullable=False),
        sa.Column("words", sa.JSON(), nullable=False),
        sa.Column("model_version", sa.String(255), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reviews_needed", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(64), nullable=True),
        sa.Column("label_source_id", BigId, nullable=True),
        sa.Column("adjudicator_id", sa.Integer(), nullable=True),
        sa.Column("group_id", BigId, nullable=True),
        sa.Column(
            "is_representative", sa.Boolean(), server_default=sa.text("true"), nullable=False
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", AWARE, nullable=False),
        sa.CheckConstraint(
            "status IN ('open', 'answered', 'adjudication', 'done')", name=op.f("ck_items_status")
        ),
        sa.CheckConstraint("reviews_needed >= 1", name=op.f("ck_items_reviews_needed")),
        sa.ForeignKeyConstraint(
            ["adjudicator_id"], ["users.id"], name=op.f("fk_items_adjudicator_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["group_id"], ["item_groups.id"], name=op.f("fk_items_group_id_item_groups")
        ),
        sa.ForeignKeyConstraint(
            ["label_source_id"], ["items.id"], name=op.f("fk_items_label_source_id_items")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_items")),
        sa.UniqueConstraint("task", "text_key", name=op.f("uq_items_task_text_key")),
    )
    op.create_index(op.f("ix_items_group_id"), "items", ["group_id"])
    op.create_index("ix_items_queue_risk", "items", ["task", "status", "risk", "id"])
    op.create_index(
        "ix_items_queue_uncertainty", "items", ["task", "status", "uncertainty", "id"]
    )
    if not sqlite:
        op.create_foreign_key(
            op.f("fk_item_groups_representative_id_items"),
            "item_groups",
            "items",
            ["representative_id"],
            ["id"],
        )
    op.create_table(
        "item_bands",
        sa.Column("band_key", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("item_id", BigId, autoincrement=False, nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_item_bands_item_id_items")
        ),
        sa.PrimaryKeyConstraint("band_key", "item_id", name=op.f("pk_item_bands")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "answers",
        sa.Column("id", BigId, nullable=False),
        sa.Column("item_id", BigId, nullable=False),
        sa.Column("reviewer_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(64), nullable=False),
        sa.Column("model_label", sa.String(64), nullable=False),
        sa.Column("model_score", sa.Float(), nullable=False),
        sa.Column("model_risk", sa.Float(), nullable=False),
        sa.Column("model_version", sa.String(255), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", AWARE, nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], name=op.f("fk_answers_item_id_items")),
        sa.ForeignKeyConstraint(
            ["reviewer_id"], ["users.id"], name=op.f("fk_answers_reviewer_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_answers")),
        sa.UniqueConstraint("item_id", "reviewer_id", name=op.f("uq_answers_item_id_reviewer_id")),
    )
    op.create_index(op.f("ix_answers_reviewer_id"), "answers", ["reviewer_id"])
    op.create_table(
        "audit",
        sa.Column("id", BigId, nullable=False),
        sa.Column("at", AWARE, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("entity", sa.String(32), nullable=False),
        sa.Column("entity_id", sa.String(64), nullable=True),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit")),
    )
    op.create_index("ix_audit_entity", "audit", ["entity", "entity_id"])
    for statement in SQLITE_AUDIT_TRIGGERS if sqlite else POSTGRESQL_AUDIT_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.execute("DROP TRIGGER IF EXISTS audit_append_only_update")
        op.execute("DROP TRIGGER IF EXISTS audit_append_only_delete")
    op.drop_table("audit")  # PostgreSQL drops the table's triggers with it
    if not sqlite:
        op.execute("DROP FUNCTION IF EXISTS kiemtin_audit_append_only()")
        op.drop_constraint(
            op.f("fk_item_groups_representative_id_items"), "item_groups", type_="foreignkey"
        )
    op.drop_table("answers")
    op.drop_table("item_bands")
    op.drop_table("items")
    op.drop_table("item_groups")
    op.drop_table("users")

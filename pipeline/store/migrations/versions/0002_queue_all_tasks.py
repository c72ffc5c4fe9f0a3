"""Queue indexes for the all-tasks view: risk and uncertainty order within a status.

Without them the queue page without a task filter sorts every open item (1.2 s at
1,000,000 items on 2 cores); with them it is an index scan.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_items_status_risk", "items", ["status", "risk", "id"])
    op.create_index("ix_items_status_uncertainty", "items", ["status", "uncertainty", "id"])


def downgrade() -> None:
    op.drop_index("ix_items_status_uncertainty", table_name="items")
    op.drop_index("ix_items_status_risk", table_name="items")

"""The risk-order indexes carry the queue's other filters (representative or not, the model's
label), so a read of the riskiest items under those filters comes from the index alone.

A very broad search (``pipeline.store.search``) reads the riskiest thousands of items under
the filters before checking which match; each was a look-up of its row for
``is_representative``: 10,000 of them 60 ms at 1,000,000 items, 5.7 ms from the index
(benchmarks/queue_latency.py). Same names, same leading columns, so every plan that used
them still does.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CARRIED = ["is_representative", "model_label"]
_INDEXES = {
    "ix_items_queue_risk": ["task", "status", "risk", "id"],
    "ix_items_status_risk": ["status", "risk", "id"],
}


def _remake(carried: list[str]) -> None:
    for name, columns in _INDEXES.items():
        op.drop_index(name, table_name="items")
        op.create_index(name, "items", columns + carried)


def upgrade() -> None:
    _remake(_CARRIED)


def downgrade() -> None:
    _remake([])

"""Full-text search over items: a folded copy of each item's text and its index.

``items.search_text`` holds the text folded for search (``tables.fold_for_search``: lower-
cased, diacritics, tone placement and teencode folded), filled here for the rows already
stored and by intake for new ones. The index over it:

- SQLite: an FTS5 table ``items_search`` with external content (it reads ``search_text`` from
  ``items`` and stores only the index). Triggers keep it in step, rather than intake, so that
  no writer (intake, an importer, a hand-written fix) can leave an item out, and an item is
  searchable inside the transaction that adds it. ``detail=none``: search ANDs words and
  prefixes and orders by risk, so no positions are needed (a third of the index size).
  A later migration that rebuilds ``items`` (a batch copy) drops these triggers and must
  create them again; a change to ``fold`` needs a migration that refills ``search_text``.
- PostgreSQL: a generated column ``search_vector`` (``to_tsvector('simple', search_text)``,
  stripped of positions for the same reason) with a GIN index.

Neither index is in ``tables.py``'s metadata (it cannot describe them);
``tables.include_object`` leaves them out of Alembic's comparisons.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from pipeline.store.tables import fold_for_search

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BACKFILL_BATCH = 2000

SQLITE_UP = [
    """CREATE VIRTUAL TABLE items_search USING fts5(
        search_text, content='items', content_rowid='id', tokenize='unicode61', detail=none)""",
    "INSERT INTO items_search(items_search) VALUES ('rebuild')",
    """CREATE TRIGGER items_search_insert AFTER INSERT ON items BEGIN
        INSERT INTO items_search(rowid, search_text) VALUES (new.id, new.search_text);
    END""",
    """CREATE TRIGGER items_search_delete AFTER DELETE ON items BEGIN
        INSERT INTO items_search(items_search, rowid, search_text)
        VALUES ('delete', old.id, old.search_text);
    END""",
    """CREATE TRIGGER items_search_update AFTER UPDATE OF search_text ON items BEGIN
        INSERT INTO items_search(items_search, rowid, search_text)
        VALUES ('delete', old.id, old.search_text);
        INSERT INTO items_search(rowid, search_text) VALUES (new.id, new.search_text);
    END""",
]
SQLITE_DOWN = [
    "DROP TRIGGER items_search_update",
    "DROP TRIGGER items_search_delete",
    "DROP TRIGGER items_search_insert",
    "DROP TABLE items_search",
]
POSTGRESQL_UP = [
    """ALTER TABLE items ADD COLUMN search_vector tsvector
    GENERATED ALWAYS AS (strip(to_tsvector('simple', search_text))) STORED""",
    "CREATE INDEX ix_items_search_vector ON items USING gin (search_vector)",
]
POSTGRESQL_DOWN = [
    "DROP INDEX ix_items_search_vector",
    "ALTER TABLE items DROP COLUMN search_vector",
]


def _backfill(connection) -> None:
    """Fold the text of the items already stored, in id order, a batch at a time."""
    items = sa.table("items", sa.column("id"), sa.column("text"), sa.column("search_text"))
    update = (
        items.update()
        .where(items.c.id == sa.bindparam("item_id"))
        .values(search_text=sa.bindparam("folded"))
    )
    last = None
    while True:
        query = sa.select(items.c.id, items.c.text).order_by(items.c.id).limit(BACKFILL_BATCH)
        if last is not None:
            query = query.where(items.c.id > last)
        rows = connection.execute(query).all()
        if not rows:
            return
        connection.execute(
            update, [{"item_id": i, "folded": fold_for_search(text)} for i, text in rows]
        )
        last = rows[-1][0]


def upgrade() -> None:
    connection = op.get_bind()
    # Plain ADD COLUMN: a batch copy of ``items`` would fail on SQLite with rows that refer to
    # it (see 0003). The '' default is for the rows until the backfill reaches them.
    op.add_column("items", sa.Column("search_text", sa.Text(), server_default="", nullable=False))
    _backfill(connection)
    # The index is built after the backfill: once over the folded rows, not row by row.
    for statement in SQLITE_UP if connection.dialect.name == "sqlite" else POSTGRESQL_UP:
        op.execute(statement)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in SQLITE_DOWN if sqlite else POSTGRESQL_DOWN:
        op.execute(statement)
    op.drop_column("items", "search_text")

"""``kiemtin db``: the review database."""

from __future__ import annotations

import sys

from .options import Parents, add_action_group
from .store_access import open_store


def add_parser(subparsers, parents: Parents) -> None:
    db_sub = add_action_group(subparsers, "db", parents, help="the review database")
    db_sub.add_parser(
        "upgrade", parents=[parents.common], help="create or migrate the schema to the latest"
    )


def handle(args) -> int:
    settings, _, _ = open_store()
    print(f"database at {settings.database_url} is at the latest schema", file=sys.stderr)
    return 0

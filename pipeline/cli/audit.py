"""``kiemtin audit``: the append-only audit trail."""

from __future__ import annotations

import sys

from .options import Parents, add_action_group
from .store_access import open_store


def add_parser(subparsers, parents: Parents) -> None:
    a_sub = add_action_group(subparsers, "audit", parents, help="the append-only audit trail")
    ae = a_sub.add_parser("export", parents=[parents.common], help="write every audit row as JSONL")
    ae.add_argument("-o", "--output", default="-", help="file (default: stdout)")


def handle(args) -> int:
    from ..store.audit import export

    _, _, sessions = open_store()
    with sessions() as session:
        count = export(session, sys.stdout if args.output == "-" else args.output)
    print(f"kiemtin: wrote {count:,} audit rows", file=sys.stderr)
    return 0

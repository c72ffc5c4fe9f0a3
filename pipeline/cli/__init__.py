"""The ``kiemtin`` command: ``kiemtin train``, ``kiemtin classify`` and the rest.

Each command group has a module here holding its options (``add_parser``) beside its handler
(``handle``); the group modules import only argparse and what is cheap, and their handlers
import the heavy parts (the store, the web app, the batch runner, torch) when they run.
Options several commands share live in ``options``.

Only this module turns errors into exit codes: 2 for a wrong option, input or model
directory (with an expected / found / fix message), 1 for anything unexpected.
"""

from __future__ import annotations

import argparse
import logging
import sys

from ..errors import KiemtinError
from . import (
    audit,
    classify,
    db,
    evaluate,
    labels,
    models,
    pretrain,
    queue,
    rebuttals,
    serve,
    train,
    users,
    webhooks,
)
from .options import Parents

EXIT_BAD_INPUT = 2

# Each command and the module with its options and handler, in the order of the help.
COMMANDS = {
    "classify": classify,
    "train": train,
    "evaluate": evaluate,
    "pretrain": pretrain,
    "db": db,
    "queue": queue,
    "users": users,
    "rebuttals": rebuttals,
    "labels": labels,
    "audit": audit,
    "webhooks": webhooks,
    "models": models,
    "serve": serve,
}


def build_parser() -> argparse.ArgumentParser:
    """The ``kiemtin`` parser with every command's options."""
    parser = argparse.ArgumentParser(
        prog="kiemtin",
        description="Find false and hostile information in Vietnamese social-media posts.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    parents = Parents.build()
    for module in COMMANDS.values():
        module.add_parser(sub, parents)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="kiemtin: %(message)s",
        stream=sys.stderr,
    )
    try:
        return COMMANDS[args.command].handle(args)
    except KiemtinError as exc:
        print(f"kiemtin: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("kiemtin: interrupted", file=sys.stderr)
        return 130

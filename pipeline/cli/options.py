"""What the ``kiemtin`` commands share: argparse types and the parent parsers of the options
that several commands take (``-v/--verbose`` everywhere, ``--models-root`` where models are
read or written)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from ..model import DEFAULT_MODELS_ROOT

MODELS_ROOT_HELP = "where models/<task>/... and CURRENT live (default: the project's models/)"


def count(minimum: int):
    """An argparse type: a whole number >= ``minimum``, with a message saying so."""

    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            number = None
        if number is None or number < minimum:
            raise argparse.ArgumentTypeError(
                f"expected a whole number >= {minimum}, found {value!r}"
            )
        return number

    return parse


def positive_float(value: str) -> float:
    """An argparse type: a number > 0, with a message saying so."""
    try:
        number = float(value)
    except ValueError:
        number = 0.0
    if not number > 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, found {value!r}")
    return number


@dataclass(frozen=True)
class Parents:
    """Parent parsers (``parents=[...]``) of the shared options: ``common`` for every command
    and action, ``models_root`` for those that read or write model directories."""

    common: argparse.ArgumentParser
    models_root: argparse.ArgumentParser

    @classmethod
    def build(cls) -> Parents:
        common = argparse.ArgumentParser(add_help=False)
        common.add_argument("-v", "--verbose", action="store_true", help="log progress details")
        models_root = argparse.ArgumentParser(add_help=False)
        models_root.add_argument(
            "--models-root", type=Path, default=DEFAULT_MODELS_ROOT, help=MODELS_ROOT_HELP
        )
        return cls(common=common, models_root=models_root)

    @property
    def with_models_root(self) -> list[argparse.ArgumentParser]:
        return [self.common, self.models_root]


def add_action_group(subparsers, name: str, parents: Parents, help: str):
    """Add command ``name`` whose actions come after it (``kiemtin NAME ACTION``); returns
    the subparsers its actions are added to. The action parsed lands in ``NAME_command``."""
    group = subparsers.add_parser(name, parents=[parents.common], help=help)
    return group.add_subparsers(dest=f"{name}_command", required=True, metavar="ACTION")

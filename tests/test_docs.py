"""Docs that cannot drift: the README's commands and the CLI options it documents."""

import argparse
import re

from pipeline.cli import build_parser
from tests.conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def test_readme_opens_with_the_two_commands_and_ci_runs_the_second():
    lines = [line.strip() for line in README.splitlines()[:10] if line.startswith("    ")]
    assert len(lines) == 2
    run, test = lines
    assert "pip install -e ." in run and "python classify.py corpora/samples/posts.jsonl" in run
    assert 'pip install -e ".[dev]"' in test and "python -m pytest" in test
    assert "Run the whole test suite" in (REPO / ".ci" / "run").read_text()


def _options(parser, path=()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _options(sub, (*path, name))
        for option in action.option_strings:
            if option.startswith("--") and option not in ("--help", "--verbose"):
                yield path, option


# The README section (## heading) that documents each command group.
SECTIONS = {
    "classify": ("For analysts",),
    "train": ("For trainers",),
    "evaluate": ("For trainers",),
    "pretrain": ("For trainers",),
    "models": ("For trainers",),
    "db": ("For reviewers",),
    "queue": ("For reviewers",),
    "audit": ("For reviewers",),
    "serve": ("For reviewers",),
    "users": ("For reviewers", "For communication officers"),
    "rebuttals": ("For communication officers",),
    "webhooks": ("For communication officers",),
    "labels": ("Exporting and importing labels",),
}


def _section(title: str) -> str:
    found = re.search(rf"^## {re.escape(title)}.*?(?=^## |\Z)", README, re.S | re.M)
    assert found, f"README has no section '## {title}'"
    return found.group(0)


def test_every_cli_option_is_documented_in_its_commands_section():
    options = list(_options(build_parser()))
    assert len(options) >= 30
    assert {path[0] for path, _ in options} <= set(SECTIONS)
    for path, option in options:
        text = "".join(_section(title) for title in SECTIONS[path[0]])
        assert re.search(rf"{re.escape(option)}\b", text), (path, option, SECTIONS[path[0]])


def test_the_documented_bundled_models_exist():
    for task, model in re.findall(r"`models/(\w+)/(linear-\d+)`", README):
        assert (REPO / "models" / task / model / "config.json").is_file()

"""The ``>>>`` examples in the package's docstrings run and stay true: every module of
``pipeline/`` that has one is found here, none is listed by hand."""

import doctest
import importlib

import pytest

from tests.conftest import REPO

PACKAGE = REPO / "pipeline"
# Modules that must not be imported for their docstrings: running them runs something.
NOT_IMPORTED = ("__main__.py", "migrations")


def _modules_with_examples() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if any(part in NOT_IMPORTED for part in path.relative_to(PACKAGE).parts):
            continue
        if ">>>" in path.read_text(encoding="utf-8"):
            parts = path.relative_to(REPO).with_suffix("").parts
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


MODULES = _modules_with_examples()


def test_the_modules_with_examples_are_found():
    assert {"pipeline", "pipeline.text.normalise", "pipeline.web.highlight"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0

"""The ``>>>`` examples in the package's docstrings run and stay true."""

import doctest
import importlib

import pytest

MODULES = [
    "pipeline",
    "pipeline.tasks",
    "pipeline.segment",
    "pipeline.features",
    "pipeline.evaluate",
    "pipeline.outputs",
    "pipeline.score",
    "pipeline.mask",
    "pipeline.similarity",
    "pipeline.safe_markdown",
    "pipeline.registry",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0

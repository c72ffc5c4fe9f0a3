"""The ``>>>`` examples in the package's docstrings run and stay true."""

import doctest
import importlib

import pytest

MODULES = [
    "pipeline",
    "pipeline.tasks",
    "pipeline.text.segment",
    "pipeline.model.tfidf",
    "pipeline.training.metrics",
    "pipeline.batch.outputs",
    "pipeline.model.classifier",
    "pipeline.text.mask",
    "pipeline.text.similarity",
    "pipeline.web.markdown",
    "pipeline.model.registry",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0

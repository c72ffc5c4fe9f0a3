"""kiemtin: find false and hostile information in Vietnamese social-media posts.

The few names notebooks, ``train.py`` and ``classify.py`` need. Heavy ones are imported on
first use so ``import pipeline`` stays fast. Stages whose module and function share a name
(``pipeline.text.segment.segment``, ``pipeline.text.prepare.prepare``) are reached through
their module.

>>> import pipeline
>>> pipeline.normalise("Ko bít j hết")
'Không biết gì hết'
"""

from importlib import import_module

# Bound eagerly: importing the submodule later would otherwise shadow the function.
from .text.normalise import normalise as normalise
from .text.normalise import normalise_with_offsets as normalise_with_offsets

__version__ = "0.1.0"

_EXPORTS = {
    "segment_batch": "pipeline.text.segment",
    "load_task": "pipeline.tasks",
    "load_corpus": "pipeline.training.corpora",
    "load_model": "pipeline.model.directory",
    "current_model_dir": "pipeline.model.directory",
    "LinearScorer": "pipeline.model.linear",
    "Classifier": "pipeline.model.classifier",
    "read_rows": "pipeline.batch.inputs",
    "train_model": "pipeline.training.train",
    "KiemtinError": "pipeline.errors",
}

__all__ = sorted([*_EXPORTS, "normalise", "normalise_with_offsets"])


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'pipeline' has no attribute {name!r}")

"""kiemtin: find false and hostile information in Vietnamese social-media posts.

The few names notebooks, ``train.py`` and ``classify.py`` need; each is imported on first
use so ``import pipeline`` stays fast.

>>> import pipeline
>>> pipeline.normalise("Ko bít j hết")
'Không biết gì hết'
"""

from importlib import import_module

__version__ = "0.1.0"

_EXPORTS = {
    "normalise": "pipeline.normalise",
    "normalise_with_offsets": "pipeline.normalise",
    "segment": "pipeline.segment",
    "segment_batch": "pipeline.segment",
    "prepare": "pipeline.prepare",
    "load_task": "pipeline.tasks",
    "load_corpus": "pipeline.corpora",
    "load_model": "pipeline.model.directory",
    "current_model_dir": "pipeline.model.directory",
    "LinearScorer": "pipeline.model.linear",
    "Classifier": "pipeline.score",
    "read_rows": "pipeline.ingest",
    "evaluate": "pipeline.evaluate",
    "train_model": "pipeline.train",
    "KiemtinError": "pipeline.errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'pipeline' has no attribute {name!r}")

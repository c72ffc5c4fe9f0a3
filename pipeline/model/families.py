"""The model families: which :class:`~pipeline.model.base.Scorer` class a config's ``family``
names.

Importing the transformer and neural families does not import torch: it is imported only
when such a model is fitted (or, for a transformer, loaded).
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ModelDirError
from .base import Scorer
from .ensemble import EnsembleScorer
from .linear import LinearScorer
from .neural import NeuralScorer
from .transformer import TransformerScorer

SCORERS: dict[str, type[Scorer]] = {
    LinearScorer.family: LinearScorer,
    TransformerScorer.family: TransformerScorer,
    NeuralScorer.family: NeuralScorer,
    EnsembleScorer.family: EnsembleScorer,
}
FAMILY_NAMES = tuple(SCORERS)  # linear first: the default


def scorer_class(family, directory: Path) -> type[Scorer]:
    """The scorer class of ``family``, as the config of model ``directory`` names it."""
    if family not in SCORERS:
        raise ModelDirError(
            f"model directory {directory}",
            expected=f"a model family from {sorted(SCORERS)}",
            found=repr(family),
            fix="Upgrade kiemtin, or retrain the model with this version.",
        )
    return SCORERS[family]

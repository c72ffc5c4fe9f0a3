"""The one scorer interface of every model family: fit / predict_proba / explain / save / load."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TypedDict

import numpy as np

from ..errors import InputError
from ..prepare import Prepared
from ..tasks import Task


class Word(TypedDict):
    """A word that pushed a score, located in the ORIGINAL text: ``text[start:end] == word``."""

    word: str
    start: int
    end: int
    weight: float


class Scorer:
    """Base class: families implement ``fit``, ``predict_proba``, ``explain``, ``save``, ``load``.

    ``predict_proba`` columns follow ``classes_`` (the task's labels in order).
    """

    family: str = ""
    files: tuple[str, ...] = ()  # weight files the family writes beside config.json
    task: Task
    classes_: list[str]
    decision_weights_: np.ndarray

    def fit(self, texts, labels: Sequence[str]) -> Scorer:  # pragma: no cover - interface
        raise NotImplementedError

    def predict_proba(self, texts) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def explain(self, texts, top_k: int = 5, proba=None) -> list[list[Word]]:  # pragma: no cover
        raise NotImplementedError

    def save(self, directory: Path) -> dict:  # pragma: no cover - interface
        raise NotImplementedError

    @classmethod
    def load(cls, directory: Path, config: dict, task: Task) -> Scorer:  # pragma: no cover
        raise NotImplementedError

    def labels_from_proba(self, proba: np.ndarray) -> list[str]:
        """The decision rule: calibrated probabilities times per-label decision weights."""
        ids = np.argmax(proba * self.decision_weights_, axis=1)
        return [self.classes_[i] for i in ids]

    def predict(self, texts) -> list[str]:
        return self.labels_from_proba(self.predict_proba(texts))

    def risk_from_proba(self, proba: np.ndarray) -> np.ndarray:
        """Risk = total probability of the task's risky labels."""
        cols = [self.classes_.index(r) for r in self.task.risk_labels]
        return proba[:, cols].sum(axis=1)


def labels_to_ids(labels: Sequence[str], names: Sequence[str]) -> np.ndarray:
    index = {name: i for i, name in enumerate(names)}
    unknown = sorted({str(x) for x in labels if x not in index})
    if unknown:
        raise InputError(
            "training labels",
            expected=f"labels from {list(names)}",
            found=f"{unknown[:10]}",
            fix="Map the corpus labels to the task's label names (see pipeline/tasks/).",
        )
    return np.asarray([index[x] for x in labels], dtype=np.int64)


def top_words(p: Prepared, parts: np.ndarray, top_k: int) -> list[Word]:
    """The ``top_k`` words of ``p`` with the largest positive ``parts`` (one per segmented
    word), located in the ORIGINAL text; words whose span is unknown are skipped."""
    order = np.argsort(-parts, kind="stable")
    words: list[Word] = []
    for i in order[:top_k]:
        if parts[i] <= 0:
            break
        span = p.word_span(int(i))
        if span is None:
            continue
        start, end = span
        words.append(
            {
                "word": p.original[start:end],
                "start": start,
                "end": end,
                "weight": round(float(parts[i]), 4),
            }
        )
    return words

"""The one scorer interface of every model family: fit / predict_proba / explain / save / load."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from pathlib import Path
from typing import TypedDict

import numpy as np

from ..errors import InputError
from ..tasks import Task
from ..text.prepare import Prepared, as_prepared

WEIGHT_DIGITS = 4  # a word's weight is rounded to this many decimals


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
    # True where the scorer also reads each post's content metadata (engagement counts,
    # posting time: ``pipeline.model.content``): then ``fit``, ``predict_proba``, ``explain``
    # and ``predict_and_explain`` take ``meta``, one dict (or None: unknown) per text.
    content_features: bool = False

    def get_params(self) -> dict:
        """The hyper-parameters, the scikit-learn way: each named parameter of ``__init__``
        after ``self`` and ``task``, in order, valued by the attribute of the same name
        (``__init__`` stores them as given). ``config.json`` records them, and
        ``cls(task, **params)`` rebuilds the scorer."""
        params = list(inspect.signature(type(self).__init__).parameters.values())[2:]
        named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        return {p.name: getattr(self, p.name) for p in params if p.kind in named}

    def fit(self, texts, labels: Sequence[str]) -> Scorer:  # pragma: no cover - interface
        raise NotImplementedError

    def predict_proba(self, texts) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def explain(self, texts, top_k: int = 5, proba=None) -> list[list[Word]]:  # pragma: no cover
        raise NotImplementedError

    def predict_and_explain(self, texts, top_k: int = 5) -> tuple[np.ndarray, list[list[Word]]]:
        """``predict_proba`` and ``explain`` together; families that can share the work
        between the two override it."""
        texts = as_prepared(texts)  # raw texts are prepared once, not twice
        proba = self.predict_proba(texts)
        return proba, self.explain(texts, top_k=top_k, proba=proba)

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


def top_words_batch(
    prepared: Sequence[Prepared], parts: np.ndarray, offsets: np.ndarray, top_k: int
) -> list[list[Word]]:
    """:func:`top_words` of many posts at once: ``parts[offsets[d]:offsets[d + 1]]`` are the
    parts of the words of ``prepared[d]``. Same words, same order."""
    if top_k < 0:  # slice semantics of order[:top_k]; nobody asks for it, keep it exact
        return [
            top_words(p, parts[offsets[d] : offsets[d + 1]], top_k) for d, p in enumerate(prepared)
        ]
    out: list[list[Word]] = [[] for _ in prepared]
    positive = np.flatnonzero(parts > 0)
    doc = np.searchsorted(offsets, positive, side="right") - 1
    # by post, then strongest first; lexsort is stable, so ties keep the word order
    order = np.lexsort((-parts[positive], doc))
    positive, doc = positive[order], doc[order]
    rank = np.arange(len(doc)) - np.searchsorted(doc, doc, side="left")
    keep = rank < top_k
    positive, doc = positive[keep], doc[keep]
    words = (positive - offsets[doc]).tolist()
    weights = _round(parts[positive], WEIGHT_DIGITS).tolist()
    for d, i, weight in zip(doc.tolist(), words, weights, strict=True):
        p = prepared[d]
        span = p.word_span(i)
        if span is None:
            continue
        start, end = span
        out[d].append({"word": p.original[start:end], "start": start, "end": end, "weight": weight})
    return out


def _round(values: np.ndarray, digits: int) -> np.ndarray:
    """``[round(v, digits) for v in values]``, vectorised: away from a tie, rounding the
    scaled value and dividing back gives the correctly rounded result that ``round`` gives;
    the few values near a tie go through ``round`` itself."""
    scale = 10.0**digits
    scaled = values * scale
    out = np.rint(scaled) / scale
    doubtful = ~(np.abs(scaled) < 2.0**40) | (np.abs(scaled - np.floor(scaled) - 0.5) < 1e-6)
    for i in np.flatnonzero(doubtful).tolist():
        out[i] = round(float(values[i]), digits)
    return out


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
                "weight": round(float(parts[i]), WEIGHT_DIGITS),
            }
        )
    return words

"""Metrics on fixed test sets, overall and by slice.

Macro-F1 and per-class F1 of the decided labels, ROC-AUC of the risk score (risky labels
against the rest), and calibration error (top-label and of the risk score), with the 95%
bootstrap intervals of macro-F1 and ROC-AUC over the whole set (:mod:`.intervals`). Slices:
text without diacritics, text with teencode, and short / medium / long posts.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

from ..model.base import Scorer
from ..text.normalise import Normaliser, normalise
from ..text.prepare import Prepared
from .intervals import metric_intervals

SHORT_MAX = 50  # characters; ViHSD's median comment is 33
LONG_MIN = 300  # ReINTEL's median post is about 230
ECE_BINS = 15
_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)


def has_no_diacritics(text: str) -> bool:
    """Text with letters, all of them plain ASCII (typed without Vietnamese marks).

    >>> has_no_diacritics("may ngu qua"), has_no_diacritics("mày ngu quá")
    (True, False)
    """
    letters = _LETTER.findall(text)
    return bool(letters) and all(c.isascii() for c in letters)


class _WithoutTeencode(Normaliser):
    """The default normaliser with rule 8 (teencode expansion) switched off."""

    def _expand(self, text: str) -> list:
        return []


@functools.cache
def _without_teencode() -> Normaliser:
    return _WithoutTeencode()


def has_teencode(text: str, normalised: str | None = None) -> bool:
    """True when the normaliser changes the text through its teencode table (rule 8).

    Teencode expansion is the normaliser's last rule, so the text has teencode exactly when
    normalising with and without that rule differs. ``normalised`` (``normalise(text)``)
    saves normalising again when the caller has it.

    >>> has_teencode("ko bít j hết"), has_teencode("không biết gì hết")
    (True, False)
    """
    if normalised is None:
        normalised = normalise(text)
    return normalised != _without_teencode().normalise(text)


def slice_masks(
    texts: Sequence[str], normalised: Sequence[str] | None = None
) -> dict[str, np.ndarray]:
    """Boolean masks of the slices, in report order; ``normalised`` texts are optional."""
    lengths = np.asarray([len(t) for t in texts])
    if normalised is None:
        normalised = [normalise(t) for t in texts]
    return {
        "no_diacritics": np.asarray([has_no_diacritics(t) for t in texts], dtype=bool),
        "teencode": np.asarray(
            [has_teencode(t, n) for t, n in zip(texts, normalised, strict=True)], dtype=bool
        ),
        f"short (<{SHORT_MAX} chars)": lengths < SHORT_MAX,
        f"medium ({SHORT_MAX}-{LONG_MIN - 1} chars)": (lengths >= SHORT_MAX) & (lengths < LONG_MIN),
        f"long (>={LONG_MIN} chars)": lengths >= LONG_MIN,
    }


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray) -> float:
    """Mean |accuracy - confidence| over equal-width confidence bins, weighted by bin size."""
    if len(confidence) == 0:
        return float("nan")
    bins = np.minimum((confidence * ECE_BINS).astype(int), ECE_BINS - 1)
    total = 0.0
    for b in np.unique(bins):
        in_bin = bins == b
        total += in_bin.sum() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(total / len(confidence))


def classification_metrics(
    y_true: Sequence[str], proba: np.ndarray, y_pred: Sequence[str], scorer: Scorer
) -> dict:
    """All metrics for one set of predictions; ``None`` where a metric is undefined."""
    classes = scorer.classes_
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    n = len(y_true)
    risky_true = np.isin(y_true, scorer.task.risk_labels)
    risk = scorer.risk_from_proba(proba) if n else np.zeros(0)
    top = proba.argmax(axis=1) if n else np.zeros(0, dtype=int)
    per_class = (
        f1_score(y_true, y_pred, labels=classes, average=None, zero_division=0)
        if n
        else [None] * len(classes)  # an empty slice (e.g. no long post in a small test set)
    )
    both_kinds = 0 < risky_true.sum() < n
    return {
        "n": int(n),
        "support": {c: int((y_true == c).sum()) for c in classes},
        "macro_f1": _round(
            f1_score(y_true, y_pred, labels=classes, average="macro", zero_division=0)
        )
        if n
        else None,
        "per_class_f1": {
            c: None if f is None else _round(f) for c, f in zip(classes, per_class, strict=True)
        },
        "accuracy": _round(accuracy_score(y_true, y_pred)) if n else None,
        "roc_auc_risk": _round(roc_auc_score(risky_true, risk)) if both_kinds else None,
        "ece": _round(
            expected_calibration_error(proba.max(axis=1), np.asarray(classes)[top] == y_true)
        )
        if n
        else None,
        "risk_ece": _round(
            expected_calibration_error(np.maximum(risk, 1 - risk), (risk >= 0.5) == risky_true)
        )
        if n
        else None,
    }


def predict_with_meta(
    scorer: Scorer, prepared: Sequence[Prepared], meta: Sequence[dict | None] | None
) -> np.ndarray:
    """Probabilities, with each post's content metadata for a scorer that reads it (engagement
    counts and posting time; ``None`` for a post without them)."""
    if scorer.content_features:
        return scorer.predict_proba(prepared, meta=meta)
    return scorer.predict_proba(prepared)


def evaluate(
    scorer: Scorer,
    prepared: Sequence[Prepared],
    labels: Sequence[str],
    *,
    proba: np.ndarray | None = None,
    meta: Sequence[dict | None] | None = None,
) -> dict:
    """Metrics on a test set, with the same metrics for each slice of it.

    ``proba`` (``scorer.predict_proba(prepared)``) saves scoring again when the caller has it;
    ``meta`` is each post's content metadata, for a scorer with content features.
    """
    if proba is None:
        proba = predict_with_meta(scorer, prepared, meta)
    pred = scorer.labels_from_proba(proba)
    labels = list(labels)
    result = classification_metrics(labels, proba, pred, scorer)
    result["intervals"] = metric_intervals(
        labels,
        pred,
        scorer.risk_from_proba(proba) if labels else np.zeros(0),
        scorer.classes_,
        scorer.task.risk_labels,
    )
    result["slices"] = {}
    masks = slice_masks([p.original for p in prepared], [p.normalised.text for p in prepared])
    for name, mask in masks.items():
        idx = np.flatnonzero(mask)
        result["slices"][name] = classification_metrics(
            [labels[i] for i in idx], proba[idx], [pred[i] for i in idx], scorer
        )
    return result


def _round(x: float) -> float:
    return round(float(x), 4)

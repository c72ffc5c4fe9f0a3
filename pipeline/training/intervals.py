"""How far a test-set figure can be trusted: bootstrap confidence intervals.

A test set is a sample: the 95% interval of the bundled false model's ROC-AUC on ReINTEL's
875 test posts (147 unreliable) is about ±0.026 wide, that of the hostile model's macro-F1
on ViHSD's 6,680 test comments about ±0.02. So a figure is reported with its 95% interval,
and two models scored on the same posts are compared by the interval of their *paired*
difference (both scored on the same resampled posts), much narrower than either interval.

For the functional set's small families (10 to 12 hand-written cases each) an accuracy is a
share of cases, and its interval is Wilson's score interval (:func:`wilson_interval`).

Percentile bootstrap over test posts: ``RESAMPLES`` draws of n posts with replacement, seeded
so a report is reproducible. Every resample's metrics come from count-weighted sums, not
from re-running scikit-learn: macro-F1 from the weighted counts of true, decided and right
labels, ROC-AUC from weighted rank sums (ties count a half, as in ``roc_auc_score``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import binomtest

RESAMPLES = 1000
LEVEL = 0.95
SEED = 0
CELLS_PER_BATCH = 4_000_000


def resample_counts(n: int, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """``(resamples, n)`` counts: how often each of n posts is drawn in each resample."""
    draws = rng.integers(0, n, size=(resamples, n))
    offsets = np.arange(resamples)[:, None] * n
    return np.bincount((draws + offsets).ravel(), minlength=resamples * n).reshape(resamples, n)


def count_batches(n: int, resamples: int = RESAMPLES, seed: int = SEED):
    """``resample_counts`` in batches of at most ``CELLS_PER_BATCH`` cells, so a test set of a
    million rows needs tens of MB, not gigabytes; the same seed gives the same resamples."""
    if n == 0:
        return
    rng = np.random.default_rng(seed)
    step = max(1, CELLS_PER_BATCH // max(n, 1))
    for start in range(0, resamples, step):
        yield resample_counts(n, min(step, resamples - start), rng)


def resampled_macro_f1(
    y_true: Sequence[str], y_pred: Sequence[str], classes: Sequence[str], counts: np.ndarray
) -> np.ndarray:
    """Macro-F1 over ``classes`` in each resample (a class never true nor predicted: F1 0,
    as ``f1_score(..., labels=classes, zero_division=0)``)."""
    true, pred = _one_hot(y_true, classes), _one_hot(y_pred, classes)
    tp = counts @ (true * pred)
    denominator = counts @ true + counts @ pred
    f1 = np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)
    return f1.mean(axis=1)


def _one_hot(labels: Sequence[str], classes: Sequence[str]) -> np.ndarray:
    # A label outside ``classes`` is in no column, as f1_score with labels= treats it.
    return (np.asarray(labels, dtype=object)[:, None] == np.asarray(classes, dtype=object)).astype(
        float
    )


def resampled_roc_auc(score: np.ndarray, positive: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """ROC-AUC of ``score`` for ``positive`` in each resample; NaN where one kind is absent."""
    if len(score) == 0:
        return np.full(len(counts), np.nan)
    order = np.argsort(score, kind="stable")
    score, positive, counts = score[order], np.asarray(positive, bool)[order], counts[:, order]
    # Posts of equal score form one group: a positive beats the negatives of lower groups and
    # ties half of those in its own.
    starts = np.flatnonzero(np.r_[True, score[1:] != score[:-1]])
    pos = np.add.reduceat(counts * positive, starts, axis=1)
    neg = np.add.reduceat(counts * ~positive, starts, axis=1)
    below = np.cumsum(neg, axis=1) - neg
    wins = (pos * (below + 0.5 * neg)).sum(axis=1)
    pairs = pos.sum(axis=1) * neg.sum(axis=1)
    return np.divide(wins, pairs, out=np.full(len(pairs), np.nan), where=pairs > 0)


def interval(values: np.ndarray, level: float = LEVEL) -> list[float] | None:
    """The central ``level`` percentile interval of resampled values (NaNs dropped)."""
    values = values[~np.isnan(values)]
    if len(values) == 0:
        return None
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return [round(float(low), 4), round(float(high), 4)]


def metric_intervals(
    y_true: Sequence[str],
    y_pred: Sequence[str],
    risk: np.ndarray,
    classes: Sequence[str],
    risk_labels: Sequence[str],
    *,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> dict:
    """95% intervals of macro-F1 and ROC-AUC of risk for one model's test predictions."""
    risky = np.isin(np.asarray(y_true), list(risk_labels))
    risk = np.asarray(risk, float)
    f1, auc = [], []
    for counts in count_batches(len(y_true), resamples, seed):
        f1.append(resampled_macro_f1(y_true, y_pred, classes, counts))
        auc.append(resampled_roc_auc(risk, risky, counts))
    return _result(resamples, f1, auc)


def difference_intervals(
    y_true: Sequence[str],
    this: tuple[Sequence[str], np.ndarray],
    other: tuple[Sequence[str], np.ndarray],
    classes: Sequence[str],
    risk_labels: Sequence[str],
    *,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> dict:
    """95% intervals of (this model − the other) on the same resampled posts, for macro-F1
    and ROC-AUC of risk; ``this`` and ``other`` are each (decided labels, risk scores).

    An interval that excludes 0 is a difference the test set supports; one that straddles 0
    is not, however large the point difference looks.
    """
    risky = np.isin(np.asarray(y_true), list(risk_labels))
    (pred_a, risk_a), (pred_b, risk_b) = this, other
    risk_a, risk_b = np.asarray(risk_a, float), np.asarray(risk_b, float)
    f1, auc = [], []
    for counts in count_batches(len(y_true), resamples, seed):
        f1.append(
            resampled_macro_f1(y_true, pred_a, classes, counts)
            - resampled_macro_f1(y_true, pred_b, classes, counts)
        )
        auc.append(
            resampled_roc_auc(risk_a, risky, counts) - resampled_roc_auc(risk_b, risky, counts)
        )
    return _result(resamples, f1, auc)


def _result(resamples: int, f1: list[np.ndarray], auc: list[np.ndarray]) -> dict:
    return {
        "level": LEVEL,
        "resamples": resamples,
        "macro_f1": interval(np.concatenate(f1)) if f1 else None,
        "roc_auc_risk": interval(np.concatenate(auc)) if auc else None,
    }


def wilson_interval(successes: int, n: int, level: float = LEVEL) -> list[float] | None:
    """Wilson's score interval of a share ``successes / n`` (sound at 0 and n, where the
    normal approximation is not); ``None`` for no trials."""
    if n == 0:
        return None
    ci = binomtest(successes, n).proportion_ci(confidence_level=level, method="wilson")
    return [round(float(ci.low), 4), round(float(ci.high), 4)]

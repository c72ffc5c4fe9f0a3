"""Bootstrap intervals: each resample's figures are scikit-learn's on the resampled rows, and
the intervals say what a test set of that size can tell apart."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score, roc_auc_score

from pipeline.training import intervals
from pipeline.training.intervals import (
    count_batches,
    difference_intervals,
    metric_intervals,
    resampled_macro_f1,
    resampled_roc_auc,
)

CLASSES = ["clean", "offensive", "hate"]
RISKY = ["offensive", "hate"]


def _predictions(n: int, accuracy: float, seed: int):
    """Labels in ViHSD's proportions, decided labels right ``accuracy`` of the time, and a
    risk score rounded to two places so that ties occur, as in real scores."""
    rng = np.random.default_rng(seed)
    y = rng.choice(CLASSES, n, p=[0.83, 0.07, 0.10])
    pred = np.where(rng.random(n) < accuracy, y, rng.choice(CLASSES, n))
    risk = np.round(0.3 * rng.random(n) + 0.4 * np.isin(y, RISKY) * rng.random(n), 2)
    return y.tolist(), pred.tolist(), risk


def _width(bounds: list[float]) -> float:
    return bounds[1] - bounds[0]


def test_each_resample_scores_what_scikit_learn_gives_on_the_drawn_rows():
    y, pred, risk = _predictions(500, 0.7, seed=1)
    y[3] = "spam"  # a label outside the classes counts as f1_score(labels=...) counts it
    counts = next(count_batches(len(y), resamples=5, seed=3))
    assert counts.shape == (5, 500) and (counts.sum(axis=1) == 500).all()
    f1 = resampled_macro_f1(y, pred, CLASSES, counts)
    auc = resampled_roc_auc(risk, np.isin(y, RISKY), counts)
    for b in range(5):
        rows = np.repeat(np.arange(500), counts[b])
        drawn_y, drawn_pred = np.asarray(y)[rows], np.asarray(pred)[rows]
        expected_f1 = f1_score(drawn_y, drawn_pred, labels=CLASSES, average="macro",
                               zero_division=0)  # fmt: skip
        assert f1[b] == pytest.approx(expected_f1, abs=1e-12)
        assert auc[b] == pytest.approx(roc_auc_score(np.isin(drawn_y, RISKY), risk[rows]))


def test_a_class_never_true_nor_decided_scores_zero_as_in_scikit_learn():
    y, pred = ["clean", "hate", "clean"], ["clean", "hate", "hate"]
    ones = np.ones((1, 3), dtype=int)
    expected = f1_score(y, pred, labels=CLASSES, average="macro", zero_division=0)
    assert resampled_macro_f1(y, pred, CLASSES, ones)[0] == pytest.approx(expected)


def test_the_interval_holds_the_figure_and_narrows_as_the_test_set_grows():
    small = metric_intervals(*_predictions(800, 0.7, seed=2), CLASSES, RISKY)
    large = metric_intervals(*_predictions(12_800, 0.7, seed=2), CLASSES, RISKY)
    y, pred, risk = _predictions(800, 0.7, seed=2)
    point = f1_score(y, pred, labels=CLASSES, average="macro")
    assert small["macro_f1"][0] < point < small["macro_f1"][1]
    point_auc = roc_auc_score(np.isin(y, RISKY), risk)
    assert small["roc_auc_risk"][0] < point_auc < small["roc_auc_risk"][1]
    # 16 times the rows: about a quarter of the width (the standard error goes as 1/sqrt(n)).
    for key in ("macro_f1", "roc_auc_risk"):
        ratio = _width(large[key]) / _width(small[key])
        assert 0.15 < ratio < 0.4, (key, ratio)
    assert small["level"] == 0.95 and small["resamples"] == 1000


def test_the_same_seed_gives_the_same_intervals_whatever_the_batch_size(monkeypatch):
    y, pred, risk = _predictions(600, 0.7, seed=4)
    whole = metric_intervals(y, pred, risk, CLASSES, RISKY, seed=9)
    monkeypatch.setattr(intervals, "CELLS_PER_BATCH", 600 * 7)  # 143 batches of 7 resamples
    assert metric_intervals(y, pred, risk, CLASSES, RISKY, seed=9) == whole
    assert metric_intervals(y, pred, risk, CLASSES, RISKY, seed=10) != whole


def test_a_paired_difference_is_zero_for_one_model_and_excludes_zero_for_a_worse_one():
    y, pred, risk = _predictions(3000, 0.8, seed=5)
    same = difference_intervals(y, (pred, risk), (pred, risk), CLASSES, RISKY)
    assert same["macro_f1"] == [0.0, 0.0] and same["roc_auc_risk"] == [0.0, 0.0]

    rng = np.random.default_rng(6)
    # The worse model: a tenth of its labels redrawn at random, its risk blurred by noise.
    worse_pred = np.where(rng.random(3000) < 0.1, rng.choice(CLASSES, 3000), pred).tolist()
    worse_risk = risk + rng.normal(0, 0.1, 3000)
    d = difference_intervals(y, (pred, risk), (worse_pred, worse_risk), CLASSES, RISKY)
    assert d["macro_f1"][0] > 0 and d["roc_auc_risk"][0] > 0
    # Paired, the difference is known far better than either figure alone.
    alone = metric_intervals(y, pred, risk, CLASSES, RISKY)
    assert _width(d["roc_auc_risk"]) < _width(alone["roc_auc_risk"])


def test_an_empty_test_set_or_one_kind_of_label_has_no_interval():
    empty = metric_intervals([], [], np.zeros(0), CLASSES, RISKY)
    assert empty["macro_f1"] is None and empty["roc_auc_risk"] is None
    clean = metric_intervals(["clean"] * 50, ["clean"] * 50, np.linspace(0, 1, 50), CLASSES,
                             RISKY)  # fmt: skip
    assert clean["roc_auc_risk"] is None and clean["macro_f1"] is not None


def test_wilson_interval_of_a_share_is_scipys_and_stays_inside_0_and_1():
    from pipeline.training.intervals import wilson_interval

    assert wilson_interval(7, 12) == [0.3195, 0.8067]  # counter-speech, 7 of 12 right
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == 1.0
    assert wilson_interval(0, 10)[1] > 0.2  # none of 10 right does not prove 0
    assert wilson_interval(0, 0) is None
    low, high = wilson_interval(89, 126)
    assert low < 89 / 126 < high
    assert high - low < _width(wilson_interval(7, 10))  # more cases, a narrower interval

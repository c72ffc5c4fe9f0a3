"""Calibration and decision rule fitted on out-of-fold scores.

Probabilities come from ``softmax(logits / T + b)``: one temperature and one bias per class,
fitted by log-loss, so they stay a linear function of the features (and explainable).
Labels come from ``argmax(p * decision_weights)``, weights chosen for macro-F1, so
probabilities stay honest while rare classes still get predicted.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import log_softmax, softmax
from sklearn.metrics import f1_score


def calibrated_proba(logits: np.ndarray, temperature: float, bias: np.ndarray) -> np.ndarray:
    return softmax(logits / temperature + bias, axis=1)


def fit_temperature_and_bias(
    logits: np.ndarray, y: np.ndarray, temperature_range: tuple[float, float] | None = None
) -> tuple[float, np.ndarray]:
    """Minimise the log-loss of ``softmax(logits / T + b)`` on held-out logits.

    ``temperature_range`` bounds T: a small dev set can drive it towards 0, which multiplies
    every logit (and any rounding in them) by hundreds.
    """
    k = logits.shape[1]

    def loss(params):
        t, b = np.exp(params[0]), np.concatenate([[0.0], params[1:]])
        return -log_softmax(logits / t + b, axis=1)[np.arange(len(y)), y].mean()

    bounds = None
    if temperature_range is not None:
        low, high = np.log(temperature_range)
        bounds = [(low, high)] + [(None, None)] * (k - 1)
    result = minimize(loss, np.zeros(k), method="L-BFGS-B", bounds=bounds)
    return float(np.exp(result.x[0])), np.concatenate([[0.0], result.x[1:]])


def fit_decision_weights(proba: np.ndarray, y: np.ndarray, rounds: int = 3) -> np.ndarray:
    """Per-class multipliers for ``argmax(proba * w)`` maximising macro-F1 (coordinate search)."""
    k = proba.shape[1]
    weights = np.ones(k)
    grid = np.exp(np.linspace(np.log(0.2), np.log(8.0), 41))

    def score(w):
        return f1_score(y, np.argmax(proba * w, axis=1), average="macro", labels=range(k))

    best = score(weights)
    for _ in range(rounds):
        improved = False
        for c in range(1, k):  # class 0 is the reference
            for g in grid:
                trial = weights.copy()
                trial[c] = g
                s = score(trial)
                if s > best + 1e-9:
                    best, weights, improved = s, trial, True
        if not improved:
            break
    return weights

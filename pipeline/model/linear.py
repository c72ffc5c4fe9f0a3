"""The ``linear`` family: TF-IDF word + character n-grams → calibrated logistic regression.

Fits in seconds on two cores and explains itself exactly: a post's score splits into one
part per word, and each word points back at its characters in the original text.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from safetensors.numpy import load_file, save_file
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from ..tasks import Task
from ..text.diacritics import without_diacritics
from ..text.prepare import PREPROCESSING, Prepared, as_prepared, prepare
from .base import Scorer, Word, labels_to_ids, top_words_batch
from .calibration import calibrated_proba, fit_decision_weights, fit_temperature_and_bias
from .content import ContentFeatures
from .tfidf import CHUNK_DOCS, Encoded, TextFeatures

WEIGHTS_FILE = "weights.safetensors"
VOCABULARY_FILE = "vocabulary.json"


class LinearScorer(Scorer):
    """Calibrated linear classifier over TF-IDF n-grams.

    Parameters are stored as given; learned state ends in ``_``. ``C`` is the inverse
    regularisation strength, ``cv_folds`` the folds whose held-out scores fit the
    calibration and the decision weights. ``content_features`` adds a few columns that are
    not words (engagement counts, posting hour, links: :mod:`pipeline.model.content`), read
    from each post's ``meta`` (``None``: unknown); never anything about the author.
    """

    family = "linear"
    files = (WEIGHTS_FILE, VOCABULARY_FILE)

    def __init__(
        self,
        task: Task,
        C: float = 4.0,
        class_weight: str | None = "balanced",
        cv_folds: int = 5,
        random_state: int = 0,
        features: dict | None = None,
        content_features: bool = False,
        diacritic_free_copies: bool = False,
    ):
        self.task = task
        self.C = C
        self.class_weight = class_weight
        self.cv_folds = cv_folds
        self.random_state = random_state
        self.features = features or {}
        self.content_features = content_features
        self.diacritic_free_copies = diacritic_free_copies

    def get_params(self) -> dict:
        # The feature settings in full, defaults included, as config.json records them.
        return {**super().get_params(), "features": TextFeatures(**self.features).get_params()}

    def _classifier(self) -> LogisticRegression:
        return LogisticRegression(
            C=self.C, class_weight=self.class_weight, solver="newton-cg", max_iter=1000
        )

    def fit(
        self,
        texts: Sequence[str] | Sequence[Prepared],
        labels: Sequence[str],
        meta: Sequence[dict | None] | None = None,
    ) -> LinearScorer:
        prepared = as_prepared(texts)
        docs = [p.segmented_text for p in prepared]
        y = labels_to_ids(labels, self.task.labels)
        self.classes_ = list(self.task.labels)

        # Each post is learnt in one or more views, each at 1/views of its weight, all views
        # of a post in the same fold:
        # - with an unmarked copy of its text (diacritic_free_copies), so that "may oc cho"
        #   scores like "mày óc chó";
        # - with its metadata and with none (content_features), so that a post scored without
        #   metadata (a text-only file) gets an honest score too: fitted on known metadata
        #   alone, the model flagged every such post.
        text_views = [docs]
        if self.diacritic_free_copies:
            text_views.append(_unmarked_docs(prepared))
        # The vocabulary and IDF are label-free, so they are fitted once on all texts; the
        # classifier is refitted per fold, and its held-out logits fit the calibration and
        # the decision rule.
        self.features_ = TextFeatures(**self.features).fit([d for v in text_views for d in v])
        x_views = [self.features_.transform(v) for v in text_views]
        n = len(docs)
        self.content_ = None
        if self.content_features:
            originals = [p.original for p in prepared]
            self.content_ = ContentFeatures().fit(originals, meta)
            known = self.content_.transform(originals, meta)
            unknown = self.content_.transform(originals, None)
            x_views = [
                sp.hstack([x, block], format="csr") for x in x_views for block in (known, unknown)
            ]
        copies = len(x_views)
        x = sp.vstack(x_views, format="csr") if copies > 1 else x_views[0]
        y = np.tile(y, copies)
        weight = np.full(n * copies, 1.0 / copies) if copies > 1 else None

        # The calibration is fitted on the posts as given (the first view), so only they are
        # scored held out.
        folds = StratifiedKFold(self.cv_folds, shuffle=True, random_state=self.random_state)
        held_out = np.zeros((n, len(self.classes_)))
        for train_idx, test_idx in folds.split(np.zeros(n), y[:n]):
            fit_rows = np.concatenate([train_idx + k * n for k in range(copies)])
            fit_weight = None if weight is None else weight[fit_rows]
            clf = self._classifier().fit(x[fit_rows], y[fit_rows], sample_weight=fit_weight)
            held_out[test_idx] = _as_2d(clf.decision_function(x[test_idx]))
        self.temperature_, self.bias_ = fit_temperature_and_bias(held_out, y[:n])
        self.decision_weights_ = fit_decision_weights(
            calibrated_proba(held_out, self.temperature_, self.bias_), y[:n]
        )

        clf = self._classifier().fit(x, y, sample_weight=weight)
        self.coef_, self.intercept_ = _as_multiclass(clf.coef_, clf.intercept_)
        return self

    def _logits(self, prepared: list[Prepared], meta=None) -> np.ndarray:
        x = self.features_.transform([p.segmented_text for p in prepared])
        return self._logits_of(self._with_content(x, prepared, meta))

    def _with_content(self, x, prepared: list[Prepared], meta):
        """The text features ``x``, and the content features after them when the model has
        them (``meta`` None: unknown for every post)."""
        if self.content_ is None:
            return x
        block = self.content_.transform([p.original for p in prepared], meta)
        return sp.hstack([x, block], format="csr")

    def _logits_of(self, x) -> np.ndarray:
        return np.asarray(x @ self._coef_t()) + self.intercept_

    def _coef_t(self) -> np.ndarray:
        """``coef_.T`` laid out for the sparse product (the same sums as ``coef_.T``)."""
        cached = getattr(self, "_coef_t_cache", None)
        if cached is None or cached[0] is not self.coef_:
            cached = self._coef_t_cache = (self.coef_, np.ascontiguousarray(self.coef_.T))
        return cached[1]

    def _directions(self) -> np.ndarray:
        """Each label's weights against the mean of all labels, on the calibrated scale."""
        key = (self.coef_, self.temperature_)
        cached = getattr(self, "_directions_cache", None)
        if cached is None or cached[0][0] is not key[0] or cached[0][1] != key[1]:
            directions = (self.coef_ - self.coef_.mean(axis=0)) / self.temperature_
            cached = self._directions_cache = (key, directions)
        return cached[1]

    def predict_proba(
        self, texts: Sequence[str] | Sequence[Prepared], meta: Sequence[dict | None] | None = None
    ) -> np.ndarray:
        prepared = as_prepared(texts)
        if not prepared:
            return np.zeros((0, len(self.classes_)))
        return calibrated_proba(self._logits(prepared, meta), self.temperature_, self.bias_)

    def explain(
        self,
        texts: Sequence[str] | Sequence[Prepared],
        top_k: int = 5,
        proba: np.ndarray | None = None,
        meta: Sequence[dict | None] | None = None,
    ) -> list[list[Word]]:
        """Words that pushed each post towards its most likely risky label, strongest first.

        A word's weight is its share of that label's calibrated log-odds against the
        average label; only words with a positive push are returned. ``proba`` saves
        recomputing probabilities the caller already has (else ``meta`` goes into them).
        Content features push scores but are no words of the text, so they are never
        listed here.
        """
        prepared = as_prepared(texts)
        if proba is None:
            return self.predict_and_explain(prepared, top_k, meta)[1]
        proba = np.asarray(proba)
        if len(proba) != len(prepared):
            raise ValueError(f"{len(prepared)} texts but {len(proba)} rows of proba")
        words: list[list[Word]] = []
        for lo in range(0, len(prepared), CHUNK_DOCS):
            chunk = prepared[lo : lo + CHUNK_DOCS]
            enc = self.features_.encode([p.segmented_text for p in chunk])
            words += self._explain_encoded(chunk, enc, proba[lo : lo + CHUNK_DOCS], top_k)
        return words

    def predict_and_explain(
        self,
        texts: Sequence[str] | Sequence[Prepared],
        top_k: int = 5,
        meta: Sequence[dict | None] | None = None,
    ) -> tuple[np.ndarray, list[list[Word]]]:
        """``predict_proba`` and ``explain`` from one pass over the features."""
        prepared = as_prepared(texts)
        probas = [np.zeros((0, len(self.classes_)))]
        words: list[list[Word]] = []
        for lo in range(0, len(prepared), CHUNK_DOCS):
            chunk = prepared[lo : lo + CHUNK_DOCS]
            enc = self.features_.encode([p.segmented_text for p in chunk])
            chunk_meta = None if meta is None else meta[lo : lo + CHUNK_DOCS]
            x = self._with_content(enc.x, chunk, chunk_meta)
            proba = calibrated_proba(self._logits_of(x), self.temperature_, self.bias_)
            probas.append(proba)
            words += self._explain_encoded(chunk, enc, proba, top_k)
        return np.concatenate(probas), words

    def _explain_encoded(
        self, prepared: list[Prepared], enc: Encoded, proba: np.ndarray, top_k: int
    ) -> list[list[Word]]:
        if not prepared:
            return []
        risky = np.array([self.classes_.index(r) for r in self.task.risk_labels])
        target = risky[np.argmax(proba[:, risky], axis=1)]
        text_columns = self._directions()[:, : self.features_.n_features_]
        parts = self.features_.word_parts(enc, np.ascontiguousarray(text_columns), target)
        return top_words_batch(prepared, parts, enc.offsets, top_k)

    def save(self, directory: Path) -> dict:
        """Write the weights and vocabulary; return the config fields this family owns."""
        directory = Path(directory)
        arrays, vocab = self.features_.to_state()
        if self.content_ is not None:
            vocab = {**vocab, "content": self.content_.to_state()}
        arrays = {
            **arrays,
            "coef": self.coef_,
            "intercept": self.intercept_,
            "bias": self.bias_,
            "decision_weights": self.decision_weights_,
        }
        save_file({k: np.ascontiguousarray(v) for k, v in arrays.items()}, directory / WEIGHTS_FILE)
        (directory / VOCABULARY_FILE).write_text(
            json.dumps(vocab, ensure_ascii=False, separators=(",", ":")), encoding="utf-8"
        )
        return {
            "family": self.family,
            "hyperparameters": self.get_params(),
            "calibration": {"method": "temperature+bias", "temperature": self.temperature_},
            **PREPROCESSING,
        }

    @classmethod
    def load(cls, directory: Path, config: dict, task: Task) -> LinearScorer:
        directory = Path(directory)
        params = dict(config["hyperparameters"])
        feature_params = params.pop("features")
        self = cls(task, features=feature_params, **params)
        arrays = load_file(directory / WEIGHTS_FILE)
        vocab = json.loads((directory / VOCABULARY_FILE).read_text(encoding="utf-8"))
        self.features_ = TextFeatures.from_state(feature_params, arrays, vocab)
        self.content_ = None
        if self.content_features:
            if "content" not in vocab:
                raise ValueError("content_features is on but vocabulary.json has no 'content'")
            self.content_ = ContentFeatures.from_state(vocab["content"])
        self.classes_ = list(task.labels)
        self.coef_, self.intercept_ = arrays["coef"], arrays["intercept"]
        self.bias_, self.decision_weights_ = arrays["bias"], arrays["decision_weights"]
        self.temperature_ = float(config["calibration"]["temperature"])
        n_content = 0 if self.content_ is None else self.content_.n_features_
        expected = (len(self.classes_), self.features_.n_features_ + n_content)
        if self.coef_.shape != expected:
            raise ValueError(f"coef has shape {self.coef_.shape}, vocabulary implies {expected}")
        return self


def _unmarked_docs(prepared: list[Prepared]) -> list[str]:
    """The segmented text of each post typed without marks (prepared afresh, since the
    segmenter may cut unmarked words differently); a post that has none is its own copy."""
    unmarked = [without_diacritics(p.original) for p in prepared]
    changed = [i for i, p in enumerate(prepared) if unmarked[i] != p.original]
    docs = [p.segmented_text for p in prepared]
    for i, p in zip(changed, prepare([unmarked[i] for i in changed]), strict=True):
        docs[i] = p.segmented_text
    return docs


def _as_2d(decision: np.ndarray) -> np.ndarray:
    """Binary scikit-learn models give one logit column; make it two (0, z) like softmax wants."""
    return np.column_stack([np.zeros_like(decision), decision]) if decision.ndim == 1 else decision


def _as_multiclass(coef: np.ndarray, intercept: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if coef.shape[0] == 1:
        coef = np.vstack([np.zeros_like(coef), coef])
        intercept = np.concatenate([np.zeros_like(intercept), intercept])
    return coef.astype(np.float64), intercept.astype(np.float64)

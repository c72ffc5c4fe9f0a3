"""TextFeatures: the fast batch encoder against scikit-learn, bit for bit."""

from __future__ import annotations

import csv
import pickle
from collections import Counter
from functools import cache

import numpy as np
import pytest
import scipy.sparse as sp

import pipeline.model.tfidf as features_module
from pipeline.model.directory import load_model
from pipeline.model.tfidf import TextFeatures
from pipeline.text.prepare import Prepared, prepare
from tests.conftest import BUNDLED_MODELS, require_corpora

N_VIHSD = 2000
AWKWARD = [
    "",
    "   ",
    "a",
    "A  b\tc\n  d\u3000e",
    "ha ha ha ha ha",
    "ΟΔΟΣ Σ ΌΣΟΣ",  # final sigma lowercases by context
    "İstanbul ǅ ß ﬁ",
    "mày ngu_như bò :))) 😡😡",
    "x " * 400,
    "lò_xo_thụt_thò_ra_vào_mãi_không_thôi",
]


@cache
def vihsd_prepared(n: int = N_VIHSD) -> tuple[Prepared, ...]:
    """The first ``n`` ViHSD train texts, prepared (shared by the test modules)."""
    path = require_corpora() / "vihsd" / "train.csv"
    with open(path, encoding="utf-8", newline="") as f:
        texts = [r["free_text"] for r in csv.DictReader(f)][:n]
    return tuple(prepare(texts))


@cache
def bundled(task: str):
    """The task's newest bundled linear model (current or not: the hostile task's current
    model is an ensemble), on which the fast paths are checked against scikit-learn."""
    versions = sorted(
        (int(d.name.split("-")[1]), d) for d in (BUNDLED_MODELS / task).glob("linear-*")
    )
    return load_model(versions[-1][1])


def sklearn_transform(features: TextFeatures, docs) -> sp.csr_matrix:
    """What TextFeatures.transform was: scikit-learn's two vectorisers, hstacked."""
    return sp.hstack([features.word_.transform(docs), features.char_.transform(docs)], format="csr")


def reference_word_parts(features: TextFeatures, segmented: str, row, weights) -> np.ndarray:
    """The per-word split written straightforwardly, one post at a time: every occurrence of
    a feature gets an equal share of its scikit-learn TF-IDF value (``row``: the post's row
    of ``sklearn_transform``); a word n-gram's share goes 1/n to each of its words."""
    value = dict(zip(row.indices.tolist(), row.data.tolist(), strict=True))
    words = segmented.lower().split()
    word_vocab, char_vocab = features.word_.vocabulary_, features.char_.vocabulary_
    char_analyzer = features.char_.build_analyzer()
    hits = []  # (feature, first word, n words)
    lo, hi = features.word_ngrams
    for n in range(lo, hi + 1):
        for i in range(len(words) - n + 1):
            j = word_vocab.get(" ".join(words[i : i + n]))
            if j is not None:
                hits.append((j, i, n))
    for i, w in enumerate(words):
        for gram in char_analyzer(w):
            j = char_vocab.get(gram)
            if j is not None:
                hits.append((features.n_word_features_ + j, i, 1))
    count = Counter(j for j, _, _ in hits)
    parts = np.zeros(len(words))
    for j, i, n in hits:
        parts[i : i + n] += value[j] / count[j] * weights[j] / n
    return parts


def assert_same_matrix(got: sp.csr_matrix, want: sp.csr_matrix) -> None:
    assert got.shape == want.shape
    np.testing.assert_array_equal(got.indptr, want.indptr)
    np.testing.assert_array_equal(got.indices, want.indices)
    np.testing.assert_array_equal(got.data, want.data)  # bit for bit, not approximately


@pytest.fixture(scope="module")
def vihsd_docs() -> list[str]:
    return AWKWARD + [p.segmented_text for p in vihsd_prepared()]


@pytest.mark.parametrize("task", ["hostile", "false"])
def test_transform_equals_scikit_learn_on_real_texts(task, vihsd_docs):
    features = bundled(task).features_
    assert_same_matrix(features.transform(vihsd_docs), sklearn_transform(features, vihsd_docs))
    # again, with every word cached now, and in uneven batches
    x = sp.vstack(
        [features.transform(vihsd_docs[i : i + 333]) for i in range(0, len(vihsd_docs), 333)]
    )
    assert_same_matrix(x.tocsr(), sklearn_transform(features, vihsd_docs))


@pytest.mark.parametrize("task", ["hostile", "false"])
def test_word_parts_equal_the_per_word_reference(task, vihsd_docs):
    features = bundled(task).features_
    docs = vihsd_docs[:600]
    coef = bundled(task).coef_[:, : features.n_features_]  # the words' columns only
    weights = np.ascontiguousarray(coef[1:] - coef[:1].mean(axis=0))
    rows = np.arange(len(docs)) % len(weights)
    enc = features.encode(docs)
    parts = features.word_parts(enc, weights, rows)
    x = sklearn_transform(features, docs)
    for d, doc in enumerate(docs):
        want = reference_word_parts(features, doc, x[d], weights[rows[d]])
        got = parts[enc.offsets[d] : enc.offsets[d + 1]]
        np.testing.assert_array_equal(got, want)  # same sums in the same order
        np.testing.assert_allclose(got.sum(), x[d] @ weights[rows[d]], rtol=0, atol=1e-12)
    one = features.word_contributions(docs[20], weights[0])
    np.testing.assert_array_equal(one, reference_word_parts(features, docs[20], x[20], weights[0]))


def test_a_small_cache_is_cleared_and_gives_the_same_rows(monkeypatch, vihsd_docs):
    monkeypatch.setattr(features_module, "CACHE_MAX_WORDS", 300)
    state = bundled("hostile").features_
    features = TextFeatures.from_state(state.get_params(), *state.to_state())
    docs = vihsd_docs[:800]
    x = sp.vstack([features.transform(docs[i : i + 40]) for i in range(0, len(docs), 40)])
    assert_same_matrix(x.tocsr(), sklearn_transform(features, docs))
    batch_words = max(
        len({w for d in docs[i : i + 40] for w in d.lower().split()}) for i in range(0, 800, 40)
    )
    assert len(features._cache.index) <= 300 + batch_words


@pytest.mark.parametrize(
    "params",
    [
        {"word_ngrams": (1, 3), "char_ngrams": (1, 3), "min_df": 1},
        {"word_ngrams": (2, 3), "char_ngrams": (3, 6), "min_df": 1, "sublinear_tf": False},
        {"word_ngrams": (1, 1), "char_ngrams": (2, 4), "max_word_features": 50},
    ],
)
def test_other_ngram_ranges_equal_scikit_learn(params, vihsd_docs):
    features = TextFeatures(**params).fit(vihsd_docs[:400])
    docs = vihsd_docs[:10] + vihsd_docs[400:700]
    x = features.transform(docs)
    assert_same_matrix(x, sklearn_transform(features, docs))
    weights = np.linspace(-1, 1, features.n_features_)
    parts = features.word_parts(features.encode(docs), weights[None, :], np.zeros(len(docs), int))
    enc = features.encode(docs)
    for d in (3, 12, 50):
        want = reference_word_parts(features, docs[d], x[d], weights)
        np.testing.assert_array_equal(parts[enc.offsets[d] : enc.offsets[d + 1]], want)


def test_empty_batches_and_empty_texts():
    features = TextFeatures(min_df=1).fit(["mày ngu quá", "trời đẹp quá"])
    assert features.transform([]).shape == (0, features.n_features_)
    x = features.transform(["", "  ", "mày"])
    assert x.shape == (3, features.n_features_)
    assert x[0].nnz == x[1].nnz == 0 and x[2].nnz > 0
    assert features.word_contributions("", np.ones(features.n_features_)).shape == (0,)
    with pytest.raises(TypeError, match="single str"):
        features.transform("mày ngu")


def test_features_pickle_after_use():
    features = TextFeatures(min_df=1).fit(["mày ngu quá", "trời đẹp quá"])
    before = features.transform(["mày ngu quá đi"])
    again = pickle.loads(pickle.dumps(features))
    assert_same_matrix(again.transform(["mày ngu quá đi"]), before)

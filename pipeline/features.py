"""TF-IDF features over segmented text: word n-grams and character n-grams within words.

Character n-grams are taken inside each segmented word (``char_wb`` over ``lò_xo thụt``),
so every feature belongs to words of the text and a linear score splits exactly into
per-word parts: that is what :meth:`TextFeatures.word_contributions` returns.

Saved as a vocabulary list in JSON plus IDF arrays (no pickle).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

WORD_TOKEN_PATTERN = r"(?u)\S+"  # segmented words, punctuation and emoji all count


class TextFeatures:
    """Fit/transform segmented texts into one sparse TF-IDF matrix.

    >>> f = TextFeatures(min_df=1).fit(["mày ngu quá", "trời đẹp quá"])
    >>> f.transform(["mày ngu"]).shape[0]
    1
    """

    def __init__(
        self,
        word_ngrams: tuple[int, int] = (1, 2),
        char_ngrams: tuple[int, int] = (2, 5),
        min_df: int = 2,
        max_word_features: int | None = 100_000,
        max_char_features: int | None = 200_000,
        sublinear_tf: bool = True,
    ):
        self.word_ngrams = tuple(word_ngrams)
        self.char_ngrams = tuple(char_ngrams)
        self.min_df = min_df
        self.max_word_features = max_word_features
        self.max_char_features = max_char_features
        self.sublinear_tf = sublinear_tf

    def get_params(self) -> dict:
        return {
            "word_ngrams": list(self.word_ngrams),
            "char_ngrams": list(self.char_ngrams),
            "min_df": self.min_df,
            "max_word_features": self.max_word_features,
            "max_char_features": self.max_char_features,
            "sublinear_tf": self.sublinear_tf,
        }

    def _vectorizers(self) -> tuple[TfidfVectorizer, TfidfVectorizer]:
        word = TfidfVectorizer(
            analyzer="word",
            token_pattern=WORD_TOKEN_PATTERN,
            ngram_range=self.word_ngrams,
            lowercase=True,
            min_df=self.min_df,
            max_features=self.max_word_features,
            sublinear_tf=self.sublinear_tf,
            dtype=np.float64,
        )
        char = TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=self.char_ngrams,
            lowercase=True,
            min_df=self.min_df,
            max_features=self.max_char_features,
            sublinear_tf=self.sublinear_tf,
            dtype=np.float64,
        )
        return word, char

    def fit(self, segmented: Sequence[str]) -> TextFeatures:
        _check_batch(segmented)
        self.word_, self.char_ = self._vectorizers()
        self.word_.fit(segmented)
        self.char_.fit(segmented)
        self._index_vocabulary()
        return self

    def _index_vocabulary(self) -> None:
        self.n_word_features_ = len(self.word_.vocabulary_)
        self._char_analyzer = self.char_.build_analyzer()

    @property
    def n_features_(self) -> int:
        return self.n_word_features_ + len(self.char_.vocabulary_)

    def transform(self, segmented: Sequence[str]) -> sp.csr_matrix:
        _check_batch(segmented)
        return sp.hstack(
            [self.word_.transform(segmented), self.char_.transform(segmented)], format="csr"
        )

    def word_contributions(self, segmented: str, weights: np.ndarray) -> np.ndarray:
        """Split ``transform([segmented]) @ weights`` into one part per word of ``segmented``.

        Unigrams count for their word, bigrams half for each of their two words, character
        n-grams for the word they lie in. The parts add up to the whole score.
        """
        words = segmented.lower().split()
        parts = np.zeros(len(words))
        if not words:
            return parts
        word_vocab, char_vocab = self.word_.vocabulary_, self.char_.vocabulary_
        word_idf, char_idf = self.word_.idf_, self.char_.idf_
        n_word = self.n_word_features_
        lo, hi = self.word_ngrams

        word_hits: list[tuple[int, int, int]] = []  # (feature, first word, n words)
        for n in range(lo, hi + 1):
            for i in range(len(words) - n + 1):
                j = word_vocab.get(" ".join(words[i : i + n]))
                if j is not None:
                    word_hits.append((j, i, n))
        char_hits: list[tuple[int, int]] = []  # (feature, word)
        for i, w in enumerate(words):
            for gram in self._char_analyzer(w):
                j = char_vocab.get(gram)
                if j is not None:
                    char_hits.append((j, i))

        # Each feature's value in transform() shared equally by its occurrences.
        word_share = self._per_occurrence([j for j, _, _ in word_hits], word_idf)
        char_share = self._per_occurrence([j for j, _ in char_hits], char_idf)
        for j, i, n in word_hits:
            parts[i : i + n] += word_share[j] * weights[j] / n
        for j, i in char_hits:
            parts[i] += char_share[j] * weights[n_word + j]
        return parts

    def _per_occurrence(self, features: list[int], idf: np.ndarray) -> dict[int, float]:
        if not features:
            return {}
        ids, counts = np.unique(np.asarray(features), return_counts=True)
        tf = 1 + np.log(counts) if self.sublinear_tf else counts.astype(np.float64)
        values = tf * idf[ids]
        values /= np.sqrt(np.sum(values**2))
        return dict(zip(ids.tolist(), (values / counts).tolist(), strict=True))

    def to_state(self) -> tuple[dict[str, np.ndarray], dict]:
        """Arrays (for safetensors) and JSON-able vocabulary."""
        vocab = {
            "word": _terms_in_index_order(self.word_.vocabulary_),
            "char": _terms_in_index_order(self.char_.vocabulary_),
        }
        arrays = {"word_idf": self.word_.idf_, "char_idf": self.char_.idf_}
        return arrays, vocab

    @classmethod
    def from_state(cls, params: dict, arrays: dict[str, np.ndarray], vocab: dict) -> TextFeatures:
        self = cls(**params)
        self.word_, self.char_ = self._vectorizers()
        for vec, terms, idf in (
            (self.word_, vocab["word"], arrays["word_idf"]),
            (self.char_, vocab["char"], arrays["char_idf"]),
        ):
            if len(terms) != len(idf):
                raise ValueError(f"{len(terms)} vocabulary terms but {len(idf)} IDF weights")
            vec.vocabulary_ = {t: i for i, t in enumerate(terms)}
            vec.idf_ = np.asarray(idf, dtype=np.float64)
        self._index_vocabulary()
        return self


def _terms_in_index_order(vocabulary: dict[str, int]) -> list[str]:
    terms = [""] * len(vocabulary)
    for term, i in vocabulary.items():
        terms[i] = term
    return terms


def _check_batch(texts) -> None:
    if isinstance(texts, str):
        raise TypeError("expected a list of segmented texts, got a single str")

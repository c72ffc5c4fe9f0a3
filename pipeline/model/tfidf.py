"""TF-IDF features over segmented text: word n-grams and character n-grams within words.

Character n-grams are taken inside each segmented word (``char_wb`` over ``lò_xo thụt``),
so every feature belongs to words of the text and a linear score splits exactly into
per-word parts: that is what :meth:`TextFeatures.word_contributions` returns.

Saved as a vocabulary list in JSON plus IDF arrays (no pickle).

Fitting uses scikit-learn; scoring does not. scikit-learn's analysers cut a document into
lowercased whitespace-separated words, and every feature is either a run of words or a
character n-gram of one padded word. So :meth:`TextFeatures.encode` looks each distinct word
up once (a bounded per-vocabulary cache keeps its unigram and character n-gram ids), finds
the word n-grams by dictionary lookups, and builds the TF-IDF rows of a whole batch with
numpy, normalised by scikit-learn's own routine: the matrix equals
``TfidfVectorizer.transform`` bit for bit, and the same occurrences split a score per word.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from functools import cached_property
from itertools import chain, repeat

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

WORD_TOKEN_PATTERN = r"(?u)\S+"  # segmented words, punctuation and emoji all count
CACHE_MAX_WORDS = 200_000  # the word cache starts afresh past this many distinct words
CHUNK_DOCS = 8192  # documents encoded together; bounds the memory of one batch


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
        self._idf = np.concatenate([self.word_.idf_, self.char_.idf_]).astype(np.float64)
        self._cache: _WordCache | None = None

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_cache", None)  # holds a lock; rebuilt on first use
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._cache = None

    @property
    def n_features_(self) -> int:
        return self.n_word_features_ + len(self.char_.vocabulary_)

    def transform(self, segmented: Sequence[str]) -> sp.csr_matrix:
        """TF-IDF rows of ``segmented``: word block then character block, each L2-normalised;
        equal, bit for bit, to scikit-learn's two ``TfidfVectorizer.transform`` hstacked."""
        _check_batch(segmented)
        segmented = list(segmented)
        if len(segmented) <= CHUNK_DOCS:
            return self.encode(segmented).x
        chunks = range(0, len(segmented), CHUNK_DOCS)
        return sp.vstack(
            [self.encode(segmented[i : i + CHUNK_DOCS]).x for i in chunks], format="csr"
        )

    def encode(self, segmented: Sequence[str]) -> Encoded:
        """The TF-IDF rows of a batch and where each of their features occurs (see
        :class:`Encoded`); :meth:`word_parts` splits linear scores with it."""
        _check_batch(segmented)
        words_of = [doc.lower().split() for doc in segmented]  # what both analysers see
        n_docs = len(words_of)
        n_words = np.fromiter(map(len, words_of), dtype=np.int64, count=n_docs)
        offsets = np.zeros(n_docs + 1, dtype=np.int64)
        np.cumsum(n_words, out=offsets[1:])
        tokens = list(chain.from_iterable(words_of))
        n_tokens = len(tokens)
        doc_of_word = np.repeat(np.arange(n_docs, dtype=np.int64), n_words)
        words = self._word_cache().lookup(tokens)

        # Occurrences, block by block in the order the parts of a word are summed: word
        # n-grams by n, each at its first word, then character n-grams word by word.
        hit_words, hit_feats, blocks = [], [], []
        lo, hi = self.word_ngrams
        for n in range(max(lo, 1), hi + 1):
            if n == 1:
                ids = words.unigram
            elif n == 2:
                ids = words.bigrams(doc_of_word)
            else:
                ids = self._ngrams(tokens, doc_of_word, n)
            at = np.flatnonzero(ids >= 0)
            hit_words.append(at)
            hit_feats.append(ids[at])
            blocks.append((n, len(at)))
        n_char_hits = int(words.char_len.sum())
        first = np.cumsum(words.char_len) - words.char_len
        gather = np.repeat(words.char_start - first, words.char_len)
        gather += np.arange(n_char_hits)
        hit_words.append(np.repeat(np.arange(n_tokens, dtype=np.int64), words.char_len))
        hit_feats.append(words.pool[gather])
        blocks.append((1, n_char_hits))
        hit_word = np.concatenate(hit_words)
        hit_feat = np.concatenate(hit_feats)

        # Distinct (document, feature) pairs in row-major order: the nonzeros of x.
        n_features = self.n_features_
        keys = (doc_of_word * n_features)[hit_word]
        keys += hit_feat
        sorted_keys, order = _argsort(keys, n_docs * n_features)
        is_new = np.empty(len(keys), dtype=bool)
        is_new[:1] = True
        np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=is_new[1:])
        starts = np.flatnonzero(is_new)
        nz_keys = sorted_keys[starts]
        counts = np.diff(starts, append=len(keys)).astype(np.float64)
        nz_feat = hit_feat[order[starts]]

        # scikit-learn's TfidfTransformer: (1 + log tf) x idf, then its own L2 normaliser per
        # block (rows 2d and 2d+1 of a twice-as-tall matrix are document d's two blocks).
        if self.sublinear_tf:
            data = np.log(counts)
            data += 1.0
        else:
            data = counts.copy()
        data *= self._idf[nz_feat]
        edges = np.arange(2 * n_docs + 1, dtype=np.int64) // 2 * n_features
        edges[1::2] += self.n_word_features_
        indptr = np.searchsorted(nz_keys, edges)
        indices = nz_feat.astype(np.int32)
        halves = sp.csr_matrix((data, indices, indptr), shape=(2 * n_docs, n_features))
        if n_docs:  # (scikit-learn refuses an empty batch; here it gives no rows)
            data = normalize(halves, norm="l2", copy=False).data
        x = sp.csr_matrix((data, indices, indptr[0::2]), shape=(n_docs, n_features))
        return Encoded(x, counts, offsets, hit_word, hit_feat, blocks, order, is_new)

    def _ngrams(self, tokens: list[str], doc_of_word: np.ndarray, n: int) -> np.ndarray:
        """Feature id (-1: none) of the n-gram starting at each word."""
        ids = np.full(len(tokens), -1, dtype=np.int64)
        if len(tokens) >= n:
            grams = [" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
            get = self.word_.vocabulary_.get
            found = np.fromiter(map(get, grams, repeat(-1)), np.int64, len(grams))
            same_doc = doc_of_word[: len(grams)] == doc_of_word[n - 1 :]
            ids[: len(grams)] = np.where(same_doc, found, -1)
        return ids

    def word_parts(self, enc: Encoded, weights: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Split each ``enc.x[d] @ weights[rows[d]]`` into one part per word of document d;
        the parts of all words, document after document (``enc.offsets`` cut them).

        Unigrams count for their word, n-grams of n words 1/n for each of them, character
        n-grams for the word they lie in: each feature's value is shared equally by its
        occurrences, and the parts add up to the whole score.
        """
        weights = np.asarray(weights, dtype=np.float64)
        n_features = self.n_features_
        share = enc.x.data / enc.counts  # each feature's value shared by its occurrences
        row_of_word = np.repeat(np.asarray(rows, dtype=np.int64) * n_features, np.diff(enc.offsets))
        chosen = row_of_word[enc.hit_word]
        chosen += enc.hit_feat
        parts = share[enc.hit_nz]
        parts *= weights.reshape(-1)[chosen]
        targets, values, at = [], [], 0
        for n, size in enc.blocks:
            part, word = parts[at : at + size], enc.hit_word[at : at + size]
            at += size
            if n > 1:  # in turn to each of its words, as the per-word loop added them
                part = np.repeat(part / n, n)
                word = (word[:, None] + np.arange(n)).ravel()
            targets.append(word)
            values.append(part)
        n_tokens = int(enc.offsets[-1])
        if not n_tokens:
            return np.zeros(0)
        # bincount adds in input order: the same sums, in the same order, as word by word
        return np.bincount(
            np.concatenate(targets), weights=np.concatenate(values), minlength=n_tokens
        )

    def word_contributions(self, segmented: str, weights: np.ndarray) -> np.ndarray:
        """Split ``transform([segmented]) @ weights`` into one part per word of ``segmented``.

        Unigrams count for their word, bigrams half for each of their two words, character
        n-grams for the word they lie in. The parts add up to the whole score.
        """
        enc = self.encode([segmented])
        return self.word_parts(enc, np.asarray(weights)[None, :], np.zeros(1, dtype=np.int64))

    def _word_cache(self) -> _WordCache:
        cache = getattr(self, "_cache", None)
        if cache is None:
            cache = self._cache = _WordCache(self, CACHE_MAX_WORDS)
        return cache

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


class Encoded:
    """A batch's TF-IDF rows ``x`` plus every occurrence of their features.

    Words are numbered across the batch, document after document: document d has words
    ``offsets[d]:offsets[d + 1]``. Occurrence h is of feature ``hit_feat[h]`` (a column of
    ``x``) starting at word ``hit_word[h]``, and counts towards nonzero ``hit_nz[h]`` of
    ``x``; ``counts`` holds how many occurrences each nonzero has. ``blocks`` lists (n words,
    number of occurrences) of each run of occurrences: word n-grams by n, then the
    character n-grams.
    """

    def __init__(self, x, counts, offsets, hit_word, hit_feat, blocks, order, is_new):
        self.x, self.counts, self.offsets = x, counts, offsets
        self.hit_word, self.hit_feat, self.blocks = hit_word, hit_feat, blocks
        self._order, self._is_new = order, is_new  # occurrences sorted by nonzero

    @cached_property
    def hit_nz(self) -> np.ndarray:
        hit_nz = np.empty(len(self._order), dtype=np.int64)
        hit_nz[self._order] = np.cumsum(self._is_new) - 1
        return hit_nz


class _Words:
    """What the cache knows of the words of a batch, one entry per word."""

    def __init__(self, cache: _WordCache, types: np.ndarray):
        self.unigram = cache.unigram[types]
        self.code = cache.code[types]
        self.char_start = cache.char_start[types]
        self.char_len = cache.char_len[types]
        self.pool = cache.pool
        self.pair_keys, self.pair_ids, self.n_codes = cache.pair_keys, cache.pair_ids, cache.n_codes

    def bigrams(self, doc_of_word: np.ndarray) -> np.ndarray:
        """Feature id (-1: none) of the bigram starting at each word."""
        out = np.full(len(self.code), -1, dtype=np.int64)
        left, right = self.code[:-1], self.code[1:]
        at = np.flatnonzero((left >= 0) & (right >= 0) & (doc_of_word[:-1] == doc_of_word[1:]))
        if not len(at) or not len(self.pair_keys):
            return out
        wanted = left[at].astype(np.int64) * self.n_codes + right[at]
        found = np.minimum(np.searchsorted(self.pair_keys, wanted), len(self.pair_keys) - 1)
        hit = self.pair_keys[found] == wanted
        out[at[hit]] = self.pair_ids[found[hit]]
        return out


class _WordCache:
    """Per vocabulary: lowercased word → its unigram id (-1: none), its code among the words
    of vocabulary bigrams (-1: none), and the ids of its character n-grams in the
    vocabulary, in the analyser's order. Cleared once it holds more than ``max_words``
    words, so memory stays flat however many posts go through."""

    def __init__(self, features: TextFeatures, max_words: int):
        lo, hi = features.word_ngrams
        self.word_vocab = features.word_.vocabulary_ if lo <= 1 else {}
        self.char_vocab = features.char_.vocabulary_
        self.char_offset = features.n_word_features_
        self.char_ngrams = tuple(features.char_ngrams)
        self.max_words = max_words
        self.lock = threading.Lock()
        # Bigram "a b" ↔ key code(a) * n_codes + code(b), codes numbering the words of all
        # bigrams: a batch finds its bigrams with one sorted search, building no strings.
        vocab = features.word_.vocabulary_ if lo <= 2 <= hi else {}
        bigrams = [term for term in vocab if term.count(" ") == 1]
        words = " ".join(bigrams).split(" ") if bigrams else []  # first, second, first, ...
        self.codes = {w: i for i, w in enumerate(dict.fromkeys(words))}
        self.n_codes = len(self.codes)
        pairs = np.fromiter(map(self.codes.__getitem__, words), np.int64, len(words))
        keys = pairs[0::2] * self.n_codes + pairs[1::2]
        order = np.argsort(keys)
        self.pair_keys = keys[order]
        self.pair_ids = np.fromiter(map(vocab.__getitem__, bigrams), np.int64, len(bigrams))[order]
        self.clear()

    def clear(self) -> None:
        self.index: dict[str, int] = {}
        self.unigram = np.empty(0, dtype=np.int32)
        self.code = np.empty(0, dtype=np.int32)
        self.char_start = np.empty(0, dtype=np.int64)
        self.char_len = np.empty(0, dtype=np.int32)
        self.pool = np.empty(0, dtype=np.int32)  # character feature ids, word after word
        self.pool_size = 0

    @property
    def nbytes(self) -> int:
        """Memory of the arrays (the dictionaries of words come on top)."""
        arrays = (self.unigram, self.code, self.char_start, self.char_len, self.pool)
        return sum(a.nbytes for a in (*arrays, self.pair_keys, self.pair_ids))

    def lookup(self, tokens: list[str]) -> _Words:
        with self.lock:  # arrays handed out stay valid: growth and clearing make new ones
            if len(self.index) > self.max_words:
                self.clear()
            get = self.index.get
            types = np.fromiter(map(get, tokens, repeat(-1)), np.int64, len(tokens))
            missing = np.flatnonzero(types < 0)
            if len(missing):
                words = [tokens[i] for i in missing.tolist()]
                self._add(list(dict.fromkeys(words)))
                types[missing] = np.fromiter(map(self.index.__getitem__, words), np.int64)
            return _Words(self, types)

    def _add(self, words: list[str]) -> None:
        lo, hi = self.char_ngrams
        grams: list[str] = []
        per_word = np.empty(len(words), dtype=np.int64)
        for k, w in enumerate(words):
            before = len(grams)
            _char_wb_ngrams(w, lo, hi, grams)
            per_word[k] = len(grams) - before
        ids = np.fromiter(map(self.char_vocab.get, grams, repeat(-1)), np.int64, len(grams))
        known = ids >= 0
        n_known = np.bincount(
            np.repeat(np.arange(len(words)), per_word)[known], minlength=len(words)
        )
        unigram = np.fromiter(map(self.word_vocab.get, words, repeat(-1)), np.int64, len(words))
        code = np.fromiter(map(self.codes.get, words, repeat(-1)), np.int64, len(words))
        n_old = len(self.index)
        self.unigram = _append(self.unigram, n_old, unigram)
        self.code = _append(self.code, n_old, code)
        self.char_start = _append(
            self.char_start, n_old, self.pool_size + np.cumsum(n_known) - n_known
        )
        self.char_len = _append(self.char_len, n_old, n_known)
        self.pool = _append(self.pool, self.pool_size, ids[known] + self.char_offset)
        self.pool_size += int(known.sum())
        self.index.update(zip(words, range(n_old, n_old + len(words)), strict=True))


def _append(array: np.ndarray, used: int, new: np.ndarray) -> np.ndarray:
    """``array[:used]`` followed by ``new``; room grows by doubling into a new array, so
    arrays already handed out keep their contents."""
    need = used + len(new)
    if need > len(array):
        grown = np.empty(max(need, 2 * len(array), 1024), dtype=array.dtype)
        grown[:used] = array[:used]
        array = grown
    array[used:need] = new
    return array


def _char_wb_ngrams(word: str, lo: int, hi: int, out: list[str]) -> None:
    """scikit-learn's ``char_wb`` n-grams of one word (no whitespace), appended to ``out``."""
    w = " " + word + " "
    size = len(w)
    for n in range(lo, hi + 1):
        if size <= n:  # a short word counts once, whole
            out.append(w)
            break
        out.extend([w[i : i + n] for i in range(size - n + 1)])


def _argsort(keys: np.ndarray, bound: int) -> tuple[np.ndarray, np.ndarray]:
    """``keys`` sorted and the order that sorts them, for non-negative keys below ``bound``.
    Packs each key with its position into one int64 when they fit: a plain sort is several
    times quicker than an argsort."""
    shift = max(len(keys) - 1, 1).bit_length()
    if bound <= 1 << (63 - shift):
        packed = (keys << shift) | np.arange(len(keys), dtype=np.int64)
        packed.sort()
        return packed >> shift, packed & ((1 << shift) - 1)
    order = np.argsort(keys, kind="stable")
    return keys[order], order

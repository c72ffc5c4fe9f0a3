"""Near-duplicate text: one implementation for narrative groups and rebuttal suggestions.

Texts are compared after :func:`fold` (normalised, lower-cased, diacritics and placeholders
removed), so tone placement, teencode and missing diacritics do not split a narrative.
Similarity is the Jaccard index of character 5-gram shingles, estimated by MinHash
signatures; locality-sensitive hashing (``BANDS`` bands of ``ROWS`` rows) finds candidates
without comparing every pair: two texts share a band key with probability
``1 - (1 - J**ROWS)**BANDS``, 0.64 at ``J = NEAR_DUPLICATE``. Rebuttal
suggestions (:func:`most_similar`) compare a post with every earlier one instead, down to
the lower ``SUGGEST_MIN``, to reach rewordings too.

>>> a = signature("Uống nước chanh nóng chữa khỏi ung thư, chia sẻ ngay!")
>>> b = signature("uong nuoc chanh nong chua khoi ung thu, chia se ngay")
>>> jaccard(a, b) > NEAR_DUPLICATE
True
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import zlib
from collections.abc import Iterable, Mapping
from typing import TypeVar

import numpy as np

from .normalise import normalise

SHINGLE = 5
NUM_PERM = 64
BANDS = 16
ROWS = NUM_PERM // BANDS
NEAR_DUPLICATE = 0.5

# Universal hashing (a * x + b) mod p with p = 2**31 - 1: a * x stays below 2**62, so uint64
# arithmetic never overflows.
_PRIME = np.uint64((1 << 31) - 1)
_rng = np.random.default_rng(20201)  # fixed: signatures must be comparable across runs
_A = _rng.integers(1, (1 << 31) - 1, NUM_PERM, dtype=np.uint64)
_B = _rng.integers(0, (1 << 31) - 1, NUM_PERM, dtype=np.uint64)
_PLACEHOLDER = re.compile(r"\bxx(?:url|email|phone|user)\b")
_NOT_WORD = re.compile(r"[^a-z0-9]+")


def fold(text: str) -> str:
    """The comparison key of a text.

    >>> fold("Hoà bình, KO có j đâuuuu 😀 https://x.vn")
    'hoa binh khong co gi dau'
    """
    lowered = _PLACEHOLDER.sub(" ", normalise(text).lower()).replace("đ", "d")
    plain = "".join(
        c for c in unicodedata.normalize("NFD", lowered) if not unicodedata.combining(c)
    )
    return _NOT_WORD.sub(" ", plain).strip()


def shingles(text: str) -> np.ndarray:
    """Distinct hashed character 5-grams of the folded text (uint64)."""
    folded = fold(text)
    if len(folded) < SHINGLE:
        grams = {folded} if folded else set()
    else:
        grams = {folded[i : i + SHINGLE] for i in range(len(folded) - SHINGLE + 1)}
    return np.fromiter((zlib.crc32(g.encode()) for g in grams), dtype=np.uint64, count=len(grams))


def signature(text: str) -> np.ndarray:
    """MinHash signature (``NUM_PERM`` uint64 values); all-max for a text with no shingles."""
    hashed = shingles(text)
    if hashed.size == 0:
        return np.full(NUM_PERM, np.iinfo(np.uint64).max, dtype=np.uint64)
    x = (hashed % _PRIME)[None, :]
    return ((_A[:, None] * x + _B[:, None]) % _PRIME).min(axis=1)


def band_keys(sig: np.ndarray) -> list[int]:
    """One signed 64-bit key per band: texts sharing a key are near-duplicate candidates."""
    keys = []
    for band in range(BANDS):
        rows = sig[band * ROWS : (band + 1) * ROWS].tobytes()
        digest = hashlib.blake2b(bytes([band]) + rows, digest_size=8).digest()
        keys.append(int.from_bytes(digest, "big", signed=True))
    return keys


def jaccard(sig_a: np.ndarray, sig_b: np.ndarray) -> float:
    """Estimated Jaccard index of two texts' shingle sets."""
    return float(np.mean(sig_a == sig_b))


def shingle_jaccard(a: str, b: str) -> float:
    """Exact Jaccard index of two texts' shingle sets (for tests and small sets)."""
    sa, sb = set(shingles(a).tolist()), set(shingles(b).tolist())
    return len(sa & sb) / len(sa | sb) if sa | sb else 1.0


# Rebuttal suggestions ------------------------------------------------------------------------

# The lowest estimated Jaccard index at which an earlier narrative is suggested for rebuttal
# reuse. Measured on tests/data/paraphrase_pairs.jsonl (75 hand-written pairs: 44 of the same
# claim; 21 of the same topic but another claim, among them corrections that quote the hoax,
# a scam and the warning about it, one template naming another city or remedy; 10 unrelated):
#     threshold  0.20   0.25   0.30   0.40   0.45   (0.50: the grouping threshold)
#     precision  0.846  0.894  0.889  0.925  0.973
#     recall     1.000  0.955  0.909  0.841  0.818
# Suggestions exist for rewordings, which grouping misses (its recall on rewordings is 7 of
# 18), and they are a short reading list for a person, ranked and shown with the figure, at
# most five: a missed reusable rebuttal costs a rewrite, a weak suggestion a glance. So 0.25,
# the highest recall before precision falls below 0.85 (the wrong pairs left are same-topic
# posts: a correction quoting its hoax, one template naming another city). Reproduce:
#     python benchmarks/similarity_precision.py
# Suggestions compare every candidate's signature (no band key needed), so they also reach
# near-duplicates that missed the bands.
SUGGEST_MIN = 0.25

_EMPTY = np.iinfo(np.uint64).max
K = TypeVar("K")  # candidate keys: ids or strings, orderable for ties


def most_similar(
    query: str | np.ndarray,
    candidates: Iterable[tuple[K, str | np.ndarray]] | Mapping[K, str | np.ndarray],
    k: int = 5,
    minimum: float = SUGGEST_MIN,
) -> list[tuple[K, float]]:
    """The ``k`` candidates most similar to ``query``, as ``(key, similarity)``, best first.

    ``query`` is a text or a signature from :func:`signature`; ``candidates`` is an iterable of
    ``(key, text or signature)`` pairs (a mapping is read through its items). The similarity
    is the MinHash estimate, exactly what :func:`jaccard` returns and the grouping compares
    with ``NEAR_DUPLICATE``, so one scale serves both uses. Only candidates with similarity
    ``>= minimum`` are returned; ties are ordered by key, so keys must be orderable (ids,
    strings). A query with no shingles (empty after :func:`fold`) matches nothing.

    All candidates' signatures are compared in one numpy operation: about 8 ms for 10,000 on
    two cores, most of it stacking them (benchmarks/similarity_precision.py); texts are turned
    into signatures first (about 0.15 ms each). Nothing is re-ranked by the exact
    :func:`shingle_jaccard`: on the pair set it changed neither precision nor recall at
    ``SUGGEST_MIN``, stored candidates come as signatures, and one scale keeps the figure
    shown to the reviewer the one the grouping used.

    >>> posts = [
    ...     (2, "Giá xăng RON95 giảm 320 đồng mỗi lít từ chiều nay"),
    ...     (1, "Uống nước chanh nóng mỗi sáng chữa khỏi ung thư, chia sẻ ngay"),
    ... ]
    >>> most_similar("uong nuoc chanh nong moi sang chua khoi ung thu", posts)
    [(1, 0.828125)]
    """
    if isinstance(candidates, (str, bytes, np.ndarray)):
        raise TypeError(
            f"most_similar: expected an iterable of (key, text or signature) pairs as "
            f"candidates, found a single {type(candidates).__name__}; wrap it: [(key, value)]"
        )
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
        raise ValueError(f"most_similar: expected k to be an integer >= 0, found {k!r}")
    if isinstance(candidates, Mapping):
        candidates = candidates.items()
    wanted = _as_signature(query)
    keys, values = _unzip(list(candidates))
    if not keys:
        return []
    matrix = _signature_matrix(keys, values)
    if k == 0 or wanted[0] == _EMPTY:
        return []
    # Counts of equal positions, in [0, NUM_PERM]; count / NUM_PERM == jaccard() exactly.
    # A non-empty query holds no _EMPTY value, so a candidate without shingles scores 0.
    counts = (matrix == wanted).sum(axis=1)
    sims = counts / NUM_PERM
    chosen = np.flatnonzero(sims >= minimum)
    if chosen.size > k:  # keep everything tied with the k-th best, then order exactly
        kth = np.partition(counts[chosen], chosen.size - k)[chosen.size - k]
        chosen = chosen[counts[chosen] >= kth]
    order = sorted(chosen.tolist(), key=lambda i: (-counts[i], keys[i]))[:k]
    return [(keys[i], float(sims[i])) for i in order]


def _unzip(pairs: list) -> tuple[list, list]:
    """Keys and values of ``(key, value)`` pairs; a TypeError naming the first that is not one."""
    try:
        if any(isinstance(pair, (str, bytes)) for pair in pairs):
            raise TypeError
        keys, values = zip(*pairs, strict=True) if pairs else ((), ())
    except (TypeError, ValueError):
        for i, pair in enumerate(pairs):
            if isinstance(pair, (str, bytes)) or not hasattr(pair, "__len__") or len(pair) != 2:
                raise TypeError(
                    f"most_similar: candidate {i} should be a (key, text or signature) pair, "
                    f"found {type(pair).__name__}; pass e.g. [(item_id, signature), ...]"
                ) from None
        raise
    return list(keys), list(values)


def _signature_matrix(keys: list, values: list) -> np.ndarray:
    """One row per candidate, texts turned into signatures. Signatures alone are stacked in
    one call (checking each in Python first would take longer than comparing them)."""
    try:
        matrix = np.array(values)
    except ValueError:  # ragged shapes, or texts among the signatures
        matrix = None
    if matrix is not None and matrix.shape == (len(values), NUM_PERM) and matrix.dtype == np.uint64:
        return matrix
    values = [_as_signature(value, key) for key, value in zip(keys, values, strict=True)]
    return np.array(values)


_QUERY = object()


def _as_signature(value: object, key: object = _QUERY) -> np.ndarray:
    what = "query" if key is _QUERY else f"candidate {key!r}"
    if isinstance(value, str):
        return signature(value)
    if isinstance(value, np.ndarray):
        if value.shape != (NUM_PERM,) or value.dtype != np.uint64:
            raise ValueError(
                f"most_similar: {what}: expected a signature of {NUM_PERM} uint64 values, found "
                f"shape {value.shape} dtype {value.dtype}; make one with signature(text), or "
                f"read a stored one with np.frombuffer(data, dtype=np.uint64)"
            )
        return value
    raise TypeError(
        f"most_similar: {what}: expected a text or a signature (numpy array), found "
        f"{type(value).__name__}"
    )

"""Near-duplicate text: one implementation for narrative groups and rebuttal suggestions.

Texts are compared after :func:`fold` (normalised, lower-cased, diacritics and placeholders
removed), so tone placement, teencode and missing diacritics do not split a narrative.
Similarity is the Jaccard index of character 5-gram shingles, estimated by MinHash
signatures; locality-sensitive hashing (``BANDS`` bands of ``ROWS`` rows) finds candidates
without comparing every pair: two texts share a band key with probability
``1 - (1 - J**ROWS)**BANDS``, about one half at ``J = NEAR_DUPLICATE``.

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

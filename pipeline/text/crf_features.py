"""A faster stand-in for underthesea's word segmentation, giving exactly the same words.

Why it exists: speed. ``underthesea.word_tokenize`` spends about three quarters of its
time in ``underthesea_core.CRFFeaturizer.process``, which rebuilds the 43 feature strings
of every token of every sentence from scratch. :class:`Featurizer` builds the *same
strings, in the same order*, in pure Python, several times faster: what depends on one
token alone (23 of the 43 strings, ``T[-1]=…``, ``T[0].lower=…``, ``T[1].is_in_dict=…``)
is built once per distinct token and kept in a bounded cache, and only the strings that
span two or three tokens are built per sentence. :func:`segment_tokens` runs underthesea's
own regex tokenizer (cached per whitespace-separated chunk), these features and
underthesea's own loaded ``CRFTagger``, so its words are those of
``underthesea.word_tokenize(text, use_token_normalize=False)``; ``tests/test_crf_features.py``
checks both against underthesea on the reference corpora.

Semantics copied from the Rust featurizer (``underthesea_core/src/featurizers.rs``):

* a template reaching before the first token gives ``<template>=BOS``, after the last
  one ``<template>=EOS``; a span template checks its first offset, then its last;
* a span ``T[a,b]`` joins tokens ``a..b`` with single spaces;
* ``lower`` is Rust's ``to_lowercase``; ``is_in_dict`` looks the lowercased (joined) text
  up in the model's dictionary; ``isdigit`` is "parses as an i32" (``+5`` and ``-5`` yes,
  ``²`` and ``2147483648`` no); ``istitle`` is "the first character of every part split
  at ``' '`` equals its uppercase", so ``2`` and ``:)`` are titles.

Exactness, where Python and Rust could differ:

* Case mapping follows the Unicode version of each language (about a hundred recently
  encoded letters differ), so a token with a character outside ASCII, Latin-1, Latin
  Extended-A, combining marks and the Vietnamese letters gets its ``lower`` and
  ``istitle`` from the Rust featurizer itself, once, when it enters the cache.
* A token Rust would split at ``' '`` (underthesea's pattern ``Th.S`` can match "Th S"),
  or an empty one, sends its whole sentence to the Rust featurizer.
* The tagger ignores feature strings its model does not know, so the strings we pass it
  are only those in the model's attribute table (read from ``models.bin``, as
  underthesea_core reads it): same attribute ids in the same order, same scores.
* No token of underthesea's pattern crosses whitespace except through ``Th.S``/``Th.s``
  (``.`` matches a space), and its lookarounds see one character either side, so a text
  is tokenized chunk by chunk (cached) unless it contains "Th", whitespace, "s"/"S".
"""

from __future__ import annotations

import re
import struct
import sys
from collections.abc import Iterable, Sequence
from itertools import pairwise
from os.path import join
from pathlib import Path

from . import underthesea_light  # noqa: F401 - before any other underthesea import

# isort: split
from underthesea.pipeline.text_normalize.character_normalize import normalize_characters_in_text
from underthesea.pipeline.word_tokenize import regex_tokenize as _regex_tokenize
from underthesea.pipeline.word_tokenize import word_tokenize as _word_tokenize

# The templates of underthesea's bundled model (its features.bin), in its order. The
# Featurizer is written for exactly these; loading refuses a model whose templates differ.
TEMPLATES = (
    "T[-2]", "T[-1]", "T[0]", "T[1]", "T[2]",
    "T[-2,-1]", "T[-1,0]", "T[0,1]", "T[1,2]",
    "T[-2,0]", "T[-1,1]", "T[0,2]",
    "T[-2].lower", "T[-1].lower", "T[0].lower", "T[1].lower", "T[2].lower",
    "T[-2,-1].lower", "T[-1,0].lower", "T[0,1].lower", "T[1,2].lower",
    "T[-1].isdigit", "T[0].isdigit", "T[1].isdigit",
    "T[-2].istitle", "T[-1].istitle", "T[0].istitle", "T[1].istitle", "T[2].istitle",
    "T[0,1].istitle", "T[0,2].istitle",
    "T[-2].is_in_dict", "T[-1].is_in_dict", "T[0].is_in_dict", "T[1].is_in_dict",
    "T[2].is_in_dict",
    "T[-2,-1].is_in_dict", "T[-1,0].is_in_dict", "T[0,1].is_in_dict", "T[1,2].is_in_dict",
    "T[-2,0].is_in_dict", "T[-1,1].is_in_dict", "T[0,2].is_in_dict",
)  # fmt: skip
MODEL_NAME = "ws_crf_vlsp2013_20230727"

# A cache is emptied when it grows past this many entries, so memory stays flat however
# many posts go through (all three caches hold about 30 MB after the ~49,000 posts of the
# reference corpora, so at most about 60 MB); frequent entries come back at once.
MAX_CACHED = 100_000

_OFFSETS = (-2, -1, 0, 1, 2)
_DIGIT_OFFSETS = (-1, 0, 1)
_PAIR_STARTS = (-2, -1, 0, 1)
_TRIPLE_STARTS = (-2, -1, 0)


def _safe_char(c: str) -> bool:
    """Characters whose Python and Rust case mappings agree (checked by a test)."""
    o = ord(c)
    return o < 0x180 or 0x300 <= o < 0x370 or 0x1E00 <= o < 0x1F00


SAFE_CHARS = frozenset(chr(o) for o in range(0x1F00) if _safe_char(chr(o)))


def parses_as_i32(token: str) -> bool:
    """Rust's ``token.parse::<i32>().is_ok()``: optional sign, ASCII digits, in range."""
    digits = token[1:] if token[:1] in ("+", "-") else token
    return digits.isascii() and digits.isdigit() and -(2**31) <= int(token) < 2**31


class _Everything:
    """Stands for "every feature string is known": the unfiltered featurizer."""

    def __contains__(self, item: object) -> bool:
        return True


EVERYTHING = _Everything()


def model_attributes(path: str) -> frozenset[str] | None:
    """The attribute strings of a CRFsuite model file, as underthesea_core reads them.

    underthesea_core (``crf/serialization.rs``) reads the attribute CQDB through its
    backward table and drops feature strings it does not find there, so passing only
    these to the tagger gives it the same attribute ids. None where the file is not
    what this reader expects (then nothing is filtered out).
    """
    try:
        with open(path, "rb") as f:
            data = f.read()
        if data[:4] != b"lCRF":
            return None
        num_attrs, _, _, off_attrs = struct.unpack_from("<4I", data, 24)
        magic, _, _, _, bwd_size, bwd_offset = struct.unpack_from("<4s5I", data, off_attrs)
        if magic != b"CQDB":
            return None
        count = min(num_attrs, bwd_size)
        offsets = struct.unpack_from(f"<{count}I", data, off_attrs + bwd_offset)
        attributes = set()
        for offset in offsets:
            if offset == 0:
                continue
            (size,) = struct.unpack_from("<I", data, off_attrs + offset + 4)
            start = off_attrs + offset + 8
            key = data[start : start + size]
            if len(key) != size:
                return None
            attributes.add(key.split(b"\0", 1)[0].decode("utf-8"))  # Rust: lossy; strict here
        return frozenset(attributes)
    except (OSError, struct.error, UnicodeDecodeError):
        return None


class Featurizer:
    """Feature strings of a sentence, the same as underthesea_core's ``CRFFeaturizer``.

    With ``known``, only the strings in it are kept (in their order): what the tagger uses.
    """

    def __init__(self, dictionary: frozenset[str], rust_featurizer, known=EVERYTHING) -> None:
        from underthesea_core import CRFFeaturizer

        self.dictionary = dictionary
        self.rust = rust_featurizer
        self.rust_case = CRFFeaturizer(["T[0].lower", "T[0].istitle"], set())
        self.known = known
        self.cache: dict[str, tuple] = {}

        def keep(s: str) -> str | None:
            return s if s in known else None

        def bools(template: str) -> tuple[str | None, str | None]:
            return (keep(f"{template}=False"), keep(f"{template}=True"))

        def suffixes(template: str):
            if known is EVERYTHING:
                return EVERYTHING
            head = template + "="
            return frozenset(a[len(head) :] for a in known if a.startswith(head))

        self._keep = keep
        self._isdigit = tuple(bools(f"T[{k}].isdigit") for k in _DIGIT_OFFSETS)
        self._istitle = tuple(bools(f"T[{k}].istitle") for k in _OFFSETS)
        self._in_dict = tuple(bools(f"T[{k}].is_in_dict") for k in _OFFSETS)
        self._pair_in_dict = tuple(bools(f"T[{k},{k + 1}].is_in_dict") for k in _PAIR_STARTS)
        self._pair_title = bools("T[0,1].istitle")
        self._triple_in_dict = tuple(bools(f"T[{k},{k + 2}].is_in_dict") for k in _TRIPLE_STARTS)
        self._triple_title = bools("T[0,2].istitle")
        self._raw = tuple(suffixes(f"T[{k}]") for k in _OFFSETS)
        self._lower = tuple(suffixes(f"T[{k}].lower") for k in _OFFSETS)
        self._pair_raw = tuple(suffixes(f"T[{k},{k + 1}]") for k in _PAIR_STARTS)
        self._pair_lower = tuple(suffixes(f"T[{k},{k + 1}].lower") for k in _PAIR_STARTS)
        self._triple_raw = tuple(suffixes(f"T[{k},{k + 2}]") for k in _TRIPLE_STARTS)
        self._bos, self._eos = self._pad_record("BOS"), self._pad_record("EOS")
        self._bos2, self._eos2 = self._pad_pair("BOS"), self._pad_pair("EOS")
        self._bos3, self._eos3 = self._pad_triple("BOS"), self._pad_triple("EOS")

    # Records. A token record holds the token's string in each one-token template, at the
    # indices the sentence loop reads (None when filtered out), then what spans need:
    # (T[-2]…T[2] 0-4, .lower 5-9, .isdigit 10-12, .istitle 13-17, .is_in_dict 18-22,
    #  token 23, lowercase 24, istitle 25). Pair records (tokens j, j+1) and triple records
    # (j…j+2) likewise, see _sentence().

    def _pad_record(self, value: str) -> tuple:
        k = self._keep
        return tuple(
            [k(f"T[{o}]={value}") for o in _OFFSETS]
            + [k(f"T[{o}].lower={value}") for o in _OFFSETS]
            + [k(f"T[{o}].isdigit={value}") for o in _DIGIT_OFFSETS]
            + [k(f"T[{o}].istitle={value}") for o in _OFFSETS]
            + [k(f"T[{o}].is_in_dict={value}") for o in _OFFSETS]
        )

    def _pad_pair(self, value: str) -> tuple:
        k = self._keep
        return tuple(
            [k(f"T[{o},{o + 1}]={value}") for o in _PAIR_STARTS]
            + [k(f"T[{o},{o + 1}].lower={value}") for o in _PAIR_STARTS]
            + [k(f"T[{o},{o + 1}].is_in_dict={value}") for o in _PAIR_STARTS]
            + [k(f"T[0,1].istitle={value}")]
        )

    def _pad_triple(self, value: str) -> tuple:
        k = self._keep
        return tuple(
            [k(f"T[{o},{o + 2}]={value}") for o in _TRIPLE_STARTS]
            + [k(f"T[{o},{o + 2}].is_in_dict={value}") for o in _TRIPLE_STARTS]
            + [k(f"T[0,2].istitle={value}")]
        )

    def _record(self, token: str) -> tuple:
        if SAFE_CHARS.issuperset(token):
            low = token.lower()
            title = token[:1] == token[:1].upper()
        else:
            [[lower_f, title_f]] = self.rust_case.process([[[token]]])[0]
            low = lower_f[len("T[0].lower=") :]
            title = title_f == "T[0].istitle=True"
        digit = parses_as_i32(token)
        in_dict = low in self.dictionary
        raw, lower = self._raw, self._lower
        isdigit, istitle, indict = self._isdigit, self._istitle, self._in_dict
        return (
            f"T[-2]={token}" if token in raw[0] else None,
            f"T[-1]={token}" if token in raw[1] else None,
            f"T[0]={token}" if token in raw[2] else None,
            f"T[1]={token}" if token in raw[3] else None,
            f"T[2]={token}" if token in raw[4] else None,
            f"T[-2].lower={low}" if low in lower[0] else None,
            f"T[-1].lower={low}" if low in lower[1] else None,
            f"T[0].lower={low}" if low in lower[2] else None,
            f"T[1].lower={low}" if low in lower[3] else None,
            f"T[2].lower={low}" if low in lower[4] else None,
            isdigit[0][digit],
            isdigit[1][digit],
            isdigit[2][digit],
            istitle[0][title],
            istitle[1][title],
            istitle[2][title],
            istitle[3][title],
            istitle[4][title],
            indict[0][in_dict],
            indict[1][in_dict],
            indict[2][in_dict],
            indict[3][in_dict],
            indict[4][in_dict],
            token,
            low,
            title,
        )

    def records(self, tokens: Iterable[str]) -> list[tuple]:
        cache = self.cache
        out = []
        for token in tokens:
            rec = cache.get(token)
            if rec is None:
                if len(cache) >= MAX_CACHED:
                    cache.clear()
                rec = cache[token] = self._record(token)
            out.append(rec)
        return out

    def sentence(self, tokens: Sequence[str]) -> list[list[str]]:
        """Feature strings of each token of one sentence (a list of tokens)."""
        if not all(t and " " not in t for t in tokens):
            # Rust splits such a token at its spaces for istitle (or panics on an empty
            # one); let it do exactly that.
            feats = self.rust.process([[[t] for t in tokens]])[0]
            known = self.known
            return feats if known is EVERYTHING else [[f for f in x if f in known] for x in feats]
        return self._sentence(self.records(tokens))

    def _sentence(self, recs: list[tuple]) -> list[list[str]]:
        n = len(recs)
        dictionary = self.dictionary
        kp0, kp1, kp2, kp3 = self._pair_raw
        kl0, kl1, kl2, kl3 = self._pair_lower
        pd0, pd1, pd2, pd3 = self._pair_in_dict
        pair_title = self._pair_title
        pairs = [self._bos2, self._bos2]
        append = pairs.append
        for a, b in pairwise(recs):
            s = a[23] + " " + b[23]
            low = a[24] + " " + b[24]
            d = low in dictionary
            title = a[25] and b[25]
            append(
                (
                    "T[-2,-1]=" + s if s in kp0 else None,
                    "T[-1,0]=" + s if s in kp1 else None,
                    "T[0,1]=" + s if s in kp2 else None,
                    "T[1,2]=" + s if s in kp3 else None,
                    "T[-2,-1].lower=" + low if low in kl0 else None,
                    "T[-1,0].lower=" + low if low in kl1 else None,
                    "T[0,1].lower=" + low if low in kl2 else None,
                    "T[1,2].lower=" + low if low in kl3 else None,
                    pd0[d],
                    pd1[d],
                    pd2[d],
                    pd3[d],
                    pair_title[title],
                    s,
                    low,
                    title,
                )
            )
        pairs += (self._eos2, self._eos2)
        kt0, kt1, kt2 = self._triple_raw
        td0, td1, td2 = self._triple_in_dict
        triple_title = self._triple_title
        triples = [self._bos3, self._bos3]
        append = triples.append
        for ab, c in zip(pairs[2:n], recs[2:], strict=True):
            s = ab[13] + " " + c[23]
            d = ab[14] + " " + c[24] in dictionary
            append(
                (
                    "T[-2,0]=" + s if s in kt0 else None,
                    "T[-1,1]=" + s if s in kt1 else None,
                    "T[0,2]=" + s if s in kt2 else None,
                    td0[d],
                    td1[d],
                    td2[d],
                    triple_title[ab[15] and c[25]],
                )
            )
        triples += (self._eos3, self._eos3)
        padded = [self._bos, self._bos, *recs, self._eos, self._eos]
        # Position i reads the records of tokens i-2…i+2, the pairs starting at i-2…i+1
        # and the triples starting at i-2…i, in the order of TEMPLATES.
        windows = zip(
            padded, padded[1:], padded[2:], padded[3:], padded[4:],
            pairs, pairs[1:], pairs[2:], pairs[3:],
            triples, triples[1:], triples[2:],
            strict=False,  # padded[4:] has n items, the others more
        )  # fmt: skip
        return [
            [*filter(None, (
                a[0], b[1], c[2], d[3], e[4],
                p[0], q[1], r[2], s[3],
                t[0], u[1], v[2],
                a[5], b[6], c[7], d[8], e[9],
                p[4], q[5], r[6], s[7],
                b[10], c[11], d[12],
                a[13], b[14], c[15], d[16], e[17],
                r[12], v[6],
                a[18], b[19], c[20], d[21], e[22],
                p[8], q[9], r[10], s[11],
                t[3], u[4], v[5],
            ))]
            for a, b, c, d, e, p, q, r, s, t, u, v in windows
        ]  # fmt: skip


def model_dir() -> Path:
    """Where underthesea keeps the word-segmentation model it loads."""
    package = sys.modules[_word_tokenize.__module__]
    return Path(package.__path__[0]) / "models" / MODEL_NAME


def dictionary_words() -> frozenset[str]:
    """The segmenter's dictionary: underthesea's Viet74K word list, lowercased."""
    words = Path(sys.modules["underthesea"].__path__[0]) / "corpus" / "data" / "Viet74K.txt"
    return frozenset(line.lower() for line in words.read_text(encoding="utf-8").splitlines())


class _Segmenter:
    """underthesea's loaded model, our featurizers and the chunk cache."""

    def __init__(self) -> None:
        package = sys.modules[_word_tokenize.__module__]
        if package.word_tokenize_model is None:
            _word_tokenize("khởi động")  # let underthesea load its model the way it does
        model = package.word_tokenize_model
        self.tagger = model.estimator
        self.rust = model.featurizer
        base = str(model_dir())
        # The model's templates are TEMPLATES and its dictionary.bin is exactly the lowercased
        # lines of underthesea's plain-text Viet74K word list: read that instead of unpickling
        # (tests compare every feature with the Rust featurizer, which uses the .bin files).
        self.dictionary = dictionary_words()
        self.known = model_attributes(join(base, "models.bin"))
        self.tagger_features = Featurizer(
            self.dictionary, self.rust, EVERYTHING if self.known is None else self.known
        )
        self._full: Featurizer | None = None
        self.chunks: dict[str, tuple[str, ...]] = {}
        self.last_chunks: dict[str, tuple[str, ...]] = {}

    @property
    def full_features(self) -> Featurizer:
        if self._full is None:
            self._full = Featurizer(self.dictionary, self.rust)
        return self._full

    def tokens(self, text: str) -> list[str]:
        """underthesea's ``regex_tokenize.tokenize(text, use_token_normalize=False)``."""
        text = normalize_characters_in_text(text)
        if "Th" in text and _TH_SPACE_S.search(text):
            return _regex_tokens(text)
        chunks = text.split()
        if not chunks:
            return []
        tail = text[len(text.rstrip()) :]
        cache = self.chunks
        out: list[str] = []
        for chunk in chunks[:-1]:
            toks = cache.get(chunk)
            if toks is None:
                if len(cache) >= MAX_CACHED:
                    cache.clear()
                # A following space stands for any following whitespace: the pattern's
                # lookaheads ask only "whitespace?" and "end of text?".
                toks = cache[chunk] = tuple(_regex_tokens(chunk + " "))
            out += toks
        last = chunks[-1]
        if tail == "":
            toks = self.last_chunks.get(last)
            if toks is None:
                if len(self.last_chunks) >= MAX_CACHED:
                    self.last_chunks.clear()
                toks = self.last_chunks[last] = tuple(_regex_tokens(last))
        elif tail == "\n":  # "$" also matches before a final newline
            toks = tuple(_regex_tokens(last + "\n"))
        else:
            toks = cache.get(last) or tuple(_regex_tokens(last + " "))
        out += toks
        return out


# The one place underthesea's pattern lets a token cross whitespace: "Th.S" / "Th.s".
_TH_SPACE_S = re.compile(r"Th\s[sS]")


def _regex_tokens(text: str) -> list[str]:
    # Every alternative of underthesea's pattern is one named group around the whole of
    # it, so the first group that matched (what tokenize() keeps) is the whole match.
    return [m.group() for m in _regex_tokenize.patterns.finditer(text)]


_segmenter: _Segmenter | None = None


def _get() -> _Segmenter:
    global _segmenter
    if _segmenter is None:
        _segmenter = _Segmenter()
    return _segmenter


def regex_tokens(text: str) -> list[str]:
    """underthesea's ``regex_tokenize.tokenize(text, use_token_normalize=False)``."""
    return _get().tokens(text)


def featurize(sentences: Iterable[Sequence[str]]) -> list[list[list[str]]]:
    """Feature strings of each token of each sentence (a list of tokens).

    Same result as underthesea_core's ``CRFFeaturizer(features, dictionary).process``
    with one column per token: ``process([[[t] for t in tokens] for tokens in sentences])``.
    """
    featurizer = _get().full_features
    return [featurizer.sentence(tokens) for tokens in sentences]


def tagger_features(sentences: Iterable[Sequence[str]]) -> list[list[list[str]]]:
    """:func:`featurize` less the strings the tagger's model does not know."""
    featurizer = _get().tagger_features
    return [featurizer.sentence(tokens) for tokens in sentences]


def segment_tokens(texts: Iterable[str]) -> list[list[str]]:
    """Words of each text, as ``underthesea.word_tokenize(text, use_token_normalize=False)``.

    A word's syllables are joined by single spaces (``["Bác sĩ", "bây giờ"]``).
    """
    seg = _get()
    tag = seg.tagger.tag
    sentence = seg.tagger_features.sentence
    out = []
    for text in texts:
        tokens = seg.tokens(text)
        words: list[str] = []
        if tokens:
            for label, token in zip(tag(sentence(tokens)), tokens, strict=True):
                if label == "I-W" and words:
                    words[-1] = words[-1] + " " + token
                else:
                    words.append(token)
        out.append(words)
    return out

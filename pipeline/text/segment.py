"""Vietnamese word segmentation with underthesea, batch-friendly.

A segmented text joins the syllables of a word with ``_`` and words with single spaces
(``"lò_xo thụt"``), the input PhoBERT and our word n-grams expect. Each word also keeps its
character span in the text it was segmented from, so explanations can point back at it.

The words are exactly those of ``underthesea.word_tokenize(text, use_token_normalize=False)``,
computed several times faster by ``pipeline.text.crf_features`` (same tokenizer, same features,
same CRF tagger; see there).

>>> segment("Bác sĩ bây giờ có thể thản nhiên")
'Bác_sĩ bây_giờ có_thể thản_nhiên'
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from . import underthesea_light  # noqa: F401 - before any other underthesea import

# isort: split
import underthesea

from .crf_features import segment_tokens

SEGMENTER_NAME = "underthesea.word_tokenize"
# underthesea names its bundled CRF model by corpus and date; both are pinned with the package.
# The suffix numbers our own rule on top of it (see _split_symbols); bump it when that changes.
SEGMENTER_VERSION = f"{underthesea.__version__}/ws_crf_vlsp2013_20230727/kiemtin-1"

# Below this many distinct texts a process pool costs more than it saves.
MIN_TEXTS_PER_WORKER = 2000


@dataclass(frozen=True)
class Segmented:
    """Words of one text: ``words[i]`` spans ``text[spans[i][0]:spans[i][1]]``.

    A span is ``None`` when underthesea changed the word so it cannot be found verbatim.
    """

    words: tuple[str, ...]
    spans: tuple[tuple[int, int] | None, ...]

    @property
    def text(self) -> str:
        return " ".join(self.words)


def _segment_one(text: str) -> Segmented:
    return _segment_chunk([text])[0]


def _with_spans(text: str, tokens: list[str]) -> Segmented:
    words, spans, pos = [], [], 0
    for token in tokens:
        start = text.find(token, pos)
        if start < 0:
            spans.append(None)
        else:
            pos = start + len(token)
            spans.append((start, pos))
        words.append(token.replace(" ", "_"))
    return Segmented(tuple(words), tuple(spans))


# A letter or digit: re's \w is str.isalnum() or "_", so this is "any(c.isalnum() ...)".
_HAS_ALNUM = re.compile(r"[^\W_]").search


def _split_symbols(tokens: list[str]) -> list[str]:
    """Split words the CRF glued across an emoji or symbol ("🙄 óc"): a word is letters."""
    out = []
    for token in tokens:
        if " " in token:
            syllables = token.split(" ")
            if not all(map(_HAS_ALNUM, syllables)):
                out.extend(syllables)
                continue
        out.append(token)
    return out


def segment(text: str) -> str:
    """Segment one text; syllables of a word joined by ``_``, words by spaces."""
    if not isinstance(text, str):
        raise TypeError(f"segment() expects one str, got {type(text).__name__}")
    return _segment_one(text).text


def _segment_chunk(texts: Sequence[str]) -> list[Segmented]:
    # As underthesea.word_tokenize(text, use_token_normalize=False). Token normalisation is
    # off: our normaliser has already run, and it would make the words differ from the
    # text so their spans could not be found.
    return [
        _with_spans(text, _split_symbols(words))
        for text, words in zip(texts, segment_tokens(texts), strict=True)
    ]


def segment_batch(texts: Iterable[str], workers: int = 1) -> list[Segmented]:
    """Segment many texts, each distinct text once, across ``workers`` processes.

    Order follows the input. ``workers=0`` means one per CPU core.
    """
    if isinstance(texts, str):
        raise TypeError("segment_batch() expects an iterable of texts, got a single str")
    texts = list(texts)
    distinct = list(dict.fromkeys(texts))
    workers = (os.cpu_count() or 1) if workers == 0 else max(1, workers)
    workers = min(workers, max(1, len(distinct) // MIN_TEXTS_PER_WORKER))
    if workers == 1:
        done = _segment_chunk(distinct)
    else:
        size = -(-len(distinct) // (workers * 4))
        chunks = [distinct[i : i + size] for i in range(0, len(distinct), size)]
        with ProcessPoolExecutor(workers) as pool:
            done = [seg for part in pool.map(_segment_chunk, chunks) for seg in part]
    by_text = dict(zip(distinct, done, strict=True))
    return [by_text[t] for t in texts]

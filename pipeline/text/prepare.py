"""The shared front of every model: raw text → normalised → segmented.

Both tasks in one pass share this work, so it is done once per text and handed to each
scorer as a :class:`Prepared`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .normalise import (
    NORMALISER_NAME,
    NORMALISER_VERSION,
    Normalised,
    normalise_with_offsets,
)
from .segment import SEGMENTER_NAME, SEGMENTER_VERSION, Segmented, segment_batch

PREPROCESSING = {
    "normaliser": {"name": NORMALISER_NAME, "version": NORMALISER_VERSION},
    "segmenter": {"name": SEGMENTER_NAME, "version": SEGMENTER_VERSION},
}


@dataclass(frozen=True)
class Prepared:
    original: str
    normalised: Normalised
    segmented: Segmented

    @property
    def segmented_text(self) -> str:
        return self.segmented.text

    def word_span(self, i: int) -> tuple[int, int] | None:
        """Span of word ``i`` in the ORIGINAL text."""
        span = self.segmented.spans[i]
        return None if span is None else self.normalised.to_original(*span)


def prepare(texts: Iterable[str], workers: int = 1) -> list[Prepared]:
    """Normalise and segment many texts (each distinct text segmented once)."""
    if isinstance(texts, str):
        raise TypeError("prepare() expects an iterable of texts, got a single str")
    texts = list(texts)
    normalised = [normalise_with_offsets(t) for t in texts]
    segmented = segment_batch([n.text for n in normalised], workers=workers)
    return [Prepared(t, n, s) for t, n, s in zip(texts, normalised, segmented, strict=True)]


def as_prepared(texts: Sequence[str] | Sequence[Prepared]) -> list[Prepared]:
    """Accept raw texts or already prepared ones; refuse a bare string."""
    if isinstance(texts, str):
        raise TypeError("expected a list of texts, got a single str; wrap it in a list: [text]")
    texts = list(texts)
    if all(isinstance(t, Prepared) for t in texts):
        return texts
    if all(isinstance(t, str) for t in texts):
        return prepare(texts)
    kinds = sorted({type(t).__name__ for t in texts})
    raise TypeError(f"expected all str or all Prepared, got a mix of {kinds}")

r"""Render a post with the model's words highlighted, as HTML that cannot run anything, each
word showing which way it pushed and how hard.

Posts are untrusted: every piece of text is escaped, and only our own ``<mark>`` and ``<sup>``
tags are added around and after the spans the model named (offsets into the stored text).

The model explains the label it found most likely among the risky ones (a linear model's
per-word share of that label's log-odds, a transformer's occlusion drop): a positive weight
pushed the post towards that label. Relative to the label the page shows (``towards``:
whether the explained label is the predicted one) a word is ``towards`` it (+) or ``away``
from it (−); its strength (1 to 4) is its weight against the strongest shown word.
Stop-words (``pipeline/text/resources/stopwords_vi.txt``) and punctuation are not shown as
reasons, whatever their weight.

>>> html = highlight("<b>mày</b> ngu", [{"word": "ngu", "start": 11, "end": 14, "weight": 1.0}])
>>> print(str(html).replace(" <mark", "\n<mark").replace("</mark>", "</mark>\n"))
&lt;b&gt;mày&lt;/b&gt;
<mark class="reason towards s4" data-weight="+1.00">ngu</mark>
<sup class="weight towards">+1.00</sup>
>>> [r["word"] for r in reasons("ngu thì ngu .", [
...     {"word": "ngu", "start": 0, "end": 3, "weight": 0.4},
...     {"word": "thì", "start": 4, "end": 7, "weight": 0.9},
...     {"word": ".", "start": 12, "end": 13, "weight": 0.8}])]
['ngu']
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterable
from pathlib import Path

from markupsafe import Markup, escape

STOPWORDS_FILE = Path(__file__).parents[1] / "text" / "resources" / "stopwords_vi.txt"
STRENGTHS = 4  # strength classes s1..s4 of a shown word


@functools.cache
def stopwords() -> frozenset[str]:
    """The Vietnamese stop-words, NFC lower case, compounds with single spaces."""
    lines = STOPWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(_key(w) for w in lines if w.strip() and not w.startswith("#"))


def _key(word: str) -> str:
    return " ".join(unicodedata.normalize("NFC", word).lower().replace("_", " ").split())


def is_reason(word: str) -> bool:
    """Whether a highlighted word can be shown as a reason: not a stop-word, and with a
    letter, a digit or a pictograph (an emoji) in it, not punctuation alone."""
    if _key(word) in stopwords():
        return False
    return any(c.isalnum() or unicodedata.category(c) == "So" for c in word)


def signed(weight: float) -> str:
    """A weight with its sign: ``+0.50``, ``−0.25`` (a real minus sign)."""
    return f"{'+' if weight >= 0 else '−'}{abs(weight):.2f}"


def reasons(text: str, words: Iterable[dict], towards: bool = True) -> list[dict]:
    """The words to show, in text order: spans inside ``text`` that do not overlap an earlier
    one, not stop-words nor punctuation. Each has ``word``, ``start``, ``end``, ``weight``
    (signed relative to the predicted label: + towards it), ``direction`` ("towards" or
    "away"), ``strength`` (1..STRENGTHS) and ``share`` (0..1 of the strongest)."""
    spans = sorted(
        (int(w["start"]), int(w["end"]), float(w.get("weight", 0.0)))
        for w in words
        if 0 <= int(w["start"]) < int(w["end"]) <= len(text)
    )
    kept, last = [], 0
    for start, end, weight in spans:
        if start < last:  # overlapping spans: keep the first
            continue
        last = end
        if is_reason(text[start:end]):
            kept.append((start, end, weight if towards else -weight))
    strongest = max((abs(w) for _, _, w in kept), default=0.0) or 1.0
    out = []
    for start, end, weight in kept:
        share = abs(weight) / strongest
        out.append(
            {
                "word": text[start:end],
                "start": start,
                "end": end,
                "weight": weight,
                "signed": signed(weight),
                "direction": "towards" if weight >= 0 else "away",
                "strength": max(1, min(STRENGTHS, round(share * STRENGTHS + 0.49))),
                "share": share,
            }
        )
    return out


def highlight(text: str, words: Iterable[dict], towards: bool = True) -> Markup:
    """``text`` escaped, each reason (``reasons``) in a ``<mark>`` classed by direction and
    strength, followed by its signed weight in a ``<sup>``."""
    parts, last = [], 0
    for r in reasons(text, words, towards):
        parts.append(escape(text[last : r["start"]]))
        parts.append(
            Markup(
                '<mark class="reason {direction} s{strength}" data-weight="{signed}">{word}</mark>'
                '<sup class="weight {direction}">{signed}</sup>'
            ).format(**r)
        )
        last = r["end"]
    parts.append(escape(text[last:]))
    return Markup("").join(parts)

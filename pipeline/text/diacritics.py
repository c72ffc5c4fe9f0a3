"""Vietnamese text as people type it without marks: ``mày ngu quá`` -> ``may ngu qua``.

Many posts are typed without diacritics. A model that learns only the marked forms has never
seen ``may`` stand for ``mày``, so training can add an unmarked copy of each post
(``LinearScorer(diacritic_free_copies=True)``).
"""

from __future__ import annotations

import unicodedata

_D = str.maketrans({"đ": "d", "Đ": "D"})


def strip_marks(text: str) -> str:
    """``text`` decomposed (NFD) with every combining mark dropped; đ is left to the caller.

    >>> strip_marks("óc chó đấy")
    'oc cho đay'
    """
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def without_diacritics(text: str) -> str:
    """``text`` with every Vietnamese mark (tone and vowel quality) dropped, and đ as d;
    case, digits, punctuation and emoji kept.

    >>> without_diacritics("Đồ óc chó, ĐI ĐÂU đấy? 😤")
    'Do oc cho, DI DAU day? 😤'
    """
    return unicodedata.normalize("NFC", strip_marks(text.translate(_D)))

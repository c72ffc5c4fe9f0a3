"""Vietnamese text as people type it without marks: ``mày ngu quá`` -> ``may ngu qua``.

Many posts are typed without diacritics. A model that learns only the marked forms has never
seen ``may`` stand for ``mày``, so training can add an unmarked copy of each post
(``LinearScorer(diacritic_free_copies=True)``).
"""

from __future__ import annotations

import unicodedata

_D = str.maketrans({"đ": "d", "Đ": "D"})


def without_diacritics(text: str) -> str:
    """``text`` with every Vietnamese mark (tone and vowel quality) dropped, and đ as d;
    case, digits, punctuation and emoji kept.

    >>> without_diacritics("Đồ óc chó, ĐI ĐÂU đấy? 😤")
    'Do oc cho, DI DAU day? 😤'
    """
    decomposed = unicodedata.normalize("NFD", text.translate(_D))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", bare)

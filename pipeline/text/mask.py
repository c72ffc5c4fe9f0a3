"""Mask personal data (phone numbers, e-mail addresses, @handles) in text that is stored.

Content, not people: what the queue keeps must not identify anyone. Each letter and digit of
a match becomes ``•`` and separators stay, so the masked text has the same length and the
character offsets of highlighted words still point at the same words.

>>> mask_personal_data("Liên hệ 0912 345 678 hoặc chi.tran@mail.vn, @chitran")
'Liên hệ •••• ••• ••• hoặc •••.••••@••••.••, @•••••••'
"""

from __future__ import annotations

import re

from .normalise import normalise, personal_data_spans

MASK = "•"
_MASKED = re.compile(r"\w")


def mask_personal_data(text: str) -> str:
    if not isinstance(text, str):
        raise TypeError(f"mask_personal_data() expects a str, got {type(text).__name__}")
    spans = personal_data_spans(text)
    if not spans:
        return text
    parts, last = [], 0
    for start, end, _kind in spans:
        parts += [text[last:start], _MASKED.sub(MASK, text[start:end])]
        last = end
    parts.append(text[last:])
    return "".join(parts)


def same_post_key(text: str) -> str:
    """What makes two texts the same post: normalised, with personal data masked.

    Training compares these (a reviewed label replaces a corpus row's, a test text is
    "seen" in training); the review queue keys its items by them folded further (case and
    diacritics dropped, ``similarity.fold``) and hashed, so near-identical spellings are one
    item. (Folding normalises first, so that key equals the fold of the masked text: the
    same on all 46,670 corpus and sample texts.)

    >>> same_post_key("Gọi 0912 345 678 ko") == same_post_key("Gọi 0987 654 321 không")
    True
    """
    return normalise(mask_personal_data(text))

"""Render a post with the model's words highlighted, as HTML that cannot run anything.

Posts are untrusted: every piece of text is escaped, and only our own ``<mark>`` tags are
added around the spans the model named (offsets into the stored text).

>>> str(highlight("<b>mày</b> ngu", [{"word": "ngu", "start": 11, "end": 14, "weight": 1.0}]))
'&lt;b&gt;mày&lt;/b&gt; <mark title="weight 1.00">ngu</mark>'
"""

from __future__ import annotations

from collections.abc import Iterable

from markupsafe import Markup, escape


def highlight(text: str, words: Iterable[dict]) -> Markup:
    spans = sorted(
        (int(w["start"]), int(w["end"]), float(w.get("weight", 0.0)))
        for w in words
        if 0 <= int(w["start"]) < int(w["end"]) <= len(text)
    )
    parts, last = [], 0
    for start, end, weight in spans:
        if start < last:  # overlapping spans: keep the first
            continue
        parts.append(escape(text[last:start]))
        parts.append(
            Markup('<mark title="weight {:.2f}">{}</mark>').format(weight, text[start:end])
        )
        last = end
    parts.append(escape(text[last:]))
    return Markup("").join(parts)

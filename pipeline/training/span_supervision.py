"""ViHOS spans as extra supervision for the hostile task: the words people marked as hateful
or offensive, taught to the model as short examples of their comment's label.

ViHOS comments are ViHSD comments (every one shares a ``same_post_key`` with a ViHSD text),
so a span is only used when its comment is among the training texts, with that text's label,
and never when the comment is also in the test split: the fixed test set stays unseen
(the corpora README's leakage warning). Each such comment adds one example, the text of its
spans joined by spaces, labelled as the comment is; comments whose training label is clean
although ViHOS marks spans, and comments with no spans, add nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..text.mask import same_post_key
from .corpora import load_corpus

RISKY = ("offensive", "hate")


@dataclass
class SpanReport:
    """What the spans added, and why the rest did not count."""

    source: str
    counts: Counter = field(default_factory=Counter)

    def to_dict(self) -> dict:
        return {"source": self.source, **dict(sorted(self.counts.items()))}

    def summary(self) -> str:
        c = self.counts
        return (
            f"ViHOS spans ({self.source}): {c['examples added']:,} examples added from "
            f"{c['comments with spans']:,} marked comments; {c['in the test split (left out)']:,} "
            f"left out as test texts, {c['not among the training texts']:,} not in training, "
            f"{c['training label clean (left out)']:,} labelled clean in training"
        )


def span_examples(
    vihos_dir: str | Path,
    train_texts: Sequence[str],
    train_labels: Sequence[str],
    test_texts: Sequence[str],
) -> tuple[list[str], list[str], SpanReport]:
    """The extra (texts, labels) from ViHOS's spans, and a report of what was used."""
    corpus = load_corpus(Path(vihos_dir), task="hostile")
    label_of: dict[str, str] = {}
    for text, label in zip(train_texts, train_labels, strict=True):
        label_of.setdefault(same_post_key(text), label)
    test_keys = {same_post_key(t) for t in test_texts}
    report = SpanReport(str(vihos_dir))
    texts, labels, seen = [], [], set()
    for split in corpus.splits.values():
        for text, spans in zip(split["text"], split["spans"], strict=True):
            if not spans:
                continue
            report.counts["comments with spans"] += 1
            key = same_post_key(text)
            if key in test_keys:
                report.counts["in the test split (left out)"] += 1
                continue
            label = label_of.get(key)
            if label is None:
                report.counts["not among the training texts"] += 1
                continue
            if label not in RISKY:
                report.counts["training label clean (left out)"] += 1
                continue
            if key in seen:
                report.counts["repeated comments (used once)"] += 1
                continue
            seen.add(key)
            texts.append(" ".join(text[a:b].strip() for a, b in spans))
            labels.append(label)
    report.counts["examples added"] = len(texts)
    return texts, labels, report

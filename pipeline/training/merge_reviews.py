"""Reviewed labels merged into a reference corpus's training data (``train.py --reviews``).

The reviewed labels come from a ``kiemtin labels export`` file (JSONL / CSV / Parquet) or
straight from the review database (a ``sqlite:///`` or ``postgresql://`` URL). Texts are
matched by their normalised form with personal data masked first (the store keeps posts
masked, the corpora do not), so a reviewed post and its corpus copy are the same text:

- a reviewed text also in the corpus's fixed test split is left out of training, so no
  review leaks into the evaluation, and reported;
- a reviewed text in the training splits replaces that row's label (counted when the label
  changed);
- any other reviewed text is added to the training data.

Only the reviews of the task being trained are used; the rest are counted as skipped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import CorpusError
from ..tasks import Task
from ..text.mask import same_post_key
from .corpora import load_corpus

EXAMPLES = 20  # ids of left-out reviews kept in the training record


@dataclass(frozen=True)
class Reviewed:
    id: str
    text: str
    label: str


@dataclass
class MergeReport:
    """What merging did, as recorded in the model's config.json and card."""

    source: str
    read: int = 0  # reviewed rows of this task
    other_tasks: int = 0  # rows of other tasks, not used
    duplicates: int = 0  # rows whose text another (later) row of the source also had
    added: int = 0
    overridden: int = 0  # corpus training rows whose label the review changed
    confirmed: int = 0  # corpus training rows whose label the review kept
    left_out_in_test: int = 0
    left_out_examples: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "read": self.read,
            "other_tasks": self.other_tasks,
            "duplicates": self.duplicates,
            "added": self.added,
            "overridden": self.overridden,
            "confirmed": self.confirmed,
            "left_out_in_test": self.left_out_in_test,
            "left_out_examples": self.left_out_examples,
        }

    def summary(self) -> str:
        return (
            f"reviews from {self.source}: {self.read:,} of this task; {self.added:,} added, "
            f"{self.overridden:,} corpus labels changed, {self.confirmed:,} confirmed, "
            f"{self.left_out_in_test:,} left out (in the test split), {self.other_tasks:,} "
            "of other tasks skipped"
        )


def is_database_url(source: str | Path) -> bool:
    return "://" in str(source)


def describe_source(source: str | Path) -> str:
    """The source as it may be written down: a database URL without its password."""
    if not is_database_url(source):
        return str(source)
    from sqlalchemy import make_url

    return make_url(str(source)).render_as_string(hide_password=True)


def read_reviews(source: str | Path, task: Task, report: MergeReport) -> list[Reviewed]:
    """The reviewed labels of ``task`` from an export file or a database URL."""
    rows = _database_rows(str(source), task) if is_database_url(source) else _file_rows(source)
    reviewed = []
    for row in rows:
        if row.get("task") not in (None, "", task.name):
            report.other_tasks += 1
            continue
        label = row.get("label")
        if label not in task.labels:
            raise CorpusError(
                f"reviews {report.source}",
                expected=f"labels of task {task.name!r}: {list(task.labels)}",
                found=f"{label!r} (row {row.get('id')!r})",
                fix="Export the reviews of this task: kiemtin labels export --task "
                f"{task.name} -o FILE.",
            )
        reviewed.append(Reviewed(str(row.get("id") or f"review:{len(reviewed)}"),
                                 row["text"], label))
    report.read = len(reviewed)
    return reviewed


def _database_rows(url: str, task: Task) -> Iterator[dict]:
    from ..store.db import make_engine, session_factory
    from ..store.labels_export import labelled_records

    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            yield from labelled_records(session, task.name)
    finally:
        engine.dispose()


def _file_rows(path: str | Path) -> Iterator[dict]:
    path = Path(path)
    if not path.is_file():
        raise CorpusError(
            f"reviews {path}",
            expected="a file written by `kiemtin labels export` or a database URL",
            found="no such file",
            fix="Export them first: kiemtin labels export --task TASK -o reviews.jsonl",
        )
    corpus = load_corpus(path)  # labels kept as text: the file may hold several tasks
    split = corpus.splits["train"]
    columns = set(split.column_names)
    for row in split:
        yield {"id": row["id"], "text": row["text"], "label": row["label"],
               "task": row["task"] if "task" in columns else None}


def merge_reviews(
    train: tuple[Sequence[str], Sequence[str], Sequence[str]],
    test_texts: Iterable[str],
    reviewed: Sequence[Reviewed],
    report: MergeReport,
) -> tuple[list[str], list[str], list[str]]:
    """The training (ids, texts, labels) with the reviewed labels merged in."""
    ids, texts, labels = (list(x) for x in train)
    by_key: dict[str, Reviewed] = {}
    for r in reviewed:  # the source's order: a later review of the same text wins
        key = same_post_key(r.text)
        if key in by_key:
            report.duplicates += 1
        by_key[key] = r
    in_test = {same_post_key(t) for t in test_texts}
    for key in sorted(by_key.keys() & in_test):
        report.left_out_in_test += 1
        if len(report.left_out_examples) < EXAMPLES:
            report.left_out_examples.append(by_key[key].id)
        del by_key[key]
    changes: Counter[str] = Counter()
    for i, text in enumerate(texts):
        r = by_key.pop(same_post_key(text), None)
        if r is None:
            continue
        changes["overridden" if labels[i] != r.label else "confirmed"] += 1
        labels[i] = r.label
    report.overridden, report.confirmed = changes["overridden"], changes["confirmed"]
    for r in by_key.values():  # not in the corpus: new training data
        ids.append(r.id)
        texts.append(r.text)
        labels.append(r.label)
    report.added = len(by_key)
    return ids, texts, labels

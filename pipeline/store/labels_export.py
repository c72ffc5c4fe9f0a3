"""Reviewed labels leave the store as corpus files (and Label Studio tasks).

``export_labels`` writes every item with a decided label (status ``answered`` or ``done``)
as JSON Lines or CSV that ``pipeline.training.corpora.load_corpus`` (and so ``train.py``) reads, or
as a Label Studio JSON array of tasks (``label_studio`` reads it back). Exports stream (items
in id order, a batch at a time, the answers of a batch in one query) and are deterministic:
the same database gives the same bytes.

Columns of the JSONL and CSV exports, in this order::

    id, task, text, label, reviews, agreement, decided_by, time, model_label, model_version

``reviews`` is the number of answers behind the label (the item's own, or its group
representative's for a label taken from the group; who answered stays in the store and in
the Label Studio format); ``agreement`` is the share of them equal to the label;
``decided_by`` is ``agreement``, ``adjudication`` or ``group``; ``time`` is when the label was
decided (ISO 8601, UTC).
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO

from sqlalchemy import BigInteger, select
from sqlalchemy.orm import Session

from ..batch.outputs import write_atomically
from ..errors import InputError
from ..tasks import known_tasks
from ._shared import one_of
from .tables import DECIDED, Answer, Item, User

FORMATS = ("jsonl", "csv", "label-studio")
COLUMNS = (
    "id", "task", "text", "label", "reviews", "agreement", "decided_by", "time",
    "model_label", "model_version",
)
EXPORT_BATCH = 1000  # items per query when exporting
AGREEMENT_DIGITS = 4
ID_PREFIX = "kiemtin:"
# Label Studio: the control and object tag names of the labelling config in the README.
FROM_NAME, TO_NAME = "label", "text"


def export_labels(
    session: Session,
    out: str | os.PathLike | IO[str],
    fmt: str = "jsonl",
    task: str | None = None,
    *,
    batch_size: int = EXPORT_BATCH,
) -> int:
    """Write the reviewed labels (of ``task``, or of every task) as ``fmt``; returns the
    number of items written.

    ``fmt`` is ``jsonl``, ``csv`` or ``label-studio``. A path is written as ``PATH.partial``
    and renamed when complete; an open text stream (e.g. ``sys.stdout``) is written as is.
    """
    if fmt not in FORMATS:
        raise InputError(
            "label export format",
            expected=f"one of {', '.join(FORMATS)}",
            found=repr(fmt),
            fix="Use jsonl or csv for training files, label-studio for Label Studio.",
        )
    if not isinstance(batch_size, int) or batch_size < 1:
        raise InputError("batch_size", expected="a whole number >= 1", found=repr(batch_size),
                         fix="Use the default.")
    if task is not None:
        _check_export_task(session, task)
    writer = {"jsonl": _write_jsonl, "csv": _write_csv, "label-studio": _write_label_studio}[fmt]
    rows = _labelled(session, task, batch_size)
    return write_atomically(out, lambda stream: writer(rows, stream))


def labelled_records(
    session: Session, task: str | None = None, batch_size: int = EXPORT_BATCH
) -> Iterator[dict]:
    """The rows of the JSONL / CSV export (``COLUMNS``), streamed in item-id order."""
    for item in _labelled(session, task, batch_size):
        yield _record(item)


def _check_export_task(session: Session, task: str) -> None:

    if task in known_tasks() or session.scalar(select(Item.id).where(Item.task == task).limit(1)):
        return
    raise InputError(
        "task",
        expected=f"one of {known_tasks()} or a task that has items in the store",
        found=repr(task),
        fix="Check the spelling, or leave the task out to export every task.",
    )


@dataclass(frozen=True)
class _Labelled:
    """One item with a decided label and what stands behind it."""

    row: object  # the item's columns (a SQLAlchemy Row)
    reviews: list[dict]  # answers behind the label, oldest first
    adjudicator: str | None

    @property
    def decided_by(self) -> str:
        if self.row.label_source_id is not None:
            return "group"
        return "adjudication" if self.row.adjudicator_id is not None else "agreement"

    @property
    def agreement(self) -> float | None:
        if not self.reviews:
            return None
        same = sum(r["label"] == self.row.label for r in self.reviews)
        return round(same / len(self.reviews), AGREEMENT_DIGITS)


_ITEM_COLUMNS = (
    Item.id, Item.task, Item.text, Item.label, Item.label_source_id, Item.adjudicator_id,
    Item.decided_at, Item.model_label, Item.model_version, Item.source_id, Item.proba,
    Item.risk, Item.uncertainty, Item.words, Item.reviews_needed,
)


def _labelled(session: Session, task: str | None, batch_size: int) -> Iterator[_Labelled]:
    """Decided items in id order, ``batch_size`` per query (keyset pages on the primary
    key), each page's answers and adjudicators in one query each."""
    last = None
    while True:
        query = select(*_ITEM_COLUMNS).where(Item.status.in_(DECIDED))
        if task is not None:
            query = query.where(Item.task == task)
        if last is not None:
            query = query.where(Item.id > last)
        rows = session.execute(query.order_by(Item.id).limit(batch_size)).all()
        if not rows:
            return
        reviews = _reviews(session, sorted({r.label_source_id or r.id for r in rows}))
        judges = _user_names(session, sorted({r.adjudicator_id for r in rows} - {None}))
        for r in rows:
            yield _Labelled(r, reviews.get(r.label_source_id or r.id, []),
                            judges.get(r.adjudicator_id))
        last = rows[-1].id


def _reviews(session: Session, item_ids: list[int]) -> dict[int, list[dict]]:
    found: dict[int, list[dict]] = {}
    columns = (Answer.item_id, Answer.label, Answer.note, Answer.created_at, User.name)
    for among in one_of(session, Answer.item_id, item_ids, BigInteger()):
        query = (
            select(*columns)
            .join(User, User.id == Answer.reviewer_id)
            .where(among)
            .order_by(Answer.item_id, Answer.id)
        )
        for item_id, label, note, created_at, name in session.execute(query):
            found.setdefault(item_id, []).append(
                {"label": label, "note": note, "reviewer": name, "time": _iso(created_at)}
            )
    return found


def _user_names(session: Session, user_ids: list[int]) -> dict[int, str]:
    if not user_ids:
        return {}
    return dict(session.execute(select(User.id, User.name).where(User.id.in_(user_ids))).all())


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat(timespec="microseconds")


def _record(item: _Labelled) -> dict:
    """The JSONL / CSV row: the columns in COLUMNS order."""
    r = item.row
    return {
        "id": f"{ID_PREFIX}{r.id}",
        "task": r.task,
        "text": r.text,
        "label": r.label,
        "reviews": len(item.reviews),
        "agreement": item.agreement,
        "decided_by": item.decided_by,
        "time": _iso(r.decided_at),
        "model_label": r.model_label,
        "model_version": r.model_version,
    }


def _json(value, sort_keys: bool = True) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=sort_keys)


def _write_jsonl(items: Iterator[_Labelled], stream: IO[str]) -> int:
    count = 0
    for item in items:
        stream.write(_json(_record(item), sort_keys=False) + "\n")
        count += 1
    return count


def _write_csv(items: Iterator[_Labelled], stream: IO[str]) -> int:
    writer = csv.writer(stream, dialect="excel", lineterminator="\n")
    writer.writerow(COLUMNS)
    count = 0
    for item in items:
        record = _record(item)
        writer.writerow(["" if record[c] is None else record[c] for c in COLUMNS])
        count += 1
    return count


def _choice(label: str) -> list[dict]:
    return [{"from_name": FROM_NAME, "to_name": TO_NAME, "type": "choices",
             "value": {"choices": [label]}}]


def _annotation(reviewer: str, label: str, time: str | None, ground_truth: bool,
                note: str | None = None) -> dict:
    annotation = {
        # Label Studio keeps its own user ids; the name travels as an object without one.
        "completed_by": {"username": reviewer},
        "created_at": time,
        "ground_truth": ground_truth,
        "result": _choice(label),
        "was_cancelled": False,
    }
    if note:
        annotation["kiemtin_note"] = note
    return annotation


def _label_studio_task(item: _Labelled) -> dict:
    r = item.row
    data = {
        "text": r.text,
        "task": r.task,
        "kiemtin_item_id": r.id,
        "kiemtin_source_id": r.source_id,
        "kiemtin_label": r.label,
        "kiemtin_decided_by": item.decided_by,
        "kiemtin_decided_at": _iso(r.decided_at),
        "kiemtin_model_label": r.model_label,
        "kiemtin_proba": r.proba,
        "kiemtin_risk": r.risk,
        "kiemtin_uncertainty": r.uncertainty,
        "kiemtin_model_version": r.model_version,
        "kiemtin_words": r.words,
        "kiemtin_reviews_needed": r.reviews_needed,
    }
    annotations = []
    if r.label_source_id is not None:
        # The label is the group's: the answers belong to the representative's task.
        data["kiemtin_label_source"] = r.label_source_id
    else:
        annotations = [
            _annotation(a["reviewer"], a["label"], a["time"], False, a["note"])
            for a in item.reviews
        ]
    if item.adjudicator is not None:
        annotations.append(_annotation(item.adjudicator, r.label, _iso(r.decided_at), True))
    prediction = {
        "model_version": r.model_version,
        "score": r.proba.get(r.model_label),
        "result": _choice(r.model_label),
    }
    return {"annotations": annotations, "data": data, "predictions": [prediction]}


def _write_label_studio(items: Iterator[_Labelled], stream: IO[str]) -> int:
    count = 0
    stream.write("[")
    for item in items:
        stream.write((",\n" if count else "") + _json(_label_studio_task(item)))
        count += 1
    stream.write("]\n")
    return count


__all__ = ["COLUMNS", "FORMATS", "export_labels", "labelled_records"]

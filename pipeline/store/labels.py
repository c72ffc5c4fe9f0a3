"""Reviewed labels leave the store as corpus files, and Label Studio files come in.

``export_labels`` writes every item with a decided label (status ``answered`` or ``done``)
as JSON Lines or CSV that ``pipeline.training.corpora.load_corpus`` (and so ``train.py``) reads, or
as a Label Studio JSON array of tasks. Exports stream (items in id order, a batch at a
time, the answers of a batch in one query) and are deterministic: the same database gives
the same bytes.

``import_label_studio`` reads a Label Studio JSON export, kiemtin's own or another tool's,
and puts its tasks into the store through the same rules as ``queue.add_scored`` (masking,
one item per folded text per task, signatures, near-duplicate groups). Annotations become
answers of reviewer accounts of the annotators' names (created switched off, with no usable
password); the item's status and label follow from its answers as ``record_answer`` and
``adjudicate`` decide them; a ground-truth annotation is an adjudication. A task that cannot
be imported is reported with its position and why, never raised; a file that is not a
Label Studio JSON array is refused whole before anything is written.

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
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from sqlalchemy import BigInteger, Engine, String, select
from sqlalchemy.orm import Session, SessionTransactionOrigin

from ..batch.outputs import write_atomically
from ..errors import InputError
from ..model import DEFAULT_MODELS_ROOT
from . import audit
from .db import session_factory, writing
from .queue import (
    AddReport,
    _add_batch,
    _among,
    _answer_dict,
    _label_members,
    _lock_item,
    _parse_record,
    _Post,
    _RecordError,
    _state,
)
from .tables import DECIDED, Answer, Group, Item, User, utcnow
from .users import NAME_PATTERN, _public

FORMATS = ("jsonl", "csv", "label-studio")
COLUMNS = (
    "id", "task", "text", "label", "reviews", "agreement", "decided_by", "time",
    "model_label", "model_version",
)
EXPORT_BATCH = 1000  # items per query when exporting
IMPORT_BATCH = 500  # Label Studio tasks per transaction when importing
READ_CHUNK = 1 << 20  # characters read at a time from a Label Studio file
AGREEMENT_DIGITS = 4
ID_PREFIX = "kiemtin:"
# Label Studio: the control and object tag names of the labelling config in the README.
FROM_NAME, TO_NAME = "label", "text"
# Accounts made for annotators: switched off, and no password verifies against this hash.
UNUSABLE_PASSWORD = "!label-studio import: no password"
_MISSING = object()


# ---------------------------------------------------------------------------- export


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
    from ..tasks import known_tasks

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
    for among in _among(session, Answer.item_id, item_ids, BigInteger()):
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


# ---------------------------------------------------------------------------- import


@dataclass(frozen=True)
class ImportRejected:
    """A Label Studio task that was not imported, with why (``position`` counts from 1)."""

    position: int
    task_id: object  # the task's ``id`` in the file, if it has one
    reason: str


@dataclass
class ImportReport:
    """What ``import_label_studio`` did."""

    tasks: int = 0  # tasks read, including rejected ones
    items_added: int = 0
    existing: int = 0  # tasks whose post was stored already (answers added where it was open)
    answers: int = 0
    adjudicated: int = 0  # items decided by a ground-truth annotation
    labelled_from_group: int = 0  # items that took their representative's label
    scored: int = 0  # texts scored with the task's current model (no kiemtin scores)
    cancelled: int = 0  # cancelled annotations, skipped
    users_created: list[str] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)  # status of the items imported
    rejected: list[ImportRejected] = field(default_factory=list)

    def summary(self) -> str:
        decided = self.statuses["answered"] + self.statuses["done"]
        return (
            f"{self.tasks} tasks: {self.items_added} items added, {self.existing} already "
            f"stored, {self.answers} answers, {decided} labels decided "
            f"({self.adjudicated} adjudicated, {self.labelled_from_group} through their "
            f"group), {self.statuses['adjudication']} waiting for adjudication, "
            f"{self.statuses['open']} open, {len(self.users_created)} reviewer accounts "
            f"created, {self.cancelled} cancelled annotations skipped, {len(self.rejected)} "
            "rejected"
        )


class _TaskError(ValueError):
    pass


@dataclass(frozen=True)
class _Annotation:
    reviewer: str
    label: str
    time: datetime | None
    note: str | None = None


@dataclass(eq=False)
class _Task:
    """One Label Studio task, checked, with its annotations sorted out."""

    position: int
    ls_id: object
    task: object  # pipeline.tasks.Task
    text: str
    source_id: str | None
    record: dict | None  # a scored record when the file carries kiemtin's scores
    answers: list[_Annotation]
    decision: _Annotation | None  # the ground-truth annotation
    kiemtin_id: int | None
    label_source: int | None
    reviews_needed: int | None
    decided_at: datetime | None
    post: _Post | None = None

    @property
    def reviewed(self) -> bool:
        return bool(self.answers or self.decision)


@dataclass
class _Import:
    """State of one import across its batches."""

    session: Session
    actor: str
    reviews_needed: int
    report: ImportReport
    classifiers: dict
    mapping: dict[int, int] = field(default_factory=dict)  # kiemtin item id in file -> here
    users: dict[str, int] = field(default_factory=dict)
    deferred: list[_Task] = field(default_factory=list)
    audit_rows: list[dict] = field(default_factory=list)

    def reject(self, t: _Task, reason: str) -> None:
        self.report.rejected.append(ImportRejected(t.position, t.ls_id, reason))


def import_label_studio(
    session_or_engine: Session | Engine,
    path: str | os.PathLike,
    actor: str,
    task: str | None = None,
    models_root: str | os.PathLike | None = None,
    *,
    reviews_needed: int = 1,
    batch_size: int = IMPORT_BATCH,
) -> ImportReport:
    """Import a Label Studio JSON export (a JSON array of tasks) into the store.

    ``task`` names the task of tasks whose ``data`` has no ``task`` field. Texts that come
    without kiemtin's scores (``data.kiemtin_*``) are scored with the task's current model
    under ``models_root`` (default: the bundled models). ``reviews_needed`` applies to items
    whose task does not say (``data.kiemtin_reviews_needed``). Each batch of tasks is one
    transaction; a task that cannot be imported goes to ``ImportReport.rejected``.
    """
    if isinstance(session_or_engine, Engine):
        with session_factory(session_or_engine)() as session:
            return import_label_studio(
                session, path, actor, task, models_root, reviews_needed=reviews_needed,
                batch_size=batch_size,
            )
    from ..tasks import load_task

    session = session_or_engine
    for name, value in (("reviews_needed", reviews_needed), ("batch_size", batch_size)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise InputError(name, expected="a whole number >= 1", found=repr(value),
                             fix="Use 1 or more.")
    path = Path(path)
    default_task = load_task(task) if task is not None else None
    tasks = _TaskNames(default_task)
    # The whole file is checked before anything is written, and the models it needs loaded.
    needs_model = set()
    for element in _ArrayReader(path):
        data = element.get("data") if isinstance(element, dict) else None
        if isinstance(data, dict) and "kiemtin_model_version" not in data:
            found = tasks.find(data.get("task"))
            if found is not None:
                needs_model.add(found.name)
    ctx = _Import(session, actor, reviews_needed, ImportReport(),
                  _classifiers(sorted(needs_model), models_root))
    batch: list[_Task] = []
    for position, element in enumerate(_ArrayReader(path), start=1):
        ctx.report.tasks += 1
        try:
            batch.append(_parse_task(position, element, tasks, ctx.report))
        except _TaskError as exc:
            ls_id = element.get("id") if isinstance(element, dict) else None
            ctx.report.rejected.append(ImportRejected(position, ls_id, str(exc)))
        if len(batch) >= batch_size:
            _import_batch(ctx, batch)
            batch = []
    if batch:
        _import_batch(ctx, batch)
    # Members whose representative came later in the file: it is imported now.
    deferred, ctx.deferred = ctx.deferred, []
    for start in range(0, len(deferred), batch_size):
        _import_batch(ctx, deferred[start : start + batch_size], final=True)
    ctx.report.rejected.sort(key=lambda r: r.position)
    return ctx.report


def _classifiers(names: list[str], models_root) -> dict:
    if not names:
        return {}
    from ..model.classifier import Classifier

    root = Path(models_root) if models_root is not None else DEFAULT_MODELS_ROOT
    return {name: Classifier.from_models_root(root, [name]) for name in names}


class _TaskNames:
    """Task names a file may use: the bundled tasks and the one given by the caller."""

    def __init__(self, default_task):
        self.default = default_task
        self.cache = {} if default_task is None else {default_task.name: default_task}

    def find(self, name):
        if name is None:
            return self.default
        if not isinstance(name, str):
            return None
        if name not in self.cache:
            from ..tasks import known_tasks, load_task

            self.cache[name] = load_task(name) if name in known_tasks() else None
        return self.cache[name]


# ---------------------------------------------------------------------------- reading


class _ArrayReader:
    """The elements of a JSON array in a file, one at a time, read in chunks."""

    _decoder = json.JSONDecoder()
    _space = " \t\r\n"

    def __init__(self, path: Path):
        self.path = path

    def __iter__(self) -> Iterator[object]:
        if not self.path.is_file():
            raise InputError(
                "Label Studio file",
                expected="a JSON file exported from Label Studio (Export, format JSON)",
                found=f"no file at {self.path}",
                fix="Check the path.",
            )
        self.buf, self.pos, self.base, self.eof = "", 0, 0, False
        with open(self.path, encoding="utf-8-sig") as self.file:
            first = self._peek()
            if first != "[":
                raise self._not_an_array(first)
            self.pos += 1
            if self._peek() == "]":
                self.pos += 1
                self._end()
                return
            while True:
                yield self._value()
                after = self._peek()
                self.pos += 1
                if after == "]":
                    self._end()
                    return
                if after != ",":
                    raise self._malformed("expected ',' or ']' after a task", self.pos - 1)

    def _more(self, at_least: int = READ_CHUNK) -> bool:
        if self.eof:
            return False
        try:
            chunk = self.file.read(max(at_least, READ_CHUNK))
        except UnicodeDecodeError as exc:
            raise InputError(
                f"Label Studio file {self.path}",
                expected="UTF-8 JSON",
                found=f"bytes that are not UTF-8 ({exc.reason})",
                fix="Export the file from Label Studio again, or save it as UTF-8.",
            ) from exc
        if not chunk:
            self.eof = True
            return False
        self.base += self.pos
        self.buf = self.buf[self.pos :] + chunk
        self.pos = 0
        return True

    def _peek(self) -> str:
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in self._space:
                self.pos += 1
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self._more():
                return ""

    def _value(self) -> object:
        self._peek()  # raw_decode does not skip leading white space
        while True:
            try:
                value, end = self._decoder.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                if self._more(len(self.buf)):  # doubling: a long task costs linear time
                    continue
                raise self._malformed(exc.msg, exc.pos) from None
            if end == len(self.buf) and self._more(len(self.buf)):
                continue  # a bare number could go on in the next chunk
            self.pos = end
            return value

    def _end(self) -> None:
        if self._peek():
            raise self._malformed("more text after the array's closing ']'", self.pos)

    def _malformed(self, message: str, at: int) -> InputError:
        return InputError(
            f"Label Studio file {self.path}",
            expected="one complete JSON array of tasks",
            found=f"malformed JSON at character {self.base + at:,}: {message}",
            fix="The file may be cut short; export it from Label Studio again.",
        )

    def _not_an_array(self, first: str) -> InputError:
        if not first:
            found = "an empty file"
        elif first == "{":
            found = "a JSON object (one task, a JSON Lines file, or not a task export at all)"
        else:
            found = f"text starting with {self.buf[self.pos : self.pos + 30]!r}"
        return InputError(
            f"Label Studio file {self.path}",
            expected="a JSON array of tasks, [{\"data\": {\"text\": ...}, \"annotations\": "
            "[...]}, ...], as Label Studio's JSON export writes it",
            found=found,
            fix="In Label Studio choose Export, format JSON (not JSON-MIN, CSV or TSV); "
            "wrap hand-written tasks in [ ].",
        )


def _parse_time(value, where: str) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None:
        raise _TaskError(f"{where}: expected an ISO 8601 time, found {value!r}")
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _whole(data: dict, key: str, minimum: int) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise _TaskError(f"data.{key}: expected a whole number >= {minimum}, found {value!r}")
    return value


def _parse_task(position: int, element: object, tasks: _TaskNames, report: ImportReport) -> _Task:
    if not isinstance(element, dict):
        raise _TaskError(f"expected a task object, found {type(element).__name__}")
    data = element.get("data")
    if not isinstance(data, dict):
        raise _TaskError(
            "no 'data' object: expected a Label Studio task {\"data\": {\"text\": ...}, "
            "\"annotations\": [...]} (export as JSON, not JSON-MIN)"
        )
    text = data.get("text")
    if not isinstance(text, str) or not text.strip():
        raise _TaskError("data has no 'text' (kiemtin reads data.text: <Text value=\"$text\"/>)")
    name = data.get("task")
    task = tasks.find(name)
    if task is None:
        if name is None:
            raise _TaskError("data has no 'task' and no task was given: pass task= (--task)")
        raise _TaskError(f"unknown task {name!r} in data.task")
    if tasks.default is not None and task.name != tasks.default.name:
        raise _TaskError(f"data.task is {task.name!r}, but the import is for "
                         f"{tasks.default.name!r}")
    annotations = element.get("annotations", element.get("completions", []))
    if not isinstance(annotations, list):
        raise _TaskError("'annotations' is not a list")
    answers: list[_Annotation] = []
    decision = None
    for k, annotation in enumerate(annotations, start=1):
        where = f"annotation {k}"
        if not isinstance(annotation, dict):
            raise _TaskError(f"{where}: expected an object")
        if annotation.get("was_cancelled"):
            report.cancelled += 1
            continue
        parsed = _Annotation(
            _annotator(annotation, where), _chosen(annotation, task, where),
            _parse_time(annotation.get("created_at"), f"{where}: created_at"),
            annotation.get("kiemtin_note") or None,
        )
        if annotation.get("ground_truth"):
            if decision is not None:
                raise _TaskError(f"{where}: a second ground-truth annotation (one decides)")
            decision = parsed
        elif any(a.reviewer == parsed.reviewer for a in answers):
            raise _TaskError(f"{where}: a second annotation by {parsed.reviewer!r} "
                             "(a reviewer answers an item once)")
        else:
            answers.append(parsed)
    if "kiemtin_source_id" in data:
        source_id = data["kiemtin_source_id"]
    else:
        source_id = None if element.get("id") is None else f"label-studio:{element['id']}"
    decided_at = _MISSING
    if "kiemtin_decided_at" in data:
        decided_at = _parse_time(data["kiemtin_decided_at"], "data.kiemtin_decided_at")
    return _Task(
        position=position,
        ls_id=element.get("id"),
        task=task,
        text=text,
        source_id=None if source_id is None else str(source_id),
        record=_kiemtin_record(data, task, text, source_id),
        answers=answers,
        decision=decision,
        kiemtin_id=_whole(data, "kiemtin_item_id", 1),
        label_source=_whole(data, "kiemtin_label_source", 1),
        reviews_needed=_whole(data, "kiemtin_reviews_needed", 1),
        decided_at=None if decided_at is _MISSING else decided_at,
    )


def _annotator(annotation: dict, where: str) -> str:
    who = annotation.get("completed_by")
    name = None
    if isinstance(who, dict):
        name = who.get("username") or who.get("email")
        if not name and isinstance(who.get("id"), int):
            name = f"label-studio-{who['id']}"
    elif isinstance(who, int) and not isinstance(who, bool):
        name = f"label-studio-{who}"  # a Label Studio user id: all the file says
    elif isinstance(who, str):
        name = who.strip()
    if not name:
        raise _TaskError(f"{where}: no annotator (expected 'completed_by': a user id or object)")
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise _TaskError(f"{where}: annotator {name!r} is not a usable account name "
                         "(letters, digits, '.', '_', '@', '-'; at most 64)")
    return name


def _chosen(annotation: dict, task, where: str) -> str:
    result = annotation.get("result")
    choices = [r for r in result or () if isinstance(r, dict) and r.get("type") == "choices"]
    if len(choices) > 1:
        choices = [r for r in choices if r.get("from_name") == FROM_NAME]
    if len(choices) != 1:
        raise _TaskError(
            f"{where}: expected one 'choices' result (from <Choices name=\"{FROM_NAME}\">), "
            f"found {len(choices)}"
        )
    value = choices[0].get("value")
    picked = value.get("choices") if isinstance(value, dict) else None
    if not isinstance(picked, list) or len(picked) != 1 or not isinstance(picked[0], str):
        raise _TaskError(f"{where}: expected exactly one chosen label, found {picked!r}")
    by_fold = {label.casefold(): label for label in task.labels}
    label = by_fold.get(picked[0].strip().casefold())
    if label is None:
        raise _TaskError(f"{where}: label {picked[0]!r} is not one of task {task.name!r}'s "
                         f"labels {list(task.labels)}")
    return label


def _kiemtin_record(data: dict, task, text: str, source_id) -> dict | None:
    """The scored record kiemtin's own fields describe, or None to score the text."""
    if "kiemtin_model_version" not in data:
        return None
    proba = data.get("kiemtin_proba")
    if not isinstance(proba, dict) or set(proba) != set(task.labels):
        raise _TaskError(f"data.kiemtin_proba: expected a probability for each of "
                         f"{list(task.labels)}, found {proba!r}")
    score = {
        "label": data.get("kiemtin_model_label"),
        "proba": proba,
        "risk": data.get("kiemtin_risk"),
        "words": data.get("kiemtin_words", []),
    }
    return {"id": source_id, "text": text, "scores": {task.name: score},
            "model_versions": {task.name: data.get("kiemtin_model_version")}}


# ---------------------------------------------------------------------------- writing


@contextmanager
def _transaction(session: Session):
    """One write transaction for a batch: its items, answers and audit rows commit together.

    A transaction the caller opened (``with session.begin():``) is joined instead.
    """
    trans = session.get_transaction()
    if trans is not None and trans.origin is not SessionTransactionOrigin.AUTOBEGIN:
        with writing(session):
            yield
        return
    if trans is not None:
        session.commit()  # end a read snapshot (and commit what the caller left pending)
    with session.begin(), writing(session):
        yield


def _import_batch(ctx: _Import, batch: list[_Task], final: bool = False) -> None:
    failed = _score(ctx, [t for t in batch if t.post is None and t.record is None])
    ready = []
    for t in batch:
        if id(t) in failed:
            continue
        if t.post is None:
            try:
                t.post = _parse_record(t.position, t.record)
            except _RecordError as exc:
                ctx.reject(t, f"kiemtin scores in data: {exc}")
                continue
        ready.append(t)
    reviewed = [t for t in ready if t.reviewed]
    plain = [t for t in ready if not t.reviewed and t.label_source is None]
    members = [t for t in ready if not t.reviewed and t.label_source is not None]
    with _transaction(ctx.session):
        # Reviewed posts stand alone (a group member has no answers of its own); posts
        # without annotations group as any ingest does; members join their representative.
        for t, item, existed in _ingest(ctx, reviewed, join_groups=False):
            _apply_annotations(ctx, t, item, existed)
        for t, item, existed in _ingest(ctx, plain, join_groups=True):
            _remember(ctx, t, item)
            if existed:
                ctx.report.existing += 1
            else:
                _set_reviews_needed(ctx, t, item)
                ctx.report.statuses[item.status] += 1
        placeable = [t for t in members if t.label_source in ctx.mapping]
        for t, item, existed in _ingest(ctx, placeable, join_groups=False):
            _place_member(ctx, t, item, existed)
        audit.record_many(ctx.session, ctx.audit_rows)
        ctx.audit_rows = []
    for t in members:
        if t.label_source in ctx.mapping:
            continue
        if final:
            ctx.reject(t, f"its label comes from kiemtin item {t.label_source} "
                       "(data.kiemtin_label_source), which is not in this file or was "
                       "rejected: import it with its representative")
        else:
            ctx.deferred.append(t)


def _score(ctx: _Import, todo: list[_Task]) -> set[int]:
    """Score texts that came without kiemtin's scores; returns the ``id()`` of the tasks
    whose scoring failed (rejected: one bad text never costs the rest of its batch)."""
    by_task: dict[str, list[_Task]] = {}
    for t in todo:
        by_task.setdefault(t.task.name, []).append(t)
    failed = set()
    for name, group in by_task.items():
        classifier = ctx.classifiers[name]
        try:
            records = classifier.score([t.text for t in group], [t.source_id for t in group])
        except Exception:  # find the text that breaks the batch
            records = []
            for t in group:
                try:
                    records += classifier.score([t.text], [t.source_id])
                except Exception as exc:
                    records.append(exc)
        for t, record in zip(group, records, strict=True):
            if isinstance(record, Exception):
                ctx.reject(t, f"scoring failed: {type(record).__name__}: {record}")
                failed.add(id(t))
            else:
                t.record = record
                ctx.report.scored += 1
    return failed


def _ingest(ctx: _Import, tasks: list[_Task], join_groups: bool):
    """Add the tasks' posts through the queue's ingest; yields (task, item, existed)."""
    if not tasks:
        return
    session = ctx.session
    before = _stored_items(session, tasks)
    added = AddReport()
    _add_batch(session, [t.post for t in tasks], ctx.actor, ctx.reviews_needed, added,
               join_groups=join_groups)
    ctx.report.items_added += added.items_added
    items = {**before, **_stored_items(session, [t for t in tasks if _key(t) not in before])}
    seen = set(before)
    for t in tasks:
        key = _key(t)
        yield t, items[key], key in seen
        seen.add(key)  # the same post again later in the file finds it stored


def _key(t: _Task) -> tuple[str, str]:
    return t.task.name, t.post.text_key


def _stored_items(session: Session, tasks: list[_Task]) -> dict[tuple[str, str], Item]:
    by_task: dict[str, set[str]] = {}
    for t in tasks:
        by_task.setdefault(t.task.name, set()).add(t.post.text_key)
    found = {}
    for name, keys in by_task.items():
        for among in _among(session, Item.text_key, sorted(keys), String()):
            query = (
                select(Item)
                .where(Item.task == name, among)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
            found.update(((name, item.text_key), item) for item in session.scalars(query))
    return found


def _remember(ctx: _Import, t: _Task, item: Item) -> None:
    if t.kiemtin_id is not None:
        ctx.mapping[t.kiemtin_id] = item.id


def _user_id(ctx: _Import, name: str) -> int:
    """The account of an annotator, created (switched off, no password) when missing."""
    if name in ctx.users:
        return ctx.users[name]
    user = ctx.session.scalars(select(User).where(User.name == name)).one_or_none()
    if user is None:
        user = User(name=name, role="reviewer", password_hash=UNUSABLE_PASSWORD, active=False,
                    approves_rebuttals=False)
        ctx.session.add(user)
        ctx.session.flush()
        audit.record(ctx.session, ctx.actor, "add", "user", user.id, None,
                     {**_public(user), "source": "label-studio import"})
        ctx.report.users_created.append(name)
    ctx.users[name] = user.id
    return user.id


def _set_reviews_needed(ctx: _Import, t: _Task, item: Item) -> None:
    if t.reviews_needed is not None:
        item.reviews_needed = t.reviews_needed


def _stored_answers(session: Session, item_id: int) -> set[tuple[str, str]]:
    query = (
        select(User.name, Answer.label)
        .join(User, User.id == Answer.reviewer_id)
        .where(Answer.item_id == item_id)
    )
    return set(session.execute(query).all())


def _apply_annotations(ctx: _Import, t: _Task, item: Item, existed: bool) -> None:
    session = ctx.session
    _remember(ctx, t, item)
    if existed:
        stored = _stored_answers(session, item.id)
        decided_alike = t.decision is None or (
            item.adjudicator_id is not None and item.label == t.decision.label
        )
        same = stored == {(a.reviewer, a.label) for a in t.answers} and decided_alike
        if same:  # imported before: nothing to add
            ctx.report.existing += 1
            return
        if stored or item.status != "open" or not item.is_representative:
            what = f"status {item.status!r}" + (f", label {item.label!r}" if item.label else "")
            ctx.reject(t, f"the post is already in the store as item {item.id} ({what}, "
                       f"{len(stored)} answers); its review there was left as it is")
            return
        ctx.report.existing += 1
    else:
        _set_reviews_needed(ctx, t, item)
    before = {**_state(item), "reviews_needed": item.reviews_needed}
    now = utcnow()
    added = []
    for a in t.answers:
        answer = Answer(
            item_id=item.id, reviewer_id=_user_id(ctx, a.reviewer), label=a.label,
            model_label=item.model_label, model_score=float(item.proba[item.model_label]),
            model_risk=item.risk, model_version=item.model_version, note=a.note,
            created_at=a.time or now,
        )
        session.add(answer)
        added.append((answer, a.reviewer))
    labels = [a.label for a in t.answers]
    judge = None
    if t.decision is not None:
        judge = t.decision.reviewer
        item.status, item.label = "done", t.decision.label
        item.adjudicator_id = _user_id(ctx, judge)
        item.decided_at = t.decided_at or t.decision.time or now
        ctx.report.adjudicated += 1
    elif labels and len(labels) >= item.reviews_needed:
        if len(set(labels)) == 1:
            item.status, item.label = "answered", labels[0]
            times = [a.time for a in t.answers if a.time is not None]
            item.decided_at = t.decided_at or (max(times) if times else now)
        else:
            item.status = "adjudication"
    if item.status != before["status"]:
        item.version += 1
    session.flush()
    ctx.report.answers += len(added)
    ctx.report.statuses[item.status] += 1
    for answer, name in added:
        ctx.audit_rows.append({
            "actor": ctx.actor, "action": "add", "entity": "answer", "entity_id": answer.id,
            "after": {**_answer_dict(answer, name), "source": "label-studio import"},
        })
    ctx.audit_rows.append({
        "actor": ctx.actor, "action": "import", "entity": "item", "entity_id": item.id,
        "before": before,
        "after": {**_state(item), "reviews_needed": item.reviews_needed, "adjudicator": judge,
                  "source": f"label-studio task {t.position}"},
    })
    if item.status in DECIDED:
        _label_members(session, item, ctx.actor)


def _place_member(ctx: _Import, t: _Task, item: Item, existed: bool) -> None:
    """Put an item whose label came from its group into its representative's group."""
    session = ctx.session
    rep = _lock_item(session, ctx.mapping[t.label_source])
    if not rep.is_representative:  # the representative's own group is led by another item
        rep = _lock_item(session, session.get(Group, rep.group_id).representative_id)
    _remember(ctx, t, item)
    if existed:
        if item.group_id is not None and item.group_id == rep.group_id:
            ctx.report.existing += 1
        else:
            ctx.reject(t, f"the post is already in the store as item {item.id}, outside the "
                       f"group of its representative (item {rep.id}); it was left as it is")
        return
    if rep.group_id is None:
        group = Group(task=rep.task, representative_id=rep.id, created_at=utcnow())
        session.add(group)
        session.flush()
        rep.group_id = group.id
        ctx.audit_rows += [
            {"actor": ctx.actor, "action": "add", "entity": "group", "entity_id": group.id,
             "after": {"task": group.task, "representative_id": rep.id}},
            {"actor": ctx.actor, "action": "join_group", "entity": "item", "entity_id": rep.id,
             "before": {"group_id": None}, "after": {"group_id": group.id}},
        ]
    _set_reviews_needed(ctx, t, item)
    before = _state(item)
    item.group_id, item.is_representative = rep.group_id, False
    if rep.status in DECIDED:
        item.status, item.label, item.label_source_id = "done", rep.label, rep.id
        item.decided_at = t.decided_at or utcnow()
        ctx.report.labelled_from_group += 1
    item.version += 1
    session.flush()
    ctx.report.statuses[item.status] += 1
    ctx.audit_rows.append({
        "actor": ctx.actor, "action": "import", "entity": "item", "entity_id": item.id,
        "before": before,
        "after": {**_state(item), "source": f"label-studio task {t.position}"},
    })


__all__ = [
    "COLUMNS",
    "FORMATS",
    "ImportRejected",
    "ImportReport",
    "export_labels",
    "import_label_studio",
]

"""Label Studio files come into the store.

``import_label_studio`` reads a Label Studio JSON export, kiemtin's own (``labels_export``)
or another tool's, and puts its tasks into the store through the same rules as
``intake.add_scored`` (masking, one item per folded text per task, signatures, near-duplicate
groups). Annotations become answers of reviewer accounts of the annotators' names (created
switched off, with no usable password); the item's status and label follow from its answers
as ``answers.record_answer`` and ``answers.adjudicate`` decide them; a ground-truth
annotation is an adjudication. A task that cannot be imported is reported with its position
and why, never raised; a file that is not a Label Studio JSON array is refused whole before
anything is written. Reading and checking one task is ``label_studio_tasks``.
"""

from __future__ import annotations

import os
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, String, select
from sqlalchemy.orm import Session, SessionTransactionOrigin

from ..errors import InputError, scoring_failed
from ..model import DEFAULT_MODELS_ROOT
from ..tasks import load_task
from . import audit
from ._shared import (
    RecordError,
    answer_dict,
    item_state,
    label_members,
    lock_item,
    one_of,
    parse_record,
)
from .db import session_factory, writing
from .intake import AddReport, add_posts
from .json_array import JsonArrayReader
from .label_studio_tasks import LABEL_STUDIO_FILE, LabelStudioTask, TaskError, TaskNames, parse_task
from .tables import DECIDED, Answer, Group, Item, User, utcnow
from .users import public_fields

IMPORT_BATCH = 500  # Label Studio tasks per transaction when importing
# Accounts made for annotators: switched off, and no password verifies against this hash.
UNUSABLE_PASSWORD = "!label-studio import: no password"


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
    deferred: list[LabelStudioTask] = field(default_factory=list)
    audit_rows: list[dict] = field(default_factory=list)

    def reject(self, t: LabelStudioTask, reason: str) -> None:
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

    session = session_or_engine
    for name, value in (("reviews_needed", reviews_needed), ("batch_size", batch_size)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise InputError(name, expected="a whole number >= 1", found=repr(value),
                             fix="Use 1 or more.")
    path = Path(path)
    default_task = load_task(task) if task is not None else None
    tasks = TaskNames(default_task)
    # The whole file is checked before anything is written, and the models it needs loaded.
    needs_model = set()
    for element in JsonArrayReader(path, LABEL_STUDIO_FILE):
        data = element.get("data") if isinstance(element, dict) else None
        if isinstance(data, dict) and "kiemtin_model_version" not in data:
            found = tasks.find(data.get("task"))
            if found is not None:
                needs_model.add(found.name)
    ctx = _Import(session, actor, reviews_needed, ImportReport(),
                  _classifiers(sorted(needs_model), models_root))
    batch: list[LabelStudioTask] = []
    for position, element in enumerate(JsonArrayReader(path, LABEL_STUDIO_FILE), start=1):
        ctx.report.tasks += 1
        try:
            batch.append(parse_task(position, element, tasks, ctx.report))
        except TaskError as exc:
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


def _import_batch(ctx: _Import, batch: list[LabelStudioTask], final: bool = False) -> None:
    failed = _score(ctx, [t for t in batch if t.post is None and t.record is None])
    ready = []
    for t in batch:
        if id(t) in failed:
            continue
        if t.post is None:
            try:
                t.post = parse_record(t.position, t.record)
            except RecordError as exc:
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


def _score(ctx: _Import, todo: list[LabelStudioTask]) -> set[int]:
    """Score texts that came without kiemtin's scores; returns the ``id()`` of the tasks
    whose scoring failed (rejected: one bad text never costs the rest of its batch)."""
    by_task: dict[str, list[LabelStudioTask]] = {}
    for t in todo:
        by_task.setdefault(t.task.name, []).append(t)
    failed = set()
    for name, group in by_task.items():
        classifier = ctx.classifiers[name]
        records = classifier.score_each([t.text for t in group], [t.source_id for t in group])
        for t, record in zip(group, records, strict=True):
            if isinstance(record, Exception):
                ctx.reject(t, scoring_failed(record))
                failed.add(id(t))
            else:
                t.record = record
                ctx.report.scored += 1
    return failed


def _ingest(ctx: _Import, tasks: list[LabelStudioTask], join_groups: bool):
    """Add the tasks' posts through the queue's ingest; yields (task, item, existed)."""
    if not tasks:
        return
    session = ctx.session
    before = _stored_items(session, tasks)
    added = AddReport()
    add_posts(session, [t.post for t in tasks], ctx.actor, ctx.reviews_needed, added,
               join_groups=join_groups)
    ctx.report.items_added += added.items_added
    items = {**before, **_stored_items(session, [t for t in tasks if _key(t) not in before])}
    seen = set(before)
    for t in tasks:
        key = _key(t)
        yield t, items[key], key in seen
        seen.add(key)  # the same post again later in the file finds it stored


def _key(t: LabelStudioTask) -> tuple[str, str]:
    return t.task.name, t.post.text_key


def _stored_items(session: Session, tasks: list[LabelStudioTask]) -> dict[tuple[str, str], Item]:
    by_task: dict[str, set[str]] = {}
    for t in tasks:
        by_task.setdefault(t.task.name, set()).add(t.post.text_key)
    found = {}
    for name, keys in by_task.items():
        for among in one_of(session, Item.text_key, sorted(keys), String()):
            query = (
                select(Item)
                .where(Item.task == name, among)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
            found.update(((name, item.text_key), item) for item in session.scalars(query))
    return found


def _remember(ctx: _Import, t: LabelStudioTask, item: Item) -> None:
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
                     {**public_fields(user), "source": "label-studio import"})
        ctx.report.users_created.append(name)
    ctx.users[name] = user.id
    return user.id


def _set_reviews_needed(ctx: _Import, t: LabelStudioTask, item: Item) -> None:
    if t.reviews_needed is not None:
        item.reviews_needed = t.reviews_needed


def _stored_answers(session: Session, item_id: int) -> set[tuple[str, str]]:
    query = (
        select(User.name, Answer.label)
        .join(User, User.id == Answer.reviewer_id)
        .where(Answer.item_id == item_id)
    )
    return set(session.execute(query).all())


def _apply_annotations(ctx: _Import, t: LabelStudioTask, item: Item, existed: bool) -> None:
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
    before = {**item_state(item), "reviews_needed": item.reviews_needed}
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
            "after": {**answer_dict(answer, name), "source": "label-studio import"},
        })
    ctx.audit_rows.append({
        "actor": ctx.actor, "action": "import", "entity": "item", "entity_id": item.id,
        "before": before,
        "after": {**item_state(item), "reviews_needed": item.reviews_needed, "adjudicator": judge,
                  "source": f"label-studio task {t.position}"},
    })
    if item.status in DECIDED:
        label_members(session, item, ctx.actor)


def _place_member(ctx: _Import, t: LabelStudioTask, item: Item, existed: bool) -> None:
    """Put an item whose label came from its group into its representative's group."""
    session = ctx.session
    rep = lock_item(session, ctx.mapping[t.label_source])
    if not rep.is_representative:  # the representative's own group is led by another item
        rep = lock_item(session, session.get(Group, rep.group_id).representative_id)
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
    before = item_state(item)
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
        "after": {**item_state(item), "source": f"label-studio task {t.position}"},
    })


__all__ = ["ImportRejected", "ImportReport", "import_label_studio"]

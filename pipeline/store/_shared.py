"""What the store's modules share: the errors a refused write raises, SQL "one of these
values" conditions, the check of a scored record, and the steps every write to an item takes
(the acting user's role, the item's row lock, its version check, its state for the audit).

Used by ``intake`` (adding posts), ``queue`` (reading it), ``answers`` (answers, decisions,
groups), ``rebuttals``, ``rescore`` and ``label_studio``; not part of ``pipeline.store``'s
public face.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from numbers import Real

import numpy as np
from sqlalchemy import any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from ..errors import InputError, KiemtinError
from ..text.mask import mask_personal_data, same_post_key
from ..text.similarity import fold, signature
from . import audit
from .db import is_postgresql
from .tables import STATUSES, Answer, Assignment, Group, Item, User, utcnow

IN_CHUNK = 900  # values per SQL IN (...) list, under SQLite's old 999-variable limit
ANSWERING_ROLES = ("admin", "trainer", "reviewer")
ADJUDICATING_ROLES = ("admin", "trainer")  # also those who assign items to reviewers


class ConflictError(KiemtinError):
    """The item is not in the state the caller expected: changed since it was loaded, already
    answered by this reviewer, or not open for this action. Reload and try again."""


class NotFoundError(KiemtinError):
    """No item (or user) with that id (or name)."""


class ForbiddenError(KiemtinError):
    """The user's role may not do this, or the account is switched off."""


# ---------------------------------------------------------------------------- SQL


def chunks(values: Sequence, size: int = IN_CHUNK) -> Iterator[Sequence]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


def one_of(session: Session, column, values: Sequence, element_type) -> Iterator:
    """Conditions "column is one of values", as few as the database allows: on PostgreSQL
    one ``= ANY(array)`` parameter (the driver parses a long IN list slower than the query
    runs), on SQLite IN lists of at most IN_CHUNK values."""
    if not values:
        return
    if is_postgresql(session):
        array = bindparam("values", list(values), type_=ARRAY(element_type), unique=True)
        yield column == any_(array)
        return
    for chunk in chunks(values):
        yield column.in_(chunk)


def queue_filters(
    task: str | None = None,
    label: str | None = None,
    status: str | None = "open",
    min_risk: float | None = None,
    max_risk: float | None = None,
    members: bool = False,
    assignee: str | None = None,
) -> list:
    """The conditions on ``Item`` of the queue's filters (``queue.next_items``, search, a
    filtered assignment): ``task``, ``label`` (the model's), ``status`` (None: any), risk
    between ``min_risk`` and ``max_risk`` inclusive, only the items assigned to the user
    named ``assignee``, and only one item per near-duplicate group (its representative)
    unless ``members``."""
    if status is not None and status not in STATUSES:
        raise InputError("status", expected=f"one of {STATUSES}", found=repr(status),
                         fix="Filter on one of the listed statuses, or None for all.")
    conditions = [] if members else [Item.is_representative.is_(True)]
    if task is not None:
        conditions.append(Item.task == task)
    if status is not None:
        conditions.append(Item.status == status)
    if label is not None:
        conditions.append(Item.model_label == label)
    if min_risk is not None:
        conditions.append(Item.risk >= min_risk)
    if max_risk is not None:
        conditions.append(Item.risk <= max_risk)
    if assignee is not None:
        # Driven from the assignee's few assignments (their index), not by testing every
        # item of the queue's order for one: an EXISTS walked a million open items (7 s).
        user_id = select(User.id).where(User.name == assignee).scalar_subquery()
        conditions.append(
            Item.id.in_(select(Assignment.item_id).where(Assignment.user_id == user_id))
        )
    return conditions


# ---------------------------------------------------------------------------- scored records


class RecordError(ValueError):
    """A scored record that is not in the shape ``kiemtin classify`` writes."""


@dataclass
class ScoredPost:
    """One valid scored record, masked and keyed; shared by its per-task items."""

    line: int
    source_id: str | None
    text: str  # masked
    text_key: str
    input_hash: str
    signature: np.ndarray
    tasks: list[tuple[str, dict, str]]  # (task, score with masked words, model version)


def parse_record(line: int, record: object) -> ScoredPost:
    """Validate one scored record, mask it and compute its keys; raises RecordError."""
    if not isinstance(record, dict):
        raise RecordError(f"expected a JSON object, found {type(record).__name__}")
    text_ = record.get("text")
    if not isinstance(text_, str) or not text_.strip():
        raise RecordError("expected a non-empty 'text' string")
    scores = record.get("scores")
    if not isinstance(scores, dict) or not scores:
        raise RecordError("expected 'scores': {task: {label, proba, risk, words}}")
    versions = record.get("model_versions")
    if not isinstance(versions, dict):
        raise RecordError("expected 'model_versions': {task: version}")
    masked = mask_personal_data(text_)
    if len(masked) != len(text_):  # offsets of highlighted words depend on it
        raise KiemtinError(
            "mask_personal_data",
            expected="masked text as long as the original",
            found=f"{len(text_)} characters in, {len(masked)} out",
            fix="This is a bug in pipeline.text.mask; report it with the post.",
        )
    tasks = []
    for task, score in scores.items():
        version = versions.get(task)
        if not isinstance(version, str) or not version:
            raise RecordError(f"'model_versions' has no version for task {task!r}")
        tasks.append((task, check_score(task, score, text_, masked), version))
    rid = record.get("id")
    return ScoredPost(
        line=line,
        source_id=None if rid is None else str(rid),
        text=masked,
        # The same post (same_post_key), folded: spellings that differ only in case,
        # diacritics or teencode are one item. A hash: the key holds no personal data.
        text_key=hashlib.sha256(fold(same_post_key(text_)).encode("utf-8")).hexdigest(),
        input_hash=hashlib.sha256(text_.encode("utf-8")).hexdigest(),
        signature=signature(masked),
        tasks=tasks,
    )


def check_score(task: str, score: object, original: str, masked: str) -> dict:
    where = f"scores[{task!r}]"
    if not isinstance(score, dict):
        raise RecordError(f"{where}: expected an object with label, proba, risk, words")
    label, proba, risk, words = (score.get(k) for k in ("label", "proba", "risk", "words"))
    if not isinstance(proba, dict) or len(proba) < 2 or not all(
        isinstance(p, Real) and 0 <= p <= 1 for p in proba.values()
    ):
        raise RecordError(f"{where}: expected 'proba' to map two or more labels to 0..1")
    if label not in proba:
        raise RecordError(f"{where}: 'label' {label!r} is not one of {sorted(proba)}")
    if not isinstance(risk, Real) or isinstance(risk, bool) or not 0 <= risk <= 1:
        raise RecordError(f"{where}: expected 'risk' between 0 and 1, found {risk!r}")
    if not isinstance(words, list):
        raise RecordError(f"{where}: expected 'words' to be a list")
    masked_words = []
    for w in words:
        ok = isinstance(w, dict) and isinstance(w.get("start"), int) and isinstance(
            w.get("end"), int
        )
        if not ok or not 0 <= w["start"] <= w["end"] <= len(original) or (
            original[w["start"] : w["end"]] != w.get("word")
        ):
            raise RecordError(
                f"{where}: word {w!r} does not match the text at its start/end offsets"
            )
        # A highlighted word may itself be a handle or phone number: mask it like the text.
        masked_words.append({**w, "word": masked[w["start"] : w["end"]]})
    top = sorted(proba.values(), reverse=True)
    return {
        "label": label,
        "proba": {k: float(v) for k, v in proba.items()},
        "risk": float(risk),
        "uncertainty": round(1.0 - (top[0] - top[1]), 6),
        "words": masked_words,
    }


# ---------------------------------------------------------------------------- writes to items


def acting_user(session: Session, who: str | User, roles: tuple[str, ...], doing: str) -> User:
    name = who.name if isinstance(who, User) else who
    user = session.scalars(
        select(User).where(User.name == name).execution_options(populate_existing=True)
    ).one_or_none()
    if user is None:
        raise NotFoundError(
            "user", expected="an existing account", found=f"no user named {name!r}",
            fix="Create it with `kiemtin users add NAME --role ROLE`.",
        )
    if not user.active or user.role not in roles:
        raise ForbiddenError(
            f"user {name!r}",
            expected=f"an active account with role {' or '.join(roles)} to {doing}",
            found=f"role {user.role!r}" + ("" if user.active else ", switched off"),
            fix="Ask an admin for the role, or have someone with it do this.",
        )
    return user


def locked_row(session: Session, table, row_id: int):
    """The row ``row_id`` of the mapped class ``table``, locked for update and read afresh
    (not from the session's cache), or None."""
    query = (
        select(table)
        .where(table.id == row_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return session.scalars(query).one_or_none()


def lock_item(session: Session, item_id: int) -> Item:
    item = locked_row(session, Item, item_id)
    if item is None:
        raise NotFoundError(
            "item", expected="an existing item id", found=f"no item {item_id}",
            fix="Reload the queue; the id may be mistyped.",
        )
    if item.group_id is not None:
        # Deciding, splitting or joining a group all lock the group row (intake._lock_groups).
        lock = select(Group.id).where(Group.id == item.group_id).with_for_update()
        session.execute(lock).all()
    return item


def check_version(item: Item, expected_version: int | None) -> None:
    if expected_version is not None and item.version != expected_version:
        raise ConflictError(
            f"item {item.id}",
            expected=f"version {expected_version} (the version you loaded)",
            found=f"version {item.version}: it changed since (now {item.status!r}"
            f"{', label ' + repr(item.label) if item.label else ''})",
            fix="Reload the item, look at what changed, and answer again if still needed.",
        )


def item_state(item: Item) -> dict:
    return {
        "status": item.status, "label": item.label, "version": item.version,
        "group_id": item.group_id, "is_representative": item.is_representative,
        "label_source_id": item.label_source_id,
    }


def answer_dict(answer: Answer, reviewer: str) -> dict:
    return {
        "item_id": answer.item_id, "reviewer": reviewer, "label": answer.label,
        "model_label": answer.model_label, "model_score": answer.model_score,
        "model_risk": answer.model_risk, "model_version": answer.model_version,
        "note": answer.note,
    }


def label_members(session: Session, rep: Item, actor: str) -> int:
    """Give the representative's decided label to the open members of its group."""
    if rep.group_id is None:
        return 0
    query = (
        select(Item)
        .where(
            Item.group_id == rep.group_id,
            Item.is_representative.is_(False),
            Item.status == "open",
        )
        .order_by(Item.id)
        .execution_options(populate_existing=True)
    )
    members = list(session.scalars(query))
    for member in members:
        before = item_state(member)
        member.status, member.label, member.label_source_id = "done", rep.label, rep.id
        member.decided_at = utcnow()
        member.version += 1
        audit.record(session, actor, "label_from_group", "item", member.id, before,
                     item_state(member))
    return len(members)

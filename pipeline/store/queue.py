"""The review queue: scored posts in, prioritised work out, answers and decisions back.

- ``add_scored`` / ``add_scored_file`` put the records ``kiemtin classify`` writes into the
  store: one item per post per task, idempotent (the same folded text of the same task is one
  item), personal data masked, near-duplicates grouped through the LSH band table; in
  batches with bulk inserts, every write audited.
- ``next_items`` orders the queue by risk and gives a share of the places to the items the
  model is least sure of; one representative per near-duplicate group.
- ``record_answer`` (optimistic locking on the item's version), ``undo_answer``,
  ``adjudicate``, ``split_from_group``; ``cohens_kappa`` for agreement between reviewers.

Groups are reviewed once, through their representative. When the representative's label is
decided (its answers agree, or a trainer or admin adjudicates), every open member gets the
same ``label``, status ``done`` and ``label_source_id`` pointing at the representative; no
answer rows are invented for members, so answers (and kappa) only count what people did. A
post that joins a group whose label is already decided gets it at once the same way.
Splitting a member out reopens it if it had inherited the label; splitting the
representative out hands the group to its oldest remaining member and reopens the members
that had inherited the old representative's label.

Every write function runs in ``db.writing``: it commits by itself unless the caller opened
the transaction (``with session.begin():``), and raises ``ConflictError`` (and rolls its own
transaction back) when the item changed under the reviewer.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from math import floor
from numbers import Real
from pathlib import Path
from typing import IO

import numpy as np
from sqlalchemy import (
    BigInteger,
    Engine,
    String,
    any_,
    bindparam,
    exists,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..errors import InputError, KiemtinError
from . import audit
from .db import is_postgresql, session_factory, writing
from .tables import DECIDED, STATUSES, Answer, Group, Item, ItemBand, User, utcnow

BATCH_SIZE = 1000  # records per transaction when adding scored posts
IN_CHUNK = 900  # values per SQL IN (...) list, under SQLite's old 999-variable limit
MAX_CANDIDATES = 50  # near-duplicate candidates compared per new item, most shared bands first
REJECT_RAW = 200  # characters of a bad line kept in the report
ANSWERING_ROLES = ("admin", "trainer", "reviewer")
ADJUDICATING_ROLES = ("admin", "trainer")
NEIGHBOUR_WINDOW = 200  # queue positions searched for an item's previous and next
# Serialises concurrent ingests on PostgreSQL (pg_advisory_xact_lock), as SQLite's single
# writer does: the duplicate check and the group assignment must see each other's rows.
INGEST_LOCK = 0x6B69656D74696E  # "kiemtin"


class ConflictError(KiemtinError):
    """The item is not in the state the caller expected: changed since it was loaded, already
    answered by this reviewer, or not open for this action. Reload and try again."""


class NotFoundError(KiemtinError):
    """No item (or user) with that id (or name)."""


class ForbiddenError(KiemtinError):
    """The user's role may not do this, or the account is switched off."""


# ---------------------------------------------------------------------------- adding posts


@dataclass(frozen=True)
class Rejected:
    """A record that was not added, with why (``line`` counts from 1)."""

    line: int
    id: object
    reason: str
    raw: str = ""


@dataclass
class AddReport:
    """What ``add_scored`` did. Items are counted per post per task."""

    records: int = 0  # records read, including rejected ones
    items_added: int = 0
    duplicates: int = 0  # items already stored (same task, same folded text): not added
    grouped: int = 0  # added items that joined a near-duplicate group
    groups_created: int = 0
    labelled_from_group: int = 0  # added items that took their group's decided label
    rejected: list[Rejected] = field(default_factory=list)
    by_task: Counter = field(default_factory=Counter)  # items added per task

    def summary(self) -> str:
        return (
            f"{self.records} records: {self.items_added} items added, {self.duplicates} "
            f"duplicates, {self.grouped} joined a near-duplicate group "
            f"({self.groups_created} groups created), {len(self.rejected)} rejected"
        )


@dataclass
class _Post:
    """One valid scored record, masked and keyed; shared by its per-task items."""

    line: int
    source_id: str | None
    text: str  # masked
    text_key: str
    input_hash: str
    signature: np.ndarray
    tasks: list[tuple[str, dict, str]]  # (task, score with masked words, model version)


@dataclass(eq=False)
class _NewItem:
    post: _Post
    task: str
    score: dict
    model_version: str
    order: int = 0  # position among the batch's new items
    bands: list[int] = field(default_factory=list)
    group: _GroupRef | None = None
    is_representative: bool = True
    status: str = "open"
    label: str | None = None
    label_source_id: int | None = None
    id: int | None = None


@dataclass(eq=False)
class _Stored:
    """An item already in the database that a new item may join."""

    id: int
    task: str
    signature: np.ndarray
    group_id: int | None
    is_representative: bool
    status: str
    label: str | None
    group: _GroupRef | None = None


@dataclass(eq=False)
class _GroupRef:
    task: str
    representative: _Stored | _NewItem
    id: int | None = None  # None until a new group is inserted

    @property
    def decided_label(self) -> str | None:
        rep = self.representative
        return rep.label if rep.status in DECIDED else None


def add_scored(
    target: Session | Engine,
    records: Iterable[dict],
    actor: str,
    *,
    reviews_needed: int = 1,
    batch_size: int = BATCH_SIZE,
) -> AddReport:
    """Add scored records (the JSONL records of ``kiemtin classify``) to the queue.

    A record that is not in that shape is reported in ``AddReport.rejected``, never raised.
    """
    return _add_numbered(
        target, enumerate(records, start=1), actor, reviews_needed=reviews_needed,
        batch_size=batch_size,
    )


def add_scored_file(
    target: Session | Engine,
    path: str | Path | IO[bytes],
    actor: str,
    *,
    reviews_needed: int = 1,
    batch_size: int = BATCH_SIZE,
) -> AddReport:
    """Stream a JSONL file of scored records into the queue; bad lines are reported, not raised.

    Blank lines are skipped; a line that is not UTF-8 or not a JSON object is rejected.
    """
    if hasattr(path, "read"):
        return _add_numbered(
            target, _jsonl_lines(path), actor, reviews_needed=reviews_needed,
            batch_size=batch_size,
        )
    path = Path(path)
    if not path.is_file():
        raise InputError(
            "scored file",
            expected="a JSONL file written by `kiemtin classify`",
            found=f"no file at {path}",
            fix="Check the path, or score posts first: kiemtin classify POSTS -o scored.jsonl",
        )
    with open(path, "rb") as f:
        return _add_numbered(
            target, _jsonl_lines(f), actor, reviews_needed=reviews_needed, batch_size=batch_size
        )


class _BadLine:
    def __init__(self, reason: str, raw: str):
        self.reason, self.raw = reason, raw


def _jsonl_lines(stream: IO[bytes]) -> Iterator[tuple[int, object]]:
    for number, raw in enumerate(stream, start=1):
        if isinstance(raw, bytes):
            try:
                raw = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield number, _BadLine(f"not UTF-8: {exc}", raw.decode("utf-8", "replace"))
                continue
        if not raw.strip():
            continue
        try:
            yield number, json.loads(raw)
        except json.JSONDecodeError as exc:
            yield number, _BadLine(f"malformed JSON: {exc}", raw)


def _add_numbered(
    target: Session | Engine,
    numbered: Iterable[tuple[int, object]],
    actor: str,
    *,
    reviews_needed: int,
    batch_size: int,
) -> AddReport:
    if not isinstance(reviews_needed, int) or reviews_needed < 1:
        raise InputError(
            "reviews_needed",
            expected="a whole number >= 1",
            found=repr(reviews_needed),
            fix="Use 1 for one review per item, 2 or more for independent reviews.",
        )
    if isinstance(target, Engine):
        with session_factory(target)() as session:
            return _add_numbered(
                session, numbered, actor, reviews_needed=reviews_needed, batch_size=batch_size
            )
    report = AddReport()
    batch: list[_Post] = []
    for line, record in numbered:
        report.records += 1
        if isinstance(record, _BadLine):
            report.rejected.append(Rejected(line, None, record.reason, record.raw[:REJECT_RAW]))
            continue
        try:
            batch.append(_parse_record(line, record))
        except _RecordError as exc:
            rid = record.get("id") if isinstance(record, dict) else None
            raw = json.dumps(record, ensure_ascii=False, default=str)[:REJECT_RAW]
            report.rejected.append(Rejected(line, rid, str(exc), raw))
            continue
        if len(batch) >= batch_size:
            _add_batch(target, batch, actor, reviews_needed, report)
            batch = []
    if batch:
        _add_batch(target, batch, actor, reviews_needed, report)
    return report


class _RecordError(ValueError):
    pass


def _parse_record(line: int, record: object) -> _Post:
    """Validate one scored record, mask it and compute its keys; raises _RecordError."""
    from ..text.mask import mask_personal_data
    from ..text.similarity import fold, signature

    if not isinstance(record, dict):
        raise _RecordError(f"expected a JSON object, found {type(record).__name__}")
    text_ = record.get("text")
    if not isinstance(text_, str) or not text_.strip():
        raise _RecordError("expected a non-empty 'text' string")
    scores = record.get("scores")
    if not isinstance(scores, dict) or not scores:
        raise _RecordError("expected 'scores': {task: {label, proba, risk, words}}")
    versions = record.get("model_versions")
    if not isinstance(versions, dict):
        raise _RecordError("expected 'model_versions': {task: version}")
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
            raise _RecordError(f"'model_versions' has no version for task {task!r}")
        tasks.append((task, _check_score(task, score, text_, masked), version))
    rid = record.get("id")
    return _Post(
        line=line,
        source_id=None if rid is None else str(rid),
        text=masked,
        text_key=hashlib.sha256(fold(masked).encode("utf-8")).hexdigest(),
        input_hash=hashlib.sha256(text_.encode("utf-8")).hexdigest(),
        signature=signature(masked),
        tasks=tasks,
    )


def _check_score(task: str, score: object, original: str, masked: str) -> dict:
    where = f"scores[{task!r}]"
    if not isinstance(score, dict):
        raise _RecordError(f"{where}: expected an object with label, proba, risk, words")
    label, proba, risk, words = (score.get(k) for k in ("label", "proba", "risk", "words"))
    if not isinstance(proba, dict) or len(proba) < 2 or not all(
        isinstance(p, Real) and 0 <= p <= 1 for p in proba.values()
    ):
        raise _RecordError(f"{where}: expected 'proba' to map two or more labels to 0..1")
    if label not in proba:
        raise _RecordError(f"{where}: 'label' {label!r} is not one of {sorted(proba)}")
    if not isinstance(risk, Real) or isinstance(risk, bool) or not 0 <= risk <= 1:
        raise _RecordError(f"{where}: expected 'risk' between 0 and 1, found {risk!r}")
    if not isinstance(words, list):
        raise _RecordError(f"{where}: expected 'words' to be a list")
    masked_words = []
    for w in words:
        ok = isinstance(w, dict) and isinstance(w.get("start"), int) and isinstance(
            w.get("end"), int
        )
        if not ok or not 0 <= w["start"] <= w["end"] <= len(original) or (
            original[w["start"] : w["end"]] != w.get("word")
        ):
            raise _RecordError(
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


def _task_salt(task: str) -> int:
    digest = hashlib.blake2b(task.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _chunks(values: Sequence, size: int = IN_CHUNK) -> Iterator[Sequence]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


def _among(session: Session, column, values: Sequence, element_type) -> Iterator:
    """Conditions "column is one of values", as few as the database allows: on PostgreSQL
    one ``= ANY(array)`` parameter (the driver parses a long IN list slower than the query
    runs), on SQLite IN lists of at most IN_CHUNK values."""
    if not values:
        return
    if is_postgresql(session):
        array = bindparam("values", list(values), type_=ARRAY(element_type), unique=True)
        yield column == any_(array)
        return
    for chunk in _chunks(values):
        yield column.in_(chunk)


def _add_batch(
    session: Session,
    posts: list[_Post],
    actor: str,
    reviews_needed: int,
    report: AddReport,
    *,
    join_groups: bool = True,
) -> None:
    """Insert the batch's new items. ``join_groups=False`` leaves every new item standing
    alone (others may still join it later): for callers that place items themselves."""
    from ..text.similarity import NEAR_DUPLICATE, band_keys, jaccard

    with writing(session):
        if is_postgresql(session):
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": INGEST_LOCK})
        new = _new_items(session, posts, report)
        if not new:
            return
        salts = {task: _task_salt(task) for task in {it.task for it in new}}
        keys: dict[int, list[int]] = {}  # per post: its tasks share the signature
        for it in new:
            post_keys = keys.get(id(it.post))
            if post_keys is None:
                post_keys = keys[id(it.post)] = [int(k) for k in band_keys(it.post.signature)]
            # XOR with the task's salt: the same text in another task never shares a key.
            salt = salts[it.task]
            it.bands = sorted({k ^ salt for k in post_keys})
        stored, hits = _stored_candidates(session, new) if join_groups else ({}, {})
        _lock_groups(session, stored)

        batch_bands: dict[int, list[_NewItem]] = defaultdict(list)
        new_groups: list[_GroupRef] = []
        regrouped: list[_Stored] = []  # stored singletons that now represent a new group
        for it in new if join_groups else ():
            shared: Counter = Counter()
            for key in it.bands:
                for cid in hits.get(key, ()):
                    shared[stored[cid]] += 1
                for other in batch_bands.get(key, ()):
                    shared[other] += 1
            best, best_j = None, NEAR_DUPLICATE
            ranked = sorted(shared.items(), key=lambda kv: (-kv[1], *_rank(kv[0])))
            for cand, _n in ranked[:MAX_CANDIDATES]:
                if cand.task != it.task:
                    continue
                sig = cand.post.signature if isinstance(cand, _NewItem) else cand.signature
                j = jaccard(it.post.signature, sig)
                if j >= best_j and (best is None or j > best_j):
                    best, best_j = cand, j
            if best is not None:
                _join(it, best, new_groups, regrouped, report)
            for key in it.bands:
                batch_bands[key].append(it)

        _insert_items(session, new, reviews_needed)
        if new_groups:
            _insert_groups(session, new_groups)
        # Items of groups created in this batch learn their group id now (items first,
        # because a group needs its representative's id).
        created = set(map(id, new_groups))
        updates = [
            {"item": x.id, "group": x.group.id}
            for x in [*new, *regrouped]
            if x.group is not None and id(x.group) in created
        ]
        # Core statements, not ORM bulk ones: several times faster for a million rows.
        connection = session.connection()
        if updates:
            items = Item.__table__
            connection.execute(
                update(items)
                .where(items.c.id == bindparam("item"))
                .values(group_id=bindparam("group")),
                updates,
            )
        _insert_bands(connection, new)
        audit.record_many(session, _ingest_audit(new, new_groups, regrouped, actor))
        # Rows changed behind the ORM's back: objects the caller holds must reload them.
        regrouped_ids = {x.id for x in regrouped}
        for obj in list(session.identity_map.values()):
            if isinstance(obj, Item) and obj.id in regrouped_ids:
                session.expire(obj)
        report.items_added += len(new)
        report.groups_created += len(new_groups)
        report.by_task.update(it.task for it in new)


def _rank(candidate: _Stored | _NewItem) -> tuple[int, int]:
    # Ties on shared bands: stored items first (oldest first), then this batch's in order.
    return (0, candidate.id) if isinstance(candidate, _Stored) else (1, candidate.order)


def _new_items(session: Session, posts: list[_Post], report: AddReport) -> list[_NewItem]:
    """The posts' per-task items that are neither stored nor repeated earlier in the batch."""
    seen: set[tuple[str, str]] = set()
    pending: list[_NewItem] = []
    for post in posts:
        for task, score, version in post.tasks:
            if (task, post.text_key) in seen:
                report.duplicates += 1
                continue
            seen.add((task, post.text_key))
            pending.append(_NewItem(post, task, score, version))
    by_task: dict[str, list[str]] = defaultdict(list)
    for it in pending:
        by_task[it.task].append(it.post.text_key)
    stored: set[tuple[str, str]] = set()
    for task, keys in by_task.items():
        for among in _among(session, Item.text_key, keys, String()):
            query = select(Item.text_key).where(Item.task == task, among)
            stored.update((task, k) for k in session.scalars(query))
    new = [it for it in pending if (it.task, it.post.text_key) not in stored]
    for order, it in enumerate(new):
        it.order = order
    report.duplicates += len(pending) - len(new)
    return new


def _stored_candidates(
    session: Session, new: list[_NewItem]
) -> tuple[dict[int, _Stored], dict[int, list[int]]]:
    """Stored items sharing a band key with a new item, and the item ids under each key."""
    keys = sorted({k for it in new for k in it.bands})
    hits: dict[int, list[int]] = defaultdict(list)
    for among in _among(session, ItemBand.band_key, keys, BigInteger()):
        rows = session.execute(select(ItemBand.band_key, ItemBand.item_id).where(among))
        for key, item_id in rows:
            hits[key].append(item_id)
    ids = sorted({i for v in hits.values() for i in v})
    stored: dict[int, _Stored] = {}
    columns = (
        Item.id, Item.task, Item.signature, Item.group_id, Item.is_representative, Item.status,
        Item.label,
    )
    for among in _among(session, Item.id, ids, BigInteger()):
        for row in session.execute(select(*columns).where(among)):
            stored[row.id] = _Stored(
                row.id, row.task, np.frombuffer(row.signature, dtype=np.uint64),
                row.group_id, row.is_representative, row.status, row.label,
            )
    return stored, hits


def _lock_groups(session: Session, stored: dict[int, _Stored]) -> dict[int, _GroupRef]:
    """Lock the groups new items may join and read their representatives' decisions.

    Deciding a representative locks its group too (PostgreSQL), so a post joining a group
    either sees the decision or is labelled by it. SQLite writers are serialised anyway.
    """
    group_ids = sorted({s.group_id for s in stored.values() if s.group_id is not None})
    groups: dict[int, _GroupRef] = {}
    for among in _among(session, Group.id, group_ids, BigInteger()):
        locked = select(Group.id).where(among).order_by(Group.id).with_for_update()
        session.execute(locked).all()
        rows = session.execute(
            select(Group.id, Group.task, Item.id, Item.status, Item.label, Item.signature)
            .join(Item, Item.id == Group.representative_id)
            .where(among)
        )
        for gid, task, rep_id, status, label, sig in rows:
            rep = stored.get(rep_id) or _Stored(
                rep_id, task, np.frombuffer(sig, dtype=np.uint64), gid, True, status, label
            )
            rep.status, rep.label = status, label
            groups[gid] = _GroupRef(task, rep, gid)
    singletons = sorted(s.id for s in stored.values() if s.group_id is None)
    for among in _among(session, Item.id, singletons, BigInteger()):
        rows = session.execute(
            select(Item.id, Item.status, Item.label)
            .where(among)
            .order_by(Item.id)
            .with_for_update()
        )
        for item_id, status, label in rows:
            stored[item_id].status, stored[item_id].label = status, label
    for s in stored.values():
        if s.group_id is not None:
            s.group = groups.get(s.group_id)
    return groups


def _join(it: _NewItem, cand, new_groups, regrouped, report: AddReport) -> None:
    group = cand.group
    if group is None:  # the candidate stands alone: it becomes a group's representative
        group = cand.group = _GroupRef(it.task, cand)
        new_groups.append(group)
        if isinstance(cand, _Stored):
            regrouped.append(cand)
    it.group, it.is_representative = group, False
    report.grouped += 1
    label = group.decided_label
    if label is not None:  # the narrative is already decided: the new post takes its label
        it.status, it.label, it.label_source_id = "done", label, group.representative.id
        report.labelled_from_group += 1


def _insert_items(session: Session, new: list[_NewItem], reviews_needed: int) -> None:
    now = utcnow()
    values = [
        {
            "task": it.task,
            "text_key": it.post.text_key,
            "text": it.post.text,
            "source_id": it.post.source_id,
            "input_hash": it.post.input_hash,
            "model_label": it.score["label"],
            "proba": it.score["proba"],
            "risk": it.score["risk"],
            "uncertainty": it.score["uncertainty"],
            "words": it.score["words"],
            "model_version": it.model_version,
            "signature": it.post.signature.astype(np.uint64).tobytes(),
            "status": it.status,
            "reviews_needed": reviews_needed,
            "label": it.label,
            "label_source_id": it.label_source_id,
            "decided_at": now if it.status in DECIDED else None,
            # Joining a stored group is known now; a group created in this batch comes after.
            "group_id": it.group.id if it.group is not None else None,
            "is_representative": it.is_representative,
            "version": 0,
            "created_at": now,
        }
        for it in new
    ]
    items = Item.__table__
    statement = items.insert().returning(items.c.id, sort_by_parameter_order=True)
    ids = session.connection().execute(statement, values).scalars().all()
    for it, item_id in zip(new, ids, strict=True):
        it.id = item_id


def _insert_bands(connection, new: list[_NewItem]) -> None:
    keys = [k for it in new for k in it.bands]
    item_ids = [it.id for it in new for _ in it.bands]
    if connection.dialect.name == "postgresql":
        # One statement with two array parameters: a row-by-row executemany of 16 rows per
        # item is most of the cost of a large ingest on PostgreSQL.
        connection.execute(
            text(
                "INSERT INTO item_bands (band_key, item_id) SELECT * FROM "
                "unnest(CAST(:keys AS bigint[]), CAST(:item_ids AS bigint[]))"
            ),
            {"keys": keys, "item_ids": item_ids},
        )
        return
    rows = [{"band_key": k, "item_id": i} for k, i in zip(keys, item_ids, strict=True)]
    connection.execute(ItemBand.__table__.insert(), rows)


def _insert_groups(session: Session, groups: list[_GroupRef]) -> None:
    now = utcnow()
    values = [
        {"task": g.task, "representative_id": g.representative.id, "created_at": now}
        for g in groups
    ]
    groups_ = Group.__table__
    statement = groups_.insert().returning(groups_.c.id, sort_by_parameter_order=True)
    ids = session.connection().execute(statement, values).scalars().all()
    for g, group_id in zip(groups, ids, strict=True):
        g.id = group_id


def _ingest_audit(new, new_groups, regrouped, actor: str) -> Iterator[dict]:
    for it in new:
        yield {
            "actor": actor, "action": "add", "entity": "item", "entity_id": it.id,
            "after": {
                "task": it.task, "source_id": it.post.source_id,
                "input_hash": it.post.input_hash, "model_label": it.score["label"],
                "risk": it.score["risk"], "model_version": it.model_version,
                "status": it.status, "label": it.label, "group_id": it.group and it.group.id,
                "is_representative": it.is_representative,
            },
        }
    for g in new_groups:
        yield {
            "actor": actor, "action": "add", "entity": "group", "entity_id": g.id,
            "after": {"task": g.task, "representative_id": g.representative.id},
        }
    for s in regrouped:
        yield {
            "actor": actor, "action": "join_group", "entity": "item", "entity_id": s.id,
            "before": {"group_id": None}, "after": {"group_id": s.group.id},
        }


# ---------------------------------------------------------------------------- the queue


def _quota(n: int, share: float) -> int:
    """Uncertain places among the first ``n``: floor(n * share), robust to float error."""
    return floor(n * share + 1e-9)


def next_items(
    session: Session,
    task: str | None = None,
    label: str | None = None,
    status: str | None = "open",
    min_risk: float | None = None,
    max_risk: float | None = None,
    limit: int = 50,
    uncertain_share: float = 0.2,
    offset: int = 0,
    reviewer: str | None = None,
) -> list[Item]:
    """A page of the queue: the riskiest items first, with about ``uncertain_share`` of the
    places given to the items the model is least sure of (not already chosen).

    Place ``i`` (from 0) goes to an uncertain item when floor((i+1)·share) > floor(i·share):
    with 0.2, places 4, 9, 14, ... Ties break by newest id. Only one item per near-duplicate
    group appears (its representative). ``label`` filters on the model's label, ``status``
    (None: any), risk between ``min_risk`` and ``max_risk`` (inclusive); ``reviewer`` leaves
    out items that user has answered. ``offset`` pages on (deep pages cost more: the order
    is rebuilt from the top).
    """
    if status is not None and status not in STATUSES:
        raise InputError("status", expected=f"one of {STATUSES}", found=repr(status),
                         fix="Filter on one of the listed statuses, or None for all.")
    if not isinstance(limit, int) or not 1 <= limit <= 1000:
        raise InputError("limit", expected="a whole number from 1 to 1000", found=repr(limit),
                         fix="Ask for a page of at most 1000 items.")
    if not isinstance(offset, int) or offset < 0:
        raise InputError("offset", expected="a whole number >= 0", found=repr(offset),
                         fix="Start at 0 and add the page size.")
    if not isinstance(uncertain_share, Real) or not 0 <= uncertain_share <= 1:
        raise InputError("uncertain_share", expected="a number from 0 to 1",
                         found=repr(uncertain_share), fix="Use 0.2 for one place in five.")
    query = select(Item).where(Item.is_representative.is_(True))
    if task is not None:
        query = query.where(Item.task == task)
    if status is not None:
        query = query.where(Item.status == status)
    if label is not None:
        query = query.where(Item.model_label == label)
    if min_risk is not None:
        query = query.where(Item.risk >= min_risk)
    if max_risk is not None:
        query = query.where(Item.risk <= max_risk)
    if reviewer is not None:
        user = session.scalars(select(User.id).where(User.name == reviewer)).one_or_none()
        answered = exists().where(Answer.item_id == Item.id, Answer.reviewer_id == user)
        query = query.where(~answered)
    total = offset + limit
    n_uncertain = _quota(total, uncertain_share)
    # Each list needs at most ``total`` entries: an entry is only skipped when the other
    # list already chose it, and at most ``total`` are chosen in all.
    by_risk = [] if n_uncertain == total else session.scalars(
        query.order_by(Item.risk.desc(), Item.id.desc()).limit(total)
    ).all()
    by_uncertainty = [] if n_uncertain == 0 else session.scalars(
        query.order_by(Item.uncertainty.desc(), Item.id.desc()).limit(total)
    ).all()
    chosen: list[Item] = []
    taken: set[int] = set()
    sources = {"risk": iter(by_risk), "uncertain": iter(by_uncertainty)}
    for i in range(total):
        first = "uncertain" if _quota(i + 1, uncertain_share) > _quota(i, uncertain_share) else (
            "risk"
        )
        second = "risk" if first == "uncertain" else "uncertain"
        item = _next_untaken(sources[first], taken) or _next_untaken(sources[second], taken)
        if item is None:
            break
        taken.add(item.id)
        chosen.append(item)
    return chosen[offset:]


def _next_untaken(items: Iterator[Item], taken: set[int]) -> Item | None:
    for item in items:
        if item.id not in taken:
            return item
    return None


def neighbours(session: Session, item: Item | int, **filters) -> tuple[int | None, int | None]:
    """The ids before and after ``item`` in its task's open queue (``next_items`` filters).

    An item no longer in the queue (just answered) has no previous; its next is the top
    of the queue, so a reviewer who answers keeps moving.
    """
    item = _item(session, item)
    filters.setdefault("task", item.task)
    ids = [it.id for it in next_items(session, limit=NEIGHBOUR_WINDOW, **filters)]
    if item.id not in ids:
        return None, next((i for i in ids if i != item.id), None)
    at = ids.index(item.id)
    return (ids[at - 1] if at > 0 else None), (ids[at + 1] if at + 1 < len(ids) else None)


def tasks(session: Session) -> list[str]:
    """The tasks that have items, sorted (a skip scan over the task index: one probe per task)."""
    found, last = [], None
    while True:
        query = select(func.min(Item.task))
        if last is not None:
            query = query.where(Item.task > last)
        last = session.scalar(query)
        if last is None:
            return found
        found.append(last)


def status_counts(session: Session, task: str | None = None) -> dict[str, int]:
    """Items per status (representatives and members alike)."""
    query = select(Item.status, func.count()).group_by(Item.status)
    if task is not None:
        query = query.where(Item.task == task)
    counts = dict.fromkeys(STATUSES, 0)
    counts.update(dict(session.execute(query).all()))
    return counts


def get_item(session: Session, item_id: int) -> Item:
    """The item, freshly read (its current version), or NotFoundError."""
    item = session.get(Item, item_id, populate_existing=True)
    if item is None:
        raise NotFoundError(
            "item", expected="an existing item id", found=f"no item {item_id}",
            fix="Reload the queue; the id may be mistyped.",
        )
    return item


def _item(session: Session, item: Item | int) -> Item:
    return item if isinstance(item, Item) else get_item(session, item)


def group_members(session: Session, item: Item | int) -> list[Item]:
    """The items of ``item``'s group, representative first then oldest first; just the item
    when it stands alone."""
    item = _item(session, item)
    if item.group_id is None:
        return [item]
    query = (
        select(Item)
        .where(Item.group_id == item.group_id)
        .order_by(Item.is_representative.desc(), Item.id)
    )
    return list(session.scalars(query))


def group_size(session: Session, item: Item | int) -> int:
    item = _item(session, item)
    if item.group_id is None:
        return 1
    return session.scalar(select(func.count()).where(Item.group_id == item.group_id))


def group_sizes(session: Session, items: Iterable[Item]) -> dict[int, int]:
    """Group size per item id for a page of items, in one query."""
    items = list(items)
    group_ids = sorted({it.group_id for it in items if it.group_id is not None})
    counts: dict[int, int] = {}
    for among in _among(session, Item.group_id, group_ids, BigInteger()):
        query = select(Item.group_id, func.count()).where(among).group_by(Item.group_id)
        counts.update(session.execute(query).all())
    return {it.id: counts.get(it.group_id, 1) if it.group_id else 1 for it in items}


# ---------------------------------------------------------------------------- answers


def _acting_user(session: Session, who: str | User, roles: tuple[str, ...], doing: str) -> User:
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


def _lock_item(session: Session, item_id: int) -> Item:
    query = (
        select(Item)
        .where(Item.id == item_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    item = session.scalars(query).one_or_none()
    if item is None:
        raise NotFoundError(
            "item", expected="an existing item id", found=f"no item {item_id}",
            fix="Reload the queue; the id may be mistyped.",
        )
    if item.group_id is not None:
        # Deciding, splitting or joining a group all lock the group row (see _lock_groups).
        lock = select(Group.id).where(Group.id == item.group_id).with_for_update()
        session.execute(lock).all()
    return item


def _check_version(item: Item, expected_version: int | None) -> None:
    if expected_version is not None and item.version != expected_version:
        raise ConflictError(
            f"item {item.id}",
            expected=f"version {expected_version} (the version you loaded)",
            found=f"version {item.version}: it changed since (now {item.status!r}"
            f"{', label ' + repr(item.label) if item.label else ''})",
            fix="Reload the item, look at what changed, and answer again if still needed.",
        )


def _check_label(item: Item, label: str) -> None:
    if label not in item.proba:
        raise InputError(
            "label",
            expected=f"one of {sorted(item.proba)} (task {item.task!r})",
            found=repr(label),
            fix="Answer with one of the task's labels.",
        )


def _state(item: Item) -> dict:
    return {
        "status": item.status, "label": item.label, "version": item.version,
        "group_id": item.group_id, "is_representative": item.is_representative,
        "label_source_id": item.label_source_id,
    }


def _answer_dict(answer: Answer, reviewer: str) -> dict:
    return {
        "item_id": answer.item_id, "reviewer": reviewer, "label": answer.label,
        "model_label": answer.model_label, "model_score": answer.model_score,
        "model_risk": answer.model_risk, "model_version": answer.model_version,
        "note": answer.note,
    }


def record_answer(
    session: Session,
    item_id: int,
    reviewer: str | User,
    label: str,
    expected_version: int | None,
    note: str | None = None,
) -> Answer:
    """Record ``reviewer``'s label for an open item, as loaded at ``expected_version``
    (the ``version`` the reviewer's page showed; None skips the check, for scripts only).

    Refused with ConflictError when the item's version changed since (it was decided,
    split, reopened or sent to adjudication; another reviewer's answer that leaves it open
    does not count), when this reviewer already answered it, when it is not open, or
    when it is a group member (answer its representative). When ``reviews_needed`` answers
    are in, the item becomes ``answered`` if they agree (and its group takes the label) or
    ``adjudication`` if they do not.
    """
    with writing(session):
        user = _acting_user(session, reviewer, ANSWERING_ROLES, "answer items")
        item = _lock_item(session, item_id)
        _check_version(item, expected_version)
        if not item.is_representative:
            group = session.get(Group, item.group_id)
            raise ConflictError(
                f"item {item.id}",
                expected="an item reviewed on its own or a group's representative",
                found=f"a member of near-duplicate group {item.group_id}",
                fix=f"Answer the representative, item {group.representative_id}, or split "
                "this item out of the group first.",
            )
        if item.status != "open":
            raise ConflictError(
                f"item {item.id}", expected="status 'open'", found=f"status {item.status!r}",
                fix="Nothing to answer: it is decided or waiting for adjudication.",
            )
        _check_label(item, label)
        # The item row is locked (PostgreSQL) or the database is (SQLite): no other answer
        # to this item can arrive until we commit, so this list stays true.
        prior = session.execute(
            select(Answer.reviewer_id, Answer.label).where(Answer.item_id == item.id)
        ).all()
        if any(reviewer_id == user.id for reviewer_id, _ in prior):
            raise _duplicate_answer(item.id, user.name)
        before = _state(item)
        answer = Answer(
            item_id=item.id, reviewer_id=user.id, label=label, model_label=item.model_label,
            model_score=float(item.proba[item.model_label]), model_risk=item.risk,
            model_version=item.model_version, note=note or None,
        )
        session.add(answer)
        try:
            session.flush()
        except IntegrityError as exc:  # a concurrent answer by the same reviewer
            raise _duplicate_answer(item.id, user.name) from exc
        labels = [earlier for _, earlier in prior] + [label]
        # Another reviewer's independent answer does not change what this reviewer is asked
        # to judge, so only a change of state (decided, disagreement) makes pages stale.
        if len(labels) >= item.reviews_needed:
            item.version += 1
            if len(set(labels)) == 1:
                item.status, item.label, item.decided_at = "answered", label, utcnow()
            else:
                item.status = "adjudication"
        audit.record(session, user.name, "add", "answer", answer.id, None,
                     _answer_dict(answer, user.name))
        audit.record(session, user.name, "answer", "item", item.id, before, _state(item))
        if item.status == "answered":
            _label_members(session, item, user.name)
    return answer


def _existing_answer(session: Session, item_id: int, user_id: int) -> Answer | None:
    query = select(Answer).where(Answer.item_id == item_id, Answer.reviewer_id == user_id)
    return session.scalars(query).one_or_none()


def _duplicate_answer(item_id: int, name: str) -> ConflictError:
    return ConflictError(
        f"item {item_id}",
        expected=f"no earlier answer by {name!r} (a reviewer answers an item once)",
        found="an answer by this reviewer already",
        fix="Undo your answer first to change it.",
    )


def _label_members(session: Session, rep: Item, actor: str) -> int:
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
        before = _state(member)
        member.status, member.label, member.label_source_id = "done", rep.label, rep.id
        member.decided_at = utcnow()
        member.version += 1
        audit.record(session, actor, "label_from_group", "item", member.id, before,
                     _state(member))
    return len(members)


def _reopen_members(session: Session, rep_id: int, actor: str, exclude: int) -> None:
    """Reopen the items that took their label from ``rep_id`` (it left their group)."""
    query = (
        select(Item)
        .where(Item.label_source_id == rep_id, Item.id != exclude)
        .order_by(Item.id)
        .execution_options(populate_existing=True)
    )
    for member in session.scalars(query):
        before = _state(member)
        member.status, member.label, member.label_source_id = "open", None, None
        member.decided_at = None
        member.version += 1
        audit.record(session, actor, "reopen", "item", member.id, before, _state(member))


def undo_answer(
    session: Session, item_id: int, reviewer: str | User, expected_version: int | None = None
) -> None:
    """Withdraw ``reviewer``'s answer to an item that is not yet adjudicated.

    The item reopens (its decided label, and the label its members took from it, are
    withdrawn). The answer row is deleted; the audit trail keeps it.
    """
    with writing(session):
        user = _acting_user(session, reviewer, ANSWERING_ROLES, "answer items")
        item = _lock_item(session, item_id)
        _check_version(item, expected_version)
        answer = _existing_answer(session, item.id, user.id)
        if answer is None:
            raise ConflictError(
                f"item {item.id}", expected=f"an answer by {user.name!r} to withdraw",
                found="none", fix="Nothing to undo; reload the item.",
            )
        if item.status == "done":
            raise ConflictError(
                f"item {item.id}", expected="an item not yet adjudicated",
                found="status 'done' (decided)", fix="Ask a trainer or admin to change it.",
            )
        before = _state(item)
        removed = _answer_dict(answer, user.name)
        session.delete(answer)
        if item.status == "answered":
            _reopen_members(session, item.id, user.name, exclude=item.id)
        item.status, item.label, item.decided_at = "open", None, None
        item.version += 1
        audit.record(session, user.name, "delete", "answer", answer.id, removed, None)
        audit.record(session, user.name, "undo_answer", "item", item.id, before, _state(item))


def adjudicate(
    session: Session,
    item_id: int,
    user: str | User,
    label: str,
    expected_version: int | None = None,
    note: str | None = None,
) -> Item:
    """A trainer or admin decides an item whose reviewers disagreed; its group follows."""
    with writing(session):
        judge = _acting_user(session, user, ADJUDICATING_ROLES, "adjudicate")
        item = _lock_item(session, item_id)
        _check_version(item, expected_version)
        if item.status != "adjudication":
            raise ConflictError(
                f"item {item.id}", expected="status 'adjudication' (reviewers disagreed)",
                found=f"status {item.status!r}", fix="Only disagreements are adjudicated.",
            )
        _check_label(item, label)
        before = _state(item)
        item.status, item.label, item.adjudicator_id = "done", label, judge.id
        item.decided_at = utcnow()
        item.version += 1
        after = {**_state(item), "adjudicator": judge.name, "note": note or None}
        audit.record(session, judge.name, "adjudicate", "item", item.id, before, after)
        _label_members(session, item, judge.name)
    return item


def split_from_group(
    session: Session, item_id: int, actor: str | User, expected_version: int | None = None
) -> Item:
    """Take a wrongly grouped item out of its near-duplicate group; it stands alone.

    A member that had taken the group's label reopens. When the representative is split
    out, the oldest remaining member represents the group and the members that had taken
    the old representative's label reopen.
    """
    with writing(session):
        user = _acting_user(session, actor, ANSWERING_ROLES, "split groups")
        item = _lock_item(session, item_id)
        _check_version(item, expected_version)
        if item.group_id is None:
            raise ConflictError(
                f"item {item.id}", expected="an item in a near-duplicate group",
                found="an item that stands alone", fix="Nothing to split; reload the item.",
            )
        group = session.get(Group, item.group_id, populate_existing=True)
        others = list(session.scalars(
            select(Item)
            .where(Item.group_id == group.id, Item.id != item.id)
            .order_by(Item.id)
            .execution_options(populate_existing=True)
        ))
        if not others:
            raise ConflictError(
                f"item {item.id}", expected="a group with other members",
                found=f"the last item of group {group.id}", fix="Nothing to split.",
            )
        before = _state(item)
        if item.is_representative:
            _reopen_members(session, item.id, user.name, exclude=item.id)
            heir = others[0]
            heir_before = _state(heir)
            heir.is_representative = True
            heir.version += 1
            group.representative_id = heir.id
            audit.record(session, user.name, "new_representative", "group", group.id,
                         {"representative_id": item.id}, {"representative_id": heir.id})
            audit.record(session, user.name, "represent_group", "item", heir.id, heir_before,
                         _state(heir))
        elif item.label_source_id is not None:
            item.status, item.label, item.label_source_id = "open", None, None
            item.decided_at = None
        item.group_id, item.is_representative = None, True
        item.version += 1
        audit.record(session, user.name, "split_from_group", "item", item.id, before,
                     _state(item))
    return item


# ---------------------------------------------------------------------------- agreement


@dataclass(frozen=True)
class Agreement:
    """Cohen's kappa between the first and second answer of each doubly-answered item."""

    task: str
    items: int
    observed: float | None  # share of items whose two answers agree
    expected: float | None  # agreement expected by chance from the two answers' label rates
    kappa: float | None  # None without items; 1.0 when chance agreement is already total


def cohens_kappa(session: Session, task: str) -> Agreement:
    """Agreement of reviewers on ``task``: for each item with two or more answers, its first
    answer is rater A and its second rater B (answers beyond the second are ignored)."""
    # Start from the (few) items with two answers, not from the task's (many) items.
    doubly = select(Answer.item_id).group_by(Answer.item_id).having(func.count() >= 2)
    ids = list(session.scalars(doubly))
    by_item: dict[int, list[str]] = defaultdict(list)
    for chunk in _chunks(ids):
        rows = session.execute(
            select(Answer.item_id, Answer.label, Item.task)
            .join(Item, Item.id == Answer.item_id)
            .where(Answer.item_id.in_(chunk))
            .order_by(Answer.item_id, Answer.id)
        )
        for item_id, label, item_task in rows:
            if item_task == task:
                by_item[item_id].append(label)
    pairs = [(labels[0], labels[1]) for labels in by_item.values() if len(labels) >= 2]
    if not pairs:
        return Agreement(task, 0, None, None, None)
    n = len(pairs)
    observed = sum(a == b for a, b in pairs) / n
    first, second = Counter(a for a, _ in pairs), Counter(b for _, b in pairs)
    expected = sum(first[k] * second[k] for k in first) / (n * n)
    kappa = 1.0 if expected == 1 else (observed - expected) / (1 - expected)
    return Agreement(task, n, observed, expected, kappa)

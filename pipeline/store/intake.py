"""Adding posts: the scored records ``kiemtin classify`` writes become review items.

``add_scored`` / ``add_scored_file`` put them into the store: one item per post per task,
idempotent (the same folded text of the same task is one item), personal data masked,
near-duplicates grouped through the LSH band table; in batches with bulk inserts, every
write audited. A record that is not in that shape is reported in ``AddReport.rejected``,
never raised. A post that joins a group whose label is already decided gets it at once: status
``done`` and ``label_source_id`` pointing at the representative, as ``answers`` labels the
members of a group it decides. Two thresholds (``Thresholds``, from ``KIEMTIN_JOIN_SIMILARITY``
and ``KIEMTIN_SUGGEST_SIMILARITY``): a post whose most similar candidate reaches the join
threshold joins its group; one whose best lies between the suggest and the join threshold
stands alone with a pending ``GroupSuggestion`` for a reviewer (``group_suggestions``).
``add_posts`` is one batch of that, for importers that check their own records
(``label_studio``).

Every write runs in ``db.writing``: it commits by itself unless the caller opened the
transaction (``with session.begin():``).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np
from sqlalchemy import BigInteger, Engine, String, bindparam, select, text, update
from sqlalchemy.orm import Session

from ..batch.inputs import json_lines
from ..errors import InputError
from ..text.similarity import NEAR_DUPLICATE, SUGGEST_MIN, band_keys, jaccard
from . import audit
from ._shared import RecordError, ScoredPost, one_of, parse_record
from .db import is_postgresql, session_factory, writing
from .tables import DECIDED, Group, GroupSuggestion, Item, ItemBand, fold_for_search, utcnow

BATCH_SIZE = 1000  # records per transaction when adding scored posts
MAX_CANDIDATES = 50  # near-duplicate candidates compared per new item, most shared bands first
REJECT_RAW = 200  # characters of a bad line kept in the report
# Serialises concurrent ingests on PostgreSQL (pg_advisory_xact_lock), as SQLite's single
# writer does: the duplicate check and the group assignment must see each other's rows.
INGEST_LOCK = 0x6B69656D74696E  # "kiemtin"

# The two thresholds on the MinHash estimate (``jaccard``), measured on the team's paraphrase
# pairs (tests/data/paraphrase_pairs.jsonl, 44 same claim, 31 not; reproduce with
# python benchmarks/similarity_precision.py). Precision / recall, joined at t or joined or
# suggested down to t, through the band keys as here, and if every pair were a candidate:
#     t                   0.20         0.25         0.30         0.45         0.50
#     band keys       .974 / .841  .973 / .818  .973 / .818  .971 / .773  .971 / .750
#     every pair      .846 / 1.00  .894 / .955  .889 / .909  .973 / .818  .972 / .795
# Join 0.50: no threshold below 0.84 reaches precision 0.98 (the one wrong pair, two lockdown
# posts of one template naming other cities, estimates 0.83); precision stays 0.97 from 0.45
# up, and 0.50 keeps a margin over the same-topic pairs at 0.41-0.42 (the estimate's standard
# error is about 0.06), where a wrong join would hand a decided label to another claim.
# Suggest 0.25: the highest threshold with recall >= 0.9 once precision no longer rises
# (0.25 beats 0.30 on both), and ``SUGGEST_MIN``'s scale for rebuttal reuse; a reviewer
# confirms, so a weak suggestion costs a glance. Through the 16 bands of 4 rows, candidates
# reach only 3 of the 7 same-claim pairs between 0.25 and 0.50 (P(shared key) is 0.06 at
# J = 0.25, 0.34 at 0.40), so recall stops at 0.82: the benchmark's candidate table shows
# what 21x3 or 32x2 bands would find and cost.
JOIN_SIMILARITY = NEAR_DUPLICATE
SUGGEST_SIMILARITY = SUGGEST_MIN
JOIN_ENV, SUGGEST_ENV = "KIEMTIN_JOIN_SIMILARITY", "KIEMTIN_SUGGEST_SIMILARITY"


@dataclass(frozen=True)
class Thresholds:
    """Near-duplicate thresholds on the MinHash estimate: at ``join`` or above a post joins
    its most similar candidate's group by itself; from ``suggest`` up to ``join`` the group is
    suggested to a reviewer. ``0 < suggest < join <= 1``.

    >>> Thresholds.from_env({})
    Thresholds(join=0.5, suggest=0.25)
    """

    join: float = JOIN_SIMILARITY
    suggest: float = SUGGEST_SIMILARITY

    def __post_init__(self):
        for name, env, value in (("join", JOIN_ENV, self.join),
                                 ("suggest", SUGGEST_ENV, self.suggest)):
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            if not number or not 0 < value <= 1:
                raise InputError(
                    env,
                    expected=f"the {name} similarity threshold, a number in (0, 1]",
                    found=repr(value),
                    fix=f"Unset it for the measured default ({_DEFAULTS[name]}), or set a "
                    "number such as 0.5.",
                )
        if self.suggest >= self.join:
            raise InputError(
                f"{SUGGEST_ENV} and {JOIN_ENV}",
                expected="a suggest threshold below the join threshold",
                found=f"suggest {self.suggest} and join {self.join}",
                fix=f"Lower {SUGGEST_ENV} or raise {JOIN_ENV} (defaults {SUGGEST_SIMILARITY} "
                f"and {JOIN_SIMILARITY}).",
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Thresholds:
        env = os.environ if environ is None else environ
        values = {}
        for name, key in (("join", JOIN_ENV), ("suggest", SUGGEST_ENV)):
            raw = (env.get(key) or "").strip()
            if not raw:
                continue
            try:
                values[name] = float(raw)
            except ValueError:
                values[name] = raw  # __post_init__ says what is wrong with it
        return cls(**values)


_DEFAULTS = {"join": JOIN_SIMILARITY, "suggest": SUGGEST_SIMILARITY}


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
    suggested: int = 0  # added items left alone with a group suggestion for a reviewer
    rejected: list[Rejected] = field(default_factory=list)
    by_task: Counter = field(default_factory=Counter)  # items added per task

    def summary(self) -> str:
        return (
            f"{self.records} records: {self.items_added} items added, {self.duplicates} "
            f"duplicates, {self.grouped} joined a near-duplicate group "
            f"({self.groups_created} groups created), "
            + (f"{self.suggested} suggested to a group for review, " if self.suggested else "")
            + f"{len(self.rejected)} rejected"
        )


@dataclass(eq=False)
class _NewItem:
    post: ScoredPost
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
    thresholds: Thresholds | None = None,
) -> AddReport:
    """Add scored records (the JSONL records of ``kiemtin classify``) to the queue.

    A record that is not in that shape is reported in ``AddReport.rejected``, never raised.
    ``thresholds`` defaults to ``Thresholds.from_env()``.
    """
    return _add_numbered(
        target, enumerate(records, start=1), actor, reviews_needed=reviews_needed,
        batch_size=batch_size, thresholds=thresholds,
    )


def add_scored_file(
    target: Session | Engine,
    path: str | Path | IO[bytes],
    actor: str,
    *,
    reviews_needed: int = 1,
    batch_size: int = BATCH_SIZE,
    thresholds: Thresholds | None = None,
) -> AddReport:
    """Stream a JSONL file of scored records into the queue; bad lines are reported, not raised.

    Blank lines are skipped; a line that is not UTF-8 or not a JSON object is rejected.
    """
    if hasattr(path, "read"):
        return _add_numbered(
            target, _scored_lines(path), actor, reviews_needed=reviews_needed,
            batch_size=batch_size, thresholds=thresholds,
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
            target, _scored_lines(f), actor, reviews_needed=reviews_needed,
            batch_size=batch_size, thresholds=thresholds,
        )


class _BadLine:
    def __init__(self, reason: str, raw: str):
        self.reason, self.raw = reason, raw


def _scored_lines(stream: IO[bytes]) -> Iterator[tuple[int, object]]:
    # json.loads, as ever: the same values, and a first-line BOM is malformed JSON here.
    for number, raw, value, error in json_lines(stream, strip_bom=False, loads=json.loads):
        if error is None:
            yield number, value
        elif isinstance(error, UnicodeDecodeError):
            yield number, _BadLine(f"not UTF-8: {error}", raw)
        else:
            yield number, _BadLine(f"malformed JSON: {error}", raw)


def _add_numbered(
    target: Session | Engine,
    numbered: Iterable[tuple[int, object]],
    actor: str,
    *,
    reviews_needed: int,
    batch_size: int,
    thresholds: Thresholds | None,
) -> AddReport:
    if not isinstance(reviews_needed, int) or reviews_needed < 1:
        raise InputError(
            "reviews_needed",
            expected="a whole number >= 1",
            found=repr(reviews_needed),
            fix="Use 1 for one review per item, 2 or more for independent reviews.",
        )
    if thresholds is None:
        thresholds = Thresholds.from_env()  # once, so a bad setting fails before any write
    if isinstance(target, Engine):
        with session_factory(target)() as session:
            return _add_numbered(
                session, numbered, actor, reviews_needed=reviews_needed,
                batch_size=batch_size, thresholds=thresholds,
            )
    report = AddReport()
    batch: list[ScoredPost] = []
    for line, record in numbered:
        report.records += 1
        if isinstance(record, _BadLine):
            report.rejected.append(Rejected(line, None, record.reason, record.raw[:REJECT_RAW]))
            continue
        try:
            batch.append(parse_record(line, record))
        except RecordError as exc:
            rid = record.get("id") if isinstance(record, dict) else None
            raw = json.dumps(record, ensure_ascii=False, default=str)[:REJECT_RAW]
            report.rejected.append(Rejected(line, rid, str(exc), raw))
            continue
        if len(batch) >= batch_size:
            add_posts(target, batch, actor, reviews_needed, report, thresholds=thresholds)
            batch = []
    if batch:
        add_posts(target, batch, actor, reviews_needed, report, thresholds=thresholds)
    return report


def _task_salt(task: str) -> int:
    digest = hashlib.blake2b(task.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def add_posts(
    session: Session,
    posts: list[ScoredPost],
    actor: str,
    reviews_needed: int,
    report: AddReport,
    *,
    join_groups: bool = True,
    thresholds: Thresholds | None = None,
) -> None:
    """Insert the batch's new items. ``join_groups=False`` leaves every new item standing
    alone, without suggestions (others may still join it later): for callers that place items
    themselves. ``thresholds`` defaults to ``Thresholds.from_env()``."""
    if thresholds is None:
        thresholds = Thresholds.from_env()
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
        suggestions: list[tuple[_NewItem, _Stored | _NewItem, float]] = []
        for it in new if join_groups else ():
            shared: Counter = Counter()
            for key in it.bands:
                for cid in hits.get(key, ()):
                    shared[stored[cid]] += 1
                for other in batch_bands.get(key, ()):
                    shared[other] += 1
            # The most similar candidate at the suggest threshold or above (ties: the most
            # shared bands, then the oldest); it is joined from the join threshold up.
            best, best_j = None, thresholds.suggest
            ranked = sorted(shared.items(), key=lambda kv: (-kv[1], *_rank(kv[0])))
            for cand, _n in ranked[:MAX_CANDIDATES]:
                if cand.task != it.task:
                    continue
                sig = cand.post.signature if isinstance(cand, _NewItem) else cand.signature
                j = jaccard(it.post.signature, sig)
                if j >= best_j and (best is None or j > best_j):
                    best, best_j = cand, j
            if best is not None and best_j >= thresholds.join:
                _join(it, best, new_groups, regrouped, report)
            elif best is not None:
                suggestions.append((it, best, best_j))
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
        suggested = _insert_suggestions(session, suggestions)
        audit.record_many(
            session, _ingest_audit(new, new_groups, regrouped, suggested, actor)
        )
        # Rows changed behind the ORM's back: objects the caller holds must reload them.
        regrouped_ids = {x.id for x in regrouped}
        for obj in list(session.identity_map.values()):
            if isinstance(obj, Item) and obj.id in regrouped_ids:
                session.expire(obj)
        report.items_added += len(new)
        report.groups_created += len(new_groups)
        report.suggested += len(suggested)
        report.by_task.update(it.task for it in new)


def _rank(candidate: _Stored | _NewItem) -> tuple[int, int]:
    # Ties on shared bands: stored items first (oldest first), then this batch's in order.
    return (0, candidate.id) if isinstance(candidate, _Stored) else (1, candidate.order)


def _new_items(session: Session, posts: list[ScoredPost], report: AddReport) -> list[_NewItem]:
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
        for among in one_of(session, Item.text_key, keys, String()):
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
    for among in one_of(session, ItemBand.band_key, keys, BigInteger()):
        rows = session.execute(select(ItemBand.band_key, ItemBand.item_id).where(among))
        for key, item_id in rows:
            hits[key].append(item_id)
    ids = sorted({i for v in hits.values() for i in v})
    stored: dict[int, _Stored] = {}
    columns = (
        Item.id, Item.task, Item.signature, Item.group_id, Item.is_representative, Item.status,
        Item.label,
    )
    for among in one_of(session, Item.id, ids, BigInteger()):
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
    for among in one_of(session, Group.id, group_ids, BigInteger()):
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
    for among in one_of(session, Item.id, singletons, BigInteger()):
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
    folded: dict[int, str] = {}  # per post: its tasks' items share the search text
    for it in new:
        if id(it.post) not in folded:
            folded[id(it.post)] = fold_for_search(it.post.text)
    values = [
        {
            "task": it.task,
            "text_key": it.post.text_key,
            "text": it.post.text,
            "search_text": folded[id(it.post)],  # indexed for search (migration 0006)
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
    for it, item_id in zip(new, _insert_returning_ids(session, Item.__table__, values),
                           strict=True):
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
    for g, group_id in zip(groups, _insert_returning_ids(session, Group.__table__, values),
                           strict=True):
        g.id = group_id


def _insert_suggestions(session: Session, suggestions) -> list[dict]:
    """Insert the pending group suggestions in one statement; their rows, with ids."""
    now = utcnow()
    values = [
        {
            "item_id": it.id,
            "candidate_id": cand.id,
            # The candidate's group (a group created in this batch has its id by now).
            "group_id": cand.group.id if cand.group is not None else None,
            "similarity": similarity,
            "status": "pending",
            "created_at": now,
        }
        for it, cand, similarity in suggestions
    ]
    if not values:
        return []
    ids = _insert_returning_ids(session, GroupSuggestion.__table__, values)
    return [{"id": sid, **row} for sid, row in zip(ids, values, strict=True)]


def _insert_returning_ids(session: Session, table, values: list[dict]) -> list[int]:
    """Insert the rows in one statement; their new ids, in the order of ``values``."""
    statement = table.insert().returning(table.c.id, sort_by_parameter_order=True)
    return session.connection().execute(statement, values).scalars().all()


def _ingest_audit(new, new_groups, regrouped, suggested, actor: str) -> Iterator[dict]:
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
    for row in suggested:
        yield {
            "actor": actor, "action": "suggest", "entity": "group_suggestion",
            "entity_id": row["id"],
            "after": {
                "item_id": row["item_id"], "candidate_id": row["candidate_id"],
                "group_id": row["group_id"], "similarity": row["similarity"],
                "status": "pending",
            },
        }

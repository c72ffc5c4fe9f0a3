"""Rebuttals: counter-messages for confirmed narratives, written once and reused.

A narrative is a near-duplicate group whose representative was confirmed by review as a risky
label of its task (``hostile``: offensive or hate; ``false``: unreliable). A communicator
writes a rebuttal for it as a Markdown draft (a post that stands alone gets a group of its
own then, so later near-duplicates join it and the rebuttal serves them too); someone else
with the right approves it (a trainer, an admin, or a communicator holding
``approves_rebuttals``; never its author or last editor); then it is published. The editor
suggests the earlier narratives most similar to this one that have an approved rebuttal,
through the same similarity as the groups (``pipeline.text.similarity``). Every write is audited;
drafts use optimistic locking like items (``version``).

An approved or published rebuttal answers its narrative's decided label, so that label is not
undone, changed or split away while one exists (``refuse_if_answered``); a trainer or admin
reopens the item instead (``answers.reopen_item``), which sends them back to draft
(``send_back_to_review``, audited as ``needs_review``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import BigInteger, func, or_, select
from sqlalchemy.orm import Session

from ..errors import InputError
from ..tasks import known_tasks, load_task
from ..text.similarity import most_similar
from . import audit, webhooks
from ._shared import (
    ConflictError,
    ForbiddenError,
    NotFoundError,
    acting_user,
    item_state,
    lock_item,
    locked_row,
    one_of,
)
from .db import writing
from .tables import DECIDED, Group, Item, Rebuttal, User, utcnow

WRITING_ROLES = ("admin", "communicator")
APPROVING_ROLES = ("admin", "trainer")  # and communicators with the right
PUBLISHING_ROLES = ("admin", "trainer", "communicator")
APPROVED = ("approved", "published")
SUGGESTIONS = 5
MAX_TITLE = 200
MAX_BODY = 20_000
PACK_EXAMPLES = 10  # near-duplicate posts quoted in a pack besides the representative


# ---------------------------------------------------------------------------- narratives


def risk_labels(task: str) -> tuple[str, ...] | None:
    """The labels that make a decided item a narrative to answer; None for a task this
    installation does not know (then any decided label counts)."""
    return load_task(task).risk_labels if task in known_tasks() else None


def is_confirmed(item: Item) -> bool:
    """Decided by review (answers, adjudication or its group) with a risky label."""
    risky = risk_labels(item.task)
    return (
        item.status in DECIDED and item.label is not None and (risky is None or item.label in risky)
    )


def representative(session: Session, item: Item) -> Item:
    """The item that stands for ``item``'s narrative: its group's representative, or itself."""
    if item.group_id is None or item.is_representative:
        return item
    group = session.get(Group, item.group_id)
    return session.get(Item, group.representative_id)


@dataclass(frozen=True)
class Narrative:
    """A confirmed narrative: its representative item, how many posts it has, and its
    rebuttals counted by status."""

    item: Item
    posts: int
    rebuttals: dict[str, int]


def _confirmed_query(task: str | None):
    query = select(Item).where(Item.is_representative.is_(True), Item.status.in_(DECIDED))
    tasks = [task] if task is not None else known_tasks()
    conditions = [
        (Item.task == t) & Item.label.in_(risk_labels(t)) for t in tasks if risk_labels(t)
    ]
    if task is None:  # tasks this installation does not know: any decided label
        conditions.append(Item.task.not_in(tasks))
    elif not risk_labels(task):
        conditions = [Item.task == task]
    return query.where(or_(*conditions))


def confirmed_narratives(
    session: Session, task: str | None = None, limit: int = 50, offset: int = 0
) -> list[Narrative]:
    """A page of confirmed narratives, the most recently decided first."""
    if not 1 <= limit <= 500 or offset < 0:
        raise InputError(
            "page",
            expected="limit 1..500 and offset >= 0",
            found=f"limit {limit}, offset {offset}",
            fix="Ask for a smaller page.",
        )
    query = _confirmed_query(task).order_by(Item.decided_at.desc(), Item.id.desc())
    items = list(session.scalars(query.limit(limit).offset(offset)))
    return narratives_of(session, items)


def narratives_of(session: Session, items: list[Item]) -> list[Narrative]:
    """Narratives of a page of representatives: their group sizes and rebuttal counts by
    status (two grouped queries for the page)."""
    group_ids = [it.group_id for it in items if it.group_id is not None]
    sizes: dict[int, int] = {}
    counts: dict[int, Counter] = {}
    for among in one_of(session, Item.group_id, group_ids, BigInteger()):
        rows = session.execute(
            select(Item.group_id, func.count()).where(among).group_by(Item.group_id)
        )
        sizes.update(dict(rows.all()))
    for among in one_of(session, Rebuttal.group_id, group_ids, BigInteger()):
        rows = session.execute(
            select(Rebuttal.group_id, Rebuttal.status, func.count())
            .where(among)
            .group_by(Rebuttal.group_id, Rebuttal.status)
        )
        for gid, status, n in rows:
            counts.setdefault(gid, Counter())[status] = n
    return [
        Narrative(it, sizes.get(it.group_id, 1), dict(counts.get(it.group_id, {}))) for it in items
    ]


def dependent_rebuttals(session: Session, item: Item, *, lock: bool = False) -> list[Rebuttal]:
    """The approved and published rebuttals that answer ``item``'s decided label, oldest
    first: those of the narrative it represents (a member's label is its representative's,
    so nothing depends on a member alone). ``lock`` locks their rows for update."""
    if item.group_id is None or not item.is_representative:
        return []
    query = (
        select(Rebuttal)
        .where(Rebuttal.group_id == item.group_id, Rebuttal.status.in_(APPROVED))
        .order_by(Rebuttal.id)
        .execution_options(populate_existing=True)
    )
    if lock:
        query = query.with_for_update()
    return list(session.scalars(query))


def describe(found: list[Rebuttal]) -> str:
    """``rebuttal 3 (approved), rebuttal 5 (published)``."""
    return ", ".join(f"rebuttal {r.id} ({r.status})" for r in found)


def refuse_if_answered(session: Session, item: Item, doing: str) -> None:
    """ConflictError naming the approved or published rebuttals that answer ``item``'s label,
    when there are any: ``doing`` (e.g. "undoing the answer") would change what they answer."""
    found = dependent_rebuttals(session, item)
    if found:
        raise ConflictError(
            f"item {item.id}",
            expected="no approved or published rebuttal answering its decided label "
            f"({doing} would change it)",
            found=f"{describe(found)} of narrative group {item.group_id}",
            fix="Ask a trainer or admin to reopen the item: that sends those rebuttals back "
            "to draft, to be reviewed again once the item is decided again.",
        )


def send_back_to_review(session: Session, item: Item, actor: str) -> list[Rebuttal]:
    """Put the approved and published rebuttals of ``item``'s narrative back to draft (its
    label is being reopened), each audited as ``needs_review``; run inside the caller's
    write transaction (``answers.reopen_item``). Returns them."""
    found = dependent_rebuttals(session, item, lock=True)
    now = utcnow()
    for rebuttal in found:
        before = _public(rebuttal)
        rebuttal.status, rebuttal.approver_id = "draft", None
        rebuttal.approved_at = rebuttal.published_at = None
        rebuttal.updated_at = now
        rebuttal.version += 1
        after = {**_public(rebuttal), "why": f"item {item.id} was reopened for a new answer"}
        audit.record(session, actor, "needs_review", "rebuttal", rebuttal.id, before, after)
    return found


def narrative_rebuttals(session: Session, item: Item) -> list[Rebuttal]:
    """The rebuttals of ``item``'s narrative, oldest first."""
    if item.group_id is None:
        return []
    query = select(Rebuttal).where(Rebuttal.group_id == item.group_id).order_by(Rebuttal.id)
    return list(session.scalars(query))


# ---------------------------------------------------------------------------- suggestions


@dataclass(frozen=True)
class Suggestion:
    """An earlier narrative like this one, with its approved rebuttal to reuse."""

    item: Item  # the earlier post most similar to this narrative
    rebuttal: Rebuttal  # its narrative's latest approved or published rebuttal
    similarity: float  # estimated Jaccard index of the folded texts' shingles


def suggestions(session: Session, item_id: int, k: int = SUGGESTIONS) -> list[Suggestion]:
    """The ``k`` earlier narratives most similar to ``item_id``'s that have an approved (or
    published) rebuttal, one per narrative, most similar first.

    Every post of each such narrative is compared (a reworded post may be closest to a
    member rather than to the representative), through ``pipeline.text.similarity``.
    """
    item = representative(session, _get_item(session, item_id))
    approved_groups = select(Rebuttal.group_id).where(Rebuttal.status.in_(APPROVED)).distinct()
    if item.group_id is not None:
        approved_groups = approved_groups.where(Rebuttal.group_id != item.group_id)
    group_ids = sorted(session.scalars(approved_groups))
    candidates: list[tuple[int, np.ndarray]] = []
    group_of: dict[int, int] = {}
    for among in one_of(session, Item.group_id, group_ids, BigInteger()):
        for item_id_, group_id, sig in session.execute(
            select(Item.id, Item.group_id, Item.signature).where(among).order_by(Item.id)
        ):
            candidates.append((item_id_, np.frombuffer(sig, dtype=np.uint64)))
            group_of[item_id_] = group_id
    query = np.frombuffer(item.signature, dtype=np.uint64)
    best: dict[int, tuple[int, float]] = {}  # group -> (item, similarity), best first
    for candidate, similarity in most_similar(query, candidates, k=len(candidates) or 1):
        best.setdefault(group_of[candidate], (candidate, similarity))
        if len(best) == k:
            break
    out = []
    for group_id, (candidate, similarity) in best.items():
        rebuttal = session.scalars(
            select(Rebuttal)
            .where(Rebuttal.group_id == group_id, Rebuttal.status.in_(APPROVED))
            .order_by(Rebuttal.status.desc(), Rebuttal.id.desc())  # published first
            .limit(1)
        ).one()
        out.append(Suggestion(session.get(Item, candidate), rebuttal, similarity))
    return out


# ---------------------------------------------------------------------------- writes


def _get_item(session: Session, item_id: int) -> Item:
    item = session.get(Item, item_id)
    if item is None:
        raise NotFoundError(
            "item",
            expected="an existing item id",
            found=f"no item {item_id}",
            fix="Reload the list of narratives; the id may be mistyped.",
        )
    return item


def get_rebuttal(session: Session, rebuttal_id: int) -> Rebuttal:
    rebuttal = session.get(Rebuttal, rebuttal_id, populate_existing=True)
    if rebuttal is None:
        raise NotFoundError(
            "rebuttal",
            expected="an existing rebuttal id",
            found=f"no rebuttal {rebuttal_id}",
            fix="Reload the list of rebuttals; the id may be mistyped.",
        )
    return rebuttal


def find_rebuttal(session: Session, rebuttal_id: int) -> Rebuttal | None:
    """The rebuttal, or None when there is none with that id (for pages that say so)."""
    return session.get(Rebuttal, rebuttal_id)


def _lock_rebuttal(session: Session, rebuttal_id: int, expected_version: int | None) -> Rebuttal:
    rebuttal = locked_row(session, Rebuttal, rebuttal_id)
    if rebuttal is None:
        get_rebuttal(session, rebuttal_id)  # raises NotFoundError
    if expected_version is not None and rebuttal.version != expected_version:
        raise ConflictError(
            f"rebuttal {rebuttal.id}",
            expected=f"version {expected_version} (the version you loaded)",
            found=f"version {rebuttal.version}: it changed since (now {rebuttal.status!r})",
            fix="Reload the rebuttal, look at what changed, and try again.",
        )
    return rebuttal


def _check_text(title: str, body: str) -> tuple[str, str]:
    title, body = (title or "").strip(), (body or "").strip()
    if not title or len(title) > MAX_TITLE:
        raise InputError(
            "title",
            expected=f"1 to {MAX_TITLE} characters",
            found=f"{len(title)} characters",
            fix="Give the rebuttal a short title.",
        )
    if not body or len(body) > MAX_BODY:
        raise InputError(
            "rebuttal text",
            expected=f"1 to {MAX_BODY:,} characters of Markdown",
            found=f"{len(body):,} characters",
            fix="Write the counter-message (shorter ones are shared more).",
        )
    return title, body


def _public(rebuttal: Rebuttal) -> dict:
    return {
        "group_id": rebuttal.group_id,
        "task": rebuttal.task,
        "title": rebuttal.title,
        "body": rebuttal.body,
        "status": rebuttal.status,
        "version": rebuttal.version,
        "reused_from_id": rebuttal.reused_from_id,
        "approver_id": rebuttal.approver_id,
    }


def _narrative_group(session: Session, item: Item, actor: str) -> int:
    """The group of a confirmed narrative, created for a post that stands alone."""
    if item.group_id is not None:
        return item.group_id
    group = Group(task=item.task, representative_id=item.id, created_at=utcnow())
    session.add(group)
    session.flush()
    before = item_state(item)
    item.group_id, item.is_representative = group.id, True
    item.version += 1
    audit.record(
        session,
        actor,
        "add",
        "group",
        group.id,
        None,
        {"task": group.task, "representative_id": item.id, "why": "rebuttal"},
    )
    audit.record(session, actor, "join_group", "item", item.id, before, item_state(item))
    return group.id


def create_draft(
    session: Session,
    item_id: int,
    author: str | User,
    title: str,
    body: str,
    reused_from: int | None = None,
) -> Rebuttal:
    """A communicator's (or admin's) draft rebuttal for the narrative of ``item_id``."""
    title, body = _check_text(title, body)
    with writing(session):
        user = acting_user(session, author, WRITING_ROLES, "write rebuttals")
        item = lock_item(session, item_id)
        item = representative(session, item)
        if not is_confirmed(item):
            raise ConflictError(
                f"item {item.id}",
                expected="a narrative confirmed by review with a risky label "
                f"({', '.join(risk_labels(item.task) or ('any',))})",
                found=f"status {item.status!r}, label {item.label!r}",
                fix="Rebuttals answer confirmed narratives; wait for the review to decide.",
            )
        if reused_from is not None:
            source = session.get(Rebuttal, reused_from)
            if source is None or source.status not in APPROVED:
                raise InputError(
                    "reused rebuttal",
                    expected="an approved or published rebuttal",
                    found=f"rebuttal {reused_from}: "
                    + ("none" if source is None else f"status {source.status!r}"),
                    fix="Reuse one of the suggestions shown.",
                )
        group_id = _narrative_group(session, item, user.name)
        now = utcnow()
        rebuttal = Rebuttal(
            group_id=group_id,
            task=item.task,
            title=title,
            body=body,
            status="draft",
            author_id=user.id,
            editor_id=user.id,
            reused_from_id=reused_from,
            version=0,
            created_at=now,
            updated_at=now,
        )
        session.add(rebuttal)
        session.flush()
        audit.record(session, user.name, "add", "rebuttal", rebuttal.id, None, _public(rebuttal))
    return rebuttal


def edit_draft(
    session: Session,
    rebuttal_id: int,
    editor: str | User,
    title: str,
    body: str,
    expected_version: int | None,
) -> Rebuttal:
    """Change a draft's title and text (only drafts change; an approved text is final)."""
    title, body = _check_text(title, body)
    with writing(session):
        user = acting_user(session, editor, WRITING_ROLES, "write rebuttals")
        rebuttal = _lock_rebuttal(session, rebuttal_id, expected_version)
        if rebuttal.status != "draft":
            raise ConflictError(
                f"rebuttal {rebuttal.id}",
                expected="a draft",
                found=f"status {rebuttal.status!r}",
                fix="An approved text is final: write a new draft (reuse this one) to change it.",
            )
        before = _public(rebuttal)
        rebuttal.title, rebuttal.body, rebuttal.editor_id = title, body, user.id
        rebuttal.updated_at = utcnow()
        rebuttal.version += 1
        audit.record(session, user.name, "edit", "rebuttal", rebuttal.id, before, _public(rebuttal))
    return rebuttal


def may_approve(user: User) -> bool:
    return user.active and (
        user.role in APPROVING_ROLES
        or (user.role == "communicator" and bool(user.approves_rebuttals))
    )


def approve(
    session: Session, rebuttal_id: int, approver: str | User, expected_version: int | None
) -> Rebuttal:
    """A second person approves a draft: a trainer, an admin or a communicator holding the
    right, and neither its author nor its last editor."""
    with writing(session):
        user = acting_user(
            session, approver, (*APPROVING_ROLES, "communicator"), "approve rebuttals"
        )
        if not may_approve(user):
            raise ForbiddenError(
                f"user {user.name!r}",
                expected="a trainer, an admin or a communicator with the approval right",
                found="a communicator without it",
                fix="Ask an admin to give it: kiemtin users approver NAME",
            )
        # The narrative first (as undoing or reopening its label does), then the rebuttal:
        # a label being withdrawn meanwhile is seen, and no approval lands on it.
        group_id = session.scalar(select(Rebuttal.group_id).where(Rebuttal.id == rebuttal_id))
        group = None if group_id is None else locked_row(session, Group, group_id)
        rebuttal = _lock_rebuttal(session, rebuttal_id, expected_version)
        if user.id in (rebuttal.author_id, rebuttal.editor_id):
            raise ForbiddenError(
                f"rebuttal {rebuttal.id}",
                expected="approval by someone other than its author and last editor",
                found=f"{user.name!r} wrote or last edited it",
                fix="Ask a second person with the approval right to approve it.",
            )
        if rebuttal.status != "draft":
            raise ConflictError(
                f"rebuttal {rebuttal.id}",
                expected="a draft",
                found=f"status {rebuttal.status!r}",
                fix="Nothing to approve; reload it.",
            )
        rep = session.get(Item, group.representative_id, populate_existing=True)
        if not is_confirmed(rep):
            raise ConflictError(
                f"rebuttal {rebuttal.id}",
                expected="a narrative confirmed by review",
                found=f"its narrative (item {rep.id}) is {rep.status!r} now, label "
                f"{rep.label!r}: it was reopened for a new answer",
                fix="Wait for the review to decide it again, then approve.",
            )
        before = _public(rebuttal)
        rebuttal.status, rebuttal.approver_id = "approved", user.id
        rebuttal.approved_at = utcnow()
        rebuttal.version += 1
        audit.record(
            session, user.name, "approve", "rebuttal", rebuttal.id, before, _public(rebuttal)
        )
    return rebuttal


def publish(
    session: Session, rebuttal_id: int, publisher: str | User, expected_version: int | None
) -> Rebuttal:
    """Mark an approved rebuttal as handed out."""
    with writing(session):
        user = acting_user(session, publisher, PUBLISHING_ROLES, "publish rebuttals")
        rebuttal = _lock_rebuttal(session, rebuttal_id, expected_version)
        if rebuttal.status != "approved":
            raise ConflictError(
                f"rebuttal {rebuttal.id}",
                expected="an approved rebuttal",
                found=f"status {rebuttal.status!r}",
                fix="A draft is approved by a second person before it is published.",
            )
        before = _public(rebuttal)
        rebuttal.status, rebuttal.published_at = "published", utcnow()
        rebuttal.version += 1
        audit.record(
            session, user.name, "publish", "rebuttal", rebuttal.id, before, _public(rebuttal)
        )
        narrative = session.get(Group, rebuttal.group_id)
        rep = session.get(Item, narrative.representative_id)
        event = {
            "rebuttal_id": rebuttal.id,
            "group_id": rebuttal.group_id,
            "task": rebuttal.task,
            "label": rep.label,
            "title": rebuttal.title,
            "published_at": rebuttal.published_at.isoformat(),
        }
        webhooks.enqueue(session, "rebuttal.published", event)
    return rebuttal


def rebuttals(session: Session, status: str | None = None, limit: int = 100) -> Iterator[Rebuttal]:
    """Rebuttals, newest first, optionally of one status."""
    query = select(Rebuttal).order_by(Rebuttal.id.desc()).limit(limit)
    if status is not None:
        query = query.where(Rebuttal.status == status)
    return iter(session.scalars(query).all())


# ---------------------------------------------------------------------------- packs


@dataclass(frozen=True)
class PackRebuttal:
    id: int
    title: str
    body: str  # Markdown
    status: str  # approved or published
    author: str
    approver: str
    approved_at: datetime | None
    published_at: datetime | None


@dataclass(frozen=True)
class Pack:
    group_id: int
    task: str
    label: str | None
    decided_at: datetime | None
    posts: int  # posts in the narrative's near-duplicate group
    first_seen: datetime | None  # when the first post of the narrative reached the queue
    representative: str  # masked text
    examples: tuple[str, ...]  # a few other posts of the group, masked
    rebuttals: tuple[PackRebuttal, ...]

    @property
    def stem(self) -> str:
        return f"narrative-{self.group_id}"


def group_pack(session: Session, group_id: int):
    """What a narrative's rebuttal pack holds (``pipeline.web.pack`` writes it): the
    narrative, a few of its posts, and its approved and published rebuttals."""
    group = session.get(Group, group_id)
    if group is None:
        raise NotFoundError(
            "narrative group",
            expected="an existing group id",
            found=f"no group {group_id}",
            fix="Take the group id from the narrative's page (or `kiemtin labels export`).",
        )
    rep = session.get(Item, group.representative_id)
    approved = list(
        session.scalars(
            select(Rebuttal)
            .where(Rebuttal.group_id == group_id, Rebuttal.status.in_(APPROVED))
            .order_by(Rebuttal.id)
        )
    )
    if not approved:
        raise ConflictError(
            f"narrative group {group_id}",
            expected="at least one approved rebuttal",
            found="drafts only" if narrative_rebuttals(session, rep) else "no rebuttal",
            fix="Have a draft approved by a second person first.",
        )
    posts, first_seen = session.execute(
        select(func.count(), func.min(Item.created_at)).where(Item.group_id == group_id)
    ).one()
    members = list(
        session.scalars(
            select(Item.text)
            .where(Item.group_id == group_id, Item.id != rep.id)
            .order_by(Item.id)
            .limit(PACK_EXAMPLES)
        )
    )
    people = {r.author_id for r in approved} | {r.approver_id for r in approved}
    names = dict(session.execute(select(User.id, User.name).where(User.id.in_(people))).all())
    return Pack(
        group_id=group_id,
        task=rep.task,
        label=rep.label,
        decided_at=rep.decided_at,
        posts=posts,
        first_seen=first_seen,
        representative=rep.text,
        examples=tuple(members),
        rebuttals=tuple(
            PackRebuttal(
                id=r.id,
                title=r.title,
                body=r.body,
                status=r.status,
                author=names[r.author_id],
                approver=names[r.approver_id],
                approved_at=r.approved_at,
                published_at=r.published_at,
            )
            for r in approved
        ),
    )

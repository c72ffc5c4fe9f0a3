"""The review queue: prioritised pages of work, an item's place in them, groups and counts.

``next_items`` orders the queue by risk and gives a share of the places to the items the
model is least sure of; one representative per near-duplicate group. ``neighbours`` is an
item's previous and next in that order; ``group_members``, ``group_size`` and
``group_sizes`` (a whole page in one query) read the near-duplicate groups; ``tasks`` and
``status_counts`` say what the store holds. Posts come in through ``intake``; answers and
decisions go back through ``answers``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from math import floor
from numbers import Real

from sqlalchemy import BigInteger, exists, func, select
from sqlalchemy.orm import Session

from ..errors import InputError
from . import assignments
from ._shared import NotFoundError, one_of, queue_filters
from .tables import STATUSES, Answer, Assignment, Item, User, utcnow

NEIGHBOUR_WINDOW = 200  # queue positions searched for an item's previous and next


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
    assignee: str | None = None,
    now: datetime | None = None,
) -> list[Item]:
    """A page of the queue: the riskiest items first, with about ``uncertain_share`` of the
    places given to the items the model is least sure of (not already chosen).

    Place ``i`` (from 0) goes to an uncertain item when floor((i+1)·share) > floor(i·share):
    with 0.2, places 4, 9, 14, ... Ties break by newest id. Only one item per near-duplicate
    group appears (its representative). ``label`` filters on the model's label, ``status``
    (None: any), risk between ``min_risk`` and ``max_risk`` (inclusive). ``reviewer``: the
    items that user may be handed, leaving out those they answered and those held for others
    (assigned to someone else who has not answered, or claimed by as many others as the
    answers still needed, at ``now``: ``assignments.held_for_others``). ``assignee``: only the
    items assigned to that user. ``offset`` pages on (deep pages cost more: the order is
    rebuilt from the top).
    """
    return _queue_order(
        session, Item, task, label, status, min_risk, max_risk, limit, uncertain_share,
        offset, reviewer, assignee, now,
    )


def queue_ids(session: Session, **filters) -> list[int]:
    """The ids of ``next_items`` (same filters, same order): an item's place in the queue
    needs no rows (the item page's previous and next read 400 whole items for two ids)."""
    return _queue_order(session, Item.id, **filters)


def _queue_order(
    session: Session,
    what,
    task: str | None = None,
    label: str | None = None,
    status: str | None = "open",
    min_risk: float | None = None,
    max_risk: float | None = None,
    limit: int = 50,
    uncertain_share: float = 0.2,
    offset: int = 0,
    reviewer: str | None = None,
    assignee: str | None = None,
    now: datetime | None = None,
) -> list:
    conditions = queue_filters(task, label, status, min_risk, max_risk)
    if assignee is not None:
        # The assignee's items by id, read first through their index: as a subquery, SQLite
        # walked the whole risk index testing every item (225 ms at 1,000,000 items).
        mine = session.scalars(
            select(Assignment.item_id).where(Assignment.user_id == _user_id(session, assignee))
        ).all()
        if not mine:
            return []
        conditions.append(Item.id.in_(mine))
    if not isinstance(limit, int) or not 1 <= limit <= 1000:
        raise InputError("limit", expected="a whole number from 1 to 1000", found=repr(limit),
                         fix="Ask for a page of at most 1000 items.")
    if not isinstance(offset, int) or offset < 0:
        raise InputError("offset", expected="a whole number >= 0", found=repr(offset),
                         fix="Start at 0 and add the page size.")
    if not isinstance(uncertain_share, Real) or not 0 <= uncertain_share <= 1:
        raise InputError("uncertain_share", expected="a number from 0 to 1",
                         found=repr(uncertain_share), fix="Use 0.2 for one place in five.")
    query = select(what).where(*conditions)
    if reviewer is not None:
        user = _user_id(session, reviewer)
        answered = exists().where(Answer.item_id == Item.id, Answer.reviewer_id == user)
        query = query.where(~answered, ~assignments.held_for_others(user, now or utcnow()))
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
    key = (lambda item: item.id) if what is Item else (lambda item_id: item_id)
    chosen: list = []
    taken: set[int] = set()
    sources = {"risk": iter(by_risk), "uncertain": iter(by_uncertainty)}
    for i in range(total):
        first = "uncertain" if _quota(i + 1, uncertain_share) > _quota(i, uncertain_share) else (
            "risk"
        )
        second = "risk" if first == "uncertain" else "uncertain"
        item = _next_untaken(sources[first], taken, key)
        if item is None:
            item = _next_untaken(sources[second], taken, key)
        if item is None:
            break
        taken.add(key(item))
        chosen.append(item)
    return chosen[offset:]


def _user_id(session: Session, name: str) -> int | None:
    return session.scalars(select(User.id).where(User.name == name)).one_or_none()


def _next_untaken(items: Iterator, taken: set[int], key):
    for item in items:
        if key(item) not in taken:
            return item
    return None


def neighbours(session: Session, item: Item | int, **filters) -> tuple[int | None, int | None]:
    """The ids before and after ``item`` in its task's open queue (``next_items`` filters).

    An item no longer in the queue (just answered) has no previous; its next is the top
    of the queue, so a reviewer who answers keeps moving. With ``reviewer`` (the queue that
    user may be handed, ``next_items``), the next is the first other item assigned to them,
    when they have one under these filters.
    """
    item = _item(session, item)
    filters.setdefault("task", item.task)
    status = filters.get("status", "open")
    # An item not in the queue (the one just answered) needs only the top of it, not the
    # window: the answer's redirect read 400 items for one id.
    queued = item.is_representative and status in (None, item.status)
    ids = queue_ids(session, limit=NEIGHBOUR_WINDOW if queued else 2, **filters)
    if filters.get("reviewer") is not None:
        mine = queue_ids(session, limit=2, assignee=filters["reviewer"], **filters)
        preferred = next((i for i in mine if i != item.id), None)
    else:
        preferred = None
    if item.id not in ids:
        return None, preferred or next((i for i in ids if i != item.id), None)
    at = ids.index(item.id)
    after = ids[at + 1] if at + 1 < len(ids) else None
    return (ids[at - 1] if at > 0 else None), preferred or after


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


@dataclass(frozen=True)
class ModelIntake:
    """The posts one model scored into one task's queue: how many, how many have a human
    label, and when the first and the last arrived."""

    task: str
    model_version: str
    items: int
    decided: int
    first_added: datetime
    last_added: datetime


def intake_by_model(session: Session) -> list[ModelIntake]:
    """What the batch runs put in the queue, per task and model, the latest first."""
    decided = func.count(Item.label)
    query = (
        select(Item.task, Item.model_version, func.count(), decided,
               func.min(Item.created_at), func.max(Item.created_at))
        .group_by(Item.task, Item.model_version)
        .order_by(func.max(Item.created_at).desc())
    )
    return [ModelIntake(*row) for row in session.execute(query)]


def get_item(session: Session, item_id: int) -> Item:
    """The item, freshly read (its current version), or NotFoundError."""
    item = session.get(Item, item_id, populate_existing=True)
    if item is None:
        raise NotFoundError(
            "item", expected="an existing item id", found=f"no item {item_id}",
            fix="Reload the queue; the id may be mistyped.",
        )
    return item


def find_item(session: Session, item_id: int) -> Item | None:
    """The item, or None when there is none with that id (for pages that say so)."""
    return session.get(Item, item_id)


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
    for among in one_of(session, Item.group_id, group_ids, BigInteger()):
        query = select(Item.group_id, func.count()).where(among).group_by(Item.group_id)
        counts.update(session.execute(query).all())
    return {it.id: counts.get(it.group_id, 1) if it.group_id else 1 for it in items}

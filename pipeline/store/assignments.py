"""Work distribution: items assigned to a reviewer, and the short claim a reviewer holds on an
item they opened to answer.

Assignments. A trainer or admin gives open items (chosen ones, or every open item under the
queue's filters, search words included) to one reviewer (``assign``, ``assign_filtered``) or
takes them back (``unassign``); each item's change is audited (``assign`` / ``unassign`` on
the item, with the assignee before and after). The assignee's "next item" offers their items
first (``queue.neighbours``) and the queue page lists them (``queue.next_items(assignee=)``);
other reviewers' "next" skips an item assigned to someone else until that person has answered
it (then its remaining reviews, if any, go to anyone). The item stays visible to all.

Claims. Opening an open item to answer takes (or renews) a claim for ``minutes``
(``take_claim``; KIEMTIN_CLAIM_MINUTES in the web app, 5 by default). A reviewer holds one
claim at a time: a new claim drops their others. While an item has as many live claims by
others as the answers it still needs (one, unless it needs independent reviews), it is held:
"next" hands it to no one else, a new claim on it is refused with who holds it until when
(``ClaimState.holders``), and an answer by anyone else is refused (``refuse_if_held``, a
``ClaimedError``, HTTP 409). An item that needs two independent reviews takes two claims,
and neither reviewer is shown the other's claim or answer: holders are only named to someone
the claims keep out. Answering releases the answerer's claim; an expired claim counts for
nothing (every comparison is ``expires_at > now`` in SQL, with an aware UTC ``now``).
Claims are working state, not decisions: they are not audited; the answer they lead to is.

Races are decided by the database: a claim and an answer are written under the item's row
lock (``SELECT ... FOR UPDATE`` on PostgreSQL, the write lock of ``BEGIN IMMEDIATE`` on
SQLite), so of two reviewers claiming the last free place at once, the second sees the
first's claim and is refused; two assignments of one new item meet the primary key of
``assignments`` and the loser gets a ``ConflictError``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..errors import InputError
from . import audit
from ._shared import (
    ADJUDICATING_ROLES,
    ANSWERING_ROLES,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    acting_user,
    chunks,
    lock_item,
    queue_filters,
)
from .db import writing
from .tables import Answer, Assignment, Claim, Item, User, utcnow

DEFAULT_CLAIM_MINUTES = 5.0
MAX_ASSIGN = 10_000  # items given in one assignment


class ClaimedError(ConflictError):
    """The item is held by other reviewers' live claims: it is theirs to answer for now."""


@dataclass(frozen=True)
class Holder:
    """A reviewer holding a live claim, and until when."""

    name: str
    until: datetime


@dataclass(frozen=True)
class ClaimState:
    """What ``take_claim`` found: ``until``, when this reviewer's claim ends (None: they hold
    none), and ``holders``, the live claims that keep them out (empty unless refused)."""

    until: datetime | None
    holders: tuple[Holder, ...] = ()


# ---------------------------------------------------------------------------- SQL conditions


def held_for_others(user_id: int | None, now: datetime):
    """Condition on ``Item``: an open item not to be handed to ``user_id`` now, because it is
    assigned to someone else who has not answered it, or other reviewers' live claims are as
    many as the answers it still needs."""
    # Correlated through the assignment row: with Item.id here SQLAlchemy gave this nested
    # EXISTS its own FROM items, and it asked whether the assignee answered any item at all.
    assignee_answered = exists().where(
        Answer.item_id == Assignment.item_id, Answer.reviewer_id == Assignment.user_id
    )
    elsewhere = exists().where(
        Assignment.item_id == Item.id, Assignment.user_id != user_id, ~assignee_answered
    )
    others = and_(Claim.item_id == Item.id, Claim.user_id != user_id, Claim.expires_at > now)
    claims = select(func.count()).select_from(Claim).where(others).scalar_subquery()
    answers = (
        select(func.count()).select_from(Answer).where(Answer.item_id == Item.id)
    ).scalar_subquery()
    # The EXISTS first: most items have no claim, and then the counts are not needed.
    claimed = and_(exists().where(others), claims >= Item.reviews_needed - answers)
    return and_(Item.status == "open", or_(elsewhere, claimed))


# ---------------------------------------------------------------------------- assignments


def _assignee(session: Session, name: str) -> User:
    """The account ``name`` if it may be given items: active, with a reviewing role; else
    an InputError (the assigner chose the wrong person) or NotFoundError."""
    try:
        return acting_user(session, name, ANSWERING_ROLES, "be assigned items")
    except ForbiddenError as exc:
        raise InputError(
            f"assignee {name!r}", expected=exc.expected, found=exc.found,
            fix="Assign the items to a reviewer whose account is on.",
        ) from exc


def _actor(session: Session, by: str | User, operator: bool) -> str:
    """The name the audit records: an admin's or trainer's account, or for ``operator``
    (the CLI, run by whoever holds the database) ``by`` as given."""
    if operator:
        return by.name if isinstance(by, User) else by
    return acting_user(session, by, ADJUDICATING_ROLES, "assign items").name


def _check_ids(item_ids: Sequence[int]) -> list[int]:
    ids = sorted({int(i) for i in item_ids})
    if not ids or len(ids) > MAX_ASSIGN:
        raise InputError(
            "items", expected=f"1 to {MAX_ASSIGN:,} items", found=f"{len(ids):,}",
            fix="Choose the items to assign, or narrow the filters.",
        )
    return ids


def assignees(session: Session, ids: Sequence[int]) -> dict[int, str]:
    """The current assignee's name per assigned item among ``ids`` (a page of the queue)."""
    found: dict[int, str] = {}
    for chunk in chunks(ids):
        rows = session.execute(
            select(Assignment.item_id, User.name)
            .join(User, User.id == Assignment.user_id)
            .where(Assignment.item_id.in_(chunk))
        )
        found.update((item_id, name) for item_id, name in rows)
    return found


def assign(
    session: Session,
    item_ids: Sequence[int],
    to: str,
    by: str | User,
    *,
    operator: bool = False,
) -> int:
    """Give the open items ``item_ids`` to the reviewer ``to``, all or none; returns how many
    changed hands (an item already theirs is left as it is).

    ``by`` is the admin's or trainer's account (ForbiddenError for any other); ``operator``
    records ``by`` as given without an account (the CLI). Refused with InputError for an
    account switched off or one that does not review, NotFoundError for an unknown item,
    ConflictError for an item that is not open or is a group member (assign its
    representative).
    """
    ids = _check_ids(item_ids)
    with writing(session):
        actor = _actor(session, by, operator)
        user = _assignee(session, to)
        states: dict[int, tuple[str, bool]] = {}
        for chunk in chunks(ids):
            rows = session.execute(
                select(Item.id, Item.status, Item.is_representative).where(Item.id.in_(chunk))
            )
            states.update((i, (status, rep)) for i, status, rep in rows)
        for item_id in ids:
            if item_id not in states:
                raise NotFoundError(
                    "item", expected="an existing item id", found=f"no item {item_id}",
                    fix="Reload the queue; the id may be mistyped.",
                )
            status, representative = states[item_id]
            if status != "open" or not representative:
                raise ConflictError(
                    f"item {item_id}",
                    expected="an open item reviewed on its own or a group's representative",
                    found=f"status {status!r}" if status != "open" else "a group member",
                    fix="Assign open items; a near-duplicate goes with its representative.",
                )
        return _write(session, ids, user, actor)


def _write(session: Session, ids: list[int], user: User | None, actor: str) -> int:
    """Set (``user``) or remove (None) the assignment of ``ids``, audited per changed item."""
    before = assignees(session, ids)
    target = None if user is None else user.name
    changed = [i for i in ids if before.get(i) != target]
    now = utcnow()
    for chunk in chunks(changed):
        if user is None:
            session.execute(delete(Assignment).where(Assignment.item_id.in_(chunk)))
            continue
        moved = [i for i in chunk if i in before]
        if moved:
            session.execute(
                update(Assignment)
                .where(Assignment.item_id.in_(moved))
                .values(user_id=user.id, assigned_by=actor, assigned_at=now)
            )
        new = [
            {"item_id": i, "user_id": user.id, "assigned_by": actor, "assigned_at": now}
            for i in chunk
            if i not in before
        ]
        if new:
            try:
                with session.begin_nested():
                    session.execute(Assignment.__table__.insert(), new)
            except IntegrityError as exc:
                raise ConflictError(
                    "assignment", expected="items no one else was assigning at the same time",
                    found="an item assigned meanwhile by someone else",
                    fix="Reload the queue and assign again.",
                ) from exc
    action = "assign" if user is not None else "unassign"
    audit.record_many(
        session,
        (
            {
                "actor": actor, "action": action, "entity": "item", "entity_id": i,
                "before": {"assignee": before.get(i)}, "after": {"assignee": target},
            }
            for i in changed
        ),
    )
    return len(changed)


def matching_ids(
    session: Session, query: str | None = None, **filters: Mapping
) -> list[int]:
    """The ids of the open items under the queue's ``filters`` (``task``, ``label``,
    ``min_risk``, ``max_risk``; representatives only) and, with ``query``, whose text holds
    its words (``search.search_items``); at most MAX_ASSIGN + 1 (one more says "too many")."""
    filters = {**filters, "status": "open"}
    if query:
        from .search import search_items

        found: list[int] = []
        after = None
        while len(found) <= MAX_ASSIGN:
            page = search_items(session, query, after=after, limit=500, **filters)
            found.extend(it.id for it in page.items)
            if page.next is None:
                break
            after = page.next
        return found[: MAX_ASSIGN + 1]
    chosen = select(Item.id).where(*queue_filters(**filters)).order_by(Item.id)
    return list(session.scalars(chosen.limit(MAX_ASSIGN + 1)))


def assign_filtered(
    session: Session,
    to: str,
    by: str | User,
    *,
    query: str | None = None,
    operator: bool = False,
    **filters,
) -> int:
    """Give every open item under the queue's filters (``matching_ids``) to ``to``, as
    ``assign``; InputError when none match or more than MAX_ASSIGN do."""
    ids = matching_ids(session, query, **filters)
    if not ids:
        raise InputError(
            "filters", expected="at least one open item", found="none under these filters",
            fix="Widen the filters.",
        )
    if len(ids) > MAX_ASSIGN:
        raise InputError(
            "filters", expected=f"at most {MAX_ASSIGN:,} items in one assignment",
            found=f"more than {MAX_ASSIGN:,}", fix="Narrow the filters (task, risk, words).",
        )
    return assign(session, ids, to, by, operator=operator)


def unassign(
    session: Session, item_ids: Sequence[int], by: str | User, *, operator: bool = False
) -> int:
    """Take the items ``item_ids`` back from whoever has them; returns how many had one."""
    ids = _check_ids(item_ids)
    with writing(session):
        actor = _actor(session, by, operator)
        return _write(session, ids, None, actor)


def assignee_of(session: Session, item_id: int) -> str | None:
    """The name of the reviewer ``item_id`` is assigned to, or None."""
    return assignees(session, [item_id]).get(item_id)


# ---------------------------------------------------------------------------- claims


def _holders(session: Session, item: Item, user_id: int, now: datetime) -> tuple[Holder, ...]:
    """Other reviewers' live claims on ``item`` when they are as many as the answers it still
    needs (they keep ``user_id`` out); else ()."""
    rows = session.execute(
        select(User.name, Claim.expires_at)
        .join(User, User.id == Claim.user_id)
        .where(Claim.item_id == item.id, Claim.user_id != user_id, Claim.expires_at > now)
        .order_by(Claim.expires_at)
    ).all()
    if not rows:
        return ()
    answers = session.scalar(
        select(func.count()).select_from(Answer).where(Answer.item_id == item.id)
    )
    if len(rows) < item.reviews_needed - answers:
        return ()
    return tuple(Holder(name, until) for name, until in rows)


def take_claim(
    session: Session,
    item_id: int,
    reviewer: str | User,
    minutes: float = DEFAULT_CLAIM_MINUTES,
    now: datetime | None = None,
) -> ClaimState:
    """``reviewer`` opens ``item_id`` to answer it: take or renew their claim until ``now``
    plus ``minutes`` and drop their claims on other items.

    Nothing is claimed (``ClaimState(None)``) for an item that is not open, a group member
    or one this reviewer already answered. When other reviewers' live claims hold it, it
    is refused: ``ClaimState(None, holders)``. Decided under the item's row lock.
    """
    if not 0 < minutes <= 24 * 60:
        raise InputError(
            "claim minutes", expected="a number of minutes above 0, at most a day",
            found=repr(minutes), fix="Use e.g. KIEMTIN_CLAIM_MINUTES=5.",
        )
    now = now or utcnow()
    with writing(session):
        user = acting_user(session, reviewer, ANSWERING_ROLES, "answer items")
        item = lock_item(session, item_id)
        answered = session.scalar(
            select(exists().where(Answer.item_id == item.id, Answer.reviewer_id == user.id))
        )
        if item.status != "open" or not item.is_representative or answered:
            return ClaimState(None)
        holders = _holders(session, item, user.id, now)
        if holders:
            return ClaimState(None, holders)
        until = now + timedelta(minutes=minutes)
        renewed = session.execute(
            update(Claim)
            .where(Claim.item_id == item.id, Claim.user_id == user.id)
            .values(claimed_at=now, expires_at=until)
            .execution_options(synchronize_session=False)
        ).rowcount
        if not renewed:
            session.add(Claim(item_id=item.id, user_id=user.id, claimed_at=now, expires_at=until))
        session.execute(
            delete(Claim)
            .where(Claim.user_id == user.id, Claim.item_id != item.id)
            .execution_options(synchronize_session=False)
        )
    return ClaimState(until)


def refuse_if_held(session: Session, item: Item, user: User, now: datetime | None = None) -> None:
    """ClaimedError when other reviewers' live claims hold ``item`` (locked by the caller)
    against an answer by ``user``."""
    holders = _holders(session, item, user.id, now or utcnow())
    if holders:
        names = ", ".join(
            f"{h.name} (until {h.until.strftime('%H:%M:%S')} UTC)" for h in holders
        )
        raise ClaimedError(
            f"item {item.id}",
            expected="an item no one else is answering",
            found=f"a live claim by {names}",
            fix="Take another item; this one is free again once answered or the claim ends.",
        )


def release_claim(session: Session, item_id: int, user: User) -> None:
    """Drop ``user``'s claim on ``item_id`` (in the caller's write: they answered it)."""
    session.execute(
        delete(Claim)
        .where(Claim.item_id == item_id, Claim.user_id == user.id)
        .execution_options(synchronize_session=False)
    )


def live_claim(session: Session, item_id: int, user_id: int, now: datetime | None = None):
    """Until when ``user_id``'s claim on ``item_id`` is live, or None."""
    return session.scalar(
        select(Claim.expires_at).where(
            Claim.item_id == item_id, Claim.user_id == user_id, Claim.expires_at > (now or utcnow())
        )
    )

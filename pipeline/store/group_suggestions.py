"""Group suggestions: near-duplicate groups a post may belong to, confirmed or rejected by a
reviewer, as Meedan Check suggests similar items.

Intake (``intake.add_posts``) compares each new post with its LSH candidates. From the join
threshold up (``Thresholds.join``, ``KIEMTIN_JOIN_SIMILARITY``) the post joins the most
similar candidate's group by itself; when the best candidate lies between the suggest
threshold (``Thresholds.suggest``, ``KIEMTIN_SUGGEST_SIMILARITY``) and the join threshold,
the post stands alone and a pending ``GroupSuggestion`` names that candidate.

``pending_suggestions`` lists what a reviewer should look at on an item's page;
``confirm_suggestion`` joins the item to the candidate's group exactly as intake would have
(a candidate standing alone becomes the representative of a new group; an item joining a
group whose label is decided takes it, ``_shared.label_members``); ``reject_suggestion``
closes the suggestion and the item stays alone. Intake suggests a group only for a post it
adds, once, so a rejected suggestion is never made again. Every write is audited (entity
``group_suggestion``) and runs in ``db.writing``.
"""

from __future__ import annotations

from sqlalchemy import exists, select, text
from sqlalchemy.orm import Session

from . import audit
from ._shared import (
    ConflictError,
    NotFoundError,
    acting_user,
    check_version,
    item_state,
    label_members,
    lock_item,
    locked_row,
)
from .answers import ANSWERING_ROLES
from .db import is_postgresql, writing
from .intake import INGEST_LOCK, JOIN_SIMILARITY, SUGGEST_SIMILARITY, Thresholds
from .tables import DECIDED, Answer, Group, GroupSuggestion, Item, utcnow

__all__ = [
    "JOIN_SIMILARITY",
    "SUGGEST_SIMILARITY",
    "Thresholds",
    "confirm_suggestion",
    "pending_suggestions",
    "reject_suggestion",
    "suggestions_for_item",
]


def suggestions_for_item(session: Session, item_id: int) -> list[GroupSuggestion]:
    """Every group suggestion made for the item, whatever its status, oldest first."""
    query = (
        select(GroupSuggestion)
        .where(GroupSuggestion.item_id == item_id)
        .order_by(GroupSuggestion.id)
    )
    return list(session.scalars(query))


def pending_suggestions(session: Session, item_id: int) -> list[GroupSuggestion]:
    """The item's pending suggestions, most similar first, while it stands alone (an item
    that has joined a group by other means has nothing to decide)."""
    query = (
        select(GroupSuggestion)
        .join(Item, Item.id == GroupSuggestion.item_id)
        .where(
            GroupSuggestion.item_id == item_id,
            GroupSuggestion.status == "pending",
            Item.group_id.is_(None),
        )
        .order_by(GroupSuggestion.similarity.desc(), GroupSuggestion.id)
    )
    return list(session.scalars(query))


def confirm_suggestion(
    session: Session,
    suggestion_id: int,
    actor: str,
    expected_version: int | None = None,
) -> GroupSuggestion:
    """A reviewer confirms that the item belongs to the suggested narrative: it joins the
    candidate's group as intake would have joined it (``suggestion.group_id`` is then that
    group; ``suggestion.item`` the item, now a member).

    A candidate standing alone becomes the representative of a new group. The item takes
    the group's label when the representative is decided (status ``done``, ``label_source_id``
    the representative). Refused with ConflictError when the suggestion is no longer pending,
    when the item changed since ``expected_version`` (its version when the page was loaded),
    joined a group, or already has answers (undo them first: a member is reviewed through
    its representative).
    """
    with writing(session):
        if is_postgresql(session):  # group assignment, serialised with intake's
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": INGEST_LOCK})
        user = acting_user(session, actor, ANSWERING_ROLES, "confirm group suggestions")
        suggestion = _lock_pending(session, suggestion_id, "confirm")
        item = lock_item(session, suggestion.item_id)
        check_version(item, expected_version)
        _check_alone_and_unanswered(session, item)
        candidate = lock_item(session, suggestion.candidate_id)
        if candidate.group_id is None:
            group = _new_group(session, candidate, user.name)
        else:
            group = session.get(Group, candidate.group_id, populate_existing=True)
        before = item_state(item)
        item.group_id, item.is_representative = group.id, False
        item.version += 1
        session.flush()
        audit.record(session, user.name, "join_group", "item", item.id, before, item_state(item))
        representative = session.get(Item, group.representative_id, populate_existing=True)
        if representative.status in DECIDED:  # the narrative is decided: the item takes it
            label_members(session, representative, user.name)
        _decide(session, suggestion, "confirmed", user, group_id=group.id)
    return suggestion


def reject_suggestion(session: Session, suggestion_id: int, actor: str) -> GroupSuggestion:
    """A reviewer rejects the suggestion: the item stays alone and is not suggested to that
    group again. Refused with ConflictError when the suggestion is no longer pending."""
    with writing(session):
        user = acting_user(session, actor, ANSWERING_ROLES, "reject group suggestions")
        suggestion = _lock_pending(session, suggestion_id, "reject")
        _decide(session, suggestion, "rejected", user, group_id=suggestion.group_id)
    return suggestion


def _lock_pending(session: Session, suggestion_id: int, doing: str) -> GroupSuggestion:
    suggestion = locked_row(session, GroupSuggestion, suggestion_id)
    if suggestion is None:
        raise NotFoundError(
            "group suggestion",
            expected="an existing suggestion id",
            found=f"no suggestion {suggestion_id}",
            fix="Reload the item page; the id may be mistyped.",
        )
    if suggestion.status != "pending":
        who = f" by user {suggestion.decided_by}" if suggestion.decided_by is not None else ""
        raise ConflictError(
            f"group suggestion {suggestion.id}",
            expected=f"a pending suggestion to {doing}",
            found=f"status {suggestion.status!r}{who}",
            fix="Reload the item page: someone has decided it already.",
        )
    return suggestion


def _check_alone_and_unanswered(session: Session, item: Item) -> None:
    if item.group_id is not None:
        raise ConflictError(
            f"item {item.id}",
            expected="an item standing alone",
            found=f"a member of near-duplicate group {item.group_id}",
            fix="Split it out of that group first, or reject the suggestion.",
        )
    answered = session.scalar(select(exists().where(Answer.item_id == item.id)))
    if answered or item.status != "open":
        raise ConflictError(
            f"item {item.id}",
            expected="an open item without answers (a group member is reviewed through its "
            "representative)",
            found=f"status {item.status!r}" + (" with answers" if answered else ""),
            fix="Undo the answers first, or reject the suggestion and review it alone.",
        )


def _new_group(session: Session, representative: Item, actor: str) -> Group:
    """A group for a candidate that stood alone, represented by it (as intake makes one)."""
    group = Group(
        task=representative.task, representative_id=representative.id, created_at=utcnow()
    )
    session.add(group)
    session.flush()
    representative.group_id = group.id
    session.flush()
    audit.record(
        session,
        actor,
        "add",
        "group",
        group.id,
        after={"task": group.task, "representative_id": representative.id},
    )
    audit.record(
        session,
        actor,
        "join_group",
        "item",
        representative.id,
        {"group_id": None},
        {"group_id": group.id},
    )
    return group


def _decide(
    session: Session, suggestion: GroupSuggestion, status: str, user, group_id: int | None
) -> None:
    before = _state(suggestion)
    suggestion.status, suggestion.group_id = status, group_id
    suggestion.decided_by, suggestion.decided_at = user.id, utcnow()
    session.flush()
    action = "confirm" if status == "confirmed" else "reject"
    after = {**_state(suggestion), "decided_by": user.name}
    audit.record(session, user.name, action, "group_suggestion", suggestion.id, before, after)


def _state(suggestion: GroupSuggestion) -> dict:
    return {
        "item_id": suggestion.item_id,
        "candidate_id": suggestion.candidate_id,
        "group_id": suggestion.group_id,
        "similarity": suggestion.similarity,
        "status": suggestion.status,
    }

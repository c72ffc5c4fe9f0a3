"""Answers and decisions: reviewers' labels for items, undo, adjudication, splitting groups,
and agreement between reviewers.

``record_answer`` (optimistic locking on the item's version), ``answer_many`` (one label
for a chosen set of items, all or nothing), ``undo_answer``, ``adjudicate``,
``split_from_group``, ``reopen_item``; ``cohens_kappa`` for agreement between reviewers. Each
answer records the version of its task's guidelines in force (``guidelines``), is refused
while other reviewers' live claims hold the item, and releases the answerer's own claim
(``assignments``).

Groups are reviewed once, through their representative. When the representative's label is
decided (its answers agree, or a trainer or admin adjudicates), every open member gets the
same ``label``, status ``done`` and ``label_source_id`` pointing at the representative; no
answer rows are invented for members, so answers (and kappa) only count what people did. A
post that joins a group whose label is already decided gets it at once the same way
(``intake``). Splitting a member out reopens it if it had inherited the label; splitting the
representative out hands the group to its oldest remaining member and reopens the members
that had inherited the old representative's label.

A decided label that approved or published rebuttals answer (``rebuttals.dependent_rebuttals``)
is not undone, and its representative is not split out: ``ConflictError`` names them. A
trainer or admin reopens such an item (``reopen_item``): its answers are withdrawn, it is open
for a new answer, and those rebuttals go back to draft to be reviewed again.

Every write function runs in ``db.writing``: it commits by itself unless the caller opened
the transaction (``with session.begin():``), and raises ``ConflictError`` (and rolls its own
transaction back) when the item changed under the reviewer.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, SessionTransactionOrigin

from ..errors import InputError
from . import assignments, audit, guidelines, webhooks
from ._shared import (
    ADJUDICATING_ROLES,
    ANSWERING_ROLES,
    ConflictError,
    acting_user,
    answer_dict,
    check_version,
    chunks,
    item_state,
    label_members,
    lock_item,
)
from .db import writing
from .rebuttals import refuse_if_answered, send_back_to_review
from .tables import DECIDED, Answer, Group, Item, User, utcnow

MAX_NOTE = 5_000  # characters of a reviewer's or adjudicator's note
MAX_BULK = 500  # items labelled by one ``answer_many``


def _check_note(note: str | None) -> str | None:
    """The note, or None when empty; InputError past MAX_NOTE characters."""
    if note is not None and len(note) > MAX_NOTE:
        raise InputError(
            "note",
            expected=f"at most {MAX_NOTE:,} characters",
            found=f"{len(note):,} characters",
            fix="Shorten the note: say what decided the label, not the whole post.",
        )
    return note or None


def _check_label(item: Item, label: str) -> None:
    if label not in item.proba:
        raise InputError(
            "label",
            expected=f"one of {sorted(item.proba)} (task {item.task!r})",
            found=repr(label),
            fix="Answer with one of the task's labels.",
        )


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
    when it is a group member (answer its representative); ``assignments.ClaimedError`` (a
    ConflictError) while other reviewers' live claims hold it. When ``reviews_needed`` answers
    are in, the item becomes ``answered`` if they agree (and its group takes the label) or
    ``adjudication`` if they do not. A note longer than MAX_NOTE is an InputError.
    """
    note = _check_note(note)
    with writing(session):
        user = acting_user(session, reviewer, ANSWERING_ROLES, "answer items")
        item = lock_item(session, item_id)
        check_version(item, expected_version)
        _refuse_a_member(session, item, "Answer")
        if item.status != "open":
            raise ConflictError(
                f"item {item.id}",
                expected="status 'open'",
                found=f"status {item.status!r}",
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
        # Others' live claims on the answers still needed: theirs to answer (a 409).
        assignments.refuse_if_held(session, item, user)
        assignments.release_claim(session, item.id, user)
        before = item_state(item)
        answer = Answer(
            item_id=item.id,
            reviewer_id=user.id,
            label=label,
            model_label=item.model_label,
            model_score=float(item.proba[item.model_label]),
            model_risk=item.risk,
            model_version=item.model_version,
            note=note,
            guideline_version=guidelines.version_in_force(session, item.task),
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
        added = {**answer_dict(answer, user.name), "guideline_version": answer.guideline_version}
        audit.record(session, user.name, "add", "answer", answer.id, None, added)
        audit.record(session, user.name, "answer", "item", item.id, before, item_state(item))
        if item.status == "answered":
            label_members(session, item, user.name)
            webhooks.enqueue(session, "label.decided", decided_event(item, "agreement"))
    return answer


def answer_many(
    session: Session,
    item_ids: Sequence[int],
    reviewer: str | User,
    label: str,
    versions: Sequence[int] | Mapping[int, int],
    note: str | None = None,
) -> list[Answer]:
    """``reviewer``'s ``label`` for each of ``item_ids`` (a set chosen on the queue page), each
    checked against its version as loaded (``versions``: one per id, in the same order, or
    by id): all or nothing, in one transaction.

    Each item is answered as ``record_answer`` answers one, audited one by one; when any is
    refused (stale version, already answered, not open, a group member, an unknown label)
    nothing is recorded and the ConflictError (or InputError) names that item. A group is
    labelled through its representative: its members follow when it is decided. Items are
    locked in id order, so two bulk answers cannot deadlock.
    """
    ids = [int(i) for i in item_ids]
    if isinstance(versions, Mapping):
        missing = [i for i in ids if i not in versions]
        if missing:
            raise InputError(
                "versions", expected="a version for every item", found=f"none for {missing[:10]}",
                fix="Send each item's version as the page showed it.",
            )
        by_id = {i: int(versions[i]) for i in ids}
    else:
        if len(versions) != len(ids):
            raise InputError(
                "versions", expected=f"{len(ids)} versions, one per item",
                found=f"{len(versions)}", fix="Send each item's version with its id.",
            )
        by_id = dict(zip(ids, (int(v) for v in versions), strict=True))
    if not ids or len(ids) > MAX_BULK:
        raise InputError(
            "items", expected=f"1 to {MAX_BULK} items", found=f"{len(ids)}",
            fix="Choose the items to label (at most a page at a time).",
        )
    if len(set(ids)) != len(ids):
        twice = sorted(i for i, n in Counter(ids).items() if n > 1)
        raise InputError(
            "items", expected="each item once", found=f"items {twice[:10]} more than once",
            fix="Choose each item once.",
        )
    _check_note(note)
    with _one_transaction(session):
        return [
            record_answer(session, item_id, reviewer, label, by_id[item_id], note)
            for item_id in sorted(ids)
        ]


@contextmanager
def _one_transaction(session: Session):
    """One transaction for several writes: they commit together or not at all. A transaction
    the caller opened (``with session.begin():``) is joined instead."""
    trans = session.get_transaction()
    if trans is not None and trans.origin is not SessionTransactionOrigin.AUTOBEGIN:
        with writing(session):
            yield
        return
    if trans is not None:
        session.commit()  # end a read snapshot (and commit what the caller left pending)
    with session.begin(), writing(session):
        yield


def decided_event(item: Item, how: str) -> dict:
    """What the ``label.decided`` webhook says: ids, the label and how it was reached."""
    return {
        "item_id": item.id,
        "group_id": item.group_id,
        "task": item.task,
        "label": item.label,
        "decided_by": how,
        "decided_at": item.decided_at.isoformat(),
        "model_label": item.model_label,
        "model_version": item.model_version,
    }


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


def _reopen_members(session: Session, rep_id: int, actor: str, exclude: int) -> None:
    """Reopen the items that took their label from ``rep_id`` (it left their group)."""
    query = (
        select(Item)
        .where(Item.label_source_id == rep_id, Item.id != exclude)
        .order_by(Item.id)
        .execution_options(populate_existing=True)
    )
    for member in session.scalars(query):
        before = item_state(member)
        member.status, member.label, member.label_source_id = "open", None, None
        member.decided_at = None
        member.version += 1
        audit.record(session, actor, "reopen", "item", member.id, before, item_state(member))


def _refuse_a_member(session: Session, item: Item, doing: str) -> None:
    """A group member takes its representative's label: it is answered (or reopened) there."""
    if item.is_representative:
        return
    group = session.get(Group, item.group_id)
    raise ConflictError(
        f"item {item.id}",
        expected="an item reviewed on its own or a group's representative",
        found=f"a member of near-duplicate group {item.group_id}",
        fix=f"{doing} the representative, item {group.representative_id}, or split "
        "this item out of the group first.",
    )


def undo_answer(
    session: Session, item_id: int, reviewer: str | User, expected_version: int | None = None
) -> None:
    """Withdraw ``reviewer``'s answer to an item that is not yet adjudicated.

    The item reopens (its decided label, and the label its members took from it, are
    withdrawn). The answer row is deleted; the audit trail keeps it. Refused with
    ConflictError when ``expected_version`` is stale, and when approved or published
    rebuttals answer the decided label (a trainer or admin reopens it: ``reopen_item``).
    """
    with writing(session):
        user = acting_user(session, reviewer, ANSWERING_ROLES, "answer items")
        item = lock_item(session, item_id)
        check_version(item, expected_version)
        answer = _existing_answer(session, item.id, user.id)
        if answer is None:
            raise ConflictError(
                f"item {item.id}",
                expected=f"an answer by {user.name!r} to withdraw",
                found="none",
                fix="Nothing to undo; reload the item.",
            )
        if item.status == "done":
            raise ConflictError(
                f"item {item.id}",
                expected="an item not yet adjudicated",
                found="status 'done' (decided)",
                fix="Ask a trainer or admin to change it.",
            )
        refuse_if_answered(session, item, "undoing the answer")
        before = item_state(item)
        removed = answer_dict(answer, user.name)
        session.delete(answer)
        if item.status == "answered":
            _reopen_members(session, item.id, user.name, exclude=item.id)
        item.status, item.label, item.decided_at = "open", None, None
        item.version += 1
        audit.record(session, user.name, "delete", "answer", answer.id, removed, None)
        audit.record(session, user.name, "undo_answer", "item", item.id, before, item_state(item))


def adjudicate(
    session: Session,
    item_id: int,
    user: str | User,
    label: str,
    expected_version: int | None = None,
    note: str | None = None,
) -> Item:
    """A trainer or admin decides an item whose reviewers disagreed; its group follows."""
    note = _check_note(note)
    with writing(session):
        judge = acting_user(session, user, ADJUDICATING_ROLES, "adjudicate")
        item = lock_item(session, item_id)
        check_version(item, expected_version)
        if item.status != "adjudication":
            raise ConflictError(
                f"item {item.id}",
                expected="status 'adjudication' (reviewers disagreed)",
                found=f"status {item.status!r}",
                fix="Only disagreements are adjudicated.",
            )
        _check_label(item, label)
        before = item_state(item)
        item.status, item.label, item.adjudicator_id = "done", label, judge.id
        item.decided_at = utcnow()
        item.version += 1
        after = {**item_state(item), "adjudicator": judge.name, "note": note}
        audit.record(session, judge.name, "adjudicate", "item", item.id, before, after)
        label_members(session, item, judge.name)
        webhooks.enqueue(session, "label.decided", decided_event(item, "adjudication"))
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
        user = acting_user(session, actor, ANSWERING_ROLES, "split groups")
        item = lock_item(session, item_id)
        check_version(item, expected_version)
        if item.group_id is None:
            raise ConflictError(
                f"item {item.id}",
                expected="an item in a near-duplicate group",
                found="an item that stands alone",
                fix="Nothing to split; reload the item.",
            )
        group = session.get(Group, item.group_id, populate_existing=True)
        others = list(
            session.scalars(
                select(Item)
                .where(Item.group_id == group.id, Item.id != item.id)
                .order_by(Item.id)
                .execution_options(populate_existing=True)
            )
        )
        if not others:
            raise ConflictError(
                f"item {item.id}",
                expected="a group with other members",
                found=f"the last item of group {group.id}",
                fix="Nothing to split.",
            )
        if item.is_representative:  # the narrative's label goes with it
            refuse_if_answered(session, item, "splitting its representative out")
        before = item_state(item)
        if item.is_representative:
            _reopen_members(session, item.id, user.name, exclude=item.id)
            heir = others[0]
            heir_before = item_state(heir)
            heir.is_representative = True
            heir.version += 1
            group.representative_id = heir.id
            audit.record(
                session,
                user.name,
                "new_representative",
                "group",
                group.id,
                {"representative_id": item.id},
                {"representative_id": heir.id},
            )
            audit.record(
                session,
                user.name,
                "represent_group",
                "item",
                heir.id,
                heir_before,
                item_state(heir),
            )
        elif item.label_source_id is not None:
            item.status, item.label, item.label_source_id = "open", None, None
            item.decided_at = None
        item.group_id, item.is_representative = None, True
        item.version += 1
        audit.record(
            session, user.name, "split_from_group", "item", item.id, before, item_state(item)
        )
    return item


def reopen_item(
    session: Session, item_id: int, actor: str | User, expected_version: int | None = None
) -> Item:
    """A trainer or admin reopens a decided item for a new answer.

    Its answers are withdrawn (deleted; the audit trail keeps them), its label, and the label
    its members took from it, too; the approved and published rebuttals of its narrative go
    back to draft (audited ``needs_review``) to be approved again once it is decided again.
    Refused with ConflictError for an item that is not decided, a group member (reopen its
    representative) or a stale ``expected_version``; ForbiddenError for other roles.
    """
    with writing(session):
        user = acting_user(session, actor, ADJUDICATING_ROLES, "reopen decided items")
        item = lock_item(session, item_id)
        check_version(item, expected_version)
        if item.status not in DECIDED:
            raise ConflictError(
                f"item {item.id}",
                expected="a decided item (status 'answered' or 'done')",
                found=f"status {item.status!r}",
                fix="Nothing to reopen; reload the item.",
            )
        _refuse_a_member(session, item, "Reopen")
        before = item_state(item)
        to_review = send_back_to_review(session, item, user.name)
        given = session.scalars(
            select(Answer).where(Answer.item_id == item.id).order_by(Answer.id)
        ).all()
        for answer in given:
            removed = answer_dict(answer, answer.reviewer.name)
            session.delete(answer)
            audit.record(session, user.name, "delete", "answer", answer.id, removed, None)
        _reopen_members(session, item.id, user.name, exclude=item.id)
        item.status, item.label, item.decided_at, item.adjudicator_id = "open", None, None, None
        item.version += 1
        after = {**item_state(item), "rebuttals_to_review": [r.id for r in to_review]}
        audit.record(session, user.name, "reopen", "item", item.id, before, after)
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
    for chunk in chunks(ids):
        rows = session.execute(
            select(Answer.item_id, Answer.label, Item.task)
            .join(Item, Item.id == Answer.item_id)
            .where(Answer.item_id.in_(chunk))
            .order_by(Answer.item_id, Answer.id)
        )
        for item_id, label, item_task in rows:
            if item_task == task:
                by_item[item_id].append(label)
    pairs = Counter((labels[0], labels[1]) for labels in by_item.values() if len(labels) >= 2)
    return agreement_from_counts(task, pairs)


def agreement_from_counts(task: str, counts: Mapping[tuple[str, str], int]) -> Agreement:
    """Cohen's kappa from how often rater A said ``a`` while rater B said ``b``.

    kappa = (p_o - p_e) / (1 - p_e): p_o is the share of items the two labelled alike
    (observed agreement), p_e the agreement expected by chance, the sum over labels of
    A's share of that label times B's share of it. 1.0 when p_e is already 1.
    """
    n = sum(counts.values())
    if not n:
        return Agreement(task, 0, None, None, None)
    observed = sum(c for (a, b), c in counts.items() if a == b) / n
    first, second = Counter(), Counter()
    for (a, b), c in counts.items():
        first[a] += c
        second[b] += c
    expected = sum(first[k] * second[k] for k in first) / (n * n)
    kappa = 1.0 if expected == 1 else (observed - expected) / (1 - expected)
    return Agreement(task, n, observed, expected, kappa)


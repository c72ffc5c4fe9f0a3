"""Progress and statistics of the review work: the backlog per task and model label, answers
per reviewer per day, the median time from an item's arrival to its label, and Cohen's kappa
per task and for every pair of reviewers.

Every figure is aggregated by the database (GROUP BY, and window functions for the medians,
which SQLite >= 3.25 and PostgreSQL both have), so a store of a million items sends back a
few hundred rows, never the items. Days are UTC calendar days. Answers that were withdrawn
(undone, or an item reopened) are deleted rows, so they no longer count.

>>> agreement_from_counts("hostile", {("hate", "hate"): 2, ("clean", "clean"): 1,
...                                   ("clean", "hate"): 1}).kappa
0.5
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, literal_column, select
from sqlalchemy.orm import Session, aliased

from ..errors import InputError
from .answers import Agreement, agreement_from_counts
from .db import is_postgresql
from .tables import Answer, Item, User, utcnow

MAX_DAYS = 366  # the longest window the statistics look back over


@dataclass(frozen=True)
class Backlog:
    """What is still to do for one task and model label: open items in the queue (group
    representatives), open items in all (members follow their representative) and items
    waiting for adjudication."""

    task: str
    label: str
    queue: int
    open: int
    adjudication: int


@dataclass(frozen=True)
class DailyAnswers:
    """How many answers one reviewer gave on one (UTC) day."""

    reviewer: str
    day: date
    answers: int


@dataclass(frozen=True)
class TimeToLabel:
    """The median seconds from an item's arrival (``created_at``) to its label
    (``decided_at``) over ``items`` items, per task (``day`` None) or per day."""

    task: str | None
    day: date | None
    items: int
    median_seconds: float


@dataclass(frozen=True)
class PairAgreement:
    """Cohen's kappa of two reviewers over the items of one task that both answered;
    ``first`` is the one whose account is older."""

    first: str
    second: str
    agreement: Agreement


def window(days: int, now: datetime | None = None) -> tuple[datetime, list[date]]:
    """The start (midnight UTC) and the days of the last ``days`` days, today included.

    >>> since, shown = window(3, datetime(2024, 5, 10, 15, 30, tzinfo=UTC))
    >>> since.isoformat(), [d.isoformat() for d in shown]
    ('2024-05-08T00:00:00+00:00', ['2024-05-08', '2024-05-09', '2024-05-10'])
    """
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise InputError("days", expected=f"a whole number of days from 1 to {MAX_DAYS}",
                         found=repr(days), fix="Look back e.g. 14 or 30 days.")
    today = (now or utcnow()).astimezone(UTC).date()
    first = today - timedelta(days=days - 1)
    return datetime.combine(first, time(), UTC), [first + timedelta(days=i) for i in range(days)]


def backlog(session: Session, task: str | None = None) -> list[Backlog]:
    """Open and adjudication items per task and model label, by task then label.

    Counted per (status, task, label, representative or not), the order of the covering
    index ``ix_items_backlog``, so the database counts runs of the index without sorting or
    a CASE per row, and the few groups are added up here (1,000,000 open items: 2.5 s ->
    0.46 s)."""
    query = (
        select(Item.status, Item.task, Item.model_label, Item.is_representative, func.count())
        .where(Item.status.in_(("open", "adjudication")))
        .group_by(Item.status, Item.task, Item.model_label, Item.is_representative)
    )
    if task is not None:
        query = query.where(Item.task == task)
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for status, item_task, label, representative, n in session.execute(query):
        row = counts[item_task, label]
        if status == "open":
            row[0] += n if representative else 0
            row[1] += n
        else:
            row[2] += n
    return [Backlog(t, label, *row) for (t, label), row in sorted(counts.items())]


def answers_per_day(
    session: Session, since: datetime, task: str | None = None
) -> list[DailyAnswers]:
    """Answers per reviewer per UTC day since ``since``, by reviewer name then day."""
    day = _day(session, Answer.created_at).label("day")
    inner = select(Answer.reviewer_id, day).where(Answer.created_at >= since)
    if task is not None:
        inner = inner.join(Item, Item.id == Answer.item_id).where(Item.task == task)
    inner = inner.subquery()
    query = (
        select(User.name, inner.c.day, func.count())
        .join(User, User.id == inner.c.reviewer_id)
        .group_by(User.name, inner.c.day)
        .order_by(User.name, inner.c.day)
    )
    return [DailyAnswers(name, _as_date(d), n) for name, d, n in session.execute(query)]


def time_to_label(
    session: Session, since: datetime | None = None, task: str | None = None,
    by_day: bool = False,
) -> list[TimeToLabel]:
    """The median time to label of the items labelled (``decided_at``) since ``since``, per
    task, or per UTC day of the label when ``by_day`` (all tasks together unless ``task``).

    Only items labelled by people count (their own answers or an adjudication); a group
    member that took its representative's label (``label_source_id``) is left out, so a
    post that joins a narrative already labelled does not pull the median to zero. For an
    even count the median is the mean of the two middle values.
    """
    seconds = _seconds(session, Item.created_at, Item.decided_at).label("seconds")
    # ``task || ''``: grouping by the bare column, SQLite walked the task index over every
    # item instead of the decided_at range (7.5 s at 1,000,000 items).
    key = (
        _day(session, Item.decided_at).label("key")
        if by_day
        else Item.task.concat("").label("key")
    )
    inner = select(key, seconds).where(
        Item.decided_at.is_not(None), Item.label_source_id.is_(None)
    )
    if since is not None:
        inner = inner.where(Item.decided_at >= since)
    if task is not None:
        inner = inner.where(Item.task == task)
    inner = inner.subquery()
    ranked = select(
        inner.c.key,
        inner.c.seconds,
        func.row_number().over(partition_by=inner.c.key, order_by=inner.c.seconds).label("rank"),
        func.count().over(partition_by=inner.c.key).label("n"),
    ).subquery()
    # The middle row (odd n) or the two middle rows (even n): integer division on both.
    middle = ranked.c.rank.in_(((ranked.c.n + 1) // 2, (ranked.c.n + 2) // 2))
    query = (
        select(ranked.c.key, func.max(ranked.c.n), func.avg(ranked.c.seconds))
        .where(middle)
        .group_by(ranked.c.key)
        .order_by(ranked.c.key)
    )
    # To the millisecond: SQLite's julianday arithmetic is off by some microseconds.
    rows = [(k, n, round(float(m), 3)) for k, n, m in session.execute(query)]
    if by_day:
        return [TimeToLabel(task, _as_date(k), n, m) for k, n, m in rows]
    return [TimeToLabel(k, None, n, m) for k, n, m in rows]


def pair_agreement(session: Session, task: str | None = None) -> list[PairAgreement]:
    """Cohen's kappa for every pair of reviewers who answered the same items, per task.

    The database counts each pair's (label of one, label of the other) combinations over
    the items both answered (a self-join of the answers on the item); kappa is worked out
    from those few counts (``agreement_from_counts``). By task, then pair.
    """
    one, other = aliased(Answer), aliased(Answer)
    query = (
        select(Item.task, one.reviewer_id, other.reviewer_id, one.label, other.label,
               func.count())
        .select_from(one)
        .join(other, (other.item_id == one.item_id) & (other.reviewer_id > one.reviewer_id))
        .join(Item, Item.id == one.item_id)
        .group_by(Item.task, one.reviewer_id, other.reviewer_id, one.label, other.label)
    )
    if task is not None:
        query = query.where(Item.task == task)
    tables: dict[tuple[str, int, int], Counter] = defaultdict(Counter)
    for item_task, first, second, a, b, n in session.execute(query):
        tables[(item_task, first, second)][(a, b)] += n
    ids = {i for _, first, second in tables for i in (first, second)}
    names = dict(session.execute(select(User.id, User.name).where(User.id.in_(ids))).all())
    return [
        PairAgreement(names[first], names[second], agreement_from_counts(item_task, counts))
        for (item_task, first, second), counts in sorted(tables.items())
    ]


def task_agreement(session: Session, task: str | None = None) -> list[Agreement]:
    """Cohen's kappa per task with the meaning of ``answers.cohens_kappa`` (each item's first
    answer is rater A, its second rater B, later ones ignored), counted by the database in
    one query for every task: by task. Tasks without a doubly-answered item are left out."""
    ranked = select(
        Answer.item_id,
        Answer.label,
        func.row_number().over(partition_by=Answer.item_id, order_by=Answer.id).label("rank"),
    ).subquery()
    first, second = ranked.alias("first_answer"), ranked.alias("second_answer")
    query = (
        select(Item.task, first.c.label, second.c.label, func.count())
        .select_from(first)
        .join(second, (second.c.item_id == first.c.item_id) & (second.c.rank == 2))
        .join(Item, Item.id == first.c.item_id)
        .where(first.c.rank == 1)
        .group_by(Item.task, first.c.label, second.c.label)
    )
    if task is not None:
        query = query.where(Item.task == task)
    tables: dict[str, Counter] = defaultdict(Counter)
    for item_task, a, b, n in session.execute(query):
        tables[item_task][(a, b)] += n
    return [agreement_from_counts(t, counts) for t, counts in sorted(tables.items())]


# ---------------------------------------------------------------------------- SQL per dialect


def _day(session: Session, column):
    """The UTC calendar day of a timestamp column, as 'YYYY-MM-DD' text."""
    if is_postgresql(session):
        # Constants inline, not parameters: the same expression is grouped and selected.
        utc = func.timezone(literal_column("'UTC'"), column)
        return func.to_char(utc, literal_column("'YYYY-MM-DD'"))
    return func.date(column)  # SQLite stores UTC without a zone


def _seconds(session: Session, start, end):
    """Seconds from ``start`` to ``end`` (two timestamp columns)."""
    if is_postgresql(session):
        return func.extract("epoch", end - start)
    return (func.julianday(end) - func.julianday(start)) * 86400.0


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))

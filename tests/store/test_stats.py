"""Statistics of the review work, on a small store whose answers and times are known: the
backlog per task and label, answers per reviewer per day, the median time to label and
Cohen's kappa per pair of reviewers, worked out by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, update

from pipeline.errors import InputError
from pipeline.store import add_scored, add_user, adjudicate, cohens_kappa, record_answer
from pipeline.store.stats import (
    Backlog,
    agreement_from_counts,
    answers_per_day,
    backlog,
    pair_agreement,
    task_agreement,
    time_to_label,
    window,
)
from pipeline.store.tables import Answer, Item
from tests.store.conftest import scored
from tests.store.test_intake import CHANH, CHANH_REWORDED
from tests.store.test_queue import posts

DAY1 = datetime(2024, 5, 1, tzinfo=UTC)
DAY2 = datetime(2024, 5, 2, tzinfo=UTC)
HOUR = 3600.0
HATE, OFFENSIVE = (0.2, 0.3, 0.5), (0.2, 0.5, 0.3)


def _answer(session, item_id, who, label):
    record_answer(session, item_id, who, label, None)


def _at(session, item_id, who, when):
    session.execute(
        update(Answer)
        .where(Answer.item_id == item_id, Answer.reviewer_id == _uid(session, who))
        .values(created_at=when)
    )


def _uid(session, name):
    from pipeline.store.tables import User

    return session.scalar(select(User.id).where(User.name == name))


@pytest.fixture
def store(session):
    """Users lan and minh (reviewers) and hoa (trainer), in that order.

    hostile, two reviews each: lan/minh answer d1..d4 (clean/clean, hate/hate, clean/hate,
    hate/hate), lan/hoa answer e1, e2 (clean/clean, hate/clean); d3 and e2 go to
    adjudication, and hoa decides e2. Open: three model-hate posts, one model-offensive, and
    a near-duplicate pair (one queue place, two open posts). false: two posts answered by lan.
    """
    for name, role in [("lan", "reviewer"), ("minh", "reviewer"), ("hoa", "trainer")]:
        add_user(session, name, role, f"{name} password")
    texts = posts(13, seed=7)
    two = [scored(f"d{i}", texts[i], hostile=HATE) for i in range(1, 5)]
    two += [scored(f"e{i}", texts[4 + i], hostile=HATE) for i in (1, 2)]
    add_scored(session, two, actor="test", reviews_needed=2)
    one = [scored(f"o{i}", texts[7 + i], hostile=HATE) for i in range(3)]
    one.append(scored("off", texts[10], hostile=OFFENSIVE))
    one.append(scored("chanh", CHANH, hostile=OFFENSIVE))
    one.append(scored("chanh2", CHANH_REWORDED, hostile=OFFENSIVE))
    one += [scored(f"f{i}", texts[11 + i], hostile=None, false=(0.3, 0.7)) for i in range(2)]
    add_scored(session, one, actor="test")
    ids = {i.source_id + ("/" + i.task if i.task == "false" else ""): i.id
           for i in session.scalars(select(Item))}
    pairs = {"d1": ("clean", "clean"), "d2": ("hate", "hate"), "d3": ("clean", "hate"),
             "d4": ("hate", "hate")}
    for key, (a, b) in pairs.items():
        _answer(session, ids[key], "lan", a)
        _answer(session, ids[key], "minh", b)
    for key, (a, b) in {"e1": ("clean", "clean"), "e2": ("hate", "clean")}.items():
        _answer(session, ids[key], "lan", a)
        _answer(session, ids[key], "hoa", b)
    adjudicate(session, ids["e2"], "hoa", "clean")
    for i in range(2):
        _answer(session, ids[f"f{i}/false"], "lan", "unreliable")
    # Known times: answers on two days (and a week before them, outside the windows below);
    # each decided item arrived some hours before its label.
    session.execute(update(Answer).values(created_at=DAY1 - timedelta(days=7)))
    for key in ("d1", "d2", "d3"):
        _at(session, ids[key], "lan", DAY1 + timedelta(hours=9))
    for key in ("d4", "e1", "e2"):
        _at(session, ids[key], "lan", DAY2 + timedelta(hours=9))
    for key in ("d1", "d2", "d3", "d4"):
        _at(session, ids[key], "minh", DAY2 + timedelta(hours=10))
    # hostile decided: d1 1h, d2 3h, e1 5h on day 1; d4 2h, e2 10h on day 2
    decided = {"d1": (DAY1, 1), "d2": (DAY1, 3), "e1": (DAY1, 5), "d4": (DAY2, 2),
               "e2": (DAY2, 10), "f0/false": (DAY1, 1), "f1/false": (DAY2, 4)}
    for key, (day, hours) in decided.items():
        label_at = day + timedelta(hours=20)
        session.execute(update(Item).where(Item.id == ids[key]).values(
            decided_at=label_at, created_at=label_at - timedelta(hours=hours)))
    session.commit()
    return ids


def test_the_backlog_counts_open_items_by_model_label_and_adjudication(session, store):
    assert backlog(session) == [
        # d3 is waiting for adjudication; e2 was adjudicated
        Backlog("hostile", "hate", queue=3, open=3, adjudication=1),
        # the near-duplicate pair is one place in the queue but two open posts
        Backlog("hostile", "offensive", queue=2, open=3, adjudication=0),
    ]
    assert backlog(session, task="false") == []


def test_answers_per_reviewer_per_day(session, store):
    since, _days = window(2, DAY2 + timedelta(hours=23))
    rows = [(r.reviewer, r.day, r.answers) for r in answers_per_day(session, since)]
    # f0/f1 (false) and hoa's answers to e1, e2 were given a week before.
    assert rows == [
        ("lan", date(2024, 5, 1), 3),
        ("lan", date(2024, 5, 2), 3),
        ("minh", date(2024, 5, 2), 4),
    ]
    later = answers_per_day(session, DAY2, task="hostile")
    assert [(r.reviewer, r.answers) for r in later if r.day == date(2024, 5, 2)] == [
        ("lan", 3), ("minh", 4)
    ]
    assert answers_per_day(session, since, task="false") == []


def test_the_median_time_to_label_per_task_and_per_day(session, store):
    per_task = {(r.task, r.items): r.median_seconds for r in time_to_label(session)}
    # hostile: 1, 2, 3, 5, 10 hours -> 3 h; false: 1 and 4 hours -> the mean, 2.5 h
    assert per_task == {("hostile", 5): 3 * HOUR, ("false", 2): 2.5 * HOUR}
    by_day = time_to_label(session, task="hostile", by_day=True)
    assert [(r.day, r.items, r.median_seconds) for r in by_day] == [
        (date(2024, 5, 1), 3, 3 * HOUR),  # 1, 3, 5
        (date(2024, 5, 2), 2, 6 * HOUR),  # 2, 10
    ]
    since_day2 = time_to_label(session, since=DAY2)
    assert {(r.task, r.items, r.median_seconds) for r in since_day2} == {
        ("hostile", 2, 6 * HOUR), ("false", 1, 4 * HOUR)
    }


def test_a_label_taken_from_the_representative_is_not_a_time_to_label(session, store):
    rep, member = store["chanh"], store["chanh2"]
    session.execute(update(Item).where(Item.id == member).values(
        status="done", label="clean", label_source_id=rep, decided_at=DAY1,
        created_at=DAY1 - timedelta(days=30)))
    session.commit()
    hostile = [r for r in time_to_label(session) if r.task == "hostile"]
    assert [(r.items, r.median_seconds) for r in hostile] == [(5, 3 * HOUR)]


def test_kappa_per_pair_of_reviewers_by_hand(session, store):
    found = {(p.first, p.second, p.agreement.task): p.agreement for p in pair_agreement(session)}
    assert set(found) == {("lan", "minh", "hostile"), ("lan", "hoa", "hostile")}
    lan_minh = found[("lan", "minh", "hostile")]
    # agree on 3 of 4; lan said clean 2, hate 2; minh clean 1, hate 3:
    # p_e = (2*1 + 2*3) / 16 = 0.5, kappa = (0.75 - 0.5) / (1 - 0.5) = 0.5
    assert (lan_minh.items, lan_minh.observed, lan_minh.expected) == (4, 0.75, 0.5)
    assert lan_minh.kappa == pytest.approx(0.5)
    lan_hoa = found[("lan", "hoa", "hostile")]
    # agree on 1 of 2; lan clean 1, hate 1; hoa clean 2: p_e = (1*2 + 1*0) / 4 = 0.5, kappa 0
    assert (lan_hoa.items, lan_hoa.observed, lan_hoa.expected) == (2, 0.5, 0.5)
    assert lan_hoa.kappa == pytest.approx(0.0)
    assert pair_agreement(session, task="false") == []



def test_task_agreement_is_cohens_kappa_counted_by_the_database(session, store):
    # First vs second answer of each item: all six hostile items, lan always first.
    # Agree on d1 d2 d4 e1 (4 of 6); lan clean 3, hate 3; second clean 3, hate 3: p_e 0.5.
    (hostile,) = task_agreement(session)
    assert hostile == cohens_kappa(session, "hostile")
    assert (hostile.task, hostile.items, hostile.expected) == ("hostile", 6, 0.5)
    assert hostile.observed == pytest.approx(4 / 6)
    assert hostile.kappa == pytest.approx((4 / 6 - 0.5) / 0.5)
    assert task_agreement(session, task="false") == []


def test_kappa_from_counts_edge_cases():
    assert agreement_from_counts("t", {}).kappa is None
    assert agreement_from_counts("t", {("a", "a"): 3}).kappa == 1.0  # chance agreement is total
    never = agreement_from_counts("t", {("a", "b"): 2, ("b", "a"): 2})
    assert (never.observed, never.expected, never.kappa) == (0.0, 0.5, -1.0)


@pytest.mark.parametrize("days", [0, -1, 367, 1.5, "7", True])
def test_a_window_of_days_is_a_whole_number_from_1_to_366(days):
    with pytest.raises(InputError, match="days"):
        window(days)

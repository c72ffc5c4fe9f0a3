"""Work distribution: assignments (who reviews what) and claims (who is answering it now),
on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from pipeline.errors import InputError
from pipeline.store import ConflictError, ForbiddenError, NotFoundError, add_scored, add_user
from pipeline.store import assignments as work
from pipeline.store.answers import record_answer
from pipeline.store.audit import entries
from pipeline.store.queue import neighbours, next_items
from pipeline.store.tables import Claim, Item, utcnow
from pipeline.store.users import set_active
from tests.store.conftest import scored
from tests.store.test_queue import posts


@pytest.fixture
def team(session):
    for name, role in (("boss", "trainer"), ("lan", "reviewer"), ("minh", "reviewer"),
                       ("an", "reviewer"), ("ana", "analyst"), ("off", "reviewer")):
        add_user(session, name, role, "long password")
    set_active(session, "off", False, actor="test")


@pytest.fixture
def items(session, team):
    """Six open hostile items, riskiest first: h0 (0.95) ... h5 (0.70); and one false item."""
    texts = posts(7, seed=11)
    records = [
        scored(f"h{i}", texts[i], hostile=(0.05 + 0.05 * i, 0.05, 0.9 - 0.05 * i))
        for i in range(6)
    ]
    records.append(scored("f0", texts[6], hostile=None, false=(0.2, 0.8)))
    add_scored(session, records, actor="test")
    rows = session.execute(select(Item.source_id, Item.id)).all()
    return dict(rows)


def _version(session, item_id: int) -> int:
    return session.get(Item, item_id, populate_existing=True).version


def ids(found):
    return [it.source_id for it in found]


# ---------------------------------------------------------------------------- assignments


def test_a_trainer_assigns_items_and_each_change_is_audited(session, items):
    assert work.assign(session, [items["h1"], items["h2"]], "lan", "boss") == 2
    assert work.assignee_of(session, items["h1"]) == "lan"
    assert ids(next_items(session, assignee="lan")) == ["h1", "h2"]
    # Again to the same reviewer: nothing changes and nothing is audited twice.
    assert work.assign(session, [items["h1"]], "lan", "boss") == 0
    # To someone else: the item changes hands, before and after in the trail.
    assert work.assign(session, [items["h1"]], "minh", "boss") == 1
    trail = [(e.action, e.actor, e.before, e.after) for e in entries(session, "item", items["h1"])
             if e.action in ("assign", "unassign")]
    assert trail == [
        ("assign", "boss", {"assignee": None}, {"assignee": "lan"}),
        ("assign", "boss", {"assignee": "lan"}, {"assignee": "minh"}),
    ]
    assert work.unassign(session, [items["h1"], items["h3"]], "boss") == 1  # h3 had none
    assert work.assignee_of(session, items["h1"]) is None
    last = entries(session, "item", items["h1"])[-1]
    assert (last.action, last.before, last.after) == (
        "unassign", {"assignee": "minh"}, {"assignee": None})


def test_only_admins_and_trainers_assign_and_only_to_active_reviewing_accounts(session, items):
    with pytest.raises(ForbiddenError, match="assign items"):
        work.assign(session, [items["h0"]], "minh", "lan")
    with pytest.raises(InputError, match="switched off"):
        work.assign(session, [items["h0"]], "off", "boss")
    with pytest.raises(InputError, match="role 'analyst'"):
        work.assign(session, [items["h0"]], "ana", "boss")
    with pytest.raises(NotFoundError, match="no user named 'nobody'"):
        work.assign(session, [items["h0"]], "nobody", "boss")
    with pytest.raises(NotFoundError, match="no item 999999"):
        work.assign(session, [items["h0"], 999999], "lan", "boss")
    assert work.assignee_of(session, items["h0"]) is None  # all or none
    # The CLI acts as the operator at the machine, recorded as given.
    assert work.assign(session, [items["h0"]], "lan", "cli:ops", operator=True) == 1
    assert entries(session, "item", items["h0"])[-1].actor == "cli:ops"


def test_decided_items_are_not_assigned(session, items):
    record_answer(session, items["h0"], "lan", "hate", _version(session, items["h0"]))
    with pytest.raises(ConflictError, match="status 'answered'"):
        work.assign(session, [items["h0"]], "minh", "boss")


def test_every_open_item_under_the_queues_filters_is_assigned(session, items):
    record_answer(session, items["h1"], "lan", "hate", _version(session, items["h1"]))
    count = work.assign_filtered(session, "minh", "boss", task="hostile", min_risk=0.75)
    # h0 0.95, h2 0.85, h3 0.80, h4 0.75: open hostile items from 0.75 (h1 is answered).
    assert count == 4
    assert sorted(ids(next_items(session, assignee="minh", uncertain_share=0))) == [
        "h0", "h2", "h3", "h4"]
    assert work.assignee_of(session, items["f0"]) is None
    with pytest.raises(InputError, match="none under these filters"):
        work.assign_filtered(session, "minh", "boss", task="hostile", min_risk=0.99)


def test_a_filtered_assignment_may_search_words(session, items):
    word = session.get(Item, items["h3"]).text.split()[1]
    found = work.matching_ids(session, word, task="hostile")
    assert items["h3"] in found
    work.assign_filtered(session, "an", "boss", query=word, task="hostile")
    assert work.assignee_of(session, items["h3"]) == "an"
    mine = set(ids(next_items(session, assignee="an", limit=10)))
    assert mine == {it for it, i in items.items() if i in found}


# ---------------------------------------------------------------------------- next item


def test_next_prefers_my_items_and_skips_items_assigned_to_others(session, items):
    work.assign(session, [items["h4"]], "lan", "boss")
    work.assign(session, [items["h1"]], "minh", "boss")
    share = {"uncertain_share": 0}
    # Visible to all in the queue page's order...
    assert "h1" in ids(next_items(session, task="hostile", **share))
    # ...but not handed to lan, whose next from the top is her own item.
    assert "h1" not in ids(next_items(session, task="hostile", reviewer="lan", **share))
    _, nxt = neighbours(session, items["h0"], reviewer="lan", **share)
    assert nxt == items["h4"]
    # On her assigned item itself, the next is the queue's (she has no other).
    _, nxt = neighbours(session, items["h4"], reviewer="lan", **share)
    assert nxt == items["h5"]
    # Once minh answered his item, the rest of its reviews go to anyone.
    record_answer(session, items["h1"], "minh", "hate", None)
    assert "h1" not in ids(next_items(session, task="hostile", reviewer="lan", **share))
    # (decided by one answer: not open any more; with two needed it would be offered)


def test_an_assignees_answer_to_another_item_does_not_free_theirs(session, items):
    work.assign(session, [items["h1"]], "minh", "boss")
    record_answer(session, items["h3"], "minh", "clean", None)  # some other item
    share = {"uncertain_share": 0}
    assert "h1" not in ids(next_items(session, task="hostile", reviewer="lan", **share))
    assert ids(next_items(session, task="hostile", assignee="minh", **share)) == ["h1"]


def test_an_item_needing_two_reviews_goes_to_others_once_its_assignee_answered(session, team):
    add_scored(session, [scored("two", posts(1, seed=5)[0])], actor="test", reviews_needed=2)
    item = session.scalars(select(Item).where(Item.source_id == "two")).one()
    work.assign(session, [item.id], "lan", "boss")
    assert ids(next_items(session, reviewer="minh")) == []
    record_answer(session, item.id, "lan", "hate", item.version)
    assert ids(next_items(session, reviewer="minh")) == ["two"]
    assert ids(next_items(session, reviewer="lan")) == []  # answered: not hers again


# ---------------------------------------------------------------------------- claims


def test_a_claim_keeps_the_item_from_others_until_it_expires(session, items):
    now = utcnow()
    h0 = items["h0"]
    state = work.take_claim(session, h0, "lan", minutes=5, now=now)
    assert state.until == now + timedelta(minutes=5) and state.holders == ()
    refused = work.take_claim(session, h0, "minh", minutes=5, now=now + timedelta(minutes=1))
    assert refused.until is None
    assert [(h.name, h.until) for h in refused.holders] == [("lan", state.until)]
    assert "h0" not in ids(next_items(session, reviewer="minh", now=now))
    assert "h0" in ids(next_items(session, reviewer="lan", now=now))  # hers
    assert "h0" in ids(next_items(session, now=now))  # still visible
    # Expired: ignored by next and by a new claim.
    later = now + timedelta(minutes=5, seconds=1)
    assert "h0" in ids(next_items(session, reviewer="minh", now=later))
    assert work.take_claim(session, h0, "minh", minutes=5, now=later).until is not None


def test_a_reviewer_holds_one_claim_and_answering_releases_it(session, items):
    work.take_claim(session, items["h0"], "lan")
    work.take_claim(session, items["h1"], "lan")  # she moved on: h0 is free again
    assert work.take_claim(session, items["h0"], "minh").until is not None
    assert work.live_claim(session, items["h1"], session.scalar(
        select(Claim.user_id).where(Claim.item_id == items["h1"]))) is not None
    record_answer(session, items["h1"], "lan", "hate", _version(session, items["h1"]))
    assert session.scalars(select(Claim).where(Claim.item_id == items["h1"])).all() == []
    # Nothing to claim on a decided item.
    assert work.take_claim(session, items["h1"], "minh") == work.ClaimState(None)


def test_an_answer_to_an_item_someone_else_holds_is_refused(session, items):
    work.take_claim(session, items["h2"], "lan")
    with pytest.raises(work.ClaimedError, match="live claim by lan"):
        record_answer(session, items["h2"], "minh", "clean", _version(session, items["h2"]))
    assert isinstance(work.ClaimedError("x", expected="", found="", fix=""), ConflictError)
    record_answer(session, items["h2"], "lan", "hate", _version(session, items["h2"]))


def test_two_reviewers_claiming_at_once_exactly_one_wins(sessions, items):
    item_id = items["h0"]
    barrier = threading.Barrier(2)
    results: dict[str, work.ClaimState] = {}
    errors: list[BaseException] = []

    def claim(name: str) -> None:
        try:
            with sessions() as s:
                barrier.wait()
                results[name] = work.take_claim(s, item_id, name)
        except BaseException as exc:  # reported below
            errors.append(exc)

    for _round in range(3):
        with sessions() as s:
            s.execute(Claim.__table__.delete())
            s.commit()
        threads = [threading.Thread(target=claim, args=(n,)) for n in ("lan", "minh")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        winners = [n for n, state in results.items() if state.until is not None]
        losers = [n for n, state in results.items() if state.until is None]
        assert len(winners) == 1 and len(losers) == 1, results
        assert [h.name for h in results[losers[0]].holders] == winners
        with sessions() as s:
            held = s.scalars(select(Claim.user_id).where(Claim.item_id == item_id)).all()
        assert len(held) == 1


def test_blind_second_review_two_claims_and_neither_is_named_to_the_other(session, team):
    add_scored(session, [scored("blind", posts(1, seed=9)[0])], actor="test", reviews_needed=2)
    item = session.scalars(select(Item).where(Item.source_id == "blind")).one()
    first = work.take_claim(session, item.id, "lan")
    second = work.take_claim(session, item.id, "minh")
    # Both hold a claim, and neither is told about the other.
    assert first.until and second.until and first.holders == () and second.holders == ()
    # A third reviewer is kept out: the two answers still needed are claimed.
    third = work.take_claim(session, item.id, "an")
    assert third.until is None and {h.name for h in third.holders} == {"lan", "minh"}
    record_answer(session, item.id, "lan", "hate", item.version)
    # One answer still needed, claimed by minh: an is still out; minh answers blind.
    assert work.take_claim(session, item.id, "an").until is None
    assert work.take_claim(session, item.id, "minh").holders == ()
    record_answer(session, item.id, "minh", "hate", None)
    assert session.get(Item, item.id, populate_existing=True).status == "answered"


def test_claim_minutes_are_checked(session, items):
    with pytest.raises(InputError, match="claim minutes"):
        work.take_claim(session, items["h0"], "lan", minutes=0)

"""Answers: optimistic locking, one answer per reviewer, disagreement and adjudication,
groups answered once through their representative, splits, undo and Cohen's kappa."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from pipeline.errors import InputError
from pipeline.store import (
    ConflictError,
    ForbiddenError,
    NotFoundError,
    add_scored,
    add_user,
    adjudicate,
    cohens_kappa,
    get_item,
    group_members,
    record_answer,
    split_from_group,
    undo_answer,
)
from pipeline.store.audit import entries
from pipeline.store.queue import next_items
from pipeline.store.tables import Answer, Item
from tests.store.conftest import scored
from tests.store.test_intake import CHANH, CHANH_REWORDED, UNRELATED
from tests.store.test_queue import posts

CHANH_AGAIN = "Chia sẻ ngay: uống nước chanh nóng mỗi sáng chữa khỏi ung thư cho mọi người!"


@pytest.fixture
def people(session):
    for name, role in [
        ("lan", "reviewer"),
        ("minh", "reviewer"),
        ("hoa", "trainer"),
        ("an", "admin"),
        ("binh", "analyst"),
    ]:
        add_user(session, name, role, f"{name} password")


def _add(session, texts, reviews_needed=1, task_proba=(0.2, 0.3, 0.5)):
    add_scored(
        session,
        [scored(f"p{i}", t, hostile=task_proba) for i, t in enumerate(texts)],
        actor="analyst",
        reviews_needed=reviews_needed,
    )
    return session.scalars(select(Item).order_by(Item.id)).all()


def test_an_answer_records_the_model_at_that_moment_and_bumps_the_version(session, people):
    (item,) = _add(session, [UNRELATED])
    answer = record_answer(session, item.id, "lan", "clean", item.version, note="tin vui")
    item = get_item(session, item.id)
    assert (item.status, item.label, item.version) == ("answered", "clean", 1)
    assert (answer.label, answer.model_label, answer.model_score) == ("clean", "hate", 0.5)
    assert (answer.model_risk, answer.model_version, answer.note) == (
        0.8,
        "hostile/linear-1",
        "tin vui",
    )
    assert answer.reviewer.name == "lan" and answer.created_at.tzinfo is not None


def test_a_stale_version_is_a_conflict_that_says_what_changed(session, people):
    (item,) = _add(session, [UNRELATED])
    loaded = item.version
    record_answer(session, item.id, "lan", "hate", loaded)  # one review needed: decides it
    with pytest.raises(
        ConflictError,
        match=r"expected version 0 \(the version you loaded\), "
        r"but found version 1.*Reload the item",
    ):
        record_answer(session, item.id, "minh", "clean", loaded)
    assert session.scalars(select(Answer.reviewer_id)).all() == [1]


def test_independent_reviews_do_not_make_each_other_stale(session, people):
    (item,) = _add(session, [UNRELATED], reviews_needed=2)
    loaded = item.version  # both reviewers opened the item before either answered
    record_answer(session, item.id, "lan", "hate", loaded)
    assert get_item(session, item.id).version == loaded
    record_answer(session, item.id, "minh", "hate", loaded)
    assert get_item(session, item.id).status == "answered"


def test_a_reviewer_answers_an_item_once(session, people):
    (item,) = _add(session, [UNRELATED], reviews_needed=2)
    record_answer(session, item.id, "lan", "hate", 0)
    with pytest.raises(ConflictError, match="a reviewer answers an item once"):
        record_answer(session, item.id, "lan", "clean", 0)
    assert len(session.scalars(select(Answer)).all()) == 1


def test_disagreement_goes_to_adjudication_by_a_trainer_or_admin(session, people):
    (item,) = _add(session, [UNRELATED], reviews_needed=2)
    record_answer(session, item.id, "lan", "hate", 0)
    assert get_item(session, item.id).status == "open"
    record_answer(session, item.id, "minh", "offensive", 0)
    item = get_item(session, item.id)
    assert (item.status, item.label) == ("adjudication", None)
    with pytest.raises(ForbiddenError, match="role admin or trainer to adjudicate"):
        adjudicate(session, item.id, "lan", "hate")
    with pytest.raises(InputError, match="one of \\['clean', 'hate', 'offensive'\\]"):
        adjudicate(session, item.id, "hoa", "spam")
    adjudicate(session, item.id, "hoa", "offensive", expected_version=1, note="chửi, không kỳ thị")
    item = get_item(session, item.id)
    assert (item.status, item.label, item.adjudicator_id, item.version) == (
        "done",
        "offensive",
        3,
        2,
    )
    with pytest.raises(ConflictError, match="expected status 'adjudication'"):
        adjudicate(session, item.id, "an", "hate")


def test_only_open_items_and_answering_roles(session, people):
    (item,) = _add(session, [UNRELATED])
    with pytest.raises(ForbiddenError, match="role 'analyst'"):
        record_answer(session, item.id, "binh", "hate", 0)
    with pytest.raises(InputError, match="label: expected one of"):
        record_answer(session, item.id, "lan", "HATE", 0)
    record_answer(session, item.id, "lan", "hate", 0)
    with pytest.raises(ConflictError, match="expected status 'open', but found status 'answered'"):
        record_answer(session, item.id, "minh", "hate", 1)
    with pytest.raises(NotFoundError, match="no item 999"):
        record_answer(session, 999, "lan", "hate", 0)


def test_answering_the_representative_answers_the_group(session, people):
    rep, other, member = _add(session, [CHANH, UNRELATED, CHANH_REWORDED])
    assert member.group_id == rep.group_id and other.group_id is None
    with pytest.raises(ConflictError, match=f"Answer the representative, item {rep.id}"):
        record_answer(session, member.id, "lan", "hate", 0)
    record_answer(session, rep.id, "lan", "hate", 0)
    member = get_item(session, member.id)
    assert (member.status, member.label, member.label_source_id) == ("done", "hate", rep.id)
    assert member.version == 1 and session.scalars(select(Answer.item_id)).all() == [rep.id]
    assert [(e.action, e.entity_id) for e in entries(session, "item", member.id)][-1] == (
        "label_from_group",
        str(member.id),
    )


def test_adjudicating_the_representative_labels_the_group(session, people):
    rep, member = _add(session, [CHANH, CHANH_REWORDED], reviews_needed=2)
    record_answer(session, rep.id, "lan", "hate", 0)
    record_answer(session, rep.id, "minh", "clean", 0)
    assert get_item(session, member.id).status == "open"
    adjudicate(session, rep.id, "an", "hate")
    assert get_item(session, member.id).label == "hate"


def test_a_wrong_member_is_split_out_and_reopens(session, people):
    rep, member = _add(session, [CHANH, CHANH_REWORDED])
    record_answer(session, rep.id, "lan", "hate", 0)
    with pytest.raises(ForbiddenError):
        split_from_group(session, member.id, "binh")
    split = split_from_group(session, member.id, "minh", expected_version=1)
    assert (split.group_id, split.is_representative, split.status, split.label) == (
        None,
        True,
        "open",
        None,
    )
    assert split.version == 2 and "p1" in [it.source_id for it in next_items(session)]
    assert group_members(session, rep) == [get_item(session, rep.id)]
    (row,) = [e for e in entries(session, "item", member.id) if e.action == "split_from_group"]
    assert (row.actor, row.before["group_id"], row.after["group_id"]) == (
        "minh",
        rep.group_id,
        None,
    )
    with pytest.raises(ConflictError, match="an item that stands alone"):
        split_from_group(session, member.id, "minh")


def test_splitting_the_representative_hands_the_group_on(session, people):
    rep, m1, m2 = _add(session, [CHANH, CHANH_REWORDED, CHANH_AGAIN])
    assert m1.group_id == m2.group_id == rep.group_id
    record_answer(session, rep.id, "lan", "hate", 0)
    split_from_group(session, rep.id, "lan")
    rep, m1, m2 = (get_item(session, i.id) for i in (rep, m1, m2))
    assert (rep.group_id, rep.status, rep.label) == (None, "answered", "hate")
    assert m1.is_representative and not m2.is_representative
    assert m1.group.representative_id == m1.id
    assert [(m.status, m.label) for m in (m1, m2)] == [("open", None), ("open", None)]
    assert [it.id for it in next_items(session)] == [m1.id, rep.id][:1]


def test_undo_withdraws_an_answer_and_what_the_group_took_from_it(session, people):
    rep, member = _add(session, [CHANH, CHANH_REWORDED])
    record_answer(session, rep.id, "lan", "hate", 0)
    with pytest.raises(ConflictError, match="an answer by 'minh' to withdraw"):
        undo_answer(session, rep.id, "minh")
    undo_answer(session, rep.id, "lan")
    rep, member = get_item(session, rep.id), get_item(session, member.id)
    assert (rep.status, rep.label, rep.version) == ("open", None, 2)
    assert (member.status, member.label) == ("open", None)
    assert session.scalars(select(Answer)).all() == []
    (deleted,) = [e for e in entries(session, "answer") if e.action == "delete"]
    assert deleted.before["label"] == "hate" and deleted.before["reviewer"] == "lan"
    record_answer(session, rep.id, "lan", "clean", rep.version)  # and answer again


def test_cohens_kappa_on_a_known_example(session, people):
    # Two raters, 50 items: both "unreliable" 20, A unreliable / B reliable 5,
    # A reliable / B unreliable 10, both reliable 15. p_o = 0.7, p_e = 0.5, kappa = 0.4.
    texts = posts(50, seed=7)
    add_scored(
        session,
        [scored(f"f{i}", t, hostile=None, false=(0.4, 0.6)) for i, t in enumerate(texts)],
        actor="analyst",
        reviews_needed=2,
    )
    items = session.scalars(select(Item).where(Item.task == "false").order_by(Item.id)).all()
    assert len(items) == 50
    pairs = (
        [("unreliable", "unreliable")] * 20
        + [("unreliable", "reliable")] * 5
        + [("reliable", "unreliable")] * 10
        + [("reliable", "reliable")] * 15
    )
    for item, (a, b) in zip(items, pairs, strict=True):
        record_answer(session, item.id, "lan", a, 0)
        record_answer(session, item.id, "minh", b, 0)
    agreement = cohens_kappa(session, "false")
    assert agreement.items == 50
    assert agreement.observed == pytest.approx(0.7)
    assert agreement.expected == pytest.approx(0.5)
    assert agreement.kappa == pytest.approx(0.4)
    assert cohens_kappa(session, "hostile").kappa is None
    statuses = {get_item(session, it.id).status for it in items[20:35]}
    assert statuses == {"adjudication"}


def test_a_write_inside_the_callers_transaction_commits_or_rolls_back_with_it(sessions, people):
    with sessions() as session:
        first, second = _add(session, [UNRELATED, CHANH])
    with sessions() as session, session.begin():
        record_answer(session, first.id, "lan", "hate", 0)
        with sessions() as other:  # not committed yet: nobody else sees it
            assert get_item(other, first.id).status == "open"
    with sessions() as session:
        assert get_item(session, first.id).status == "answered"
    with pytest.raises(ConflictError), sessions() as session, session.begin():
        record_answer(session, second.id, "lan", "hate", 0)
        record_answer(session, first.id, "minh", "hate", 0)  # stale: the whole block rolls back
    with sessions() as session:
        assert get_item(session, second.id).status == "open"
        assert len(session.scalars(select(Answer)).all()) == 1


def test_a_note_past_the_limit_is_refused_saying_the_limit_and_its_length(session, people):
    first, second = _add(session, [UNRELATED, CHANH], reviews_needed=2)
    with pytest.raises(InputError, match=r"at most 5,000 characters, but found 5,001"):
        record_answer(session, first.id, "lan", "clean", 0, note="x" * 5_001)
    assert session.scalars(select(Answer)).all() == []
    record_answer(session, first.id, "lan", "clean", 0, note="x" * 5_000)  # the limit is fine
    record_answer(session, second.id, "lan", "clean", 0)
    record_answer(session, second.id, "minh", "hate", 0)  # disagree: adjudication
    with pytest.raises(InputError, match="5,000"):
        adjudicate(session, second.id, "hoa", "hate", note="y" * 6_000)
    assert get_item(session, second.id).status == "adjudication"

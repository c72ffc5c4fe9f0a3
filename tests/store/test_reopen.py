"""A label that approved rebuttals answer is not undone, split away or quietly changed; a
trainer or admin reopens it, and its rebuttals go back to draft to be reviewed again."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from pipeline.store import (
    ConflictError,
    ForbiddenError,
    add_scored,
    get_item,
    record_answer,
    split_from_group,
    undo_answer,
)
from pipeline.store import rebuttals as rb
from pipeline.store.answers import reopen_item
from pipeline.store.audit import entries
from pipeline.store.tables import Answer, Item
from tests.store.test_rebuttals import (
    BODY,
    HOAX,
    HOAX_NEAR_DUPLICATE,
    PRICE,
    _confirm,
    _false,
    team,  # noqa: F401 - the fixture
)


@pytest.fixture
def answered(team):  # noqa: F811 - the imported fixture
    """A confirmed narrative of two posts with an approved, a published and a draft rebuttal:
    (session, representative, member, [approved, published, draft])."""
    session = team
    rep = _confirm(session, "hoax", HOAX)
    approved = rb.create_draft(session, rep.id, "vy", "Chanh không chữa ung thư", BODY)
    add_scored(session, [_false("dup", HOAX_NEAR_DUPLICATE)], actor="test")
    member = session.query(Item).filter_by(source_id="dup").one()
    assert member.group_id == approved.group_id and member.label == "unreliable"
    published = rb.create_draft(session, rep.id, "vy", "Bộ Y tế chưa xác nhận", BODY)
    draft = rb.create_draft(session, rep.id, "vy", "Còn là nháp", BODY)
    rb.approve(session, approved.id, "khoa", approved.version)
    published = rb.approve(session, published.id, "khoa", published.version)
    rb.publish(session, published.id, "vy", published.version)
    return session, get_item(session, rep.id), member, [approved, published, draft]


def test_undoing_the_answer_is_refused_naming_the_rebuttals_that_depend_on_it(answered):
    session, rep, _, (approved, published, draft) = answered
    expected = f"rebuttal {approved.id} (approved), rebuttal {published.id} (published)"
    with pytest.raises(ConflictError, match="reopen") as refused:
        undo_answer(session, rep.id, "lan", rep.version)
    assert expected in str(refused.value) and f"rebuttal {draft.id}" not in str(refused.value)
    rep = get_item(session, rep.id)
    assert (rep.status, rep.label) == ("answered", "unreliable")
    assert len(session.scalars(select(Answer)).all()) == 1


def test_drafts_alone_do_not_hold_the_label(team):  # noqa: F811 - the imported fixture
    session = team
    rep = _confirm(session, "hoax", HOAX)
    rb.create_draft(session, rep.id, "vy", "Chanh", BODY)
    undo_answer(session, rep.id, "lan", get_item(session, rep.id).version)
    assert get_item(session, rep.id).status == "open"


def test_the_representative_of_an_answered_narrative_is_not_split_out(answered):
    session, rep, member, (approved, *_) = answered
    with pytest.raises(ConflictError, match=f"rebuttal {approved.id} \\(approved\\)"):
        split_from_group(session, rep.id, "lan")
    assert get_item(session, rep.id).group_id == approved.group_id
    split_from_group(session, member.id, "lan")  # a member's label is not what they answer
    assert get_item(session, member.id).group_id is None


def test_a_trainer_reopens_it_and_its_rebuttals_go_back_to_draft(answered):
    session, rep, member, (approved, published, draft) = answered
    loaded = rep.version
    reopened = reopen_item(session, rep.id, "hoa", loaded)
    assert (reopened.status, reopened.label, reopened.decided_at) == ("open", None, None)
    assert reopened.version == loaded + 1
    member = get_item(session, member.id)
    assert (member.status, member.label, member.label_source_id) == ("open", None, None)
    assert session.scalars(select(Answer)).all() == []  # the audit trail keeps them
    (deleted,) = [e for e in entries(session, "answer") if e.action == "delete"]
    assert deleted.actor == "hoa" and deleted.before["reviewer"] == "lan"

    for r in (approved, published):
        r = rb.get_rebuttal(session, r.id)
        assert (r.status, r.approver_id, r.approved_at, r.published_at) == (
            "draft",
            None,
            None,
            None,
        )
    assert rb.get_rebuttal(session, draft.id).version == draft.version  # untouched
    needs_review = [e for e in entries(session, "rebuttal") if e.action == "needs_review"]
    assert [
        (int(e.entity_id), e.actor, e.before["status"], e.after["status"]) for e in needs_review
    ] == [
        (approved.id, "hoa", "approved", "draft"),
        (published.id, "hoa", "published", "draft"),
    ]
    (item_entry,) = [e for e in entries(session, "item", rep.id) if e.action == "reopen"]
    assert item_entry.before["label"] == "unreliable" and item_entry.after["status"] == "open"
    assert item_entry.after["rebuttals_to_review"] == [approved.id, published.id]

    # Nothing is approved for a narrative that is not decided; once it is, review starts over.
    again = rb.get_rebuttal(session, approved.id)
    with pytest.raises(ConflictError, match="reopened"):
        rb.approve(session, again.id, "khoa", again.version)
    record_answer(session, rep.id, "lan", "unreliable", reopened.version)
    assert rb.approve(session, again.id, "khoa", again.version).status == "approved"


def test_only_trainers_and_admins_reopen_a_decided_representative(answered):
    session, rep, member, _ = answered
    for name in ("lan", "vy", "khoa"):  # a reviewer, communicators (one approves)
        with pytest.raises(ForbiddenError, match="reopen"):
            reopen_item(session, rep.id, name)
    with pytest.raises(ConflictError, match="version"):
        reopen_item(session, rep.id, "an", rep.version - 1)
    with pytest.raises(ConflictError, match=f"representative, item {rep.id}"):
        reopen_item(session, member.id, "an")
    add_scored(session, [_false("open", PRICE)], actor="test")
    still_open = session.query(Item).filter_by(source_id="open").one()
    with pytest.raises(ConflictError, match="decided"):
        reopen_item(session, still_open.id, "an")
    assert reopen_item(session, rep.id, "an").status == "open"  # an admin may


def test_undo_refuses_a_stale_version(team):  # noqa: F811 - the imported fixture
    session = team
    rep = _confirm(session, "hoax", HOAX)
    with pytest.raises(ConflictError, match="version"):
        undo_answer(session, rep.id, "lan", rep.version - 1)
    assert get_item(session, rep.id).status == "answered"

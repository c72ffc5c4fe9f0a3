"""Guidelines as versions: the task file is version 1, an admin's edit is version 2 and in force
at once, every answer records the version it was given under; and one label for a chosen set
of items, all or nothing."""

from __future__ import annotations

import pytest

from pipeline.errors import InputError
from pipeline.store import add_scored, add_user, record_answer
from pipeline.store._shared import ConflictError, ForbiddenError
from pipeline.store.answers import answer_many
from pipeline.store.audit import entries
from pipeline.store.guidelines import (
    current_guidelines,
    default_guidelines,
    guideline_history,
    save_guidelines,
    version_in_force,
)
from pipeline.store.tables import Answer, Item
from tests.store.conftest import scored


@pytest.fixture
def people(session):
    add_user(session, "an", "admin", "an password")
    add_user(session, "lan", "reviewer", "lan password")
    add_user(session, "minh", "reviewer", "minh password")


def _edited(task: str = "hostile", hate: str = "Công kích một người hay một nhóm.") -> dict:
    labels = {k: dict(v) for k, v in default_guidelines(task).labels.items()}
    labels["hate"] = {"vi": {"definition": hate, "examples": ["Bọn đó cút hết đi", " "]}}
    return labels


def _ids(session, *source_ids) -> list[int]:
    return [
        session.query(Item).filter_by(source_id=s, task="hostile").one().id for s in source_ids
    ]


def test_the_task_file_is_version_one_with_a_definition_and_two_examples_per_label(session):
    for task in ("hostile", "false"):
        g = current_guidelines(session, task)
        assert g.version == 1 and g.author is None
        for label, per_language in g.labels.items():
            for language in ("vi", "en"):
                entry = per_language[language]
                assert len(entry["definition"]) > 40, (task, label, language)
                assert len(entry["examples"]) == 2, (task, label, language)
    assert version_in_force(session, "hostile") == 1
    assert version_in_force(session, "no-such-task") is None


def test_an_admin_edit_is_version_two_in_force_at_once_and_audited(session, people):
    saved = save_guidelines(session, "hostile", "an", _edited(), 1, note="rõ hơn")
    assert saved.version == 2
    now = current_guidelines(session, "hostile")
    assert now.version == 2 and now.author == "an" and now.note == "rõ hơn"
    hate = now.entry("hate", "vi")
    assert hate == {"definition": "Công kích một người hay một nhóm.",
                    "examples": ["Bọn đó cút hết đi"]}  # the blank example dropped
    assert now.entry("hate", "en") == hate  # no English: the Vietnamese is shown
    assert [g.version for g in guideline_history(session, "hostile")] == [2, 1]
    assert current_guidelines(session, "false").version == 1  # per task
    (entry,) = entries(session, entity="guidelines")
    assert entry.actor == "an" and entry.action == "edit" and entry.entity_id == "hostile:2"
    assert entry.before["version"] == 1 and entry.after["version"] == 2


def test_a_stale_form_a_reviewer_or_a_missing_definition_is_refused(session, people):
    save_guidelines(session, "hostile", "an", _edited(), 1)
    with pytest.raises(ConflictError, match="version 1"):
        save_guidelines(session, "hostile", "an", _edited(hate="khác"), 1)
    with pytest.raises(ForbiddenError):
        save_guidelines(session, "hostile", "lan", _edited(), 2)
    with pytest.raises(InputError, match="Vietnamese definition"):
        save_guidelines(session, "hostile", "an", _edited(hate="  "), 2)
    with pytest.raises(InputError, match="guidelines for the labels"):
        save_guidelines(session, "hostile", "an", {"spam": {"vi": {"definition": "x"}}}, 2)
    assert version_in_force(session, "hostile") == 2


def test_each_answer_records_the_guideline_version_in_force(engine, sessions, people):
    add_scored(engine, [scored("g1", "Thằng này ngu vl"), scored("g2", "Đồ óc chó")],
               actor="test")
    with sessions() as s:
        first, second = _ids(s, "g1", "g2")
        record_answer(s, first, "lan", "offensive", 0)
        save_guidelines(s, "hostile", "an", _edited(), 1)
        record_answer(s, second, "lan", "hate", 0)
    with sessions() as s:
        versions = {a.item_id: a.guideline_version for a in s.query(Answer)}
        assert versions == {first: 1, second: 2}
        (added,) = [e for e in entries(s, entity="answer") if e.after["item_id"] == second]
        assert added.after["guideline_version"] == 2


def test_answer_many_labels_every_chosen_item_each_audited(engine, sessions, people):
    add_scored(engine, [scored(f"m{i}", t) for i, t in enumerate(
        ["Giá xăng tăng mạnh từ chiều nay", "Đội tuyển thắng trận bán kết",
         "Mưa lớn gây ngập nhiều tuyến phố"])], actor="test")
    with sessions() as s:
        ids = _ids(s, "m0", "m1", "m2")
        given = answer_many(s, ids[:2], "lan", "clean", [0, 0])
        assert sorted(a.item_id for a in given) == sorted(ids[:2])
    with sessions() as s:
        assert [s.get(Item, i).label for i in ids] == ["clean", "clean", None]
        answered = [e.entity_id for e in entries(s, entity="item") if e.action == "answer"]
        assert sorted(answered) == sorted(str(i) for i in ids[:2])


def test_answer_many_is_all_or_nothing_when_one_item_changed(engine, sessions, people):
    add_scored(engine, [scored("s0", "Chợ hoa xuân mở cửa đến khuya"),
                        scored("s1", "Trường học nghỉ Tết từ thứ hai")], actor="test")
    with sessions() as s:
        ids = _ids(s, "s0", "s1")
        record_answer(s, ids[1], "minh", "clean", 0)  # version 1 now
    with sessions() as s, pytest.raises(ConflictError, match=f"item {ids[1]}"):
        answer_many(s, ids, "lan", "hate", {ids[0]: 0, ids[1]: 0})
    with sessions() as s:
        assert s.get(Item, ids[0]).status == "open"
        assert s.query(Answer).filter_by(item_id=ids[0]).count() == 0  # rolled back
    with sessions() as s:
        with pytest.raises(InputError, match="more than once"):
            answer_many(s, [ids[0], ids[0]], "lan", "hate", [0, 0])
        with pytest.raises(InputError, match="one per item"):
            answer_many(s, ids, "lan", "hate", [0])
        with pytest.raises(InputError, match="1 to"):
            answer_many(s, [], "lan", "hate", [])


def test_answering_a_groups_representative_in_bulk_labels_its_members(engine, sessions, people):
    text = "Uống nước chanh nóng chữa khỏi ung thư, chia sẻ ngay cho mọi người!"
    spelt = "Uong nuoc chanh nong chua khoi ung thu, chia se ngay cho moi nguoi nhe, bac si noi"
    add_scored(engine, [scored("r0", text), scored("r1", spelt)], actor="test")
    with sessions() as s:
        rep, member = (s.query(Item).filter_by(source_id=x, task="hostile").one()
                       for x in ("r0", "r1"))
        assert member.group_id == rep.group_id and not member.is_representative
        answer_many(s, [rep.id], "lan", "offensive", [rep.version])
    with sessions() as s:
        m = s.get(Item, member.id)
        assert (m.status, m.label, m.label_source_id) == ("done", "offensive", rep.id)
    with sessions() as s, pytest.raises(ConflictError, match="member"):
        answer_many(s, [member.id], "minh", "clean", [s.get(Item, member.id).version])

"""Adding scored posts: masked, idempotent, near-duplicates grouped, bad records reported."""

from __future__ import annotations

import hashlib
import json

import pytest
from sqlalchemy import func, select

from pipeline.store import add_scored, add_scored_file, add_user, record_answer
from pipeline.store.audit import entries
from pipeline.store.tables import Group, Item, ItemBand
from tests.store.conftest import scored

PERSONAL = "Gọi 0912 345 678 hoặc chi.tran@mail.vn, hỏi @chitran: mày ngu vl"
CHANH = "Uống nước chanh nóng chữa khỏi ung thư, chia sẻ ngay cho mọi người!"
CHANH_REWORDED = "Uống nước chanh nóng mỗi sáng chữa khỏi ung thư, chia sẻ ngay cho mọi người nhé"
CHANH_NO_DIACRITICS = "uong nuoc chanh nong chua khoi ung thu, chia se ngay cho moi nguoi!!!"
UNRELATED = "Hôm nay trời đẹp quá, cả nhà đi chơi công viên thôi"


def _items(session, task="hostile"):
    return session.scalars(select(Item).where(Item.task == task).order_by(Item.id)).all()


def test_personal_data_is_masked_and_word_offsets_still_point_at_the_words(session):
    record = scored("p1", PERSONAL, words=("ngu", "@chitran", "0912"))
    report = add_scored(session, [record], actor="analyst")
    assert report.items_added == 1
    (item,) = _items(session)
    assert len(item.text) == len(PERSONAL)
    for secret in ("0912", "345", "678", "chi.tran", "mail.vn", "chitran"):
        assert secret not in item.text and secret not in json.dumps(item.words)
    assert item.text.startswith("Gọi •••• ••• ••• hoặc ") and item.text.endswith("mày ngu vl")
    for word in item.words:
        assert item.text[word["start"] : word["end"]] == word["word"]
    assert [w["word"] for w in item.words] == ["ngu", "@•••••••", "••••"]
    assert item.source_id == "p1"
    assert item.input_hash == hashlib.sha256(PERSONAL.encode()).hexdigest()
    assert item.model_version == "hostile/linear-1" and item.model_label == "clean"
    assert item.proba == {"clean": 0.8, "offensive": 0.15, "hate": 0.05}
    assert item.risk == 0.2 and abs(item.uncertainty - (1 - (0.8 - 0.15))) < 1e-9


def test_one_item_per_task_per_post_and_the_same_post_twice_is_one_item(session):
    records = [
        scored(1, CHANH, false=(0.2, 0.8)),
        scored(2, CHANH, false=(0.2, 0.8)),  # the same post again
        scored(3, CHANH_NO_DIACRITICS, false=(0.3, 0.7)),  # the same after folding
    ]
    report = add_scored(session, records, actor="analyst")
    assert (report.records, report.items_added, report.duplicates) == (3, 2, 4)
    assert report.by_task == {"hostile": 1, "false": 1}
    assert [i.source_id for i in _items(session, "false")] == ["1"]


def test_adding_the_same_file_twice_adds_nothing_new(session, tmp_path):
    path = tmp_path / "scored.jsonl"
    records = [scored(i, t) for i, t in enumerate([CHANH, UNRELATED, PERSONAL])]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    first = add_scored_file(session, path, actor="analyst")
    audit_rows = len(entries(session))
    second = add_scored_file(session, path, actor="analyst")
    assert (first.items_added, first.duplicates) == (3, 0)
    assert (second.items_added, second.duplicates, second.rejected) == (0, 3, [])
    assert session.scalar(select(func.count()).select_from(Item)) == 3
    assert len(entries(session)) == audit_rows  # a duplicate is not a write


def test_a_reworded_near_duplicate_joins_the_group_and_an_unrelated_post_does_not(session):
    add_scored(session, [scored(1, CHANH), scored(2, UNRELATED)], actor="analyst")
    report = add_scored(session, [scored(3, CHANH_REWORDED)], actor="analyst")
    assert (report.items_added, report.grouped, report.groups_created) == (1, 1, 1)
    chanh, unrelated, reworded = _items(session)
    assert chanh.group_id is not None and reworded.group_id == chanh.group_id
    assert chanh.is_representative and not reworded.is_representative
    assert unrelated.group_id is None and unrelated.is_representative
    group = session.get(Group, chanh.group_id)
    assert (group.task, group.representative_id) == ("hostile", chanh.id)
    # Bands are per task: the other task's items never become candidates.
    bands = session.scalars(select(ItemBand.band_key).where(ItemBand.item_id == chanh.id)).all()
    assert len(bands) == 16


@pytest.mark.parametrize("batch_size", [1000, 1], ids=["one batch", "batch per post"])
def test_near_duplicates_group_within_one_batch_and_across_batches(session, batch_size):
    records = [scored(1, CHANH), scored(2, UNRELATED), scored(3, CHANH_REWORDED)]
    add_scored(session, records, actor="analyst", batch_size=batch_size)
    chanh, unrelated, reworded = _items(session)
    assert reworded.group_id == chanh.group_id and chanh.group_id is not None
    assert chanh.is_representative and not reworded.is_representative
    assert unrelated.group_id is None


def test_a_post_joining_a_decided_group_takes_its_label(session):
    add_user(session, "lan", "reviewer", "long password")
    add_scored(session, [scored(1, CHANH)], actor="analyst")
    (chanh,) = _items(session)
    record_answer(session, chanh.id, "lan", "hate", chanh.version)
    report = add_scored(session, [scored(2, CHANH_REWORDED)], actor="analyst")
    assert report.labelled_from_group == 1
    _, reworded = _items(session)
    assert (reworded.status, reworded.label, reworded.label_source_id) == ("done", "hate", chanh.id)


def test_bad_lines_and_bad_records_are_reported_not_raised(session, tmp_path):
    good = scored("ok", CHANH)
    no_text = {**scored("no-text", UNRELATED), "text": ""}
    bad_words = scored("bad-words", UNRELATED, words=("trời",))
    bad_words["scores"]["hostile"]["words"][0]["start"] += 1
    bad_label = scored("bad-label", UNRELATED)
    bad_label["scores"]["hostile"]["label"] = "spam"
    no_version = {**scored("no-version", UNRELATED), "model_versions": {}}
    lines = [
        json.dumps(good, ensure_ascii=False),
        "{not json",
        "",
        json.dumps([1, 2]),
        json.dumps(no_text),
        json.dumps(bad_words),
        json.dumps(bad_label),
        json.dumps(no_version),
    ]
    path = tmp_path / "scored.jsonl"
    path.write_bytes(("\n".join(lines) + "\n").encode() + b"\xff\xfe broken\n")
    report = add_scored_file(session, path, actor="analyst")
    assert report.items_added == 1 and report.records == 8
    reasons = {r.line: r.reason for r in report.rejected}
    assert sorted(reasons) == [2, 4, 5, 6, 7, 8, 9]
    assert reasons[2].startswith("malformed JSON")
    assert "JSON object" in reasons[4] and "non-empty 'text'" in reasons[5]
    assert "does not match the text" in reasons[6] and "'spam'" in reasons[7]
    assert "no version for task 'hostile'" in reasons[8] and reasons[9].startswith("not UTF-8")
    assert [r.id for r in report.rejected if r.line == 6] == ["bad-words"]


def test_every_added_item_and_group_is_audited(session):
    add_scored(session, [scored(1, CHANH), scored(2, UNRELATED)], actor="analyst")
    add_scored(session, [scored(3, CHANH_REWORDED)], actor="ana")
    rows = [(e.actor, e.action, e.entity) for e in entries(session)]
    assert rows.count(("analyst", "add", "item")) == 2
    assert rows[2:] == [("ana", "add", "item"), ("ana", "add", "group"),
                        ("ana", "join_group", "item")]
    item_ids = {str(i.id) for i in _items(session)}
    assert {e.entity_id for e in entries(session, "item")} == item_ids

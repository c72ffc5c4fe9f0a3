"""Reviewed labels out as corpus files and Label Studio tasks, and Label Studio files in.

The must-show: labels reviewed here (agreeing answers, double reviews, adjudications, labels
a near-duplicate group took from its representative) go out as Label Studio tasks, come into
an empty database and go out again the same, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from itertools import islice

import numpy as np
import pytest
from sqlalchemy import event, func, insert, select, update

from pipeline.errors import InputError
from pipeline.store import (
    add_scored,
    add_user,
    adjudicate,
    export_labels,
    import_label_studio,
    json_array,
    record_answer,
    verify_password,
)
from pipeline.store import labels_export as labels_module
from pipeline.store.audit import entries
from pipeline.store.db import make_engine, session_factory, upgrade
from pipeline.store.json_array import JsonArrayReader
from pipeline.store.labels_export import COLUMNS
from pipeline.store.tables import Answer, Group, Item, User
from pipeline.text.similarity import fold
from pipeline.training.corpora import load_corpus
from pipeline.training.metrics import slice_masks
from tests.conftest import REPO, require_corpora
from tests.store.conftest import backend, migrated_database, scored
from tests.store.test_queue import posts

FOREIGN = REPO / "tests" / "data" / "label_studio_foreign.json"
PROBAS = ((0.7, 0.2, 0.1), (0.2, 0.5, 0.3), (0.1, 0.2, 0.7))


def vihsd(split: str = "train", *, min_chars: int = 40, max_chars: int = 200, skip: int = 0):
    """ViHSD comments (read by path) as (text, label), one per folded text."""
    names = ("clean", "offensive", "hate")
    seen = set()
    with open(require_corpora() / "vihsd" / f"{split}.csv", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            t = row["free_text"].strip()
            if not min_chars <= len(t) <= max_chars or fold(t) in seen:
                continue
            seen.add(fold(t))
            if skip:
                skip -= 1
                continue
            yield t, names[int(row["label_id"])]


@pytest.fixture
def empty_url(db_url, tmp_path):
    """A second migrated, empty database of the same kind as ``db_url``."""
    with migrated_database(backend(db_url), tmp_path, "empty") as url:
        yield url


def reviewed_store(session) -> dict[str, int]:
    """Answered, double-reviewed, adjudicated and group-labelled items, plus some that are
    not decided; returns item ids by source id."""
    for name, role in [("lan", "reviewer"), ("minh", "reviewer"), ("hoa", "trainer")]:
        add_user(session, name, role, f"{name} password")
    short = [t for t, _ in islice(vihsd(), 11)]
    rep1, rep2 = (t for t, _ in islice(vihsd(min_chars=201, max_chars=400), 2))

    def record(rid, t, k):
        return scored(rid, t, hostile=PROBAS[k % 3], words=(t.split()[0],))

    add_scored(session, [record(f"s{i}", short[i], i) for i in range(6)]
               + [record("rep1", rep1, 2), record("g1a", rep1 + " đúng là không thể chấp "
                                                  "nhận được", 2),
                  record("g1b", "Nói thật: " + rep1, 1)], actor="analyst")
    add_scored(session, [record(f"d{i}", short[i], i) for i in range(6, 11)]
               + [record("rep2", rep2, 0), record("g2a", rep2 + " chia sẻ cho mọi người", 0)],
               actor="analyst", reviews_needed=2)
    ids = dict(session.execute(select(Item.source_id, Item.id)).all())
    for sid, who, label in [("s0", "lan", "clean"), ("s1", "minh", "offensive"),
                            ("s2", "lan", "hate"), ("s3", "minh", "clean"),
                            ("s4", "lan", "offensive"), ("rep1", "lan", "hate"),
                            ("d6", "lan", "hate"), ("d6", "minh", "hate"),
                            ("d7", "minh", "clean"), ("d7", "lan", "clean"),
                            ("d8", "lan", "offensive"), ("d8", "minh", "hate"),
                            ("d9", "lan", "clean"), ("d9", "minh", "hate"),
                            ("rep2", "lan", "clean"), ("rep2", "minh", "offensive")]:
        note = "bình luận thật, không có gì xúc phạm" if sid == "s3" else None
        record_answer(session, ids[sid], who, label, None, note=note)
    adjudicate(session, ids["d8"], "hoa", "offensive", note="chửi nhưng không kỳ thị")
    adjudicate(session, ids["rep2"], "hoa", "offensive")
    # A post that joins a group after its label was decided takes it at once.
    add_scored(session, [record("g1c", rep1 + " thật sự quá đáng luôn", 2)], actor="analyst")
    ids = dict(session.execute(select(Item.source_id, Item.id)).all())
    groups = dict(session.execute(select(Item.source_id, Item.group_id)).all())
    assert groups["rep1"] == groups["g1a"] == groups["g1b"] == groups["g1c"] is not None
    assert groups["rep2"] == groups["g2a"] is not None and groups["rep1"] != groups["rep2"]
    assert all(groups[f"{p}{i}"] is None for p, n in (("s", 6), ("d", 11)) for i in range(n)
               if f"{p}{i}" in groups)
    return ids


def read_jsonl(path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def by_text(rows: list[dict]) -> dict[str, dict]:
    return {r["text"]: {k: v for k, v in r.items() if k != "id"} for r in rows}


# ---------------------------------------------------------------------------- round trip


def test_labels_survive_a_round_trip_through_label_studio_into_an_empty_database(
    session, empty_url, tmp_path
):
    ids = reviewed_store(session)
    first, tasks = tmp_path / "first.jsonl", tmp_path / "labels.json"
    assert export_labels(session, first, "jsonl") == 14
    assert export_labels(session, tasks, "label-studio") == 14
    rows = read_jsonl(first)
    assert [r["id"] for r in rows] == sorted((r["id"] for r in rows),
                                             key=lambda i: int(i.split(":")[1]))
    assert sorted(r["id"] for r in rows) == sorted(
        f"kiemtin:{ids[s]}" for s in ids if s not in ("s5", "d9", "d10"))
    assert {r["decided_by"] for r in rows} == {"agreement", "adjudication", "group"}
    assert sum(r["decided_by"] == "group" for r in rows) == 4
    assert sum(r["decided_by"] == "adjudication" for r in rows) == 2

    other = make_engine(empty_url)
    try:
        report = import_label_studio(other, tasks, actor="lead")
        assert report.rejected == [] and report.tasks == report.items_added == 14
        assert (report.answers, report.adjudicated, report.labelled_from_group) == (14, 2, 4)
        assert report.scored == 0 and report.existing == 0
        assert sorted(report.users_created) == ["hoa", "lan", "minh"]
        assert report.statuses == {"answered": 8, "done": 6}
        assert "14 tasks: 14 items added" in report.summary()
        assert "0 rejected" in report.summary()
        with session_factory(other)() as s2:
            second = tmp_path / "second.jsonl"
            assert export_labels(s2, second, "jsonl") == 14
            again = read_jsonl(second)
            # Every item: the same decided label, the same answers by the same reviewers at
            # the same times, the same agreement, decided_by, time and model.
            assert by_text(again) == by_text(rows)

            # Groups survive: members point at the imported representative, in its group.
            here = {it.text: it for it in s2.scalars(select(Item))}
            there = {r["text"]: r for r in rows}
            for t, row in there.items():
                item = here[t]
                if row["decided_by"] == "group":
                    rep = s2.get(Item, item.label_source_id)
                    assert not item.is_representative and item.group_id == rep.group_id
                    assert rep.is_representative and rep.group.representative_id == rep.id
                else:
                    assert item.is_representative and item.label_source_id is None
            assert s2.scalar(select(func.count()).select_from(Group)) == 2
            adjudicated = s2.scalars(select(Item).where(Item.adjudicator_id.is_not(None))).all()
            assert {s2.get(User, it.adjudicator_id).name for it in adjudicated} == {"hoa"}
            assert {it.reviews_needed for it in adjudicated} == {2}

            # Annotators become switched-off reviewer accounts nobody can log in to.
            users = s2.scalars(select(User).order_by(User.name)).all()
            assert [(u.name, u.role, u.active) for u in users] == [
                ("hoa", "reviewer", False), ("lan", "reviewer", False),
                ("minh", "reviewer", False)]
            assert verify_password(s2, "lan", "lan password") is None
            # Every write is audited.
            assert len([e for e in entries(s2, "user") if e.action == "add"]) == 3
            answer_rows = [e for e in entries(s2, "answer") if e.action == "add"]
            assert len(answer_rows) == 14 and {e.actor for e in answer_rows} == {"lead"}
            assert len([e for e in entries(s2, "item") if e.action == "import"]) == 14

            # The same file again adds nothing and rejects nothing.
            twice = import_label_studio(s2, tasks, actor="lead")
            assert (twice.items_added, twice.answers, twice.existing) == (0, 0, 14)
            assert twice.rejected == [] and twice.users_created == []
            assert s2.scalar(select(func.count()).select_from(Answer)) == 14
    finally:
        other.dispose()


def test_members_before_their_representative_and_small_batches_import_the_same(
    session, empty_url, tmp_path
):
    reviewed_store(session)
    buffer = io.StringIO()
    export_labels(session, buffer, "label-studio")
    tasks = json.loads(buffer.getvalue())[::-1]  # every group member before its representative
    path = write_tasks(tmp_path / "reversed.json", tasks)
    first = io.StringIO()
    export_labels(session, first, "jsonl")
    other = make_engine(empty_url)
    try:
        report = import_label_studio(other, path, actor="lead", batch_size=2)
        assert report.rejected == [] and report.labelled_from_group == 4
        with session_factory(other)() as s2:
            second = io.StringIO()
            export_labels(s2, second, "jsonl")
    finally:
        other.dispose()
    rows = [json.loads(line) for line in first.getvalue().splitlines()]
    again = [json.loads(line) for line in second.getvalue().splitlines()]
    assert by_text(again) == by_text(rows)


def test_label_studio_tasks_carry_kiemtin_fields_annotations_and_the_group_link(
    session, tmp_path
):
    ids = reviewed_store(session)
    out = io.StringIO()
    export_labels(session, out, "label-studio", task="hostile")
    tasks = {t["data"]["kiemtin_item_id"]: t for t in json.loads(out.getvalue())}
    d8 = tasks[ids["d8"]]
    assert d8["data"]["task"] == "hostile" and d8["data"]["kiemtin_label"] == "offensive"
    assert set(d8["data"]["kiemtin_proba"]) == {"clean", "offensive", "hate"}
    assert d8["data"]["kiemtin_words"][0]["word"] == d8["data"]["text"].split()[0]
    assert [(a["completed_by"]["username"], a["result"][0]["value"]["choices"],
             a["ground_truth"]) for a in d8["annotations"]] == [
        ("lan", ["offensive"], False), ("minh", ["hate"], False),
        ("hoa", ["offensive"], True)]
    result = d8["annotations"][0]["result"][0]
    assert (result["from_name"], result["to_name"], result["type"]) == (
        "label", "text", "choices")
    assert d8["predictions"][0]["model_version"] == "hostile/linear-1"
    member = tasks[ids["g1a"]]
    assert member["annotations"] == [] and member["data"]["kiemtin_label_source"] == ids["rep1"]
    assert tasks[ids["s3"]]["annotations"][0]["kiemtin_note"].startswith("bình luận")
    assert ids["s5"] not in tasks and ids["d9"] not in tasks  # open, in adjudication


# ---------------------------------------------------------------------------- export


def test_exports_are_deterministic_and_a_stream_gets_the_same_bytes(session, tmp_path):
    reviewed_store(session)
    for fmt in ("jsonl", "csv", "label-studio"):
        a, b = tmp_path / f"a.{fmt}", tmp_path / f"b.{fmt}"
        export_labels(session, a, fmt)
        export_labels(session, b, fmt, batch_size=3)
        stream = io.StringIO(newline="")
        export_labels(session, stream, fmt)
        assert a.read_bytes() == b.read_bytes() == stream.getvalue().encode("utf-8"), fmt
        assert b"\r\n" not in a.read_bytes()
        assert not (tmp_path / f"a.{fmt}.partial").exists()
    with open(tmp_path / "a.csv", encoding="utf-8", newline="") as f:
        header, *rows = list(csv.reader(f))
    assert tuple(header) == COLUMNS and len(rows) == 14
    assert all(list(row) == list(COLUMNS) for row in read_jsonl(tmp_path / "a.jsonl"))
    raw = (tmp_path / "a.label-studio").read_text(encoding="utf-8")
    assert raw.startswith("[{") and raw.endswith("}]\n") and raw.count("},\n{") == 13
    assert json.loads(raw) == list(JsonArrayReader(tmp_path / "a.label-studio"))


def test_a_failed_export_leaves_no_file(session, tmp_path, monkeypatch):
    reviewed_store(session)
    (tmp_path / "out").mkdir()
    out = tmp_path / "out" / "labels.jsonl"

    def broken(item):
        raise RuntimeError("disk full")

    monkeypatch.setattr(labels_module, "_record", broken)
    with pytest.raises(RuntimeError):
        export_labels(session, out, "jsonl")
    assert list((tmp_path / "out").iterdir()) == []


def test_exports_are_corpora_that_load_corpus_reads(session, tmp_path):
    ids = reviewed_store(session)
    for fmt in ("jsonl", "csv"):
        path = tmp_path / f"labels.{fmt}"
        export_labels(session, path, fmt, task="hostile")
        corpus = load_corpus(path, task="hostile")
        train = corpus.splits["train"]
        assert len(train) == 14 and corpus.problems == {}
        got = dict(zip(train["id"], train["label"], strict=True))
        assert got[f"kiemtin:{ids['d8']}"] == "offensive"
        assert got[f"kiemtin:{ids['g2a']}"] == "offensive"
        assert got[f"kiemtin:{ids['s0']}"] == "clean"
    assert export_labels(session, io.StringIO(), "jsonl", task="false") == 0


def test_an_export_streams_in_batches_with_a_few_queries_per_batch(session, engine):
    add_user(session, "lan", "reviewer", "lan password")
    texts = posts(3000, seed=3)
    report = add_scored(session, [scored(f"p{i}", t) for i, t in enumerate(texts)],
                        actor="analyst")
    assert report.items_added == 3000
    item_ids = session.scalars(select(Item.id).order_by(Item.id)).all()
    decided = item_ids[::2]
    now = datetime.now(UTC)
    items = Item.__table__
    for start in range(0, len(decided), 500):
        chunk = decided[start : start + 500]
        session.execute(update(items).where(items.c.id.in_(chunk))
                        .values(status="answered", label="hate", decided_at=now))
    session.execute(insert(Answer.__table__), [
        {"item_id": i, "reviewer_id": 1, "label": "hate", "model_label": "clean",
         "model_score": 0.8, "model_risk": 0.2, "model_version": "hostile/linear-1",
         "created_at": now} for i in decided])
    session.commit()

    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    out = io.StringIO()
    try:
        assert export_labels(session, out, "jsonl", batch_size=100) == 1500
    finally:
        event.remove(engine, "before_cursor_execute", count)
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [int(r["id"].split(":")[1]) for r in rows] == decided
    assert all((r["reviews"], r["agreement"]) == (1, 1.0) for r in rows)
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) <= 2 * (1500 // 100) + 2  # items and answers per batch, not per row


def test_a_wrong_format_or_task_is_refused(session):
    with pytest.raises(InputError, match="one of jsonl, csv, label-studio"):
        export_labels(session, io.StringIO(), "xlsx")
    with pytest.raises(InputError, match=r"'hostle'.*Check the spelling"):
        export_labels(session, io.StringIO(), "jsonl", task="hostle")


def test_a_model_trained_on_an_export_says_what_it_saw(tmp_path):
    url = f"sqlite:///{tmp_path / 'kiemtin.db'}"
    upgrade(url)
    engine = make_engine(url)
    per_label = {"clean": [], "offensive": [], "hate": []}
    for t, label in vihsd(min_chars=20, max_chars=300):
        if len(per_label[label]) < 30:
            per_label[label].append(t)
        if all(len(v) == 30 for v in per_label.values()):
            break
    with session_factory(engine)() as session:
        add_user(session, "lan", "reviewer", "lan password")
        records = [scored(f"{label}{i}", t) for label, ts in per_label.items()
                   for i, t in enumerate(ts)]
        assert add_scored(session, records, actor="analyst").items_added == 90
        by_source = dict(session.execute(select(Item.source_id, Item.id)).all())
        for label, ts in per_label.items():
            for i in range(len(ts)):
                record_answer(session, by_source[f"{label}{i}"], "lan", label, None)
        corpus_dir = tmp_path / "reviewed"
        corpus_dir.mkdir()
        assert export_labels(session, corpus_dir / "train.jsonl", "jsonl") == 90
    engine.dispose()
    # A fixed test split with posts in every slice the metrics report (short, long, ...).
    pool = list(islice(vihsd("test", min_chars=1, max_chars=100_000), 3000))
    chosen = list(range(54))
    for mask in slice_masks([t for t, _ in pool]).values():
        chosen += [int(i) for i in np.flatnonzero(mask) if i not in chosen][:2]
    with open(corpus_dir / "test.jsonl", "w", encoding="utf-8") as f:
        for i in chosen:
            t, label = pool[i]
            f.write(json.dumps({"id": f"test-{i}", "text": t, "label": label},
                               ensure_ascii=False) + "\n")

    from pipeline.training.train import train_model

    result = train_model("hostile", corpus_dir, models_root=tmp_path / "models",
                         hyperparameters={"cv_folds": 3})
    config = json.loads((result.model_dir / "config.json").read_text(encoding="utf-8"))
    seen = config["training_data"]
    assert seen["corpus"] == "reviewed" and seen["n_train"] == 90
    assert seen["splits_used"] == ["train"]
    assert seen["train_label_counts"] == {"clean": 30, "offensive": 30, "hate": 30}
    assert result.metrics["test_sets"]["reviewed/test"]["n"] == len(chosen)


# ---------------------------------------------------------------------------- import


def test_a_label_studio_export_from_another_tool_is_scored_and_imported(
    session, tiny_models_root, tmp_path
):
    report = import_label_studio(session, FOREIGN, actor="lead", task="hostile",
                                 models_root=tiny_models_root)
    assert report.tasks == 7 and report.items_added == 5 and report.scored == 5
    assert report.cancelled == 1 and report.answers == 5 and report.adjudicated == 1
    assert [(r.position, r.task_id) for r in report.rejected] == [(5, 105), (6, 106)]
    assert "'spam' is not one of task 'hostile'" in report.rejected[0].reason
    assert "no 'data' object" in report.rejected[1].reason
    assert sorted(report.users_created) == ["label-studio-7", "lead@example.org",
                                            "thu@example.org"]
    assert report.statuses == {"answered": 2, "adjudication": 1, "done": 1, "open": 1}
    items = {it.source_id: it for it in session.scalars(select(Item))}
    assert set(items) == {f"label-studio:{i}" for i in (101, 102, 103, 104, 107)}
    assert {it.model_version for it in items.values()} == {"hostile/linear-1"}
    first = items["label-studio:101"]
    assert (first.status, first.label) == ("answered", "clean")  # "Clean" in the file
    assert first.decided_at == datetime(2024, 5, 2, 8, 15, tzinfo=UTC)
    assert "••••" in items["label-studio:107"].text  # the phone number is masked
    assert items["label-studio:107"].label == "clean"  # chosen in a control named otherwise
    assert items["label-studio:102"].status == "adjudication"
    done = items["label-studio:103"]
    assert (done.status, done.label) == ("done", "hate")
    assert session.get(User, done.adjudicator_id).name == "lead@example.org"
    assert items["label-studio:104"].status == "open"

    out = tmp_path / "out.jsonl"
    assert export_labels(session, out, "jsonl") == 3
    rows = {r["id"]: r for r in read_jsonl(out)}
    row = rows[f"kiemtin:{first.id}"]
    assert (row["decided_by"], row["agreement"]) == ("agreement", 1.0)
    assert row["reviews"] == 1
    assert [a.reviewer.name for a in session.get(Item, first.id).answers] == ["label-studio-7"]
    row = rows[f"kiemtin:{done.id}"]
    assert (row["decided_by"], row["agreement"], row["label"]) == ("adjudication", 1.0, "hate")


def test_tasks_without_a_task_name_need_one(session, tmp_path):
    report = import_label_studio(session, FOREIGN, actor="lead")
    assert len(report.rejected) == 7 and report.items_added == 0
    assert "no 'task' and no task was given: pass task=" in report.rejected[0].reason


def write_tasks(path, tasks) -> str:
    path.write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")
    return str(path)


def test_bad_tasks_are_reported_with_their_position_and_the_rest_imported(
    session, empty_url, tmp_path
):
    ids = reviewed_store(session)
    buffer = io.StringIO()
    export_labels(session, buffer, "label-studio")
    tasks = json.loads(buffer.getvalue())
    by_id = {t["data"]["kiemtin_item_id"]: t for t in tasks}
    del tasks[tasks.index(by_id[ids["rep2"]])]  # its member cannot follow it
    s0 = by_id[ids["s0"]]
    s0["annotations"].append(dict(s0["annotations"][0]))
    by_id[ids["s1"]]["data"]["kiemtin_proba"] = {"clean": 0.5, "spam": 0.5}
    by_id[ids["s2"]]["data"]["task"] = "spam-filter"
    d8 = by_id[ids["d8"]]
    d8["annotations"].append(dict(d8["annotations"][-1]))
    by_id[ids["s3"]]["annotations"][0]["created_at"] = "hôm qua"
    by_id[ids["s4"]]["annotations"][0]["completed_by"] = None
    path = write_tasks(tmp_path / "bad.json", tasks)
    position = {t["data"]["kiemtin_item_id"]: i for i, t in enumerate(tasks, start=1)}

    other = make_engine(empty_url)
    try:
        report = import_label_studio(other, path, actor="lead")
        reasons = {r.position: r.reason for r in report.rejected}
        assert reasons.keys() == {position[ids[s]]
                                  for s in ("s0", "s1", "s2", "s3", "s4", "d8", "g2a")}
        assert "a second annotation by 'lan'" in reasons[position[ids["s0"]]]
        assert "kiemtin_proba" in reasons[position[ids["s1"]]]
        assert "unknown task 'spam-filter'" in reasons[position[ids["s2"]]]
        assert "a second ground-truth annotation" in reasons[position[ids["d8"]]]
        assert "'hôm qua'" in reasons[position[ids["s3"]]]
        assert "no annotator" in reasons[position[ids["s4"]]]
        assert f"kiemtin item {ids['rep2']}" in reasons[position[ids["g2a"]]]
        assert report.tasks == 13 and report.items_added == 6
        assert f"{len(reasons)} rejected" in report.summary()
        with session_factory(other)() as s2:
            assert s2.scalar(select(func.count()).select_from(Item)) == 6
    finally:
        other.dispose()


def test_a_task_for_another_task_than_the_one_given_is_refused(session, tmp_path):
    path = write_tasks(tmp_path / "t.json", [{"data": {"text": "Hôm nay trời đẹp quá",
                                                        "task": "false"}}])
    report = import_label_studio(session, path, actor="lead", task="hostile")
    assert "data.task is 'false', but the import is for 'hostile'" in report.rejected[0].reason


def test_annotations_go_to_a_stored_open_item_and_never_over_a_decided_one(
    session, tiny_models_root, tmp_path
):
    add_user(session, "lan", "reviewer", "lan password")
    open_text = "Mưa to quá, đường Nguyễn Trãi ngập sâu, mọi người đi đường cẩn thận nhé"
    decided_text = "Đội tuyển thắng lớn rồi, cả phố đi bão mừng chiến thắng"
    add_scored(session, [scored("a", open_text), scored("b", decided_text)], actor="analyst")
    b = session.scalars(select(Item).where(Item.source_id == "b")).one()
    record_answer(session, b.id, "lan", "clean", None)

    def task(t, who, label):
        return {"id": who, "data": {"text": t}, "annotations": [
            {"completed_by": {"username": who}, "result": [
                {"from_name": "label", "to_name": "text", "type": "choices",
                 "value": {"choices": [label]}}]}]}

    path = write_tasks(tmp_path / "t.json", [task(open_text, "minh", "offensive"),
                                             task(decided_text, "minh", "hate")])
    report = import_label_studio(session, path, actor="lead", task="hostile",
                                 models_root=tiny_models_root)
    assert report.items_added == 0 and report.existing == 1 and report.answers == 1
    assert [r.position for r in report.rejected] == [2]
    assert "already in the store as item" in report.rejected[0].reason
    a = session.scalars(select(Item).where(Item.source_id == "a")).one()
    assert (a.status, a.label) == ("answered", "offensive")
    assert session.get(Item, b.id).label == "clean"


@pytest.mark.parametrize(
    ("content", "found"),
    [
        ('{"data": {"text": "Hôm nay trời đẹp"}}'.encode(), "a JSON object"),
        (b'{"data": {"text": "a"}}\n{"data": {"text": "b"}}\n', "a JSON object"),
        (b"", "an empty file"),
        (b"id,text,label\n1,abc,clean\n", "text starting with 'id,text"),
        (b'[{"data": {"text": "a"}}, {"data": ', "malformed JSON at character"),
        (b'[{"data": {"text": "a"}},]', "malformed JSON"),
        ('[{"data": {"text": "a"}}] thêm'.encode(), "more text after the array"),
        (b'[{"data": {"text": "\xff"}}]', "not UTF-8"),
    ],
)
def test_a_file_that_is_not_a_label_studio_array_is_refused_before_any_write(
    session, tmp_path, content, found
):
    path = tmp_path / "in.json"
    path.write_bytes(content)
    with pytest.raises(InputError, match=r"expected .*found") as caught:
        import_label_studio(session, path, actor="lead", task="hostile")
    assert found in str(caught.value)
    assert "Export" in caught.value.fix or "export" in caught.value.fix
    assert session.scalar(select(func.count()).select_from(Item)) == 0
    with pytest.raises(InputError, match="no file at"):
        import_label_studio(session, tmp_path / "missing.json", actor="lead")


def test_the_reader_finds_every_task_across_chunk_boundaries(session, tmp_path, monkeypatch):
    reviewed_store(session)
    path = tmp_path / "labels.json"
    export_labels(session, path, "label-studio")
    monkeypatch.setattr(json_array, "READ_CHUNK", 7)
    assert list(JsonArrayReader(path)) == json.loads(path.read_text(encoding="utf-8"))
    (tmp_path / "empty.json").write_text(" [ ] \n", encoding="utf-8")
    assert list(JsonArrayReader(tmp_path / "empty.json")) == []

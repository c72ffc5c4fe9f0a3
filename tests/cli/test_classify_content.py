"""`kiemtin classify` with a false-task model that has content features: metadata columns
are read when present, unknown (with one warning) when absent, and author columns never."""

import csv
import json

import pytest

from pipeline.batch.inputs import ReadOptions, read_rows
from pipeline.cli import main

REINTEL_COLUMNS = [
    "id", "post_message", "timestamp_post", "num_like_post", "num_comment_post",
    "num_share_post", "label",
]  # fmt: skip


def _reintel_like(path, n):
    """Posts whose label follows the share count (the words are alike), ReINTEL's columns."""
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(REINTEL_COLUMNS)
        for i in range(n):
            shares = "5000" if i % 2 else "0"
            w.writerow([i, f"Bài đăng số {i} về tin tức", "1585945439", "10", "1", shares, i % 2])
    return path


@pytest.fixture(scope="module")
def content_model(tmp_path_factory):
    from pipeline.training.train import train_model

    corpus = tmp_path_factory.mktemp("reintel_like")
    _reintel_like(corpus / "train.csv", 40)
    _reintel_like(corpus / "test.csv", 10)
    root = tmp_path_factory.mktemp("models")
    result = train_model(
        "false",
        corpus,
        models_root=root,
        hyperparameters={"content_features": True, "cv_folds": 2, "features": {"min_df": 1}},
    )
    assert result.metrics["test_sets"]["reintel/test"]["roc_auc_risk"] == 1.0
    return result.model_dir


def _write(path, header, rows):
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def _classify(model_dir, inputs, out):
    code = main(["classify", str(inputs), "-o", str(out), "--model", str(model_dir)])
    assert code == 0
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]


def test_metadata_columns_are_read_and_change_the_score(content_model, tmp_path, capsys):
    header = ["id", "text", "num_like_post", "num_comment_post", "num_share_post", "timestamp_post"]
    rows = [
        [1, "Bài đăng số 7 về tin tức", "10", "1", "5000", "1585945439"],
        [2, "Bài đăng số 7 về tin tức", "10", "1", "0", "1585945439"],
        [3, "Bài đăng số 7 về tin tức", "", "unknown", "", ""],
    ]
    records = _classify(
        content_model, _write(tmp_path / "in.csv", header, rows), tmp_path / "o.jsonl"
    )
    assert [r["id"] for r in records] == ["1", "2", "3"]
    risk = [r["scores"]["false"]["risk"] for r in records]
    assert risk[0] > 0.5 > risk[1]
    assert "content features" not in capsys.readouterr().err  # every column was there


def test_without_the_columns_every_row_is_scored_and_one_warning_says_so(
    content_model, tmp_path, capsys
):
    rows = [[i, f"Bài đăng số {i} về tin tức"] for i in range(5)]
    records = _classify(
        content_model, _write(tmp_path / "in.csv", ["id", "text"], rows), tmp_path / "o.jsonl"
    )
    assert [r["id"] for r in records] == [str(i) for i in range(5)]
    assert all(0 <= r["scores"]["false"]["risk"] <= 1 for r in records)
    err = capsys.readouterr().err
    assert err.count("content features") == 1, err
    assert "num_like_post" in err


def test_an_author_column_is_never_read(content_model, tmp_path):
    header = ["id", "text", "num_share_post", "user_name", "author_id"]
    a = [[1, "Bài đăng số 3", "0", "Nguyễn Văn A", "tac-gia-4242"]]
    b = [[1, "Bài đăng số 3", "0", "Trần Thị B", "999"]]
    first = _classify(content_model, _write(tmp_path / "a.csv", header, a), tmp_path / "a.jsonl")
    second = _classify(content_model, _write(tmp_path / "b.csv", header, b), tmp_path / "b.jsonl")
    assert first[0]["scores"] == second[0]["scores"]
    written = (tmp_path / "a.jsonl").read_text(encoding="utf-8")
    assert "Nguyễn" not in written and "4242" not in written
    options = ReadOptions(content_columns=("num_share_post", "num_like_post"))
    [row] = list(read_rows(tmp_path / "a.csv", options=options))
    assert row.content == {"num_share_post": "0"}  # only the columns asked for


def test_jsonl_rows_carry_their_metadata_fields(tmp_path):
    path = tmp_path / "in.jsonl"
    lines = [{"text": "a", "num_like_post": 3, "user_name": "x"}, {"text": "b"}]
    path.write_text("\n".join(json.dumps(x) for x in lines), encoding="utf-8")
    options = ReadOptions(content_columns=("num_like_post",))
    rows = list(read_rows(path, options=options))
    assert [r.content for r in rows] == [{"num_like_post": 3}, {}]


def test_evaluate_reads_the_metadata_as_training_did(content_model, tmp_path):
    """`kiemtin evaluate` scores a content model with the split's engagement counts, so its
    figures are training's; as text alone the posts (alike in words) could not be ranked."""
    from pipeline.training.report import evaluate_model

    corpus = tmp_path / "reintel"
    corpus.mkdir()
    rows = [  # one text for all: only the share count tells them apart
        [i, "Bài đăng về tin tức", "1585945439", "10", "1", "5000" if i % 2 else "0", i % 2]
        for i in range(10)
    ]
    _write(corpus / "test.csv", REINTEL_COLUMNS, rows)
    report = evaluate_model(content_model, corpus, tmp_path / "report", against=None)
    assert report.metrics["roc_auc_risk"] == 1.0
    assert report.metrics["rows_with_metadata"] == 10
    html = report.html_path.read_text(encoding="utf-8")
    assert "reads engagement counts and posting times: 10 of the 10 texts" in html

    text_only = tmp_path / "text_only"
    text_only.mkdir()
    _write(text_only / "test.csv", ["id", "text", "label"],
           [[r[0], r[1], "unreliable" if r[-1] else "reliable"] for r in rows])  # fmt: skip
    alone = evaluate_model(content_model, text_only, tmp_path / "alone", against=None)
    assert alone.metrics["roc_auc_risk"] == 0.5  # as text alone they cannot be ranked
    assert alone.metrics["rows_with_metadata"] == 0
    html = alone.html_path.read_text(encoding="utf-8")
    assert "0 of the 10 texts have them, the others are scored as text alone" in html

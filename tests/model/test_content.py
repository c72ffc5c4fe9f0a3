"""Content features (engagement counts, posting hour, links) and a linear model that has them."""

import json

import numpy as np
import pytest

from pipeline.model.content import (
    ContentFeatures,
    count_bin,
    has_link,
    hour_of,
    link_domains,
    parse_count,
    parse_meta,
    parse_timestamp,
)
from pipeline.model.linear import LinearScorer
from pipeline.tasks import load_task


def test_counts_are_binned_on_a_log_scale_and_unknown_is_its_own_bin():
    assert [count_bin(n) for n in (0, 1, 2, 3, 9, 10, 30, 31, 99, 100)] == [
        *("0", "1-2", "1-2", "3-9", "3-9", "10-30", "10-30", "31-99", "31-99", "100-315"),
    ]
    assert count_bin(5_000_000) == "100000+"
    assert count_bin(None) == count_bin(-3) == "unknown"


def test_the_posting_hour_is_read_in_vietnam_time():
    assert hour_of(0) == "07"  # 1970-01-01 00:00 UTC is 07:00 in Hà Nội
    assert hour_of(17 * 3600) == "00"  # 17:00 UTC is midnight in Vietnam
    assert hour_of(None) == "unknown"
    assert parse_timestamp("2020-04-04T03:00:00+07:00") == parse_timestamp("2020-04-04 03:00")


def test_links_and_their_domains_come_from_the_original_text():
    text = "Xem https://WWW.VnExpress.net/a?b=1, www.bbc.com/vi và http://vnexpress.net/c"
    assert link_domains(text) == ["vnexpress.net", "bbc.com", "vnexpress.net"]
    assert has_link("tin giả <URL>") and not has_link("không có đường dẫn nào.")


def test_input_fields_are_parsed_leniently_and_what_is_not_a_count_is_unknown():
    assert [parse_count(v) for v in ("54 like", "12.0", 7, "unknown", "", None, "abc")] == [
        54,
        12,
        7,
        None,
        None,
        None,
        None,
    ]
    columns = {"num_like": "likes", "timestamp": "when"}
    fields = {"likes": "15", "when": "0", "user_name": "Nguyễn Văn A"}
    assert parse_meta(fields, columns) == {"num_like": 15, "timestamp": 0}
    assert parse_meta({}, columns) == {"num_like": None, "timestamp": None}


def test_known_inputs_give_the_expected_columns():
    f = ContentFeatures(min_df=2).fit(
        ["a https://tuoitre.vn/x", "b http://tuoitre.vn/y", "c https://once.example.org"], None
    )
    assert "domain=tuoitre.vn" in f.names_ and "domain=once.example.org" not in f.names_
    meta = [
        {"num_like": 120, "num_comment": 3, "num_share": None, "timestamp": 1585945439},
        None,
    ]
    x = f.transform(["nguồn https://tuoitre.vn/z", "không rõ"], meta)
    rows = [[f.names_[j] for j in x[i].indices] for i in range(2)]
    assert rows[0] == [
        "num_like=100-315",
        "num_comment=3-9",
        "num_share=unknown",
        "comments_per_like=2^-4",  # (1 + 3) / (1 + 120) is below 2^-4
        "hour=03",
        "has_link",
        "domain=tuoitre.vn",
    ]
    assert rows[1] == [
        "num_like=unknown",
        "num_comment=unknown",
        "num_share=unknown",
        "hour=unknown",
    ]
    assert np.all(x.data == 1.0)


def _posts(n=40):
    """Posts whose label follows the share count, not the words: only the content features
    can tell them apart."""
    texts = [f"bài đăng số {i} về tin tức hôm nay" for i in range(n)]
    labels = ["unreliable" if i % 2 else "reliable" for i in range(n)]
    meta = [
        {"num_like": 10, "num_comment": 1, "num_share": 5000 if i % 2 else 0, "timestamp": 0}
        for i in range(n)
    ]
    return texts, labels, meta


def test_a_model_with_content_features_learns_from_them_and_saves_and_loads_identically(tmp_path):
    task = load_task("false")
    texts, labels, meta = _posts()
    model = LinearScorer(task, cv_folds=2, content_features=True, features={"min_df": 1})
    model.fit(texts, labels, meta=meta)
    proba = model.predict_proba(texts, meta=meta)
    assert np.mean(np.array(model.labels_from_proba(proba)) == np.array(labels)) == 1.0

    config = model.save(tmp_path)
    assert config["hyperparameters"]["content_features"] is True
    assert "content" in json.loads((tmp_path / "vocabulary.json").read_text(encoding="utf-8"))
    assert not list(tmp_path.glob("*.pkl")) and not list(tmp_path.glob("*.pickle"))
    loaded = LinearScorer.load(tmp_path, json.loads(json.dumps(config)), task)
    np.testing.assert_array_equal(loaded.predict_proba(texts, meta=meta), proba)

    # unknown metadata still scores every post; explanations stay words of the text
    unknown, words = loaded.predict_and_explain(texts, top_k=3)
    assert unknown.shape == proba.shape and np.allclose(unknown.sum(axis=1), 1)
    for text, ws in zip(texts, words, strict=True):
        assert all(text[w["start"] : w["end"]] == w["word"] for w in ws)


def test_content_features_are_off_by_default_and_old_configs_load_without_them(tmp_path):
    task = load_task("false")
    texts, labels, _ = _posts()
    model = LinearScorer(task, cv_folds=2, features={"min_df": 1}).fit(texts, labels)
    config = model.save(tmp_path)
    config["hyperparameters"].pop("content_features")  # as models saved before the option
    loaded = LinearScorer.load(tmp_path, config, task)
    assert not loaded.content_features
    np.testing.assert_array_equal(loaded.predict_proba(texts), model.predict_proba(texts))


def test_a_task_refuses_content_columns_that_are_not_content():
    from pipeline.errors import InputError
    from pipeline.tasks import Task

    with pytest.raises(InputError, match="never author fields"):
        Task("t", ("a", "b"), ("b",), content_columns={"user_name": "user_name"})

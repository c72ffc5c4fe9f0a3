"""The linear family on a tiny real model (3,000 ViHSD comments)."""

import json

import numpy as np
import pytest

from pipeline.model.directory import load_model
from pipeline.prepare import prepare

INSULT = "Mày đúng là thằng óc chó, ngu như bò"
NEUTRAL = "Hôm nay trời đẹp, cả nhà đi chơi công viên"


def test_probabilities_follow_the_task_labels_and_sum_to_one(tiny_model):
    proba = tiny_model.predict_proba([INSULT, NEUTRAL])
    assert tiny_model.classes_ == ["clean", "offensive", "hate"]
    assert proba.shape == (2, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_an_insult_scores_higher_risk_than_a_neutral_sentence(tiny_model):
    risk = tiny_model.risk_from_proba(tiny_model.predict_proba([INSULT, NEUTRAL]))
    assert risk[0] > 0.5 > risk[1]
    assert tiny_model.predict([NEUTRAL]) == ["clean"]


def test_explained_words_point_into_the_original_text(tiny_model):
    texts = [INSULT, "  Thằng   ÓC CHÓOOOO   này ngu vl ", "ko bít j hết mà cũng nói, đ.m"]
    for text, words in zip(texts, tiny_model.explain(texts), strict=True):
        assert words, text
        for w in words:
            assert text[w["start"] : w["end"]] == w["word"]
            assert w["weight"] > 0
        weights = [w["weight"] for w in words]
        assert weights == sorted(weights, reverse=True)
    top = {w["word"].lower() for w in tiny_model.explain([INSULT])[0][:3]}
    assert top & {"óc chó", "óc", "chó", "ngu"}


def test_word_parts_add_up_to_the_linear_score(tiny_model):
    [p] = prepare(["Bọn bắc kỳ ngu học, cút về quê đi :)))"])
    weights = tiny_model.coef_[2]
    x = tiny_model.features_.transform([p.segmented_text])
    parts = tiny_model.features_.word_contributions(p.segmented_text, weights)
    assert parts.sum() == pytest.approx(float((x @ weights)[0]), abs=1e-9)


def test_prepared_and_raw_texts_give_the_same_scores(tiny_model):
    texts = [INSULT, NEUTRAL]
    np.testing.assert_allclose(
        tiny_model.predict_proba(prepare(texts)), tiny_model.predict_proba(texts)
    )


def test_a_bare_string_is_refused(tiny_model):
    with pytest.raises(TypeError, match="single str"):
        tiny_model.predict_proba(INSULT)


def test_saved_directory_reloads_to_identical_scores(tiny_model, tiny_model_dir):
    again = load_model(tiny_model_dir)
    texts = [INSULT, NEUTRAL, "đi chợ mua rau"]
    np.testing.assert_array_equal(again.predict_proba(texts), tiny_model.predict_proba(texts))


def test_model_directory_is_whole_and_has_no_pickle(tiny_model_dir):
    names = {p.name for p in tiny_model_dir.iterdir()}
    assert names == {
        "config.json",
        "weights.safetensors",
        "vocabulary.json",
        "metrics.json",
        "README.md",
    }
    for p in tiny_model_dir.iterdir():
        assert not p.read_bytes().startswith(b"\x80")  # pickle protocol 2+ header
    config = json.loads((tiny_model_dir / "config.json").read_text())
    assert config["normaliser"]["name"] == "kiemtin-normalise"
    assert config["segmenter"]["name"] == "underthesea.word_tokenize"
    assert config["task"]["name"] == "hostile"

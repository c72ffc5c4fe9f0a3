"""The linear family on a tiny real model (3,000 ViHSD comments)."""

import json

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.metrics import roc_auc_score

from pipeline.cli.train import TrainOptions
from pipeline.errors import InputError
from pipeline.model.base import top_words
from pipeline.model.calibration import calibrated_proba
from pipeline.model.directory import load_model
from pipeline.model.linear import LinearScorer
from pipeline.tasks import load_task
from pipeline.text.diacritics import without_diacritics
from pipeline.text.prepare import prepare
from pipeline.training.metrics import has_no_diacritics
from tests.conftest import REPO, vihsd_rows
from tests.model.test_tfidf import bundled, reference_word_parts, sklearn_transform, vihsd_prepared

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


# ---------------------------------------------------------------- the batch fast path


def reference_proba_and_words(model, prepared, top_k=5, proba=None):
    """predict_proba and explain as first written: scikit-learn's transform, then word by
    word and post by post."""
    x = sklearn_transform(model.features_, [p.segmented_text for p in prepared])
    if proba is None:
        full = x
        if model.content_ is not None:  # metadata unknown: text and links only
            content = model.content_.transform([p.original for p in prepared], None)
            full = sp.hstack([x, content], format="csr")
        logits = np.asarray(full @ model.coef_.T) + model.intercept_
        proba = calibrated_proba(logits, model.temperature_, model.bias_)
    risky = [model.classes_.index(r) for r in model.task.risk_labels]
    coef = model.coef_[:, : x.shape[1]]  # the words' columns: content never explains
    directions = (coef - coef.mean(axis=0)) / model.temperature_
    words = []
    for d, (p, row) in enumerate(zip(prepared, proba, strict=True)):
        target = risky[int(np.argmax(row[risky]))]
        parts = reference_word_parts(model.features_, p.segmented_text, x[d], directions[target])
        words.append(top_words(p, parts, top_k))
    return proba, words


@pytest.fixture(scope="module", params=["hostile", "false"])
def bundled_model(request):
    return bundled(request.param)


def test_fast_scores_and_words_equal_the_reference_on_real_texts(bundled_model):
    prepared = list(vihsd_prepared())
    want_proba, want_words = reference_proba_and_words(bundled_model, prepared)
    proba, words = bundled_model.predict_and_explain(prepared, top_k=5)
    np.testing.assert_allclose(proba, want_proba, rtol=0, atol=1e-12)
    assert words == want_words
    assert sum(map(len, words)) > 3 * len(prepared)  # the comparison is not vacuous
    np.testing.assert_allclose(bundled_model.predict_proba(prepared), proba, rtol=0, atol=1e-12)
    assert bundled_model.explain(prepared, top_k=5, proba=proba) == words
    assert bundled_model.explain(prepared[:300]) == words[:300]


@pytest.mark.parametrize("top_k", [0, 1, 3, 12])
def test_every_top_k_equals_the_reference(bundled_model, top_k):
    prepared = list(vihsd_prepared())[:400]
    proba = bundled_model.predict_proba(prepared)
    _, want = reference_proba_and_words(bundled_model, prepared, top_k=top_k, proba=proba)
    assert bundled_model.explain(prepared, top_k=top_k, proba=proba) == want
    assert bundled_model.predict_and_explain(prepared, top_k=top_k)[1] == want


def test_batches_larger_than_a_chunk_equal_smaller_ones(tiny_model, monkeypatch):
    import pipeline.model.linear as linear

    prepared = list(vihsd_prepared())[:500]
    whole = tiny_model.predict_and_explain(prepared)
    monkeypatch.setattr(linear, "CHUNK_DOCS", 64)
    chunked = tiny_model.predict_and_explain(prepared)
    np.testing.assert_array_equal(chunked[0], whole[0])
    assert chunked[1] == whole[1]
    assert tiny_model.explain(prepared, proba=whole[0]) == whole[1]


def test_empty_batches_and_mismatched_proba(tiny_model):
    proba, words = tiny_model.predict_and_explain([])
    assert proba.shape == (0, 3) and words == []
    assert tiny_model.explain([]) == []
    assert tiny_model.predict_and_explain(["", INSULT])[1][0] == []
    with pytest.raises(ValueError, match="rows of proba"):
        tiny_model.explain([INSULT, NEUTRAL], proba=tiny_model.predict_proba([INSULT]))


def test_word_parts_add_up_to_the_log_odds_of_the_explained_label(bundled_model):
    """What explain() splits: the target label's calibrated log-odds against the mean label."""
    prepared = list(vihsd_prepared())[:300]
    model = bundled_model
    enc = model.features_.encode([p.segmented_text for p in prepared])
    proba = model.predict_proba(prepared)
    risky = np.array([model.classes_.index(r) for r in model.task.risk_labels])
    target = risky[np.argmax(proba[:, risky], axis=1)]
    n_text = enc.x.shape[1]  # a content model's content columns never explain
    directions = np.ascontiguousarray(model._directions()[:, :n_text])
    parts = model.features_.word_parts(enc, directions, target)
    text_coef = model.coef_[:, :n_text]
    logits = np.asarray(enc.x @ text_coef.T) / model.temperature_
    odds = logits[np.arange(len(prepared)), target] - logits.mean(axis=1)
    sums = np.add.reduceat(np.append(parts, 0.0), enc.offsets[:-1])
    sums[np.diff(enc.offsets) == 0] = 0.0
    np.testing.assert_allclose(sums, odds, rtol=0, atol=1e-9)


def test_the_default_predict_and_explain_gives_what_the_fused_one_gives(tiny_model):
    from pipeline.model.base import Scorer

    texts = [INSULT, NEUTRAL, "  Thằng   ÓC CHÓOOOO   này ngu vl "]
    proba, words = Scorer.predict_and_explain(tiny_model, texts, top_k=3)
    fused = tiny_model.predict_and_explain(texts, top_k=3)
    np.testing.assert_array_equal(proba, fused[0])
    assert words == fused[1] and words[0]


def test_diacritic_free_copies_teach_the_model_posts_typed_without_marks(tmp_path):
    task = load_task("hostile")
    rows = vihsd_rows("train", 3000)
    labels = [r["label"] for r in rows]
    train = prepare([r["text"] for r in rows])
    plain = LinearScorer(task, cv_folds=3).fit(train, labels)
    copies = LinearScorer(task, cv_folds=3, diacritic_free_copies=True).fit(train, labels)

    # ViHSD test comments that have marks, scored as typed with and without them
    marked = [(r["text"], r["label"]) for r in vihsd_rows("test", 2000)]
    marked = [(t, y) for t, y in marked if not has_no_diacritics(t)]
    risky = [y != "clean" for _, y in marked]
    unmarked = prepare([without_diacritics(t) for t, _ in marked])
    as_typed = prepare([t for t, _ in marked])

    def auc(model, prepared):
        return roc_auc_score(risky, model.risk_from_proba(model.predict_proba(prepared)))

    assert auc(copies, unmarked) > auc(plain, unmarked) + 0.02
    assert auc(copies, as_typed) > auc(plain, as_typed) - 0.01

    config = copies.save(tmp_path)
    assert config["hyperparameters"]["diacritic_free_copies"] is True
    loaded = LinearScorer.load(tmp_path, json.loads(json.dumps(config)), task)
    np.testing.assert_array_equal(loaded.predict_proba(unmarked), copies.predict_proba(unmarked))


def test_train_options_of_diacritic_free_copies():
    options = TrainOptions(task="hostile", corpus=REPO, diacritic_free_copies=True)
    assert options.hyperparameters() == {"C": 4.0, "diacritic_free_copies": True}
    assert options.reproduce_command().endswith("--diacritic-free-copies")
    assert "diacritic" not in TrainOptions(task="hostile", corpus=REPO).reproduce_command()
    for family in ("neural", "ensemble"):
        with pytest.raises(InputError, match="only with the linear family"):
            TrainOptions(task="hostile", corpus=REPO, family=family, diacritic_free_copies=True)

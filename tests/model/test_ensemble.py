"""The ensemble family, with two small linear members on real ViHSD comments: the mixing
weights are fitted on the dev set and never do worse there than either member alone, the
model saves and loads whole, and its words point into the original text."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from scipy.special import log_softmax

from pipeline.errors import InputError, ModelDirError
from pipeline.model.calibration import fit_temperature_and_bias
from pipeline.model.directory import load_model, save_model
from pipeline.model.ensemble import EnsembleScorer, _weight_grid
from pipeline.tasks import load_task
from pipeline.text.prepare import prepare
from tests.conftest import vihsd_rows

MEMBERS = [
    {"family": "linear", "hyperparameters": {"cv_folds": 3}},
    {
        "family": "linear",
        "hyperparameters": {
            "C": 1.0,
            "cv_folds": 3,
            "features": {"word_ngrams": [1, 1], "char_ngrams": [1, 3]},
        },
    },
]
INSULT = "Mày đúng là thằng óc chó, ngu như bò"


@pytest.fixture(scope="module")
def data():
    train, dev = vihsd_rows("train", 900), vihsd_rows("dev", 300)
    texts = prepare([r["text"] for r in train + dev])
    labels = [r["label"] for r in train + dev]
    return texts[:900], labels[:900], texts[900:], labels[900:]


@pytest.fixture(scope="module")
def ensemble(data):
    texts, labels, dev_texts, dev_labels = data
    return EnsembleScorer(load_task("hostile"), members=MEMBERS).fit(
        texts, labels, dev=(dev_texts, dev_labels)
    )


def _calibrated_loss(proba, labels, classes) -> float:
    y = np.asarray([classes.index(lab) for lab in labels])
    z = np.log(proba + 1e-12)
    t, b = fit_temperature_and_bias(z, y)
    return float(-log_softmax(z / t + b, axis=1)[np.arange(len(y)), y].mean())


def test_the_mix_does_no_worse_on_dev_than_either_member(ensemble, data):
    _, _, dev_texts, dev_labels = data
    assert sum(ensemble.weights_) == pytest.approx(1.0)
    assert tuple(ensemble.weights_) in _weight_grid(2, 0.05)
    for member in ensemble.members_:
        alone = _calibrated_loss(member.predict_proba(dev_texts), dev_labels, ensemble.classes_)
        assert ensemble.dev_log_loss_ <= alone + 1e-9


def test_probabilities_follow_the_labels_and_words_point_into_the_text(ensemble):
    texts = [INSULT, "Hôm nay trời đẹp, cả nhà đi chơi công viên", "ko bít j hết mà cũng nói"]
    proba, words = ensemble.predict_and_explain(texts)
    assert ensemble.classes_ == ["clean", "offensive", "hate"] and proba.shape == (3, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(ensemble.predict_proba(texts), proba)
    assert ensemble.explain(texts) == words
    assert words[0], "an insult has words that pushed it"
    for text, found in zip(texts, words, strict=True):
        for w in found:
            assert text[w["start"] : w["end"]] == w["word"] and w["weight"] > 0
        assert [w["weight"] for w in found] == sorted((w["weight"] for w in found), reverse=True)


def test_a_saved_ensemble_loads_with_the_same_scores_and_no_pickle(ensemble, tmp_path):
    directory = save_model(ensemble, tmp_path / "ensemble-1", extra_config={})
    (directory / "metrics.json").write_text("{}")
    (directory / "README.md").write_text("card")
    loaded = load_model(directory)
    texts = [INSULT, "Đồ óc chó", "Cảm ơn bạn nhiều"]
    first, again = ensemble.predict_and_explain(texts), loaded.predict_and_explain(texts)
    np.testing.assert_array_equal(first[0], again[0])
    assert first[1] == again[1]
    names = {p.name for p in directory.rglob("*") if p.is_file()}
    assert names == {
        "config.json", "members.json", "metrics.json", "README.md",
        "weights.safetensors", "vocabulary.json",
    }
    members = json.loads((directory / "members.json").read_text())["members"]
    assert members == ["0-linear", "1-linear"]
    config = json.loads((directory / "config.json").read_text())
    assert list(config["mixing_weights"]) == members
    assert list(config["mixing_weights"].values()) == list(ensemble.weights_)

    shutil.rmtree(directory / "members" / "1-linear")
    with pytest.raises(ModelDirError, match="members/1-linear"):
        load_model(directory)


def test_a_member_of_no_known_family_is_refused():
    task = load_task("hostile")
    for members in ([{"family": "forest"}], [{"family": "ensemble"}]):
        with pytest.raises(InputError, match="families from"):
            EnsembleScorer(task, members=members).fit(["a", "b"], ["clean", "hate"])


def test_the_weight_grid_covers_every_split_that_sums_to_one():
    assert _weight_grid(1, 0.25) == [(1.0,)]
    assert _weight_grid(2, 0.5) == [(0.0, 1.0), (0.5, 0.5), (1.0, 0.0)]
    three = _weight_grid(3, 0.25)
    assert len(three) == 15 and all(sum(w) == pytest.approx(1) for w in three)


def test_train_writes_a_whole_ensemble_directory_with_its_card(tiny_corpus, tmp_path):
    from pipeline.training.train import train_model

    result = train_model(
        "hostile",
        tiny_corpus,
        models_root=tmp_path,
        hyperparameters={"members": MEMBERS},
        family="ensemble",
        promote=False,
    )
    loaded = load_model(result.model_dir)  # config, members, metrics and card all there
    card = (result.model_dir / "README.md").read_text(encoding="utf-8")
    weights = loaded.weights_
    assert f"`0-linear` × {weights[0]:.2f}, `1-linear` × {weights[1]:.2f}" in card
    dev = json.loads((result.model_dir / "config.json").read_text())["training_data"]["dev"]
    assert dev["used_for"].startswith("the mixing weights") and dev["n"] == 300  # 10% of 3,000
    assert result.metrics["functional"]["n"] > 100  # the hand-written set, scored

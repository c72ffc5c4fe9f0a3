"""The neural family on tiny real models (a few thousand ViHSD comments, tiny dimensions):
probabilities, determinism, explanations in the original text that match torch's own
gradient × input, a whole pickle-free directory through train_model, and refusals."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from pipeline.cli.train import TrainOptions
from pipeline.errors import InputError, ModelDirError
from pipeline.model import neural
from pipeline.model.config_file import read_config
from pipeline.model.directory import load_model, save_model
from pipeline.model.neural import WEIGHTS_FILE, NeuralScorer, _Corpus, _network, require_torch
from pipeline.tasks import load_task
from pipeline.text.prepare import prepare
from tests.conftest import REPO, vihsd_rows, write_split

torch = pytest.importorskip("torch")

INSULT = "Mày đúng là thằng óc chó, ngu như bò"
NEUTRAL = "Hôm nay trời đẹp, cả nhà đi chơi công viên"
TEXTS = [
    INSULT,
    NEUTRAL,
    "  Thằng   ÓC CHÓOOOO   này ngu vl ",
    "ko bít j hết mà cũng nói, đ.m",
    "",
    "👍",
    "may ngu nhu bo",
]
TINY = {"buckets": 2**14, "dim": 16, "channels": 16, "batch_size": 32, "char_ngrams": (3, 5)}


def _rows(split: str, limit: int) -> tuple[list, list[str]]:
    rows = vihsd_rows(split, limit)
    return prepare([r["text"] for r in rows]), [r["label"] for r in rows]


@pytest.fixture(scope="module")
def hostile():
    return load_task("hostile")


@pytest.fixture(scope="module")
def data():
    return _rows("train", 3000), _rows("dev", 500)


@pytest.fixture(scope="module")
def model(hostile, data):
    (train, labels), dev = data
    return NeuralScorer(hostile, epochs=3, **TINY).fit(train, labels, dev=dev)


def test_probabilities_follow_the_task_labels_and_sum_to_one(model):
    proba = model.predict_proba(TEXTS)
    assert model.classes_ == ["clean", "offensive", "hate"]
    assert proba.shape == (len(TEXTS), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert model.predict_proba([]).shape == (0, 3)
    with pytest.raises(TypeError, match="single str"):
        model.predict_proba(INSULT)


def test_an_insult_scores_higher_risk_than_a_neutral_sentence(model):
    risk = model.risk_from_proba(model.predict_proba([INSULT, NEUTRAL]))
    assert risk[0] > 0.5 > risk[1]
    assert model.predict([NEUTRAL]) == ["clean"]


def test_explained_words_point_into_the_original_text(model):
    proba, words = model.predict_and_explain(TEXTS)
    np.testing.assert_array_equal(proba, model.predict_proba(TEXTS))
    assert words == model.explain(TEXTS) == model.explain(TEXTS, proba=proba)
    for text, found in zip(TEXTS, words, strict=True):
        for w in found:
            assert text[w["start"] : w["end"]] == w["word"]
            assert w["weight"] > 0
        weights = [w["weight"] for w in found]
        assert weights == sorted(weights, reverse=True)
    assert words[0] and words[4] == []
    top = {w["word"].lower() for w in words[0]}
    assert top & {"óc chó", "óc", "chó", "ngu"}
    assert model.explain(TEXTS, top_k=0) == [[] for _ in TEXTS]


def test_numpy_scoring_is_the_torch_network_and_its_gradient_times_input(model):
    """Scoring runs in numpy; the torch network that was trained gives the same logits, and
    the explanation's parts are torch's gradient × input at the word vectors."""
    prepared = prepare(TEXTS)
    net = _network(torch, model)
    state = {"embedding.weight": torch.from_numpy(model.embedding_.astype(np.float32))}
    for i, (w, b) in enumerate(zip(model.conv_weights_, model.conv_biases_, strict=True)):
        state |= {f"convs.{i}.weight": torch.from_numpy(w), f"convs.{i}.bias": torch.from_numpy(b)}
    state |= {"head.weight": torch.from_numpy(model.head_weight_)}
    state |= {"head.bias": torch.from_numpy(model.head_bias_)}
    net.load_state_dict(state)
    net.eval()
    ids, offsets, positions, lengths = _Corpus(model, prepared).batch(
        torch, np.arange(len(prepared))
    )
    words = net.words(ids, offsets, positions).detach().requires_grad_(True)
    logits = net.classify(words, lengths)
    forward = model._forward(prepared)
    np.testing.assert_allclose(forward.logits, logits.detach().double().numpy(), atol=1e-4)

    directions = np.random.default_rng(0).normal(size=(len(prepared), 3)).astype(np.float32)
    (logits * torch.from_numpy(directions)).sum().backward()
    expected = (words.grad * words).sum(dim=2).detach().numpy()
    parts, word_offsets = forward.word_parts(directions @ model.head_weight_)
    for d in range(len(prepared)):
        n = word_offsets[d + 1] - word_offsets[d]
        got = parts[word_offsets[d] : word_offsets[d + 1]]
        np.testing.assert_allclose(got, expected[d, :n], atol=1e-4)


def test_a_refit_gives_identical_probabilities(hostile, data):
    (train, labels), dev = data
    fits = [
        NeuralScorer(hostile, epochs=1, **TINY).fit(train[:400], labels[:400], dev=dev)
        for _ in range(2)
    ]
    np.testing.assert_array_equal(fits[0].predict_proba(TEXTS), fits[1].predict_proba(TEXTS))
    other = NeuralScorer(hostile, epochs=1, seed=1, **TINY).fit(train[:400], labels[:400], dev=dev)
    assert not np.array_equal(other.predict_proba(TEXTS), fits[0].predict_proba(TEXTS))


def test_without_a_dev_set_a_stratified_part_of_train_is_held_out(hostile, data):
    (train, labels), _ = data
    fitted = NeuralScorer(hostile, epochs=1, **TINY).fit(train[:400], labels[:400])
    assert fitted.n_dev_ == 40


def test_saved_weights_reload_to_identical_scores_and_words(model, hostile, tmp_path):
    save_model(model, tmp_path, extra_config={})
    again = NeuralScorer.load(tmp_path, read_config(tmp_path), hostile)
    # Not bit for bit: the trained model's word table also holds its dev words, and BLAS
    # rounds a product of another shape differently in the last bits.
    np.testing.assert_allclose(
        again.predict_proba(TEXTS), model.predict_proba(TEXTS), rtol=0, atol=1e-6
    )
    for got, want in zip(again.explain(TEXTS), model.explain(TEXTS), strict=True):
        assert [(w["word"], w["start"], w["end"]) for w in got] == [
            (w["word"], w["start"], w["end"]) for w in want
        ]
        np.testing.assert_allclose(
            [w["weight"] for w in got], [w["weight"] for w in want], rtol=0, atol=2e-4
        )
    arrays = load_file(tmp_path / WEIGHTS_FILE)
    assert arrays["embedding.int8"].dtype == np.int8 and "embedding" not in arrays
    assert arrays["embedding.scale"].shape == (TINY["buckets"],)


def test_int8_embeddings_move_scores_by_under_a_thousandth(model, hostile, data, monkeypatch):
    """The same training with the embeddings kept as float16 (as saved before int8): the
    probabilities differ by under 1e-3."""
    (train, labels), dev = data
    monkeypatch.setattr(neural, "_quantised", lambda e: (np.asarray(e, np.float16), None))
    monkeypatch.setattr(neural, "_dequantised", lambda q, _scale: q)
    wide = NeuralScorer(hostile, epochs=3, **TINY).fit(train, labels, dev=dev)
    texts = [r["text"] for r in vihsd_rows("test", 300)]
    gap = np.abs(wide.predict_proba(texts) - model.predict_proba(texts))
    assert 0 < gap.max() < 1e-3


def test_weights_saved_as_float16_before_int8_still_load_and_score_the_same(
    model, hostile, tmp_path
):
    save_model(model, tmp_path, extra_config={})
    arrays = load_file(tmp_path / WEIGHTS_FILE)
    del arrays["embedding.int8"], arrays["embedding.scale"]
    save_file({**arrays, "embedding": model.embedding_}, tmp_path / WEIGHTS_FILE)
    again = NeuralScorer.load(tmp_path, read_config(tmp_path), hostile)
    assert again.embedding_.dtype == np.float16
    np.testing.assert_allclose(
        again.predict_proba(TEXTS), model.predict_proba(TEXTS), rtol=0, atol=1e-6
    )


@pytest.fixture(scope="module")
def trained_dir(tmp_path_factory):
    """A whole model directory written by train_model from a generic corpus without dev."""
    from pipeline.training.train import train_model

    corpus = tmp_path_factory.mktemp("corpus")
    write_split(corpus / "train.csv", vihsd_rows("train", 600))
    write_split(corpus / "test.csv", vihsd_rows("test", 150))
    root = tmp_path_factory.mktemp("models")
    result = train_model(
        "hostile",
        corpus,
        models_root=root,
        family="neural",
        hyperparameters={"epochs": 1, **TINY},
    )
    return result.model_dir


def test_train_model_writes_a_whole_directory_without_pickle(trained_dir):
    assert trained_dir.name == "neural-1"
    names = {p.name for p in trained_dir.iterdir()}
    assert names == {"config.json", WEIGHTS_FILE, "metrics.json", "README.md"}
    for p in trained_dir.iterdir():
        assert not p.read_bytes().startswith(b"\x80")  # pickle protocol 2+ header
    config = read_config(trained_dir)
    assert config["family"] == "neural" and config["hyperparameters"]["dim"] == TINY["dim"]
    assert config["training_data"]["dev"]["n"] == 60  # 10% of 600, held out
    assert "torch" in config["library_versions"]
    card = (trained_dir / "README.md").read_text(encoding="utf-8")
    assert "Family `neural`" in card and "gradient × input" in card
    model = load_model(trained_dir)
    assert model.predict_proba(TEXTS).shape == (len(TEXTS), 3)


def test_a_loaded_model_scores_without_torch(trained_dir):
    code = (
        "import sys\n"
        "from pipeline.model.directory import load_model\n"
        f"m = load_model({str(trained_dir)!r})\n"
        "print(m.predict_and_explain(['Mày ngu vl'])[0].shape, 'torch' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "(1, 3) False"


def test_a_directory_missing_its_weights_is_refused(trained_dir, tmp_path):
    broken = tmp_path / "neural-1"
    broken.mkdir()
    for p in trained_dir.iterdir():
        if p.name != WEIGHTS_FILE:
            (broken / p.name).write_bytes(p.read_bytes())
    with pytest.raises(ModelDirError, match=f"{WEIGHTS_FILE} missing"):
        load_model(broken)


def test_weights_of_the_wrong_shape_are_refused(trained_dir, tmp_path):
    broken = tmp_path / "neural-1"
    broken.mkdir()
    for p in trained_dir.iterdir():
        (broken / p.name).write_bytes(p.read_bytes())
    arrays = load_file(trained_dir / WEIGHTS_FILE)
    save_file({**arrays, "embedding.int8": arrays["embedding.int8"][:100]}, broken / WEIGHTS_FILE)
    with pytest.raises(ModelDirError, match=r"embedding\.int8.*\(100, 16\).*\(16384, 16\)"):
        load_model(broken)
    del arrays["head.bias"]
    save_file(arrays, broken / WEIGHTS_FILE)
    with pytest.raises(ModelDirError, match=r"lacks head\.bias"):
        load_model(broken)


def test_training_without_torch_says_how_to_install_it(monkeypatch, hostile):
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(InputError, match=r"transformer.*extra"):
        require_torch("Training a neural model")
    with pytest.raises(InputError, match="needs torch"):
        NeuralScorer(hostile).fit([INSULT, NEUTRAL], ["hate", "clean"])


def test_train_options_of_the_neural_family():
    options = TrainOptions(
        task="hostile", corpus=REPO, family="neural", epochs=5.0, batch_size=32, seed=3
    )
    assert options.hyperparameters() == {"epochs": 5, "batch_size": 32, "seed": 3}
    assert options.family_options() == {}
    assert "--family neural --seed 3 --epochs 5.0" in options.reproduce_command()
    for stray in ({"base_model": "x"}, {"C": 1.0}, {"max_length": 64}, {"resume": True}):
        with pytest.raises(InputError, match="only --epochs"):
            TrainOptions(task="hostile", corpus=REPO, family="neural", **stray)
    with pytest.raises(InputError, match="whole number"):
        TrainOptions(task="hostile", corpus=REPO, family="neural", epochs=2.5)
    assert json.dumps(options.hyperparameters())

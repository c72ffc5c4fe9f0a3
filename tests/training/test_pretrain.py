"""`kiemtin pretrain`: masked-LM on the corpora's non-test text gives a base model the
transformer family fine-tunes, and no test text (nor a repost of one) is ever read."""

from __future__ import annotations

import json

import pytest

from pipeline.errors import InputError
from tests.conftest import PICKLE_SUFFIXES, vihsd_rows, write_split

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytestmark = pytest.mark.usefixtures("offline_single_torch_thread")

TINY = {"layers": 2, "hidden": 32, "heads": 2, "vocab_size": 1000, "max_length": 32}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """300 ViHSD train comments and 100 test comments; one train row reposts a test comment
    with another phone number in it, one repeats a train comment."""
    d = tmp_path_factory.mktemp("pretrain_corpus")
    train, test = vihsd_rows("train", 300), vihsd_rows("test", 100)
    test[0]["text"] = "Gọi ngay 0912 345 678 để nhận quà, lừa đảo cả đấy"
    repost = {"id": "repost", "text": "Gọi ngay 0987 654 321 để nhận quà, lừa đảo cả đấy",
              "label": "clean"}  # fmt: skip
    write_split(d / "train.csv", [*train, repost, {**train[5], "id": "again"}])
    write_split(d / "test.csv", test)
    return d


@pytest.fixture(scope="module")
def texts(corpus):
    from pipeline.training.pretrain import pretraining_texts

    return pretraining_texts([corpus])


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory, texts):
    from pipeline.training.pretrain import pretrain

    losses = []
    out = tmp_path_factory.mktemp("encoder") / "tiny"
    result = pretrain(
        out, texts, **TINY, epochs=6, batch_size=16, learning_rate=2e-3, device="cpu",
        progress=lambda step, total, loss: losses.append(loss),
    )  # fmt: skip
    return result, losses


def test_no_test_text_and_no_repost_of_one_is_read(corpus, texts):
    from pipeline.text.mask import same_post_key

    test_keys = {same_post_key(r["text"]) for r in vihsd_rows("test", 100)}
    assert texts.left_out_as_test >= 1  # the repost with another phone number
    train = vihsd_rows("train", 300)
    distinct_train = {same_post_key(r["text"]) for r in train} - test_keys
    assert len(texts.texts) == len(distinct_train)  # the repeated comment read once
    assert texts.sources == {f"{corpus.name}/train": len(distinct_train)}
    # as the scorer feeds a PhoBERT-style encoder: word-segmented
    assert any("_" in t for t in texts.texts)
    assert not any("lừa_đảo" in t and "quà" in t for t in texts.texts)


def test_masked_lm_learns_and_the_directory_is_a_base_model(pretrained, texts):
    from transformers import AutoModelForMaskedLM, AutoModelForSequenceClassification

    result, losses = pretrained
    assert result.steps == len(losses) > 50 and not result.stopped_by_time
    first, last = sum(losses[:10]) / 10, sum(losses[-10:]) / 10
    assert last < first - 0.3, (first, last)  # it learns more than noise

    names = {p.name for p in result.out_dir.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "pretraining.json"} <= names
    assert not any(p.suffix in PICKLE_SUFFIXES for p in result.out_dir.iterdir())
    record = json.loads((result.out_dir / "pretraining.json").read_text(encoding="utf-8"))
    assert record["texts"] == len(texts.texts) and record["steps"] == result.steps
    assert record["left_out_as_test_texts"] == texts.left_out_as_test

    # A classifier loaded from it starts from the pre-trained encoder, not a random one.
    mlm = AutoModelForMaskedLM.from_pretrained(result.out_dir)
    clf = AutoModelForSequenceClassification.from_pretrained(result.out_dir, num_labels=3)
    assert torch.equal(
        mlm.bert.encoder.layer[1].output.dense.weight, clf.bert.encoder.layer[1].output.dense.weight
    )


def test_the_transformer_family_fine_tunes_from_it(tmp_path, pretrained, corpus):
    from pipeline.model.directory import load_model
    from pipeline.training.train import train_model

    result, _ = pretrained
    trained = train_model(
        "hostile",
        corpus,
        models_root=tmp_path / "models",
        family="transformer",
        hyperparameters={
            "base_model": str(result.out_dir),
            "max_length": 32,
            "batch_size": 16,
            "max_steps": 10,
            "eval_steps": 10,
            "seed": 0,
        },
        family_options={"work_dir": tmp_path / "work"},
    )
    model = load_model(trained.model_dir)
    proba = model.predict_proba(["Thằng này ngu vãi", "Hôm nay trời đẹp"])
    assert proba.shape == (2, 3) and abs(proba.sum() - 2) < 1e-6


def test_a_time_limit_stops_it_and_bad_lengths_are_refused(tmp_path, texts):
    from pipeline.training.pretrain import pretrain

    stopped = pretrain(tmp_path / "a", texts, **TINY, epochs=50, minutes=0.001, device="cpu")
    assert stopped.stopped_by_time and 1 <= stopped.steps < 50
    with pytest.raises(InputError, match="epochs > 0"):
        pretrain(tmp_path / "b", texts, **TINY, epochs=0, device="cpu")


def test_cli_pretrains_and_says_what_next(tmp_path, corpus, capsys):
    from pipeline.cli import main

    out = tmp_path / "enc"
    code = main(["pretrain", "--corpus", str(corpus), "-o", str(out), "--layers", "1",
                 "--hidden", "16", "--heads", "2", "--vocab-size", "500", "--max-length", "32",
                 "--epochs", "1", "--batch-size", "32", "--workers", "1"])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "left out as test texts" in captured.err
    assert f"pre-trained {out}:" in captured.out and "masked-LM loss" in captured.out
    assert f"--family transformer --base-model {out}" in captured.out
    record = json.loads((out / "pretraining.json").read_text(encoding="utf-8"))
    assert record["command"] == (
        f"kiemtin pretrain --corpus {corpus} -o {out} --layers 1 --hidden 16 --heads 2 "
        "--vocab-size 500 --max-length 32 --epochs 1 --batch-size 32 --learning-rate 0.0005 "
        "--seed 0"
    )
    with pytest.raises(SystemExit) as refused:
        main(["pretrain", "--corpus", str(corpus), "-o", str(out), "--epochs", "0"])
    assert refused.value.code == 2
    assert "expected a number > 0" in capsys.readouterr().err

"""Training writes a whole, deterministic model directory and manages CURRENT."""

import json

import pytest

from pipeline.cli import build_parser
from pipeline.cli.train import TrainOptions
from pipeline.errors import CorpusError
from pipeline.training.train import train_model

FILES = ("config.json", "weights.safetensors", "vocabulary.json", "metrics.json", "README.md")


def test_training_twice_gives_the_same_bytes_and_only_the_first_becomes_current(
    tiny_corpus, tmp_path
):
    first = train_model(
        "hostile", tiny_corpus, models_root=tmp_path, hyperparameters={"cv_folds": 3}
    )
    second = train_model(
        "hostile", tiny_corpus, models_root=tmp_path, hyperparameters={"cv_folds": 3}
    )
    assert (first.model_dir.name, second.model_dir.name) == ("linear-1", "linear-2")
    assert first.became_current and not second.became_current
    assert (tmp_path / "hostile" / "CURRENT").read_text().strip() == "linear-1"
    for name in FILES:
        a = (first.model_dir / name).read_bytes()
        b = (second.model_dir / name).read_bytes()
        if name == "config.json":  # names its own version
            a, b = json.loads(a), json.loads(b)
            assert (a.pop("version"), b.pop("version")) == ("1", "2")
        elif name in ("README.md", "metrics.json"):
            a = a.replace(b"linear-1", b"linear-2")
        assert a == b, name


def test_metrics_cover_the_test_split_its_unseen_part_and_slices(tiny_models_root):
    metrics = json.loads((tiny_models_root / "hostile" / "linear-1" / "metrics.json").read_text())
    sets = metrics["test_sets"]
    full_name, unseen_name = sets
    assert full_name.endswith("/test") and unseen_name == full_name + "-minus-train"
    full, unseen = sets.values()
    assert full["n"] == 600 and 0 < unseen["n"] <= 600
    for m in (full, unseen):
        assert 0 < m["macro_f1"] <= 1 and 0.5 < m["roc_auc_risk"] <= 1
        assert set(m["per_class_f1"]) == {"clean", "offensive", "hate"}
        assert {"no_diacritics", "short (<50 chars)", "long (>=300 chars)"} <= set(m["slices"])
        assert sum(m["support"].values()) == m["n"]


def test_a_corpus_without_a_test_split_or_with_other_labels_is_refused(tmp_path):
    only_train = tmp_path / "only_train"
    only_train.mkdir()
    (only_train / "train.csv").write_text("text,label\nmột,clean\nhai,hate\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="fixed test split"):
        train_model("hostile", only_train, models_root=tmp_path / "m")

    other = tmp_path / "other"
    other.mkdir()
    for split in ("train", "test"):
        (other / f"{split}.csv").write_text("text,label\nmột,spam\nhai,ham\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="spam"):
        train_model("hostile", other, models_root=tmp_path / "m")


def test_the_recorded_command_leaves_out_where_the_model_goes_and_how_fast():
    args = build_parser().parse_args(
        [
            "train",
            "--task",
            "false",
            "--corpus",
            "c",
            "--models-root",
            "/tmp/x",
            "--workers",
            "2",
            "--no-promote",
            "--C",
            "2",
        ]
    )
    options = TrainOptions.from_args(args)
    assert options.reproduce_command() == "python train.py --task false --corpus c --C 2.0"

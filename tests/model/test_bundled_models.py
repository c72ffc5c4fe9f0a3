"""The committed default models: whole, good enough, and rebuilt by the documented commands."""

import json
import shlex

import numpy as np
import pytest

from pipeline.cli import main
from pipeline.model.directory import current_model_dir, load_model
from tests.conftest import BUNDLED_MODELS, CORPORA, REPO, require_corpora

TARGETS = {
    "hostile": ("vihsd/test", "macro_f1", 0.64),
    "false": ("reintel/test", "roc_auc_risk", 0.90),
}
CORPUS = {"hostile": "vihsd", "false": "reintel"}


def _committed(task):
    d = current_model_dir(BUNDLED_MODELS, task)
    return d, json.loads((d / "metrics.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("task", ["hostile", "false"])
def test_committed_metrics_meet_the_targets(task):
    _, metrics = _committed(task)
    test_set, metric, floor = TARGETS[task]
    assert metrics["test_sets"][test_set][metric] >= floor


@pytest.mark.parametrize("task", ["hostile", "false"])
def test_committed_models_were_trained_with_the_text_preprocessing_of_this_code(task):
    from pipeline.text.prepare import PREPROCESSING

    config = json.loads((_committed(task)[0] / "config.json").read_text(encoding="utf-8"))
    assert {step: config[step] for step in PREPROCESSING} == PREPROCESSING


@pytest.fixture(scope="module")
def hostile():
    return load_model(current_model_dir(BUNDLED_MODELS, "hostile"))


@pytest.fixture(scope="module")
def false():
    return load_model(current_model_dir(BUNDLED_MODELS, "false"))


def test_an_insult_scores_high_and_a_neutral_sentence_naming_a_group_scores_low(hostile):
    texts = [
        "Mày đúng là thằng óc chó, ngu như bò",
        "Người miền Trung chịu khó và tốt bụng lắm",
        "đm thằng này ngu vl",
        "dm thang nay ngu vl",
    ]
    risk = hostile.risk_from_proba(hostile.predict_proba(texts))
    assert risk[0] > 0.5 and risk[2] > 0.5
    assert risk[1] < 0.3
    assert risk[3] > 0.5  # the same insult typed without diacritics


def test_a_health_hoax_is_riskier_than_an_official_notice(false):
    texts = [
        "KHẨN CẤP!!! Uống nước chanh nóng mỗi sáng chữa khỏi ung thư, bác sĩ giấu kín, "
        "hãy chia sẻ ngay cho người thân!!!",
        "Sở Y tế thông báo lịch tiêm vắc-xin cúm mùa tại các trạm y tế phường từ ngày 15/3.",
    ]
    risk = false.risk_from_proba(false.predict_proba(texts))
    assert risk[0] > risk[1]


def test_the_false_model_scores_posts_without_metadata_as_honestly_as_with_it(false):
    """A text-only file (no engagement counts, no posting time) must not shift every score:
    the mean risk stays near the share of unreliable posts, and the order stays useful."""
    require_corpora("reintel/test.csv")
    from sklearn.metrics import roc_auc_score

    from pipeline.text.prepare import prepare
    from pipeline.training.corpora import load_corpus
    from pipeline.training.train import labelled_split

    corpus = load_corpus(CORPORA / "reintel", task="false")
    texts, labels, meta = labelled_split(corpus, "test")
    n = 400
    prepared, truth = prepare(texts[:n]), np.array([lab == "unreliable" for lab in labels[:n]])
    assert false.content_features and any(m for m in meta[:n])
    for given in (meta[:n], None):
        risk = false.risk_from_proba(false.predict_proba(prepared, meta=given))
        assert abs(risk.mean() - truth.mean()) < 0.05, (given is None, risk.mean(), truth.mean())
        assert roc_auc_score(truth, risk) > 0.85


@pytest.mark.slow
@pytest.mark.parametrize("task", ["hostile", "false"])
def test_the_recorded_train_command_rebuilds_the_committed_model(task, tmp_path, monkeypatch):
    require_corpora()
    committed_dir, committed = _committed(task)
    config = json.loads((committed_dir / "config.json").read_text(encoding="utf-8"))
    command = shlex.split(config["reproduce"])
    assert command[:2] == ["python", "train.py"]
    monkeypatch.chdir(REPO)  # the command's corpus path is relative to the project root
    assert main(["train", *command[2:], "--models-root", str(tmp_path), "--no-promote"]) == 0
    [rebuilt_dir] = [p for p in (tmp_path / task).iterdir() if p.is_dir()]
    rebuilt = json.loads((rebuilt_dir / "metrics.json").read_text(encoding="utf-8"))
    for test_set, m in committed["test_sets"].items():
        for metric in ("macro_f1", "roc_auc_risk", "ece"):
            got = rebuilt["test_sets"][test_set][metric]
            assert got == pytest.approx(m[metric], abs=0.005), (test_set, metric)


@pytest.mark.parametrize("task", ["hostile", "false"])
def test_committed_model_cards_are_what_the_card_generator_writes(task):
    from pipeline.model.card import render_model_card
    from pipeline.training.corpora import load_corpus

    corpora = require_corpora()
    committed_dir, metrics = _committed(task)
    config = json.loads((committed_dir / "config.json").read_text(encoding="utf-8"))
    card = render_model_card(config, metrics, load_corpus(corpora / CORPUS[task], task=task))
    assert (committed_dir / "README.md").read_text(encoding="utf-8") == card
    # Each test figure is shown with its 95% bootstrap interval, which holds it.
    for m in metrics["test_sets"].values():
        for key in ("macro_f1", "roc_auc_risk"):
            low, high = m["intervals"][key]
            assert low <= m[key] <= high
            assert f"{m[key]:.4f} [{low:.4f}, {high:.4f}]" in card

"""Shared fixtures: paths, and a tiny real model trained on a slice of ViHSD."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CORPORA = REPO.parent / "shared" / "corpora"
BUNDLED_MODELS = REPO / "models"
SAMPLES = REPO / "corpora" / "samples" / "posts.jsonl"
HOSTILE_NAMES = ("clean", "offensive", "hate")


def require_corpora() -> Path:
    if not (CORPORA / "vihsd" / "train.csv").is_file():
        pytest.skip(f"reference corpora not found at {CORPORA}")
    return CORPORA


def _vihsd_rows(split: str, limit: int) -> list[dict]:
    with open(require_corpora() / "vihsd" / f"{split}.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))[:limit]
    return [
        {"id": f"{split}-{i}", "text": r["free_text"], "label": HOSTILE_NAMES[int(r["label_id"])]}
        for i, r in enumerate(rows)
    ]


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory) -> Path:
    """A generic train/test corpus cut from ViHSD: 3,000 train rows, 600 test rows."""
    d = tmp_path_factory.mktemp("tiny_corpus")
    for split, limit in (("train", 3000), ("test", 600)):
        with open(d / f"{split}.csv", "w", encoding="utf-8", newline="") as f:
            w = csv.DictWriter(f, fieldnames=["id", "text", "label"])
            w.writeheader()
            w.writerows(_vihsd_rows(split, limit))
    return d


@pytest.fixture(scope="session")
def tiny_models_root(tmp_path_factory, tiny_corpus) -> Path:
    from pipeline.training.train import train_model

    root = tmp_path_factory.mktemp("models")
    train_model("hostile", tiny_corpus, models_root=root, hyperparameters={"cv_folds": 3})
    return root


@pytest.fixture(scope="session")
def tiny_model_dir(tiny_models_root) -> Path:
    return tiny_models_root / "hostile" / "linear-1"


@pytest.fixture(scope="session")
def tiny_model(tiny_model_dir):
    from pipeline.model.directory import load_model

    return load_model(tiny_model_dir)


@pytest.fixture(autouse=True)
def no_store_in_the_checkout(tmp_path, monkeypatch):
    """A command that opens the default store writes under the test's tmp dir, never into
    ./data of the checkout (store_env and the store tests choose their own)."""
    monkeypatch.setenv("KIEMTIN_DATA_DIR", str(tmp_path / "default-data"))
    monkeypatch.delenv("KIEMTIN_DATABASE_URL", raising=False)


@pytest.fixture
def store_env(tmp_path, monkeypatch):
    """The CLI's store in a temporary SQLite file (KIEMTIN_DATA_DIR, KIEMTIN_DATABASE_URL)."""
    url = f"sqlite:///{tmp_path / 'data' / 'kiemtin.db'}"
    monkeypatch.setenv("KIEMTIN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("KIEMTIN_DATABASE_URL", url)
    return url

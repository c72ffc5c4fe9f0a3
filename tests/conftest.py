"""Shared fixtures: paths, and a tiny real model trained on a slice of ViHSD."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"  # small files the tests read: golden cases, tiny corpora
CORPORA = REPO.parent / "shared" / "corpora"
BUNDLED_MODELS = REPO / "models"
SAMPLES = REPO / "corpora" / "samples" / "posts.jsonl"
HOSTILE_NAMES = ("clean", "offensive", "hate")
# Files that can hold pickled code: no model or encoder directory may have one.
PICKLE_SUFFIXES = {".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib"}


def require_corpora(*needed: str) -> Path:
    """The reference corpora (``needed``: files inside them, by default ViHSD's train split).
    A test that needs them skips without them, but fails in CI, which must have them."""
    missing = [name for name in needed or ("vihsd/train.csv",) if not (CORPORA / name).is_file()]
    if missing:
        message = f"reference corpora not found at {CORPORA} (missing {', '.join(missing)})"
        if os.environ.get("CI"):
            pytest.fail(f"{message}: CI must have ../shared/corpora beside the checkout")
        pytest.skip(message)
    return CORPORA


@pytest.fixture
def reference_corpora() -> Path:
    return require_corpora()


def vihsd_rows(split: str, limit: int) -> list[dict]:
    with open(require_corpora() / "vihsd" / f"{split}.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))[:limit]
    return [
        {"id": f"{split}-{i}", "text": r["free_text"], "label": HOSTILE_NAMES[int(r["label_id"])]}
        for i, r in enumerate(rows)
    ]


def write_split(path: Path, rows) -> Path:
    """One split file of a generic corpus: CSV with the columns id, text and label."""
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["id", "text", "label"])
        w.writeheader()
        w.writerows(rows)
    return path


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory) -> Path:
    """A generic train/test corpus cut from ViHSD: 3,000 train rows, 600 test rows."""
    d = tmp_path_factory.mktemp("tiny_corpus")
    for split, limit in (("train", 3000), ("test", 600)):
        write_split(d / f"{split}.csv", vihsd_rows(split, limit))
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


def copy_model(model_dir: Path, models_root: Path, version: str) -> Path:
    """``model_dir`` copied to ``models_root/<task>/<name>-<version>`` as training would have
    written it there (its version in config.json, metrics.json and the card): a retrain of
    the same data with the same settings gives the same bytes, without the minutes."""
    import json
    import shutil

    from pipeline.model.config_file import write_json

    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    task = config["task"]["name"]
    old = f"{task}/{config['name']}-{config['version']}"
    new = f"{task}/{config['name']}-{version}"
    target = shutil.copytree(model_dir, models_root / new)
    write_json(target / "config.json", {**config, "version": version})
    metrics = json.loads((target / "metrics.json").read_text(encoding="utf-8"))
    write_json(target / "metrics.json", {**metrics, "model": new})
    card = target / "README.md"
    card.write_text(card.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")
    return target


@pytest.fixture(scope="session")
def tiny_model(tiny_model_dir):
    from pipeline.model.directory import load_model

    return load_model(tiny_model_dir)


@pytest.fixture(scope="module")
def offline_single_torch_thread():
    """For a module of tiny-encoder tests: nothing downloads, and torch runs one thread (a
    64-wide encoder gains nothing from two, and on a busy 2-core machine two threads are
    several times slower)."""
    import torch

    threads = torch.get_num_threads()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("TRANSFORMERS_OFFLINE", "1")
        torch.set_num_threads(1)
        yield
        torch.set_num_threads(threads)


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

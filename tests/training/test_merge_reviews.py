"""Reviewed labels merged into training (train.py --reviews): a review overrides the corpus
label of the same text, reviews of test texts stay out of training, new texts are added."""

import json

import pytest

from pipeline.cli import main
from pipeline.errors import CorpusError
from pipeline.text.mask import mask_personal_data
from pipeline.training.train import train_model
from tests.conftest import vihsd_rows, write_split

PHONE_POST = "Thằng lừa đảo này bán hàng giả, ai bị lừa gọi 0912345678 mà đòi tiền nhé"
NEW_POST = "Lũ chúng mày toàn đồ ăn hại, cút hết về quê đi cho sạch xã hội"


@pytest.fixture
def corpus(tmp_path):
    """A small generic corpus (ViHSD rows) with one post holding a phone number."""
    d = tmp_path / "small"
    d.mkdir()
    train = [*vihsd_rows("train", 400), {"id": "phone", "text": PHONE_POST, "label": "clean"}]
    for split, rows in (("train", train), ("test", vihsd_rows("test", 120))):
        write_split(d / f"{split}.csv", rows)
    return d


def _reviews_file(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    return path


def test_reviews_override_add_and_never_leak_into_the_test_split(corpus, tmp_path):
    train, test = vihsd_rows("train", 400), vihsd_rows("test", 120)
    flipped = "hate" if train[0]["label"] != "hate" else "clean"
    reviews = _reviews_file(tmp_path / "reviews.jsonl", [
        {"id": "kiemtin:1", "task": "hostile", "text": train[0]["text"], "label": flipped},
        {"id": "kiemtin:2", "task": "hostile", "text": train[1]["text"],
         "label": train[1]["label"]},
        # Stored posts are masked; it is still the corpus's post.
        {"id": "kiemtin:3", "task": "hostile", "text": mask_personal_data(PHONE_POST),
         "label": "offensive"},
        {"id": "kiemtin:4", "task": "hostile", "text": test[5]["text"], "label": "hate"},
        {"id": "kiemtin:5", "task": "hostile", "text": NEW_POST, "label": "hate"},
        {"id": "kiemtin:6", "task": "false", "text": "Uống nước chanh chữa ung thư",
         "label": "unreliable"},
    ])
    result = train_model("hostile", corpus, models_root=tmp_path / "models",
                         hyperparameters={"cv_folds": 3}, reviews=reviews)
    config = json.loads((result.model_dir / "config.json").read_text(encoding="utf-8"))
    merged = config["training_data"]["reviews"]
    assert merged == {
        "source": merged["source"], "read": 5, "other_tasks": 1, "duplicates": 0,
        "added": 1, "overridden": 2, "confirmed": 1, "left_out_in_test": 1,
        "left_out_examples": ["kiemtin:4"],
    }
    assert merged["source"].endswith("reviews.jsonl")
    assert config["training_data"]["n_train"] == 401 + 1
    assert config["training_data"]["train_label_counts"]["hate"] == sum(
        r["label"] == "hate" for r in train) + 1 + (flipped == "hate") - (
        train[0]["label"] == "hate")
    card = (result.model_dir / "README.md").read_text(encoding="utf-8")
    assert "### Reviewed labels merged" in card and "`kiemtin:4`" in card
    assert "1 added as new training texts, 2 corpus labels" in card.replace("\n", " ")
    assert "reviews from" in result.corpus_summary


def test_reviews_of_another_tasks_labels_are_refused_with_a_fix(corpus, tmp_path):
    reviews = _reviews_file(tmp_path / "r.jsonl", [
        {"id": "x", "text": "Uống nước chanh chữa ung thư", "label": "unreliable"}])
    with pytest.raises(CorpusError, match="labels export --task hostile"):
        train_model("hostile", corpus, models_root=tmp_path / "m", reviews=reviews)
    with pytest.raises(CorpusError, match="no such file"):
        train_model("hostile", corpus, models_root=tmp_path / "m", reviews=tmp_path / "nope")


def test_train_reads_reviews_straight_from_the_review_database(corpus, tmp_path, capsys):
    from pipeline.store import add_scored, add_user, record_answer
    from pipeline.store.db import make_engine, session_factory, upgrade
    from pipeline.store.tables import Item
    from tests.store.conftest import scored

    url = f"sqlite:///{tmp_path / 'reviews.db'}"
    upgrade(url)
    engine = make_engine(url)
    with session_factory(engine)() as s:
        add_user(s, "lan", "reviewer", "lan password")
        add_scored(s, [scored("a", NEW_POST), scored("b", PHONE_POST),
                       scored("c", "Hôm nay trời đẹp quá")], actor="t")
        for item in s.query(Item).order_by(Item.id):
            if item.source_id != "c":  # c stays open: not a reviewed label
                record_answer(s, item.id, "lan", "hate", item.version)
    engine.dispose()
    models = tmp_path / "models"
    assert main(["train", "--task", "hostile", "--corpus", str(corpus), "--models-root",
                 str(models), "--reviews", url, "--workers", "1"]) == 0
    assert "2 of this task; 1 added, 1 corpus labels changed" in capsys.readouterr().out
    config = json.loads((models / "hostile" / "linear-1" / "config.json").read_text())
    assert config["training_data"]["reviews"]["source"] == url
    assert f"--reviews {url}" in config["reproduce"]

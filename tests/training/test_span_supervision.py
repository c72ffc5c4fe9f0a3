"""ViHOS spans as extra examples: only from comments among the training texts, with their
training label, never from a comment of the test split; and on the real corpora, no
example comes from ViHSD's test split."""

from __future__ import annotations

import csv
import json

import pytest

from pipeline.text.mask import same_post_key
from pipeline.training.span_supervision import span_examples
from tests.conftest import require_corpora, vihsd_rows

HATE = "Bọn miền đó toàn lũ ăn cắp, đuổi hết về quê"
TEST = "Thằng này ngu vl cút đi"
CLEAN = "Mấy ông này nói chuyện vui ghê, ngu ngơ dễ thương"
ELSEWHERE = "Đồ óc chó không biết gì"


def _offsets(text: str, *words: str) -> str:
    marked = []
    for w in words:
        start = text.index(w)
        marked += range(start, start + len(w))
    return json.dumps(marked)


def _vihos(directory, rows) -> None:
    directory.mkdir()
    with open(directory / "train.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["", "content", "index_spans"])
        for i, (text, spans) in enumerate(rows):
            w.writerow([i, text, spans])


def test_spans_teach_their_training_label_and_test_comments_give_nothing(tmp_path):
    _vihos(
        tmp_path / "vihos",
        [
            (HATE, _offsets(HATE, "lũ ăn cắp", "đuổi hết")),
            (HATE, _offsets(HATE, "lũ ăn cắp")),  # the same comment again
            (TEST, _offsets(TEST, "ngu vl")),
            (CLEAN, _offsets(CLEAN, "ngu ngơ")),
            (ELSEWHERE, _offsets(ELSEWHERE, "óc chó")),
            ("Hôm nay trời đẹp", "[]"),
        ],
    )
    texts, labels, report = span_examples(
        tmp_path / "vihos",
        train_texts=[HATE, CLEAN, TEST],
        train_labels=["hate", "clean", "offensive"],
        test_texts=[TEST],
    )
    assert (texts, labels) == (["lũ ăn cắp đuổi hết"], ["hate"])
    counts = report.to_dict()
    assert counts["comments with spans"] == 5
    assert counts["in the test split (left out)"] == 1
    assert counts["training label clean (left out)"] == 1
    assert counts["not among the training texts"] == 1
    assert counts["repeated comments (used once)"] == 1
    assert "1 examples added" in report.summary()


def test_on_the_reference_corpora_no_example_comes_from_a_test_comment():
    corpora = require_corpora("vihsd/train.csv", "vihsd/test.csv", "vihos/train.csv")
    train, test = vihsd_rows("train", 30_000), vihsd_rows("test", 10_000)
    texts, labels, report = span_examples(
        corpora / "vihos",
        [r["text"] for r in train],
        [r["label"] for r in train],
        [r["text"] for r in test],
    )
    counts = report.to_dict()
    assert counts["examples added"] == len(texts) > 3000
    assert counts["in the test split (left out)"] > 1000  # ViHOS holds many ViHSD test texts
    assert set(labels) <= {"offensive", "hate"}
    test_keys = {same_post_key(r["text"]) for r in test}
    train_keys = {same_post_key(r["text"]) for r in train}
    # Every span example is words of a training comment that is not a test comment.
    from pipeline.training.corpora import load_corpus

    vihos = load_corpus(corpora / "vihos", task="hostile")
    sources: dict[str, set[str]] = {}  # span text -> the comments it can come from
    for split in vihos.splits.values():
        for t, spans in zip(split["text"], split["spans"], strict=True):
            if spans:
                joined = " ".join(t[a:b].strip() for a, b in spans)
                sources.setdefault(joined, set()).add(same_post_key(t))
    for text in texts:
        assert any(k in train_keys and k not in test_keys for k in sources[text]), text


def test_train_with_span_supervision_records_what_it_added(tiny_corpus, tmp_path):
    from pipeline.training.train import train_model

    corpora = require_corpora("vihos/train.csv")
    result = train_model(
        "hostile", tiny_corpus, models_root=tmp_path, span_supervision=corpora / "vihos",
        promote=False,
    )
    config = json.loads((result.model_dir / "config.json").read_text(encoding="utf-8"))
    spans = config["training_data"]["span_supervision"]
    assert spans["examples added"] > 100
    assert config["training_data"]["n_train"] == 3000 + spans["examples added"]
    card = (result.model_dir / "README.md").read_text(encoding="utf-8")
    assert f"{spans['examples added']:,} examples" in card


def test_span_supervision_needs_the_hostile_labels(tmp_path):
    from pipeline.errors import InputError
    from pipeline.training.train import train_model

    corpora = require_corpora("reintel/train.csv", "vihos/train.csv")
    with pytest.raises(InputError, match="hostile"):
        train_model("false", corpora / "reintel", models_root=tmp_path,
                    span_supervision=corpora / "vihos", promote=False)

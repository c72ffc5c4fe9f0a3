"""The tiny local encoder that tests and benchmarks fine-tune instead of a downloaded one."""

from __future__ import annotations

import pytest

from tests.conftest import vihsd_rows

pytest.importorskip("torch")
pytest.importorskip("transformers")

# Word-segmented (PhoBERT-style) sentences: syllables of one word joined by "_".
SEGMENTED = [
    "sinh_viên đi học ở trường đại_học",
    "các sinh_viên thích đọc sách",
    "sinh_viên năm nhất",
]


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="module")
def texts() -> list[str]:
    return [r["text"] for r in vihsd_rows("train", 500)] + SEGMENTED


@pytest.fixture(scope="module")
def encoder_dir(tmp_path_factory, texts):
    from pipeline.model.encoder_builder import build_encoder

    return build_encoder(tmp_path_factory.mktemp("enc") / "tiny", texts, seed=0)


def test_a_segmented_word_in_the_vocabulary_stays_one_token(encoder_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(encoder_dir)
    assert "sinh_viên" in tok.get_vocab()
    assert tok.tokenize("sinh_viên đi học") == ["sinh_viên", "đi", "học"]
    # Case is kept: the capitalised word is not the same token.
    assert tok.tokenize("Sinh_viên")[0] != "sinh_viên"
    ids = tok("sinh_viên đi học")["input_ids"]
    assert ids[0] == tok.cls_token_id and ids[-1] == tok.sep_token_id


def test_it_is_a_base_model_directory_that_loads_offline(encoder_dir, texts):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(encoder_dir)
    assert tok.model_max_length == 128
    model = AutoModelForSequenceClassification.from_pretrained(encoder_dir, num_labels=3)
    assert model.config.num_hidden_layers == 2 and model.config.hidden_size == 64
    batch = tok(texts[:8], padding=True, truncation=True, max_length=128, return_tensors="pt")
    with torch.no_grad():
        logits = model(**batch).logits
    assert logits.shape == (8, 3)
    long = tok(" ".join(texts[:200]), truncation=True, return_tensors="pt")
    assert long["input_ids"].shape[1] == 128


def test_same_inputs_and_seed_give_the_same_directory(tmp_path, encoder_dir, texts):
    from pipeline.model.encoder_builder import build_encoder

    again = build_encoder(tmp_path / "again", texts, seed=0)
    for name in ("tokenizer.json", "config.json", "model.safetensors"):
        assert (again / name).read_bytes() == (encoder_dir / name).read_bytes(), name
    other = build_encoder(tmp_path / "other", texts, seed=1)
    weights = "model.safetensors"
    assert (other / weights).read_bytes() != (encoder_dir / weights).read_bytes()


def test_a_roberta_kind_loads_without_token_type_ids(tmp_path, texts):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from pipeline.model.encoder_builder import build_encoder

    d = build_encoder(tmp_path / "rob", texts[:200], kind="roberta", layers=1, hidden=32)
    tok = AutoTokenizer.from_pretrained(d)
    batch = tok(texts[:4], padding="max_length", truncation=True, max_length=128,
                return_tensors="pt")
    assert "token_type_ids" not in batch
    model = AutoModelForSequenceClassification.from_pretrained(d, num_labels=2)
    assert model.config.model_type == "roberta"
    with torch.no_grad():
        assert model(**batch).logits.shape == (4, 2)


def test_bad_sizes_are_refused_with_a_fix(tmp_path):
    from pipeline.errors import InputError
    from pipeline.model.encoder_builder import build_encoder

    with pytest.raises(InputError, match="multiple of the number of heads"):
        build_encoder(tmp_path / "x", ["a b c"], hidden=64, heads=3)
    with pytest.raises(InputError, match="kind"):
        build_encoder(tmp_path / "x", ["a b c"], kind="gpt")
    with pytest.raises(InputError, match="non-empty text"):
        build_encoder(tmp_path / "x", ["", "  "])

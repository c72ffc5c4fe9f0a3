"""ONNX int8 export of a fine-tuned encoder: it scores like torch, on any batch shape."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import vihsd_rows
from tests.model.onnx_parity import assert_fp32_matches, assert_int8_agrees, fine_tuned_classifier

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("onnxruntime")

MAX_LENGTH = 128


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.fixture(scope="module")
def encoder_dir(tmp_path_factory):
    from pipeline.model.encoder_builder import build_encoder

    rows = vihsd_rows("train", 500)
    root = tmp_path_factory.mktemp("onnx")
    base = build_encoder(root / "base", [r["text"] for r in rows], seed=0)
    return fine_tuned_classifier(base, root / "encoder", rows)


@pytest.fixture(scope="module")
def exported(encoder_dir):
    from pipeline.model.onnx_runtime import export_onnx

    return export_onnx(encoder_dir)


def _torch_logits(encoder_dir, batch) -> np.ndarray:
    import torch
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(encoder_dir).eval()
    with torch.no_grad():
        return model(
            input_ids=torch.as_tensor(batch["input_ids"]),
            attention_mask=torch.as_tensor(batch["attention_mask"]),
        ).logits.numpy()


def test_export_writes_only_the_int8_file(encoder_dir, exported):
    from pipeline.model.onnx_runtime import ONNX_FILE, has_onnx

    assert exported == encoder_dir / ONNX_FILE and has_onnx(encoder_dir)
    assert not any(p.suffix == ".onnx" and p.name != ONNX_FILE for p in encoder_dir.rglob("*"))
    assert not [p for p in encoder_dir.iterdir() if p.name.startswith(".onnx-export")]
    # int8 weights: well under the fp32 safetensors.
    assert exported.stat().st_size < 0.6 * (encoder_dir / "model.safetensors").stat().st_size


def _padded_posts(encoder_dir, count: int):
    from transformers import AutoTokenizer

    posts = [r["text"] for r in vihsd_rows("test", count)]
    return AutoTokenizer.from_pretrained(encoder_dir)(
        posts, padding="max_length", truncation=True, max_length=MAX_LENGTH, return_tensors="np"
    )


def test_the_fp32_graph_scores_exactly_like_torch(encoder_dir, tmp_path):
    import shutil

    from pipeline.model.onnx_runtime import FP32_ONNX_FILE, OnnxEncoder, export_onnx

    copy = shutil.copytree(encoder_dir, tmp_path / "encoder",
                           ignore=shutil.ignore_patterns("*.onnx"))
    assert export_onnx(copy, int8=False) == copy / FP32_ONNX_FILE
    batch = _padded_posts(copy, 64)
    p_onnx = _softmax(OnnxEncoder(copy, threads=1, int8=False).logits(
        batch["input_ids"], batch["attention_mask"]))
    assert_fp32_matches(p_onnx, _softmax(_torch_logits(encoder_dir, batch)))


def test_the_int8_graph_keeps_labels_and_risk_order_on_real_posts(encoder_dir, exported):
    from pipeline.model.onnx_runtime import OnnxEncoder

    batch = _padded_posts(encoder_dir, 128)
    onnx_logits = OnnxEncoder(encoder_dir, threads=1).logits(
        batch["input_ids"], batch["attention_mask"]
    )
    assert onnx_logits.dtype == np.float32 and onnx_logits.shape == (128, 3)
    p_torch = _softmax(_torch_logits(encoder_dir, batch))
    # The check means something: the probabilities differ from post to post.
    print(f"spread of P across posts: {p_torch.std(axis=0).max():.3f}")
    assert p_torch.std(axis=0).max() > 0.15
    assert_int8_agrees(_softmax(onnx_logits), p_torch, risk_columns=[1, 2])


def test_any_batch_size_and_length_works_and_padding_is_masked(encoder_dir, exported):
    from transformers import AutoTokenizer

    from pipeline.model.onnx_runtime import OnnxEncoder

    posts = [r["text"] for r in vihsd_rows("test", 7)]
    tok = AutoTokenizer.from_pretrained(encoder_dir)
    encoder = OnnxEncoder(encoder_dir)
    assert encoder.threads >= 1
    for size, length in ((1, 5), (7, 33), (3, MAX_LENGTH)):
        batch = tok(posts[:size], padding="max_length", truncation=True, max_length=length,
                    return_tensors="np")
        assert encoder.logits(batch["input_ids"], batch["attention_mask"]).shape == (size, 3)
    # One post alone and padded to 128 in a batch: about the same probabilities.
    alone = tok(posts[:1], return_tensors="np")
    padded = tok(posts, padding="max_length", max_length=MAX_LENGTH, truncation=True,
                 return_tensors="np")
    p_alone = _softmax(encoder.logits(alone["input_ids"], alone["attention_mask"]))[0]
    p_padded = _softmax(encoder.logits(padded["input_ids"], padded["attention_mask"]))[0]
    assert np.abs(p_alone - p_padded).max() < 0.01


def test_a_directory_that_is_not_a_classifier_is_refused(tmp_path, encoder_dir):
    from pipeline.errors import InputError, ModelDirError
    from pipeline.model.onnx_runtime import OnnxEncoder, export_onnx, has_onnx

    with pytest.raises(ModelDirError, match=r"no config\.json"):
        export_onnx(tmp_path)
    config = json.loads((encoder_dir / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "architectures": ["BertModel"]}))
    with pytest.raises(ModelDirError, match="ForSequenceClassification"):
        export_onnx(tmp_path)
    assert not has_onnx(tmp_path)
    with pytest.raises(ModelDirError, match="export-onnx"):
        OnnxEncoder(tmp_path)
    with pytest.raises(InputError, match="threads"):
        OnnxEncoder(encoder_dir, threads=0)


def test_a_missing_onnxruntime_says_how_to_install_it(monkeypatch, encoder_dir):
    import sys

    from pipeline.errors import InputError
    from pipeline.model.onnx_runtime import OnnxEncoder

    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(InputError, match=r"pip install -e '\.\[transformer\]'") as caught:
        OnnxEncoder(encoder_dir)
    assert isinstance(caught.value, ImportError)  # so the scorer can fall back to torch


def _model_dir(root, family: str):
    from pipeline.model.directory import FORMAT

    d = root / "hostile" / f"{family}-1"
    d.mkdir(parents=True)
    (d / "config.json").write_text(json.dumps({"format": FORMAT, "family": family}))
    return d


def test_cli_exports_a_transformer_model_and_refuses_a_linear_one(
    tmp_path, encoder_dir, capsys
):
    import shutil

    from pipeline.cli import main
    from pipeline.model.onnx_runtime import ONNX_FILE

    root = tmp_path / "models"
    linear = _model_dir(root, "linear")
    assert main(["models", "export-onnx", str(linear)]) == 2
    assert "transformer" in capsys.readouterr().err

    transformer = _model_dir(root, "transformer")
    shutil.copytree(encoder_dir, transformer / "encoder",
                    ignore=shutil.ignore_patterns("*.onnx"))
    assert main(["models", "export-onnx", "hostile/transformer-1", "--models-root",
                 str(root)]) == 0
    out = capsys.readouterr().out
    assert str(transformer / "encoder" / ONNX_FILE) in out and "MB" in out
    assert (transformer / "encoder" / ONNX_FILE).is_file()

    assert main(["models", "export-onnx", "hostile/nope-1", "--models-root", str(root)]) == 2


def test_cli_exports_a_fine_tuned_transformer_model_that_then_scores_with_onnx(tmp_path):
    from pipeline.cli import main
    from pipeline.model import transformer
    from pipeline.model.directory import read_config, save_model
    from pipeline.model.encoder_builder import build_encoder
    from pipeline.tasks import load_task

    rows = vihsd_rows("train", 96)
    texts, labels = [r["text"] for r in rows], [r["label"] for r in rows]
    task = load_task("hostile")
    scorer = transformer.TransformerScorer(
        task, base_model=str(build_encoder(tmp_path / "base", texts)), segmented_input=False,
        max_steps=2, batch_size=16,
    ).fit(texts, labels)
    root = tmp_path / "models"
    model_dir = save_model(scorer, root / "hostile" / "transformer-1", extra_config={})
    assert main(["models", "export-onnx", "hostile/transformer-1", "--models-root",
                 str(root)]) == 0
    loaded = transformer.TransformerScorer.load(model_dir, read_config(model_dir), task)
    assert loaded.backend_ == "onnx"
    proba = loaded.predict_proba([r["text"] for r in vihsd_rows("test", 8)])
    assert proba.shape == (8, 3) and np.allclose(proba.sum(axis=1), 1.0, atol=1e-5)

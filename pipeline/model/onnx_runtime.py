"""ONNX int8 export of a fine-tuned encoder, and CPU scoring with onnxruntime.

A transformer model directory keeps its fine-tuned encoder (``save_pretrained`` of an
``AutoModelForSequenceClassification`` plus its tokenizer) in ``<model_dir>/encoder/``.
:func:`export_onnx` writes ``encoder/model.int8.onnx`` beside it: the graph is traced with
torch's TorchScript exporter (the dynamo exporter needs ``onnxscript``), takes
``input_ids`` and ``attention_mask`` with dynamic batch and sequence axes, returns
``logits``, and its weights are dynamically quantised to int8. :class:`OnnxEncoder` runs it
on the CPU. Tokenisation stays with the tokenizer in the same directory.

Needs the ``transformer`` extra (``pip install -e '.[transformer]'``): torch and
transformers to export, onnxruntime to export and to score.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

from ..errors import InputError, ModelDirError
from .config_file import read_config

ONNX_FILE = "model.int8.onnx"
FP32_ONNX_FILE = "model.fp32.onnx"  # only on request: the reference the int8 graph is checked by
ENCODER_DIR = "encoder"  # inside a transformer model directory: the fine-tuned encoder
INPUT_NAMES = ("input_ids", "attention_mask")
OUTPUT_NAME = "logits"
_WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json")
_INSTALL = "Install the extra: pip install -e '.[transformer]'."


class MissingDependencyError(InputError, ImportError):
    """onnxruntime, onnx, torch or transformers is not installed. Also an ``ImportError``, so
    a caller that can fall back (torch scoring without onnxruntime) catches it as one."""


def has_onnx(encoder_dir: str | os.PathLike) -> bool:
    """Whether ``encoder_dir`` holds an exported int8 ONNX graph."""
    return (Path(encoder_dir) / ONNX_FILE).is_file()


def export_model_onnx(model_dir: str | os.PathLike, *, opset: int = 17) -> Path:
    """Export the encoder of a ``transformer``-family model directory (``MODEL/encoder/``)."""
    model_dir = Path(model_dir)
    family = read_config(model_dir).get("family")
    if family != "transformer":
        raise ModelDirError(
            f"model directory {model_dir}",
            expected="a model of the transformer family (config.json family 'transformer')",
            found=f"family {family!r}",
            fix="Only fine-tuned encoders have an ONNX form (linear models already score fast "
            "on the CPU); pick a transformer model from `kiemtin models list`.",
        )
    return export_onnx(model_dir / ENCODER_DIR, opset=opset)


def export_onnx(encoder_dir: str | os.PathLike, *, opset: int = 17, int8: bool = True) -> Path:
    """Export the sequence classifier in ``encoder_dir`` to ``encoder_dir/model.int8.onnx``.

    The fp32 graph is written to a temporary file, quantised to int8 (QInt8 weights, one
    scale per output channel, which halves the error of one scale per tensor at the same
    speed; activations quantised on the fly) and only the int8 file is kept; an existing one is
    replaced at the end, so a failed export leaves the directory as it was. Weights use 7 of
    the 8 bits (``reduce_range``): CPUs without VNNI add u8 x s8 products in saturating 16-bit
    sums, which with full-range weights moved probabilities by up to 0.22 where VNNI CPUs
    moved them by 0.02; with 7-bit weights both kinds of CPU give the same. ``int8=False``
    keeps the fp32 graph instead, as ``model.fp32.onnx`` (scoring never reads it: it is the
    exact reference the int8 graph's CPU-dependent error is measured against).
    """
    encoder_dir = Path(encoder_dir)
    num_labels = _check_encoder_dir(encoder_dir)
    torch = _import("torch", "torch")
    transformers = _import("transformers", "transformers")
    quantization = _import("onnxruntime.quantization", "onnxruntime")

    # Eager attention: the SDPA path may drop an all-ones mask while tracing and bake that in.
    model = transformers.AutoModelForSequenceClassification.from_pretrained(
        encoder_dir, attn_implementation="eager"
    )
    model.eval()

    class _Logits(torch.nn.Module):
        """input_ids + attention_mask → logits; the model makes any token_type_ids itself."""

        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask).logits

    # A batch with padding, so the traced graph keeps the attention mask.
    length = min(16, int(getattr(model.config, "max_position_embeddings", 16)) - 2)
    token = 5 % int(model.config.vocab_size)
    input_ids = torch.full((2, length), token, dtype=torch.long)
    attention_mask = torch.ones((2, length), dtype=torch.long)
    attention_mask[1, length // 2:] = 0
    axes = {name: {0: "batch", 1: "sequence"} for name in INPUT_NAMES}
    axes[OUTPUT_NAME] = {0: "batch"}

    with tempfile.TemporaryDirectory(dir=encoder_dir, prefix=".onnx-export-") as tmp:
        fp32_path = Path(tmp) / FP32_ONNX_FILE
        int8_path = Path(tmp) / ONNX_FILE
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # tracer and deprecation chatter
            torch.onnx.export(
                _Logits(model),
                (input_ids, attention_mask),
                str(fp32_path),
                input_names=list(INPUT_NAMES),
                output_names=[OUTPUT_NAME],
                dynamic_axes=axes,
                opset_version=opset,
                do_constant_folding=True,
                dynamo=False,
            )
        if not int8:
            _set_metadata(fp32_path, num_labels=num_labels, opset=opset)
            os.replace(fp32_path, encoder_dir / FP32_ONNX_FILE)
            return encoder_dir / FP32_ONNX_FILE
        with _quiet_root_logger():  # "consider pre-processing": its shape inference fails here
            quantization.quantize_dynamic(
                fp32_path,
                int8_path,
                weight_type=quantization.QuantType.QInt8,
                per_channel=True,
                reduce_range=True,
            )
        _set_metadata(int8_path, num_labels=num_labels, opset=opset)
        os.replace(int8_path, encoder_dir / ONNX_FILE)
    return encoder_dir / ONNX_FILE


class OnnxEncoder:
    """The int8 graph in ``encoder_dir`` on onnxruntime's CPU provider.

    ``threads`` sets ``intra_op_num_threads`` (default: every core this process may use);
    ``int8=False`` runs the fp32 graph of ``export_onnx(..., int8=False)`` instead.
    """

    def __init__(
        self, encoder_dir: str | os.PathLike, threads: int | None = None, *, int8: bool = True
    ):
        self.encoder_dir = Path(encoder_dir)
        path = self.encoder_dir / (ONNX_FILE if int8 else FP32_ONNX_FILE)
        if not path.is_file():
            raise ModelDirError(
                f"encoder directory {self.encoder_dir}",
                expected=f"an exported {path.name}",
                found="no ONNX file",
                fix="Export it first: kiemtin models export-onnx MODEL.",
            )
        if threads is not None and threads < 1:
            raise InputError(
                "ONNX threads",
                expected="a positive number of threads, or None for every core",
                found=str(threads),
                fix="Pass threads=None or a count of at least 1.",
            )
        ort = _import("onnxruntime", "onnxruntime")
        options = ort.SessionOptions()
        self.threads = threads or _cores()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(
                str(path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as e:  # onnxruntime raises its own untyped errors
            raise ModelDirError(
                f"ONNX file {path}",
                expected="a graph onnxruntime can load",
                found=f"{type(e).__name__}: {str(e)[:200]}",
                fix="Export it again: kiemtin models export-onnx MODEL.",
            ) from e
        names = [i.name for i in self.session.get_inputs()]
        if names != list(INPUT_NAMES):
            raise ModelDirError(
                f"ONNX file {path}",
                expected=f"inputs {list(INPUT_NAMES)}",
                found=f"inputs {names}",
                fix="Export it again: kiemtin models export-onnx MODEL.",
            )

    def logits(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """float32 logits of shape (batch, num_labels) for a padded batch."""
        input_ids = np.asarray(input_ids, dtype=np.int64)
        attention_mask = np.asarray(attention_mask, dtype=np.int64)
        if input_ids.ndim != 2 or input_ids.shape != attention_mask.shape:
            raise InputError(
                "ONNX encoder inputs",
                expected="input_ids and attention_mask of the same (batch, length) shape",
                found=f"shapes {input_ids.shape} and {attention_mask.shape}",
                fix="Tokenise with padding=True and return_tensors='np'.",
            )
        (out,) = self.session.run(
            [OUTPUT_NAME], {"input_ids": input_ids, "attention_mask": attention_mask}
        )
        return np.asarray(out, dtype=np.float32)


def _check_encoder_dir(encoder_dir: Path) -> int:
    """The number of labels of the sequence classifier saved in ``encoder_dir``."""
    fix = (
        "Point at the encoder/ directory of a transformer model, which holds what "
        "save_pretrained wrote for an AutoModelForSequenceClassification and its tokenizer."
    )
    config_path = encoder_dir / "config.json"
    if not config_path.is_file():
        raise ModelDirError(
            f"encoder directory {encoder_dir}",
            expected="config.json from save_pretrained",
            found="no config.json" if encoder_dir.is_dir() else "no such directory",
            fix=fix,
        )
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ModelDirError(
            f"encoder config {config_path}", expected="JSON", found=str(e), fix=fix
        ) from e
    architectures = config.get("architectures") or []
    if "model_type" not in config or not any(
        a.endswith("ForSequenceClassification") for a in architectures
    ):
        raise ModelDirError(
            f"encoder directory {encoder_dir}",
            expected="a fine-tuned *ForSequenceClassification model (config.json "
            "architectures and model_type)",
            found=f"model_type={config.get('model_type')!r}, architectures={architectures}",
            fix=fix,
        )
    if not any((encoder_dir / name).is_file() for name in _WEIGHT_FILES):
        raise ModelDirError(
            f"encoder directory {encoder_dir}",
            expected=f"safetensors weights ({' or '.join(_WEIGHT_FILES)})",
            found="no weights",
            fix=fix,
        )
    id2label = config.get("id2label") or {}
    return len(id2label) or int(config.get("num_labels") or 2)


def _set_metadata(path: Path, *, num_labels: int, opset: int) -> None:
    onnx = _import("onnx", "onnx")
    model = onnx.load(str(path))
    for key, value in {"kiemtin.num_labels": num_labels, "kiemtin.opset": opset}.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, str(value)
    onnx.save(model, str(path))


@contextlib.contextmanager
def _quiet_root_logger():
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _import(module: str, package: str):
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise MissingDependencyError(
            "ONNX export and scoring",
            expected=f"the {package} package",
            found=f"ImportError: {e}",
            fix=_INSTALL,
        ) from e

"""int8 ONNX vs torch on this CPU: max |dP|, top-label agreement, risk rank correlation.

int8 kernels differ by CPU (VNNI or not). ``build`` fine-tunes tiny encoders on ViHSD for
several step counts, exports each as fp32 and int8 ONNX (full-range and 7-bit weights) and
saves 128 tokenised ViHSD test comments with torch's probabilities; ``measure`` runs the
graphs with onnxruntime and prints one row per graph. Build once, then measure on the CPU
you care about, or under an emulated one (qemu's user mode passes its CPU model's features
to onnxruntime's kernel choice):

    python benchmarks/onnx_int8_parity.py build /tmp/parity
    python benchmarks/onnx_int8_parity.py measure /tmp/parity
    PYTHONPATH=.venv/lib/python3.11/site-packages qemu-x86_64 -cpu Haswell \\
        "$(readlink -f .venv/bin/python)" benchmarks/onnx_int8_parity.py measure /tmp/parity

(``apt-get install qemu-user``; measuring under emulation takes about ten minutes.)
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

STEPS = (60, 150, 300)
POSTS = 128
MAX_LENGTH = 128


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def build(root: Path) -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    import torch
    from onnxruntime import quantization
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from pipeline.model.encoder_builder import build_encoder
    from pipeline.model.onnx_runtime import export_onnx
    from tests.conftest import vihsd_rows
    from tests.model.onnx_parity import fine_tuned_classifier

    rows = vihsd_rows("train", 500)
    base = build_encoder(root / "base", [r["text"] for r in rows], seed=0)
    posts = [r["text"] for r in vihsd_rows("test", POSTS)]
    for steps in STEPS:
        encoder = fine_tuned_classifier(base, root / f"steps-{steps}", rows, steps=steps)
        export_onnx(encoder)  # model.int8.onnx: 7-bit weights, what scoring uses
        fp32 = export_onnx(encoder, int8=False)
        quantization.quantize_dynamic(  # the export before 7-bit weights, for comparison
            fp32, encoder / "model.int8-full-range.onnx",
            weight_type=quantization.QuantType.QInt8, per_channel=True,
        )
        batch = AutoTokenizer.from_pretrained(encoder)(
            posts, padding="max_length", truncation=True, max_length=MAX_LENGTH,
            return_tensors="np",
        )
        model = AutoModelForSequenceClassification.from_pretrained(encoder).eval()
        with torch.no_grad():
            logits = model(input_ids=torch.as_tensor(batch["input_ids"]),
                           attention_mask=torch.as_tensor(batch["attention_mask"])).logits
        np.savez(encoder / "posts.npz", input_ids=batch["input_ids"],
                 attention_mask=batch["attention_mask"], p_torch=_softmax(logits.numpy()))
    print(f"built {len(STEPS)} encoders under {root}")


def measure(root: Path) -> None:
    import onnxruntime as ort
    from scipy.stats import spearmanr

    from tests.model.onnx_parity import cpu_description

    print(cpu_description())
    print("| fine-tuning steps | graph | max abs dP | top label agrees | risk Spearman |")
    print("|---:|---|---:|---:|---:|")
    for steps in STEPS:
        encoder = root / f"steps-{steps}"
        saved = np.load(encoder / "posts.npz")
        p_torch = saved["p_torch"]
        for name in ("model.fp32.onnx", "model.int8.onnx", "model.int8-full-range.onnx"):
            options = ort.SessionOptions()
            options.intra_op_num_threads = 1
            session = ort.InferenceSession(str(encoder / name), options,
                                           providers=["CPUExecutionProvider"])
            (logits,) = session.run(["logits"], {"input_ids": saved["input_ids"],
                                                 "attention_mask": saved["attention_mask"]})
            p = _softmax(logits)
            diff = np.abs(p - p_torch).max()
            top = (p.argmax(1) == p_torch.argmax(1)).mean()
            rho = spearmanr(1 - p[:, 0], 1 - p_torch[:, 0]).statistic
            print(f"| {steps} | {name} | {diff:.4f} | {top:.3f} | {rho:.4f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=["build", "measure"])
    parser.add_argument("dir", type=Path, help="where the encoders are built and read")
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    build(args.dir) if args.step == "build" else measure(args.dir)


if __name__ == "__main__":
    main()

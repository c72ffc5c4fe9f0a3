"""What an int8 ONNX graph must keep of the model it was exported from, on any x86-64 CPU.

int8 kernels differ by CPU (VNNI or not), so exact agreement is asked only of the fp32
graph; the int8 one is held to what users rely on: the same top label, the same risk order,
probabilities within a measured tolerance. Failures name the CPU's features.
"""

from __future__ import annotations

import platform
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from tests.conftest import HOSTILE_NAMES

FP32_MAX_ABS_DIFF = 1e-4
# Largest |P_int8 - P_torch| measured on the tests' tiny encoders (tests/model/test_onnx_runtime.py,
# tests/model/test_transformer.py): 0.0063-0.0174 on a VNNI CPU, the same (7-bit weights) under
# qemu -cpu Haswell (AVX2, no VNNI); 0.05 leaves room for other kernels.
INT8_MAX_ABS_DIFF = 0.05
INT8_MIN_TOP_LABEL_AGREEMENT = 0.98
INT8_MIN_RISK_RANK_CORRELATION = 0.99
_FEATURES = ("avx2", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "amx_int8")


def cpu_description() -> str:
    """The CPU's model name and the features int8 kernels are chosen by."""
    name, flags = platform.processor() or platform.machine(), set()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                name = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
                break
    present = [f for f in _FEATURES if f in flags] or ["none of " + ", ".join(_FEATURES)]
    return f"{name}; features: {' '.join(present)}"


def assert_fp32_matches(p_onnx: np.ndarray, p_torch: np.ndarray) -> None:
    diff = float(np.abs(p_onnx - p_torch).max())
    assert diff < FP32_MAX_ABS_DIFF, (
        f"fp32 ONNX vs torch: max |dP| {diff:.2e} >= {FP32_MAX_ABS_DIFF} ({cpu_description()})"
    )


def assert_int8_agrees(p_int8: np.ndarray, p_torch: np.ndarray, risk_columns) -> None:
    """Top label on >= 98% of posts, Spearman of risk >= 0.99, max |dP| <= 0.05."""
    columns = list(risk_columns)
    top = float((p_int8.argmax(1) == p_torch.argmax(1)).mean())
    rho = float(spearmanr(p_int8[:, columns].sum(1), p_torch[:, columns].sum(1)).statistic)
    diff = float(np.abs(p_int8 - p_torch).max())
    figures = (
        f"int8 ONNX vs torch over {len(p_int8)} posts: top label agrees on {top:.3f}, risk rank "
        f"correlation {rho:.4f}, max |dP| {diff:.4f} ({cpu_description()})"
    )
    print(figures)
    assert top >= INT8_MIN_TOP_LABEL_AGREEMENT, figures
    assert rho >= INT8_MIN_RISK_RANK_CORRELATION, figures
    assert diff <= INT8_MAX_ABS_DIFF, figures


def fine_tuned_classifier(base_dir, out_dir, rows, *, steps: int = 150, seed: int = 0):
    """A 3-label sequence classifier from a tiny base encoder, fine-tuned on ViHSD rows long
    enough that its weights and probabilities look like a trained model's (spread over
    posts, not all near the prior) and saved like the scorer saves its encoder/."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(seed)
    tok = AutoTokenizer.from_pretrained(base_dir)
    model = AutoModelForSequenceClassification.from_pretrained(base_dir, num_labels=3)
    optimiser = torch.optim.AdamW(model.parameters(), lr=2e-3)
    model.train()
    for step in range(steps):
        chunk = [rows[(step * 16 + i) % len(rows)] for i in range(16)]
        batch = tok([r["text"] for r in chunk], padding=True, truncation=True, max_length=32,
                    return_tensors="pt")
        labels = torch.tensor([HOSTILE_NAMES.index(r["label"]) for r in chunk])
        loss = model(**batch, labels=labels).loss
        loss.backward()
        optimiser.step()
        optimiser.zero_grad()
    model.eval()
    model.save_pretrained(out_dir)
    tok.save_pretrained(out_dir)
    return out_dir

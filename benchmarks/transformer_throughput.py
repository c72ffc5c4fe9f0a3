"""Transformer CPU scoring throughput: torch fp32 vs ONNX int8 (onnxruntime).

Builds two encoders from ViHSD texts with ``pipeline.model.encoder_builder`` (random
weights: throughput does not depend on what the weights are), adds a random 3-label head,
exports each with ``export_onnx`` and scores ViHSD test posts in batches of 32, padded or
truncated to 128 tokens, after one warm-up batch. Tokenisation is done once beforehand and
is not timed: the figures are the encoder's forward pass only, batch size over the median
batch time, torch and ONNX taking turns batch by batch.

- tiny: 2 layers, hidden 64, 2 heads (what the tests use)
- small: 6 layers, hidden 384, 6 heads, intermediate 1536 (about the compute of a
  distilled base encoder; PhoBERT-base is 12 layers, hidden 768, roughly 8x this)

Prints export time, file sizes, threads and posts/s per backend. Needs the transformer
extra and the reference corpora at ../shared/corpora.

    python benchmarks/transformer_throughput.py                  # 2,048 posts, every core
    python benchmarks/transformer_throughput.py --posts 512 --threads 1
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import tempfile
import time
from itertools import islice
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

CORPORA = Path(__file__).resolve().parents[1].parent / "shared" / "corpora"
SIZES = {
    "tiny": dict(layers=2, hidden=64, heads=2, intermediate=None, vocab_size=2000),
    "small": dict(layers=6, hidden=384, heads=6, intermediate=1536, vocab_size=8000),
}
BATCH = 32
LENGTH = 128


def vihsd(split: str, limit: int) -> list[str]:
    with open(CORPORA / "vihsd" / f"{split}.csv", encoding="utf-8", newline="") as f:
        return [row["free_text"] for row in islice(csv.DictReader(f), limit)]


def rates(scorers: dict, input_ids: np.ndarray, attention_mask: np.ndarray) -> dict:
    """posts/s per scorer: the batch size over the median time of one batch, after a warm-up
    batch. The scorers take turns batch by batch and the median is used, so other work on a
    shared machine slows them alike and does not skew the comparison."""
    seconds: dict = {name: [] for name in scorers}
    for score in scorers.values():
        score(input_ids[:BATCH], attention_mask[:BATCH])
    for i in range(0, len(input_ids), BATCH):
        for name, score in scorers.items():
            started = time.perf_counter()
            score(input_ids[i:i + BATCH], attention_mask[i:i + BATCH])
            seconds[name].append(time.perf_counter() - started)
    return {name: BATCH / statistics.median(s) for name, s in seconds.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=2048, help="posts to score (default 2048)")
    parser.add_argument("--threads", type=int, help="threads for torch and onnxruntime "
                        "(default: every core)")
    parser.add_argument("--sizes", nargs="+", choices=sorted(SIZES), default=list(SIZES))
    args = parser.parse_args()

    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from pipeline.model.encoder_builder import build_encoder
    from pipeline.model.onnx_runtime import OnnxEncoder, export_onnx

    threads = args.threads or len(os.sched_getaffinity(0))
    torch.set_num_threads(threads)
    train_texts = vihsd("train", 5000)
    posts = vihsd("test", args.posts)
    posts = (posts * (args.posts // max(len(posts), 1) + 1))[: args.posts]
    print(f"torch {torch.__version__}, {threads} threads, {len(posts):,} ViHSD test posts, "
          f"batch {BATCH}, length {LENGTH}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.sizes:
            base = build_encoder(Path(tmp) / name, train_texts, max_length=LENGTH,
                                 **SIZES[name])
            torch.manual_seed(0)
            model = AutoModelForSequenceClassification.from_pretrained(base, num_labels=3)
            model.eval()
            encoder_dir = Path(tmp) / f"{name}-encoder"
            model.save_pretrained(encoder_dir)
            tok = AutoTokenizer.from_pretrained(base)
            tok.save_pretrained(encoder_dir)
            started = time.perf_counter()
            onnx_path = export_onnx(encoder_dir)
            export_s = time.perf_counter() - started
            batch = tok(posts, padding="max_length", truncation=True, max_length=LENGTH,
                        return_tensors="np")
            ids, mask = batch["input_ids"], batch["attention_mask"]

            def torch_score(i, m, model=model):
                with torch.inference_mode():
                    return model(input_ids=torch.from_numpy(i),
                                 attention_mask=torch.from_numpy(m)).logits.numpy()

            measured = rates(
                {"torch": torch_score,
                 "onnx": OnnxEncoder(encoder_dir, threads=threads).logits},
                ids, mask,
            )
            torch_rate, onnx_rate = measured["torch"], measured["onnx"]
            rows.append((
                name,
                f"{SIZES[name]['layers']}x{SIZES[name]['hidden']}",
                (encoder_dir / "model.safetensors").stat().st_size / 1e6,
                onnx_path.stat().st_size / 1e6,
                export_s,
                torch_rate,
                onnx_rate,
            ))
    print()
    print("| encoder | layers x hidden | fp32 safetensors | int8 ONNX | export | "
          "torch fp32 | ONNX int8 | speed-up |")
    print("|---|---|---|---|---|---|---|---|")
    for name, shape, fp32_mb, int8_mb, export_s, torch_rate, onnx_rate in rows:
        print(f"| {name} | {shape} | {fp32_mb:.1f} MB | {int8_mb:.1f} MB | {export_s:.1f} s | "
              f"{torch_rate:,.0f} posts/s | {onnx_rate:,.0f} posts/s | "
              f"{onnx_rate / torch_rate:.1f}x |")


if __name__ == "__main__":
    main()

"""Masked-LM pre-training of a small encoder on the corpora's own text, never their tests.

No pretrained Vietnamese encoder can be fetched where kiemtin is built, so the ``transformer``
family needs one made from what is here: every text of the given corpora outside their test
splits, less any text that is a test text of one of them (by :func:`same_post_key`, so a
ViHOS comment that is a ViHSD test comment stays out), prepared as the scorer feeds the
encoder (normalised and word-segmented, or normalised only with ``segmented_input=False``).

:func:`pretrain` builds a WordPiece vocabulary and a random BERT
(:func:`pipeline.model.encoder_builder.build_encoder`), cuts each text into pieces of at
most ``max_length`` tokens, and trains masked-LM on them (15% of the tokens, BERT's
80/10/10 rule, AdamW with a linear warm-up and decay) for ``epochs`` or until ``minutes``
run out, on CUDA when there is one. The directory it writes is a base model for
``train.py --family transformer --base-model DIR`` (safetensors, no pickle), with
``pretraining.json``: which texts, how many steps, the loss, the command.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..text.mask import same_post_key
from ..text.prepare import prepare
from .corpora import load_corpus

PRETRAINING_FILE = "pretraining.json"
MASK_SHARE = 0.15
WARMUP_SHARE = 0.06
LOSS_WINDOW = 50  # steps averaged for the first and last loss reported


@dataclass(frozen=True)
class PretrainingTexts:
    texts: list[str]  # as the encoder reads them
    sources: dict[str, int]  # "corpus/split": texts kept
    left_out_as_test: int  # non-test texts that are a test text of one of the corpora


@dataclass(frozen=True)
class PretrainResult:
    out_dir: Path
    steps: int
    epochs: float
    first_loss: float
    last_loss: float
    seconds: float
    stopped_by_time: bool


def pretraining_texts(
    corpora: Sequence[str | Path], segmented_input: bool = True, workers: int = 1
) -> PretrainingTexts:
    """The texts of ``corpora`` outside every test split, each distinct post once."""
    loaded = [load_corpus(path) for path in corpora]
    test_keys = {
        same_post_key(t)
        for corpus in loaded
        for t in corpus.splits.get("test", {"text": []})["text"]
        if t
    }
    kept: dict[str, str] = {}
    sources: Counter[str] = Counter()
    left_out = 0
    for corpus in loaded:
        for split, ds in corpus.splits.items():
            if split == "test":
                continue
            for text in ds["text"]:
                if not text or not text.strip():
                    continue
                key = same_post_key(text)
                if key in test_keys:
                    left_out += 1
                elif key not in kept:
                    kept[key] = text
                    sources[f"{corpus.name}/{split}"] += 1
    if not kept:
        raise InputError(
            "pre-training texts",
            expected="texts outside the corpora's test splits",
            found=f"none in {', '.join(str(c) for c in corpora)}",
            fix="Pass corpora with a train (or dev) split.",
        )
    prepared = prepare(list(kept.values()), workers=workers)
    texts = [p.segmented_text if segmented_input else p.normalised.text for p in prepared]
    return PretrainingTexts(texts, dict(sources), left_out)


def pretrain(
    out_dir: str | Path,
    texts: PretrainingTexts,
    *,
    layers: int = 4,
    hidden: int = 256,
    heads: int = 4,
    vocab_size: int = 8000,
    max_length: int = 64,
    epochs: float = 3.0,
    minutes: float | None = None,
    batch_size: int = 64,
    learning_rate: float = 5e-4,
    device: str = "auto",
    seed: int = 0,
    command: str | None = None,
    progress: Callable[[int, int, float], None] | None = None,
) -> PretrainResult:
    """Build the encoder in ``out_dir`` and pre-train it by masked-LM on ``texts``.

    ``progress(step, total_steps, loss)`` is called after every step.
    """
    import torch
    from transformers import (
        AutoModelForMaskedLM,
        AutoTokenizer,
        DataCollatorForLanguageModeling,
        get_linear_schedule_with_warmup,
    )

    from ..model.encoder_builder import build_encoder

    if epochs <= 0 or (minutes is not None and minutes <= 0):
        raise InputError(
            "pre-training length",
            expected="epochs > 0 and, if given, minutes > 0",
            found=f"epochs={epochs}, minutes={minutes}",
            fix="Pass --epochs with a positive number (and --minutes to cap the time).",
        )
    device = ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device
    out_dir = Path(out_dir)
    build_encoder(
        out_dir, texts.texts, layers=layers, hidden=hidden, heads=heads,
        vocab_size=vocab_size, max_length=max_length, seed=seed,
    )  # fmt: skip
    tokenizer = AutoTokenizer.from_pretrained(out_dir)
    pieces = _pieces(tokenizer, texts.texts, max_length)
    torch.manual_seed(seed)
    model = AutoModelForMaskedLM.from_pretrained(out_dir).to(device)
    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=MASK_SHARE)
    order = torch.Generator().manual_seed(seed)
    loader = torch.utils.data.DataLoader(
        pieces, batch_size=batch_size, shuffle=True, collate_fn=collator, generator=order
    )
    total = max(1, math.ceil(epochs * len(loader)))
    optimiser = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=0.01)
    schedule = get_linear_schedule_with_warmup(optimiser, int(WARMUP_SHARE * total), total)

    model.train()
    started = time.perf_counter()
    losses: list[float] = []
    stopped_by_time = False
    while len(losses) < total and not stopped_by_time:
        for batch in loader:
            loss = model(**{k: v.to(device) for k, v in batch.items()}).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimiser.step()
            schedule.step()
            optimiser.zero_grad()
            losses.append(loss.item())
            if progress:
                progress(len(losses), total, losses[-1])
            if len(losses) >= total:
                break
            if minutes is not None and time.perf_counter() - started > 60 * minutes:
                stopped_by_time = True
                break
    seconds = time.perf_counter() - started

    model.eval()
    model.to("cpu").save_pretrained(out_dir, safe_serialization=True)
    result = PretrainResult(
        out_dir=out_dir,
        steps=len(losses),
        epochs=round(len(losses) / len(loader), 3),
        first_loss=round(_mean(losses[:LOSS_WINDOW]), 4),
        last_loss=round(_mean(losses[-LOSS_WINDOW:]), 4),
        seconds=round(seconds, 1),
        stopped_by_time=stopped_by_time,
    )
    record = {
        "objective": f"masked-LM, {MASK_SHARE:.0%} of tokens",
        "texts": len(texts.texts),
        "sources": texts.sources,
        "left_out_as_test_texts": texts.left_out_as_test,
        "pieces": len(pieces),
        "size": {"layers": layers, "hidden": hidden, "heads": heads,
                 "vocab_size": tokenizer.vocab_size, "max_length": max_length},
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "planned_steps": total,
        "steps": result.steps,
        "epochs": result.epochs,
        "first_loss": result.first_loss,
        "last_loss": result.last_loss,
        "seconds": result.seconds,
        "stopped_by_time": stopped_by_time,
        "device": device,
        "seed": seed,
        "command": command,
    }  # fmt: skip
    (out_dir / PRETRAINING_FILE).write_text(
        json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return result


def _pieces(tokenizer, texts: list[str], max_length: int) -> list[dict]:
    """Each text's tokens cut into pieces that fit ``max_length`` with [CLS] and [SEP]."""
    room = max_length - 2
    first, last = tokenizer.cls_token_id, tokenizer.sep_token_id
    pieces = []
    for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]:
        for lo in range(0, len(ids), room):
            pieces.append({"input_ids": [first, *ids[lo : lo + room], last]})
    return pieces


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")

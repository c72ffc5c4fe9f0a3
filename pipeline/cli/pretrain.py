"""``kiemtin pretrain``: build a small encoder by masked-LM on the corpora's non-test text."""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path

from .options import Parents, count, positive_float


def add_parser(subparsers, parents: Parents) -> None:
    p = subparsers.add_parser(
        "pretrain",
        parents=[parents.common],
        help="pre-train a small encoder by masked-LM on the corpora's non-test text",
        description="Build a WordPiece vocabulary and a small BERT from every text of the "
        "corpora outside their test splits (and not a test text of any of them), pre-train "
        "it by masked-LM, and write a base model directory for "
        "'train.py --family transformer --base-model DIR'. Uses CUDA when there is one.",
    )
    p.add_argument(
        "--corpus",
        action="append",
        required=True,
        type=Path,
        help="a corpus directory (ViHSD, ReINTEL, ViHOS, or train/dev/test files); repeat "
        "for several",
    )
    p.add_argument("-o", "--output", required=True, type=Path, help="base model directory")
    p.add_argument("--layers", type=count(1), default=4, help="encoder layers (default: 4)")
    p.add_argument("--hidden", type=count(8), default=256, help="hidden size (default: 256)")
    p.add_argument("--heads", type=count(1), default=4, help="attention heads (default: 4)")
    p.add_argument(
        "--vocab-size", type=count(100), default=8000, help="WordPiece entries (default: 8000)"
    )
    p.add_argument(
        "--max-length", type=count(8), default=64, help="tokens per piece of text (default: 64)"
    )
    p.add_argument(
        "--epochs", type=positive_float, default=3.0, help="passes over the texts (default: 3)"
    )
    p.add_argument(
        "--minutes", type=positive_float, help="stop after this many minutes (default: none)"
    )
    p.add_argument("--batch-size", type=count(1), default=64, help="pieces per step (default: 64)")
    p.add_argument(
        "--learning-rate", type=positive_float, default=5e-4, help="AdamW peak (default: 5e-4)"
    )
    p.add_argument(
        "--raw-input",
        action="store_true",
        help="normalised text, not word-segmented (for a model fine-tuned with --raw-input)",
    )
    p.add_argument("--device", default="auto", help="auto (CUDA if any), cpu or cuda")
    p.add_argument("--seed", type=count(0), default=0, help="random seed (default: 0)")
    p.add_argument(
        "--workers", type=count(0), default=0, help="processes for word segmentation (0: cores)"
    )


def handle(args) -> int:
    from ..model.neural import require_torch
    from ..training.pretrain import pretrain, pretraining_texts

    require_torch("kiemtin pretrain")
    say = lambda message: print(f"kiemtin: {message}", file=sys.stderr)  # noqa: E731
    say(f"reading {', '.join(str(c) for c in args.corpus)} (every split but test)")
    texts = pretraining_texts(args.corpus, segmented_input=not args.raw_input, workers=args.workers)
    kept = ", ".join(f"{name} {n:,}" for name, n in texts.sources.items())
    say(f"{len(texts.texts):,} texts ({kept}); {texts.left_out_as_test:,} left out as test texts")
    bar = _ProgressBar()
    started = time.perf_counter()
    result = pretrain(
        args.output,
        texts,
        layers=args.layers,
        hidden=args.hidden,
        heads=args.heads,
        vocab_size=args.vocab_size,
        max_length=args.max_length,
        epochs=args.epochs,
        minutes=args.minutes,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        device=args.device,
        seed=args.seed,
        command=_command(args),
        progress=bar.update,
    )
    bar.close()
    stop = " (stopped by --minutes)" if result.stopped_by_time else ""
    print(
        f"pre-trained {result.out_dir}: {result.steps:,} steps, {result.epochs:g} epochs{stop}, "
        f"masked-LM loss {result.first_loss:.3f} -> {result.last_loss:.3f}, "
        f"{time.perf_counter() - started:.0f} s"
    )
    print(f"next: python train.py --task hostile --corpus CORPUS --family transformer "
          f"--base-model {result.out_dir}{' --raw-input' if args.raw_input else ''}")  # fmt: skip
    return 0


def _command(args) -> str:
    """The command that rebuilds this encoder, every setting spelled out."""
    words = ["kiemtin", "pretrain"]
    for corpus in args.corpus:
        words += ["--corpus", str(corpus)]
    words += ["-o", str(args.output)]
    for option in ("layers", "hidden", "heads", "vocab_size", "max_length", "epochs", "minutes",
                   "batch_size", "learning_rate", "seed"):  # fmt: skip
        value = getattr(args, option)
        if value is not None:
            words += [f"--{option.replace('_', '-')}", f"{value:g}"]
    return shlex.join(words + (["--raw-input"] if args.raw_input else []))


class _ProgressBar:
    def __init__(self):
        self._bar = None

    def update(self, step: int, total: int, loss: float) -> None:
        from tqdm.auto import tqdm

        if self._bar is None:
            self._bar = tqdm(total=total, desc="masked-LM", unit="step", file=sys.stderr)
        self._bar.set_postfix(loss=f"{loss:.3f}", refresh=False)
        self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

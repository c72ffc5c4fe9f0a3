"""``kiemtin evaluate``: score a corpus split with a model and write an HTML report."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from .options import Parents, count


def add_parser(subparsers, parents: Parents) -> None:
    ev = subparsers.add_parser(
        "evaluate",
        parents=parents.with_models_root,
        help="evaluate a model on a corpus split and write an HTML report",
        description="Score a corpus split with a model; write metrics.json, report.html and "
        "PNG plots (overall and per slice, worst errors, side by side with another model).",
    )
    ev.add_argument(
        "model",
        metavar="MODEL",
        help="model directory, or task/name-version under --models-root (hostile/linear-1)",
    )
    ev.add_argument(
        "--corpus",
        required=True,
        type=Path,
        help="corpus directory (ViHSD, ReINTEL, or train/dev/test files) or file",
    )
    ev.add_argument(
        "-o",
        "--output",
        type=Path,
        help="report directory (default: out/evaluate/<task>-<model>-<corpus>-<split>)",
    )
    ev.add_argument("--split", default="test", help="split to evaluate on (default: test)")
    ev.add_argument(
        "--against",
        default="current",
        help="compare with: current (the task's CURRENT model when it is another one; "
        "the default), none, or a model directory or task/name-version",
    )
    ev.add_argument(
        "--workers",
        type=count(0),
        default=1,
        help="processes for word segmentation (0 = one per core)",
    )


def handle(args) -> int:
    from ..model.directory import model_version
    from ..model.registry import resolve_model_dir
    from ..training.report import evaluate_model, headline

    model_dir = resolve_model_dir(args.models_root, args.model)
    out = args.output
    if out is None:
        model = model_version(model_dir).replace("/", "-")
        out = Path("out") / "evaluate" / f"{model}-{args.corpus.name}-{args.split}"
    started = time.perf_counter()
    report = evaluate_model(
        model_dir,
        args.corpus,
        out,
        split=args.split,
        against=None if args.against.lower() == "none" else args.against,
        models_root=args.models_root,
        workers=args.workers,
        progress=lambda message: print(f"kiemtin: {message}", file=sys.stderr),
    )
    seconds = time.perf_counter() - started
    print(headline(report.metrics))
    print(f"report: {report.html_path}")
    print(f"kiemtin: evaluated in {seconds:.1f} s", file=sys.stderr)
    return 0

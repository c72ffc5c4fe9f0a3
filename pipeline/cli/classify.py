"""``kiemtin classify``: score posts from CSV, JSONL or Parquet files."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from tqdm import tqdm

from ..batch.input_rows import DEFAULT_MAX_RECORD_LINES
from ..errors import KiemtinError
from .options import Parents, count

PROCESS_STARTED = time.perf_counter()  # start-up figures count the heavy imports after this
_started_once: list[bool] = []  # later runs in the same process start when they are called


def add_parser(subparsers, parents: Parents) -> None:
    c = subparsers.add_parser(
        "classify",
        parents=parents.with_models_root,
        help="score posts from a CSV, JSONL or Parquet file",
        description="Score posts; one output row per scored input row, in "
        "input order; rejected rows go to OUTPUT.rejects.jsonl with a reason.",
    )
    c.add_argument(
        "input",
        nargs="+",
        help="CSV, JSONL or Parquet files (by extension) or directories of them, read as one "
        "input in order; - reads JSONL on stdin",
    )
    c.add_argument(
        "-o",
        "--output",
        help="output file: .jsonl (default, stdout when omitted), "
        ".csv or .parquet (flattened columns)",
    )
    c.add_argument("--task", default="all", help="hostile, false or all (default: all)")
    c.add_argument(
        "--model",
        action="append",
        type=Path,
        metavar="DIR",
        help="model directory to use (repeat for several tasks); "
        "default: each task's CURRENT model",
    )
    c.add_argument("--text-column", default="text", help="column or field with the post text")
    c.add_argument(
        "--id-column",
        help="column or field with the post id (default: 'id' "
        "when present, else the line or row number)",
    )
    c.add_argument("--rejects", help="rejects file (default: OUTPUT with .rejects.jsonl)")
    c.add_argument(
        "--encoding",
        help="text encoding of CSV and JSONL inputs (default: UTF-8, or UTF-16 when the file "
        "starts with its byte order mark); e.g. latin-1, cp1258",
    )
    c.add_argument(
        "--delimiter",
        help="CSV column separator (default: sniffed from the header line among , ; tab |)",
    )
    c.add_argument(
        "--max-lines-per-row",
        type=count(1),
        default=DEFAULT_MAX_RECORD_LINES,
        help="CSV: line ends one quoted field may hold before its first line is rejected as an "
        f"unclosed quote (default: {DEFAULT_MAX_RECORD_LINES})",
    )
    c.add_argument(
        "--max-chars", type=count(1), default=100_000, help="reject longer texts (default: 100000)"
    )
    c.add_argument("--top-words", type=count(0), default=5, help="words to explain per task")
    c.add_argument(
        "--batch-size",
        type=count(1),
        default=2000,
        help="rows per chunk a worker scores (and per checkpoint; default 2000)",
    )
    c.add_argument(
        "--workers",
        type=count(0),
        default=0,
        help="worker processes that score (0 = one per core, the default); with "
        "--engine dask, the workers of the local cluster",
    )
    c.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run of the same command from its last checkpoint",
    )
    c.add_argument(
        "--engine",
        choices=["local", "dask"],
        default="local",
        help="local worker processes (default) or dask.distributed (pip install 'kiemtin[dask]')",
    )
    c.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="Dask scheduler address (tcp://host:8786); default: start a local cluster",
    )
    c.add_argument(
        "--to-queue",
        action="store_true",
        help="also put the scored posts into the review queue (KIEMTIN_DATABASE_URL)",
    )


def handle(args) -> int:
    from ..batch.input_streams import check_encoding
    from ..batch.outputs import output_format, rejects_path
    from ..batch.run import ClassifyRun, LocalEngine, classifier_for, classify_files
    from ..model.classifier import Classifier
    from ..model.directory import current_model_dir
    from ..tasks import known_tasks

    # Refuse a bad output name before any work.
    fmt = output_format(args.output)
    if args.to_queue and (fmt != "jsonl" or args.output in (None, "-")):
        raise KiemtinError(
            "--to-queue",
            expected="-o OUTPUT.jsonl (the queue reads the JSONL records)",
            found=str(args.output or "stdout"),
            fix="Write the scores to a .jsonl file with -o.",
        )
    if args.scheduler and args.engine != "dask":
        raise KiemtinError(
            "--scheduler",
            expected="--engine dask with it",
            found=f"--engine {args.engine}",
            fix="Add --engine dask, or leave --scheduler out.",
        )
    check_encoding(args.encoding)
    if args.delimiter is not None and len(args.delimiter.replace("\\t", "\t")) != 1:
        raise KiemtinError(
            "--delimiter",
            expected="one character such as , ; | or \\t (tab)",
            found=repr(args.delimiter),
            fix="Pass the single character that separates the columns.",
        )
    if args.model:
        model_dirs = list(args.model)
    else:
        tasks = known_tasks() if args.task == "all" else [args.task]
        Classifier.check_tasks(tasks)
        model_dirs = [current_model_dir(args.models_root, t) for t in tasks]
    run = ClassifyRun(
        inputs=args.input,
        output=args.output,
        rejects_path=Path(args.rejects)
        if args.rejects
        else rejects_path(args.input[0], args.output),
        model_dirs=model_dirs,
        text_column=args.text_column,
        id_column=args.id_column,
        max_chars=args.max_chars,
        top_words=args.top_words,
        chunk_rows=args.batch_size,
        encoding=args.encoding,
        delimiter=args.delimiter.replace("\\t", "\t") if args.delimiter else None,
        max_record_lines=args.max_lines_per_row,
    )
    if args.model:
        tasks = classifier_for(run.job()).tasks  # loads the models once, for every engine
        if args.task != "all" and args.task not in tasks:
            raise KiemtinError(
                "--task",
                expected=f"a task of the given models {tasks}",
                found=repr(args.task),
                fix="Drop --task or pass matching --model.",
            )
    workers = args.workers or (os.cpu_count() or 1)
    if args.engine == "dask":
        from ..batch.dask_engine import DaskEngine

        engine = DaskEngine(run.job(), workers=workers, scheduler=args.scheduler)
    else:
        engine = LocalEngine(run.job(), workers)
    progress = _progress_bar(args.input)  # also lists files a directory holds that are skipped
    try:
        started = None if _started_once else PROCESS_STARTED
        _started_once.append(True)
        summary = classify_files(
            run, engine, resume=args.resume, progress=progress, started=started
        )
    except KiemtinError:
        raise
    except BaseException:
        from ..batch.checkpoint import Checkpoint

        if args.output not in (None, "-") and Checkpoint.path_for(args.output).exists():
            print(
                "kiemtin: the run stopped; the same command with --resume continues it "
                "from the last checkpoint",
                file=sys.stderr,
            )
        raise
    finally:
        progress.close()
    for note in summary.notes:
        print(f"kiemtin: {note}", file=sys.stderr)
    if summary.already_complete:
        return 0
    for warning in summary.warnings:
        print(f"kiemtin: warning: {warning}", file=sys.stderr)
    if args.to_queue:
        from .queue import add_scored_file_from_cli

        add_scored_file_from_cli(args.output, None)
    where = f" (see {summary.rejects_path})" if summary.rejected else ""
    parquet = {str(p).lower().endswith(".parquet") for p in args.input}
    unit = {frozenset({True}): "rows", frozenset({False}): "lines"}.get(
        frozenset(parquet), "lines and rows"
    )
    print(
        f"kiemtin: read {summary.lines_read:,} {unit}; "
        f"scored {summary.scored:,} rows, rejected {summary.rejected:,}{where}; "
        f"start-up {summary.startup_seconds:.1f} s, then {summary.posts_per_second:,.0f} "
        f"posts/s over {summary.scoring_seconds:.1f} s ({args.engine} engine, "
        f"{workers} worker{'s' * (workers != 1)})",
        file=sys.stderr,
    )
    return 0


def _progress_bar(inputs: list[str]) -> tqdm:
    """Bytes read of the input's size (so an ETA) for files; rows for stdin."""
    from ..batch.inputs import find_input_files

    if any(str(p) == "-" for p in inputs):
        return tqdm(desc="scoring", unit=" posts", file=sys.stderr, disable=None)
    try:
        files, skipped = find_input_files(inputs)
        total = sum(f.stat().st_size for f in files)
    except (OSError, KiemtinError):
        files, skipped, total = [], [], None  # the run reports the problem itself
    if skipped:
        _list_skipped(skipped)
    return tqdm(
        desc="scoring",
        total=total or None,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        file=sys.stderr,
        disable=None,
    )


def _list_skipped(skipped: list[Path], shown: int = 10) -> None:
    names = ", ".join(str(p) for p in skipped[:shown])
    more = f" and {len(skipped) - shown:,} more" if len(skipped) > shown else ""
    print(
        f"kiemtin: skipped {len(skipped):,} files in the input directories that are not CSV, "
        f"JSONL or Parquet (or are hidden): {names}{more}",
        file=sys.stderr,
    )

"""Classify files of posts in chunks: rows stream in, workers score, chunks are written in
input order, and a checkpoint after each chunk lets a killed run ``--resume``.

    parent: read rows ─▶ chunk ─▶ engine (worker processes, or Dask) ─▶ write in order
    worker: prepare + score + explain + encode the chunk's output bytes (score_chunk)

The parent only reads, hands out and writes bytes; every per-post step runs in
:func:`score_chunk`, the one function both engines call, so they write the same bytes.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from ..errors import InputError
from ..model.classifier import Classifier
from .checkpoint import Checkpoint, fingerprint
from .input_rows import DEFAULT_MAX_RECORD_LINES
from .input_stats import ReadStats
from .inputs import ReadOptions, Reject, Row, input_files, read_inputs
from .output_lock import OutputLock
from .outputs import (
    PartialOutput,
    PartialRejects,
    csv_header,
    encode_records,
    finish_partial_output,
    output_format,
)

DEFAULT_CHUNK_ROWS = 2000


@dataclass(frozen=True)
class ScoringJob:
    """What a worker needs to score a chunk exactly as every other worker does."""

    model_dirs: tuple[str, ...]
    top_words: int
    output_format: str


@dataclass
class Chunk:
    rows: list[Row]
    rejects: list[Reject]  # rows the reader already refused: they stay with the parent
    items: int  # input items (rows + rejects) the chunk covers


@dataclass
class ScoredChunk:
    payload: bytes  # the chunk's output, encoded
    rejects: list[dict]  # rows whose scoring failed
    scored: int


# One classifier per worker process, built on its first chunk (or inherited on fork).
_classifiers: dict[ScoringJob, Classifier] = {}


def classifier_for(job: ScoringJob) -> Classifier:
    if job not in _classifiers:
        _classifiers[job] = Classifier.from_dirs([Path(d) for d in job.model_dirs], job.top_words)
        # The models live as long as the process: keep the cyclic garbage collector from
        # scanning them again and again (about 8% of scoring time), and let it run less
        # often while chunks allocate millions of short-lived tuples.
        gc.freeze()
        gc.set_threshold(20_000, 20, 20)
    return _classifiers[job]


def score_chunk(job: ScoringJob, rows: list[Row]) -> ScoredChunk:
    classifier = classifier_for(job)
    records, failed = classifier.score_rows_or_reject(rows)
    payload = encode_records(records, job.output_format, classifier.tasks, _labels(classifier))
    return ScoredChunk(payload, [r.to_dict() for r in failed], len(records))


def _labels(classifier: Classifier) -> dict[str, list[str]]:
    return {t: list(m.classes_) for t, m in classifier.models.items()}


class LocalEngine:
    """Chunks scored in this process (one worker) or in a pool of worker processes.

    At most two chunks per worker are in flight, so memory does not grow with the input.
    """

    def __init__(self, job: ScoringJob, workers: int):
        self.job = job
        self.workers = max(1, workers)
        self._pool: ProcessPoolExecutor | None = None

    def start(self) -> None:
        classifier_for(self.job)  # load (and check) the models once; forked workers inherit them
        if self.workers > 1:
            methods = multiprocessing.get_all_start_methods()
            context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
            self._pool = ProcessPoolExecutor(self.workers, mp_context=context)
            # Start every worker now, so start-up is not counted as scoring time.
            for f in [self._pool.submit(os.getpid) for _ in range(self.workers)]:
                f.result()

    def map_in_order(self, chunks: Iterable[Chunk]) -> Iterator[tuple[Chunk, ScoredChunk]]:
        if self._pool is None:
            for chunk in chunks:
                yield chunk, score_chunk(self.job, chunk.rows)
            return
        yield from in_order(
            chunks, lambda c: self._pool.submit(score_chunk, self.job, c.rows), 2 * self.workers
        )

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)


def in_order(chunks: Iterable[Chunk], submit, in_flight: int) -> Iterator[tuple[Chunk, object]]:
    """Submit chunks, keeping at most ``in_flight`` pending, and yield results in order."""
    pending: deque[tuple[Chunk, Future]] = deque()
    chunks = iter(chunks)
    for chunk in chunks:
        pending.append((chunk, submit(chunk)))
        if len(pending) >= in_flight:
            done, future = pending.popleft()
            yield done, future.result()
    while pending:
        done, future = pending.popleft()
        yield done, future.result()


def chunked(items: Iterable[Row | Reject], size: int) -> Iterator[Chunk]:
    items = iter(items)
    while batch := list(islice(items, size)):
        rows = [x for x in batch if isinstance(x, Row)]
        rejects = [x for x in batch if isinstance(x, Reject)]
        yield Chunk(rows, rejects, len(batch))


@dataclass
class RunSummary:
    scored: int = 0
    rejected: int = 0
    items: int = 0
    scored_this_run: int = 0
    startup_seconds: float = 0.0
    scoring_seconds: float = 0.0
    rejects_path: Path | None = None
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    lines_read: int = 0  # physical lines of CSV and JSONL inputs, rows of Parquet ones
    already_complete: bool = False  # --resume found the output finished: nothing was run

    @property
    def posts_per_second(self) -> float:
        return self.scored_this_run / max(self.scoring_seconds, 1e-9)


@dataclass
class ClassifyRun:
    """One ``kiemtin classify`` over files: options that shape the output, and where it goes."""

    inputs: list[str]
    output: str | None
    rejects_path: Path
    model_dirs: list[Path]
    text_column: str = "text"
    id_column: str | None = None
    max_chars: int = 100_000
    top_words: int = 5
    chunk_rows: int = DEFAULT_CHUNK_ROWS
    encoding: str | None = None
    delimiter: str | None = None
    max_record_lines: int = DEFAULT_MAX_RECORD_LINES

    def read_options(self, content_columns: tuple[str, ...] = ()) -> ReadOptions:
        """How to read the inputs; ``content_columns``: the columns the models' content
        features read (``Classifier.content_columns``)."""
        return ReadOptions(
            self.text_column,
            self.id_column,
            self.max_chars,
            self.encoding,
            self.delimiter,
            self.max_record_lines,
            content_columns,
        )

    def job(self) -> ScoringJob:
        dirs = tuple(str(Path(d).resolve()) for d in self.model_dirs)
        return ScoringJob(dirs, self.top_words, output_format(self.output))

    def fingerprint(self, classifier: Classifier) -> dict:
        return fingerprint(
            self.inputs,
            {
                "models": classifier.versions,
                "model_dirs": [str(Path(d).resolve()) for d in self.model_dirs],
                "top_words": self.top_words,
                "text_column": self.text_column,
                "id_column": self.id_column,
                "max_chars": self.max_chars,
                "encoding": self.encoding,
                "delimiter": self.delimiter,
                "max_record_lines": self.max_record_lines,
                "output_format": output_format(self.output),
            },
        )


def classify_files(
    run: ClassifyRun, engine, resume: bool = False, progress=None, started: float | None = None
) -> RunSummary:
    """Score every input row once, in order, into ``run.output`` (stdout when None).

    ``engine`` is a :class:`LocalEngine` or a Dask engine. With ``resume`` an interrupted
    run of the same command continues from its last checkpoint. Start-up is counted from
    ``started`` (a ``time.perf_counter()`` value; default: now) until the first chunk.
    """
    began = time.perf_counter() if started is None else started
    if resume and run.output in (None, "-"):
        raise InputError(
            "--resume",
            expected="-o OUTPUT (a file the earlier run was writing)",
            found="output to stdout",
            fix="Pass the same -o as the run to resume.",
        )
    if resume and any(str(p) == "-" for p in run.inputs):
        raise InputError(
            "--resume",
            expected="named input files (the run must read the same rows again)",
            found="input from stdin",
            fix="Save the input to a file and classify that file.",
        )
    if run.output in (None, "-"):
        return _score_with(engine, run, resume, progress, began)
    with OutputLock(run.output):  # a second run on the same output is refused, before any work
        return _score_with(engine, run, resume, progress, began)


def _score_with(engine, run: ClassifyRun, resume: bool, progress, began: float) -> RunSummary:
    engine.start()
    try:
        return _score_all(run, engine, resume, progress, began)
    finally:
        engine.close()


def _score_all(run: ClassifyRun, engine, resume: bool, progress, began: float) -> RunSummary:
    summary = RunSummary(rejects_path=run.rejects_path)
    classifier = classifier_for(engine.job)
    fmt = output_format(run.output)
    labels = _labels(classifier)
    empty = encode_records([], fmt, classifier.tasks, labels) if fmt == "parquet" else b""
    # Checkpoints need a named output and named inputs (stdin cannot be read twice).
    resumable = run.output not in (None, "-") and all(str(p) != "-" for p in run.inputs)
    checkpoint_path = Checkpoint.path_for(run.output) if resumable else None
    expected = run.fingerprint(classifier) if resumable else None
    checkpoint = None
    if resumable:
        checkpoint = _checkpoint_to_resume(checkpoint_path, expected, resume, summary, run)
        if summary.already_complete:
            if checkpoint is not None:  # killed during the final renames: finish them
                finish_partial_output(Path(run.output), fmt, empty)
                PartialRejects.finish(run.rejects_path, checkpoint.rejected)
                checkpoint_path.unlink()
                summary.scored, summary.rejected = checkpoint.scored, checkpoint.rejected
            return summary
    header = csv_header(classifier.tasks, labels) if fmt == "csv" else b""
    output = PartialOutput(
        run.output, fmt, header, resume_at=checkpoint.output_position if checkpoint else None
    )
    rejects = PartialRejects(
        run.rejects_path,
        resume_at=checkpoint.rejects_position if checkpoint else None,
        count=checkpoint.rejected if checkpoint else 0,
        replace_stale=run.output not in (None, "-"),
    )
    if checkpoint:
        summary.items = checkpoint.items
        summary.scored, summary.rejected = checkpoint.scored, checkpoint.rejected
    stats = ReadStats()
    items = read_inputs(run.inputs, run.read_options(classifier.content_columns), stats)
    items = islice(items, summary.items, None)  # rows done by the run we resume
    summary.startup_seconds = time.perf_counter() - began
    scoring_began = time.perf_counter()

    def save_checkpoint(complete: bool = False) -> None:
        output.flush()
        rejects.flush()
        Checkpoint(
            expected,
            summary.items,
            output.position,
            rejects.position,
            summary.scored,
            summary.rejected,
            complete,
        ).save(checkpoint_path)

    try:
        for chunk, scored in engine.map_in_order(chunked(items, run.chunk_rows)):
            for reject in chunk.rejects:
                rejects.write(reject.to_dict())
            for reject in scored.rejects:
                rejects.write(reject)
            output.append(scored.payload)
            summary.items += chunk.items
            summary.scored += scored.scored
            summary.scored_this_run += scored.scored
            summary.rejected = rejects.count
            if progress is not None:
                _advance(progress, stats, chunk.items, summary.items)
            if checkpoint_path is not None:
                save_checkpoint()
        if checkpoint_path is not None:
            save_checkpoint(complete=True)  # a kill from here on is finished by --resume
    except BaseException:
        output.close()  # the partial files and the checkpoint stay for --resume
        rejects.close()
        raise
    output.commit(empty)
    rejects.commit()
    if checkpoint_path is not None:
        checkpoint_path.unlink(missing_ok=True)
    summary.scoring_seconds = time.perf_counter() - scoring_began
    summary.lines_read = stats.lines
    summary.warnings = stats.all_warnings()
    return summary


def _advance(progress, stats: ReadStats, items: int, rows_done: int) -> None:
    """Move the bar by bytes read when the input's size is known (rows as a postfix), else
    by rows."""
    if progress.total:
        if hasattr(progress, "set_postfix_str"):
            progress.set_postfix_str(f"{rows_done:,} rows", refresh=False)
        progress.update(stats.bytes_read - progress.n)
    else:
        progress.update(items)


def _checkpoint_to_resume(
    path: Path, expected: dict, resume: bool, summary: RunSummary, run: ClassifyRun
):
    if not resume:
        if path.exists():
            summary.notes.append(
                "an unfinished run of this output was found and is started over "
                "(run with --resume to continue one instead)"
            )
        path.unlink(missing_ok=True)
        return None
    found = Checkpoint.load(path) if path.exists() else None
    if found is None:
        if _finished_after_inputs(Path(run.output), run.inputs):
            summary.already_complete = True
            summary.notes.append(
                f"{run.output} is already complete: nothing to resume "
                "(run without --resume to score the input again)"
            )
        else:
            summary.notes.append("nothing to resume for this output; starting from the first row")
        return None
    found.check_matches(expected, path)
    if found.complete:
        summary.already_complete = True
        summary.notes.append(
            f"{run.output} is already complete ({found.scored:,} scored, {found.rejected:,} "
            "rejected); the interrupted run's last renames are done now"
        )
        return found
    partial = Path(run.output).with_name(Path(run.output).name + ".partial")
    if not partial.exists():
        raise InputError(
            "--resume",
            expected=f"the partial output {partial} of the interrupted run",
            found="no such file (removed since?)",
            fix=f"Run without --resume to start over ({path}).",
        )
    summary.notes.append(
        f"resuming after {found.items:,} input rows ({found.scored:,} scored, "
        f"{found.rejected:,} rejected)"
    )
    return found


def _finished_after_inputs(output: Path, inputs: list[str]) -> bool:
    """``output`` exists, with no partial beside it, and is newer than every input file."""
    partial = output.with_name(output.name + ".partial")
    if not output.is_file() or partial.exists():
        return False
    written = output.stat().st_mtime_ns
    return all(f.stat().st_mtime_ns <= written for f in input_files(inputs))

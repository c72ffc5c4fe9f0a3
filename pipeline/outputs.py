"""Write scored records (JSONL, or flattened CSV / Parquet) and the rejects file.

Files are written under a temporary name and renamed when complete, so a reader never sees
a half-written output under the final name.
"""

from __future__ import annotations

import csv
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO

from .errors import InputError

OUTPUT_FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet"}


def output_format(path: str | Path | None) -> str:
    if path is None or str(path) == "-":
        return "jsonl"
    suffix = Path(path).suffix.lower()
    if suffix not in OUTPUT_FORMATS:
        raise InputError(
            f"output {path}",
            expected=f"a file name ending in {', '.join(OUTPUT_FORMATS)}",
            found=suffix or "no extension",
            fix="Choose the output format by the extension of -o.",
        )
    return OUTPUT_FORMATS[suffix]


def flatten(record: dict, tasks: list[str], labels: dict[str, list[str]]) -> dict:
    """One flat row: ``hostile_label``, ``hostile_p_offensive``, ``hostile_risk``, ..."""
    row = {"id": record["id"], "text": record["text"]}
    for task in tasks:
        s = record["scores"][task]
        row[f"{task}_label"] = s["label"]
        for label in labels[task]:
            row[f"{task}_p_{label}"] = s["proba"][label]
        row[f"{task}_risk"] = s["risk"]
        row[f"{task}_words"] = json.dumps(s["words"], ensure_ascii=False)
        row[f"{task}_model"] = record["model_versions"][task]
    return row


class _AtomicFile:
    """Write to ``NAME.partial``; rename to ``NAME`` on :meth:`commit`."""

    def __init__(self, path: Path, mode: str):
        self.path = Path(path)
        self.partial = self.path.with_name(self.path.name + ".partial")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        kwargs = {} if "b" in mode else {"encoding": "utf-8", "newline": ""}
        self.file: IO = open(self.partial, mode, **kwargs)  # noqa: SIM115 - closed in commit/abort

    def commit(self) -> None:
        self.file.close()
        os.replace(self.partial, self.path)

    def abort(self) -> None:
        self.file.close()
        self.partial.unlink(missing_ok=True)


def write_atomically(out: str | os.PathLike | IO[str], write: Callable[[IO[str]], int]) -> int:
    """``write(stream)`` into an open text stream as is, or into ``PATH.partial`` renamed to
    ``PATH`` once complete (removed if it fails); returns what ``write`` returns."""
    if hasattr(out, "write"):
        return write(out)
    atomic = _AtomicFile(Path(out), "w")
    try:
        count = write(atomic.file)
    except BaseException:
        atomic.abort()
        raise
    atomic.commit()
    return count


class RecordWriter:
    """Streams records in the format named by the output path (JSONL on stdout when None)."""

    def __init__(self, path: str | Path | None, tasks: list[str], labels: dict[str, list[str]]):
        self.format = output_format(path)
        self.tasks, self.labels = tasks, labels
        self._atomic = None
        self._csv = None
        self._parquet = None
        if path is None or str(path) == "-":
            self._out: IO = sys.stdout
        elif self.format == "parquet":
            self._atomic = _AtomicFile(Path(path), "wb")
            self._out = self._atomic.file
        else:
            self._atomic = _AtomicFile(Path(path), "w")
            self._out = self._atomic.file

    def write(self, records: list[dict]) -> None:
        if self.format == "jsonl":
            for r in records:
                self._out.write(json.dumps(r, ensure_ascii=False) + "\n")
            return
        rows = [flatten(r, self.tasks, self.labels) for r in records]
        if self.format == "csv":
            if self._csv is None:
                self._csv = csv.DictWriter(self._out, fieldnames=self._columns())
                self._csv.writeheader()
            self._csv.writerows(rows)
        else:
            self._write_parquet(rows)

    def _columns(self) -> list[str]:
        empty = {
            "id": None,
            "text": "",
            "model_versions": dict.fromkeys(self.tasks, ""),
            "scores": {
                t: {
                    "label": "",
                    "risk": 0.0,
                    "words": [],
                    "proba": dict.fromkeys(self.labels[t], 0.0),
                }
                for t in self.tasks
            },
        }
        return list(flatten(empty, self.tasks, self.labels))

    def _write_parquet(self, rows: list[dict]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        columns = self._columns()
        data = {c: [r[c] for r in rows] for c in columns}
        # ids may mix numbers and strings across sources; store them as text.
        data["id"] = [None if v is None else str(v) for v in data["id"]]
        table = pa.table(data)
        if self._parquet is None:
            self._parquet = pq.ParquetWriter(self._out, table.schema)
        self._parquet.write_table(table.cast(self._parquet.schema))

    def close(self) -> None:
        if self.format == "csv" and self._csv is None:
            self._csv = csv.DictWriter(self._out, fieldnames=self._columns())
            self._csv.writeheader()
        if self.format == "parquet":
            if self._parquet is None:
                self._write_parquet([])
            self._parquet.close()
        if self._atomic:
            self._atomic.commit()
        else:
            self._out.flush()

    def abort(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
        if self._atomic:
            self._atomic.abort()


class RejectsWriter:
    """``*.rejects.jsonl``: one line per rejected input row with its number and reason.

    The file exists only when something was rejected; a stale one from an earlier run of the
    same output is removed first so it cannot be mistaken for this run's.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self.count = 0
        self._atomic: _AtomicFile | None = None
        self.path.unlink(missing_ok=True)

    def write(self, reject_dict: dict) -> None:
        if self._atomic is None:
            self._atomic = _AtomicFile(self.path, "w")
        self._atomic.file.write(json.dumps(reject_dict, ensure_ascii=False, default=str) + "\n")
        self.count += 1

    def close(self) -> None:
        if self._atomic:
            self._atomic.commit()


def rejects_path(input_path: str, output_path: str | None) -> Path:
    """``scores.csv`` → ``scores.rejects.jsonl``; without -o, beside the input.

    >>> str(rejects_path("posts.csv", "out/scores.jsonl"))
    'out/scores.rejects.jsonl'
    """
    if output_path and output_path != "-":
        return Path(output_path).with_suffix(".rejects.jsonl")
    if input_path == "-":
        return Path("stdin.rejects.jsonl")
    return Path(input_path).with_suffix(".rejects.jsonl")

"""Write scored records (JSONL, or flattened CSV / Parquet) and the rejects file.

Files are written under a temporary name and renamed when complete, so a reader never sees
a half-written output under the final name.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO

import orjson

from ..errors import InputError

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


def columns(tasks: list[str], labels: dict[str, list[str]]) -> list[str]:
    """The flat columns of CSV and Parquet output, in order."""
    names = ["id", "text"]
    for task in tasks:
        names += [f"{task}_label", *(f"{task}_p_{label}" for label in labels[task])]
        names += [f"{task}_risk", f"{task}_words", f"{task}_model"]
    return names


def csv_header(tasks: list[str], labels: dict[str, list[str]]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf).writerow(columns(tasks, labels))
    return buf.getvalue().encode("utf-8")


def encode_records(
    records: list[dict], fmt: str, tasks: list[str], labels: dict[str, list[str]]
) -> bytes:
    """Scored records as the bytes of one chunk of output: JSONL lines, CSV rows (no header)
    or a whole Parquet file (one part of the output)."""
    if fmt == "jsonl":
        return b"".join(map(_json_line, records))
    names = columns(tasks, labels)
    rows = [flatten(r, tasks, labels) for r in records]
    if fmt == "csv":
        buf = io.StringIO()
        csv.writer(buf).writerows([[row[c] for c in names] for row in rows])
        return buf.getvalue().encode("utf-8")
    return _parquet_bytes(rows, names)


def _json_line(record: dict) -> bytes:
    """One compact JSON line (orjson: about 8x faster than json.dumps on these records);
    ids orjson cannot take (integers past 64 bits) go through json, dates become text."""
    try:
        return orjson.dumps(record, default=str, option=orjson.OPT_APPEND_NEWLINE)
    except orjson.JSONEncodeError:
        line = json.dumps(record, ensure_ascii=False, default=str, separators=(",", ":"))
        return (line + "\n").encode("utf-8")


def _parquet_bytes(rows: list[dict], names: list[str]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([(c, _arrow_type(c)) for c in names])
    data = {c: [r[c] for r in rows] for c in names}
    # ids may mix numbers and strings across sources; store them as text.
    data["id"] = [None if v is None else str(v) for v in data["id"]]
    buf = io.BytesIO()
    pq.write_table(pa.table(data, schema=schema), buf)
    return buf.getvalue()


def _arrow_type(column: str):
    import pyarrow as pa

    numeric = "_p_" in column or column.endswith("_risk")
    return pa.float64() if numeric else pa.string()


class PartialOutput:
    """Chunks of output appended in order under a temporary name, renamed when complete.

    JSONL and CSV chunks go to ``NAME.partial``; Parquet chunks are files in the directory
    ``NAME.partial/``, merged into ``NAME`` at the end (a Parquet file cut short by a kill
    cannot be read back). :attr:`position` (bytes, or parts) is what a checkpoint records;
    ``resume_at`` cuts away whatever was written after that checkpoint.
    """

    def __init__(self, path: str | Path | None, fmt: str, header: bytes = b"", resume_at=None):
        self.format = fmt
        self.to_stdout = path is None or str(path) == "-"
        if self.to_stdout:
            self._out: IO[bytes] = sys.stdout.buffer
            self._out.write(header)
            self.position = 0
            return
        self.path = Path(path)
        self.partial = self.path.with_name(self.path.name + ".partial")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "parquet":
            self._start_parts(resume_at)
        else:
            self._start_file(header, resume_at)

    def _start_file(self, header: bytes, resume_at: int | None) -> None:
        if resume_at is None:
            _remove(self.partial)
            self._out = open(self.partial, "wb")  # noqa: SIM115 - closed in commit/close
            self._out.write(header)
        else:
            self._out = open(self.partial, "r+b")  # noqa: SIM115 - closed in commit/close
            self._out.truncate(resume_at)
            self._out.seek(resume_at)
        self.position = self._out.tell()

    def _start_parts(self, resume_at: int | None) -> None:
        if resume_at is None:
            _remove(self.partial)
        self.partial.mkdir(exist_ok=True)
        self.position = resume_at or 0
        for part in self.partial.glob("part-*.parquet"):
            if int(part.stem.split("-")[1]) >= self.position:
                part.unlink()  # written after the checkpoint

    def append(self, payload: bytes) -> None:
        if self.format == "parquet" and not self.to_stdout:
            part = self.partial / f"part-{self.position:08d}.parquet"
            tmp = part.with_suffix(".tmp")
            tmp.write_bytes(payload)
            os.replace(tmp, part)
            self.position += 1
        else:
            self._out.write(payload)
            self.position += len(payload)

    def flush(self) -> None:
        """Hand what was written to the operating system, so a killed process keeps it."""
        if self.format != "parquet" or self.to_stdout:
            self._out.flush()

    def commit(self, empty_parquet: bytes = b"") -> None:
        if self.to_stdout:
            self._out.flush()
            return
        if self.format != "parquet":
            self._out.close()
        finish_partial_output(self.path, self.format, empty_parquet)

    def close(self) -> None:
        """Stop without finishing: the partial output stays for ``--resume``."""
        if not self.to_stdout and self.format != "parquet":
            self._out.close()


def finish_partial_output(path: Path, fmt: str, empty_parquet: bytes) -> None:
    """Complete what a run killed between its last checkpoint (marked complete) and its
    renames left: the partial output renamed (Parquet: merged) into ``path``."""
    partial = path.with_name(path.name + ".partial")
    if not partial.exists():
        return  # renamed before the kill
    if fmt != "parquet":
        os.replace(partial, path)
        return
    merged = path.with_name(path.name + ".merging")
    try:
        with open(merged, "wb") as f:
            _merge_parts(partial, f, empty_parquet)
    except BaseException:
        merged.unlink(missing_ok=True)
        raise
    os.replace(merged, path)
    _remove(partial)


def _merge_parts(parts_dir: Path, out: IO[bytes], empty: bytes) -> None:
    import pyarrow.parquet as pq

    parts = sorted(parts_dir.glob("part-*.parquet"))
    if not parts:
        out.write(empty)
        return
    writer = None
    for part in parts:
        table = pq.read_table(part)
        writer = writer or pq.ParquetWriter(out, table.schema)
        writer.write_table(table)
    writer.close()


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


class PartialRejects:
    """``*.rejects.jsonl``: one line per rejected input row with its number and reason.

    Written to ``NAME.partial`` and renamed at the end; the file exists only when something
    was rejected. With ``replace_stale`` (the rejects of a named output) one left by an
    earlier run of that output is removed first so it cannot be mistaken for this run's;
    otherwise (output to stdout) an existing file is only replaced when this run rejects
    something.
    """

    def __init__(
        self,
        path: Path,
        resume_at: int | None = None,
        count: int = 0,
        replace_stale: bool = True,
    ):
        self.path = Path(path)
        self.partial = self.path.with_name(self.path.name + ".partial")
        self.count = count
        if replace_stale:
            self.path.unlink(missing_ok=True)
        if resume_at is None:
            self.partial.unlink(missing_ok=True)
            self.position = 0
            self._file: IO[bytes] | None = None
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.partial, "ab")  # noqa: SIM115 - closed in commit/close
            self._file.truncate(resume_at)
            self._file.seek(resume_at)
            self.position = resume_at

    def write(self, reject_dict: dict) -> None:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.partial, "wb")  # noqa: SIM115 - closed in commit/close
        line = json.dumps(reject_dict, ensure_ascii=False, default=str) + "\n"
        self.position += self._file.write(line.encode("utf-8"))
        self.count += 1

    def flush(self) -> None:
        if self._file:
            self._file.flush()

    def commit(self) -> None:
        if self._file:
            self._file.close()
            self.finish(self.path, self.count)

    def close(self) -> None:
        if self._file:
            self._file.close()

    @staticmethod
    def finish(path: Path, count: int) -> None:
        """The renames a run killed after its complete checkpoint left undone."""
        partial = path.with_name(path.name + ".partial")
        if partial.exists():
            if count:
                os.replace(partial, path)
            else:
                partial.unlink()


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

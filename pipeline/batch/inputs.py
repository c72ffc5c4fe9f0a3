"""Read posts to score from CSV, JSONL or Parquet, streaming, and never lose a row.

Every input row comes out either as a :class:`Row` to score or as a :class:`Reject` with
its line (or row) number and the reason. Problems with the whole file (unknown type, a
missing text column, UTF-16 without a byte order mark) raise :class:`InputError` before
any row is read. CSV and JSONL may be compressed (``.gz``, ``.zst``); what reading saw
besides rows (lines, bytes, skipped files, warnings) goes into a :class:`ReadStats`.

    inputs ─▶ input_streams (decompress, encoding) ─▶ csv_input | jsonl_input | parquet_input
           ─▶ Row | Reject (input_rows)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ..errors import InputError
from .csv_input import read_csv
from .input_rows import DEFAULT_MAX_CHARS, RAW_KEEP, ReadOptions, Reject, Row, check_text
from .input_stats import ReadStats
from .input_streams import COMPRESSIONS, open_binary, split_compression
from .jsonl_input import json_lines, read_jsonl
from .parquet_input import read_parquet

__all__ = ["RAW_KEEP", "ReadOptions", "ReadStats", "Reject", "Row", "json_lines"]  # re-exported

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}
_COMPRESSIBLE = ("csv", "jsonl")


def input_format(path: str | Path) -> str:
    """``csv``, ``jsonl`` or ``parquet`` by the file's extension (under ``.gz``/``.zst``)."""
    if str(path) == "-":
        return "jsonl"
    suffix, compression = split_compression(path)
    fmt = FORMATS.get(suffix)
    if fmt is None or (compression and fmt not in _COMPRESSIBLE):
        kinds = ", ".join(FORMATS)
        raise InputError(
            f"input {path}",
            expected=f"a file ending in {kinds}, or .csv/.jsonl/.ndjson under "
            f"{', '.join(COMPRESSIONS)} (or - for JSONL on stdin)",
            found="".join(Path(path).suffixes[-2:]) or "no extension",
            fix="Rename the file to match its content, or convert it to CSV, JSONL or Parquet "
            "(Parquet compresses inside the file).",
        )
    return fmt


def _is_input_name(path: Path) -> bool:
    try:
        input_format(path)
    except InputError:
        return False
    return True


def find_input_files(paths: Sequence[str | Path]) -> tuple[list[Path], list[Path]]:
    """``(files to read, files skipped)``: each path as given, a directory as its CSV, JSONL
    and Parquet files (recursively, sorted by path); what a directory holds besides them
    (other types, hidden files) is returned as skipped, for the caller to list."""
    files: list[Path] = []
    skipped: list[Path] = []
    for path in map(Path, paths):
        if not path.is_dir():
            files.append(path)
            continue
        found = []
        for f in sorted(p for p in path.rglob("*") if p.is_file()):
            hidden = any(part.startswith(".") for part in f.relative_to(path).parts)
            (found if not hidden and _is_input_name(f) else skipped).append(f)
        if not found:
            raise InputError(
                f"input {path}",
                expected=f"a directory with files ending in {', '.join(FORMATS)}",
                found=f"none ({len(skipped)} other files)" if skipped else "none",
                fix="Point at the files, or at a directory that holds them.",
            )
        files += found
    return files, skipped


def input_files(paths: Sequence[str | Path]) -> list[Path]:
    """The files to read, in order (see :func:`find_input_files`)."""
    return find_input_files(paths)[0]


def read_rows(
    path: str | Path,
    text_column: str = "text",
    id_column: str | None = None,
    max_chars: int = DEFAULT_MAX_CHARS,
    default_id: Callable[[int], Any] = int,
    *,
    options: ReadOptions | None = None,
    stats: ReadStats | None = None,
) -> Iterator[Row | Reject]:
    """Stream rows from ``path`` (``-`` is JSONL on stdin), in input order.

    ``id_column=None`` uses an ``id`` column when there is one, else
    ``default_id(line or row number)``. ``options``, when given, replaces the three
    keyword options before it.
    """
    options = options or ReadOptions(text_column, id_column, max_chars)
    stats = stats if stats is not None else ReadStats()
    fmt = input_format(path)
    if str(path) != "-":
        _check_readable(Path(path))
    o = options
    encoding = o.encoding or "UTF-8"
    if fmt == "parquet":
        stats.start_file(None, Path(path).stat().st_size)
        items = read_parquet(
            path,
            o.text_column,
            o.id_column,
            default_id,
            stats,
            _missing_column,
            o.content_columns,
        )
        try:
            yield from _checked(items, o.max_chars, encoding)
        finally:
            stats.end_file()
        return
    with open_binary(path, stats) as stream:
        if fmt == "csv":
            items = read_csv(stream, path, options, default_id, stats)
        else:
            items = read_jsonl(stream, path, options, default_id, stats)
        yield from _checked(items, o.max_chars, encoding)


def _checked(items, max_chars: int, encoding: str) -> Iterator[Row | Reject]:
    for item in items:
        yield check_text(item, max_chars, encoding) if isinstance(item, Row) else item


def read_inputs(
    paths: Sequence[str | Path],
    options: ReadOptions | None = None,
    stats: ReadStats | None = None,
) -> Iterator[Row | Reject]:
    """Stream the rows of several files (or directories of them) as one input, in order.

    With more than one file every row and reject names its file, and an id that defaults
    to the line number becomes ``FILE:NUMBER`` so ids stay unique. ``stats`` receives the
    skipped files, the total size, lines read and warnings.
    """
    options = options or ReadOptions()
    stats = stats if stats is not None else ReadStats()
    if len(paths) == 1 and str(paths[0]) == "-":
        yield from read_rows("-", options=options, stats=stats)
        return
    files, stats.skipped_files = find_input_files(paths)
    for f in files:
        input_format(f)  # refuse a wrong file type before reading anything
        _check_readable(f)
    stats.bytes_total = sum(f.stat().st_size for f in files)
    if len(files) == 1:
        yield from read_rows(files[0], options=options, stats=stats)
        return
    for f in files:
        name = str(f)
        rows = read_rows(
            f, default_id=lambda n, name=name: f"{name}:{n}", options=options, stats=stats
        )
        for item in rows:
            yield dataclasses.replace(item, source=name)


def _check_readable(path: Path) -> None:
    if not path.is_file():
        raise InputError(
            f"input {path}",
            expected="a readable file",
            found="no such file" if not path.exists() else "a directory",
            fix="Check the path.",
        )


def _missing_column(path, kind: str, column: str, found: list[str], option: str) -> InputError:
    return InputError(
        f"input {path}",
        expected=f"a {kind} column {column!r}",
        found=f"columns {found}" if found else "no columns (an empty header)",
        fix=f"Name the column with {option} COLUMN.",
    )

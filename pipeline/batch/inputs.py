"""Read posts to score from CSV, JSONL or Parquet, streaming, and never lose a row.

Every input row comes out either as a :class:`Row` to score or as a :class:`Reject` with
its line (or row) number and the reason. Problems with the whole file (unknown type, a
missing text column) raise :class:`InputError` before any row is read.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import io
import json
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ..errors import InputError

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}
DEFAULT_MAX_CHARS = 100_000
RAW_KEEP = 2000  # characters of a rejected row kept in the rejects file

# Bad bytes read with surrogateescape (CSV) show up as lone surrogates.
_SURROGATE = re.compile("[\ud800-\udfff]")

csv.field_size_limit(2**31 - 1)  # a huge field is rejected by length with a clear reason


@dataclass(frozen=True)
class Row:
    number: int  # 1-based line of the record's start (CSV, JSONL) or row (Parquet)
    id: Any
    text: str
    unit: str = "line"  # "row" for Parquet
    source: str | None = None  # the file, when several are read as one input


@dataclass(frozen=True)
class Reject:
    number: int
    id: Any
    reason: str
    raw: str | None = None
    unit: str = "line"  # "row" for Parquet, which has no lines
    source: str | None = None

    def to_dict(self) -> dict:
        where = {"file": self.source} if self.source is not None else {}
        return {
            **where,
            self.unit: self.number,
            "id": self.id,
            "reason": self.reason,
            "raw": self.raw,
        }


def input_format(path: str | Path) -> str:
    if str(path) == "-":
        return "jsonl"
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise InputError(
            f"input {path}",
            expected=f"a file ending in {', '.join(FORMATS)} (or - for JSONL on stdin)",
            found=f"{suffix or 'no extension'}",
            fix="Rename the file to match its content, or convert it to CSV, JSONL or Parquet.",
        )
    return FORMATS[suffix]


def read_rows(
    path: str | Path,
    text_column: str = "text",
    id_column: str | None = None,
    max_chars: int = DEFAULT_MAX_CHARS,
    default_id: Callable[[int], Any] = int,
) -> Iterator[Row | Reject]:
    """Stream rows from ``path`` (``-`` is JSONL on stdin), in input order.

    ``id_column=None`` uses an ``id`` column when there is one, else
    ``default_id(line or row number)``.
    """
    fmt = input_format(path)
    if fmt != "jsonl" or str(path) != "-":
        _check_readable(Path(path))
    reader = {"csv": _read_csv, "jsonl": _read_jsonl, "parquet": _read_parquet}[fmt]
    for item in reader(path, text_column, id_column, default_id):
        yield _check_text(item, max_chars) if isinstance(item, Row) else item


def input_files(paths: Sequence[str | Path]) -> list[Path]:
    """The files to read, in order: each path as given, a directory as its CSV, JSONL and
    Parquet files (recursively, sorted by path; hidden files skipped)."""
    files: list[Path] = []
    for path in map(Path, paths):
        if not path.is_dir():
            files.append(path)
            continue
        found = sorted(
            f
            for f in path.rglob("*")
            if f.is_file()
            and f.suffix.lower() in FORMATS
            and not any(part.startswith(".") for part in f.relative_to(path).parts)
        )
        if not found:
            raise InputError(
                f"input {path}",
                expected=f"a directory with files ending in {', '.join(FORMATS)}",
                found="none",
                fix="Point at the files, or at a directory that holds them.",
            )
        files += found
    return files


def read_inputs(
    paths: Sequence[str | Path],
    text_column: str = "text",
    id_column: str | None = None,
    max_chars: int = DEFAULT_MAX_CHARS,
) -> Iterator[Row | Reject]:
    """Stream the rows of several files (or directories of them) as one input, in order.

    With more than one file every row and reject names its file, and an id that defaults
    to the line number becomes ``FILE:NUMBER`` so ids stay unique.
    """
    if len(paths) == 1 and str(paths[0]) == "-":
        yield from read_rows("-", text_column, id_column, max_chars)
        return
    files = input_files(paths)
    for f in files:
        input_format(f)  # refuse a wrong file type before reading anything
    if len(files) == 1:
        yield from read_rows(files[0], text_column, id_column, max_chars)
        return
    for f in files:
        name = str(f)
        rows = read_rows(f, text_column, id_column, max_chars, lambda n, name=name: f"{name}:{n}")
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


def _check_text(row: Row, max_chars: int) -> Row | Reject:
    unit = row.unit
    if not row.text.strip():
        return Reject(row.number, row.id, "empty text", row.text, unit)
    if len(row.text) > max_chars:
        return Reject(
            row.number,
            row.id,
            f"text has {len(row.text):,} characters, more than --max-chars {max_chars:,}; "
            "split the post or raise --max-chars",
            row.text[:RAW_KEEP],
            unit,
        )
    if _SURROGATE.search(row.text):
        return Reject(row.number, row.id, "text is not valid UTF-8", _printable(row.text), unit)
    return row


def _printable(text: str) -> str:
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")[:RAW_KEEP]


def _missing_column(path, kind: str, column: str, found: list[str], option: str) -> InputError:
    return InputError(
        f"input {path}",
        expected=f"a {kind} column {column!r}",
        found=f"columns {found}" if found else "no columns (an empty header)",
        fix=f"Name the column with {option} COLUMN.",
    )


# --- CSV --------------------------------------------------------------------------------


def _read_csv(path, text_column: str, id_column: str | None, default_id) -> Iterator[Row | Reject]:
    # surrogateescape keeps bad bytes inside their row, so only that row is rejected.
    with open(path, encoding="utf-8-sig", errors="surrogateescape", newline="") as f:
        reader = csv.reader(f)
        try:
            header = next(reader)
        except StopIteration:
            return  # an empty file has no rows
        header = [_printable(h) for h in header]
        if text_column not in header:
            raise _missing_column(path, "text", text_column, header, "--text-column")
        if id_column is not None and id_column not in header:
            raise _missing_column(path, "id", id_column, header, "--id-column")
        id_name = id_column or ("id" if "id" in header else None)
        text_at = header.index(text_column)
        id_at = header.index(id_name) if id_name else None

        row_number = 0
        while True:
            start_line = reader.line_num + 1
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield Reject(start_line, None, f"malformed CSV: {exc}")
                continue
            if not fields:
                continue  # a blank line is not a row
            row_number += 1
            row_id = (
                fields[id_at]
                if id_at is not None and id_at < len(fields)
                else default_id(row_number)
            )
            if len(fields) != len(header):
                yield Reject(
                    start_line,
                    row_id,
                    f"row has {len(fields)} fields but the header has {len(header)} "
                    "(an unquoted comma or quote?)",
                    _printable(",".join(fields)),
                )
                continue
            yield Row(start_line, row_id, fields[text_at])


# --- JSONL ------------------------------------------------------------------------------


def _binary_lines(path) -> Iterator[bytes]:
    if str(path) == "-":
        yield from sys.stdin.buffer
        return
    with open(path, "rb") as f:
        yield from f


def _read_jsonl(
    path, text_column: str, id_column: str | None, default_id
) -> Iterator[Row | Reject]:
    for number, decoded, obj, error in json_lines(_binary_lines(path)):
        if isinstance(error, UnicodeDecodeError):
            yield Reject(
                number,
                _id_of(decoded, id_column, default_id(number)),
                f"line is not valid UTF-8 ({error.reason} at byte {error.start})",
                decoded.rstrip("\r\n")[:RAW_KEEP],
            )
            continue
        if error is not None:
            yield Reject(
                number,
                None,
                f"malformed JSON: {error.msg} at column {error.colno}",
                decoded.rstrip("\r\n")[:RAW_KEEP],
            )
            continue
        if not isinstance(obj, dict):
            yield Reject(
                number,
                None,
                f"expected a JSON object, found {type(obj).__name__}",
                decoded.rstrip("\r\n")[:RAW_KEEP],
            )
            continue
        key = id_column or "id"
        row_id = obj[key] if key in obj else default_id(number)
        yield _row_from_record(number, row_id, obj, text_column, decoded.rstrip("\r\n"))


def _loads(line: str):
    """orjson where it can (twice as fast); json for what it refuses (NaN, integers past
    64 bits) and for the error message of a line that is not JSON."""
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return json.loads(line)


def json_lines(
    lines: Iterable[bytes | str],
    *,
    strip_bom: bool = True,
    loads: Callable[[str], Any] = _loads,
) -> Iterator[tuple[int, str, Any, ValueError | None]]:
    """Number, decode (UTF-8) and parse the lines of a JSONL stream, blank lines skipped:
    ``(number from 1, the line as read, its value, None)``, or for a line that is not UTF-8
    or not JSON ``(number, the line with bad bytes replaced, None, the UnicodeDecodeError
    or json.JSONDecodeError)``, for the caller's reject. ``strip_bom`` drops a UTF-8 byte
    order mark from the first line. Plain tuples: this is the hot loop of a large input."""
    for number, line in enumerate(lines, start=1):
        if isinstance(line, bytes):
            if strip_bom and number == 1 and line.startswith(codecs.BOM_UTF8):
                line = line[len(codecs.BOM_UTF8) :]
            try:
                line = line.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield number, line.decode("utf-8", "replace"), None, exc
                continue
        if not line.strip():
            continue  # a blank line is not a row
        try:
            value = loads(line)
        except json.JSONDecodeError as exc:
            yield number, line, None, exc
            continue
        yield number, line, value, None


def _id_of(line: str, id_column: str | None, number):
    """The id of a line that cannot be scored, when it can still be read (for the rejects)."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError:
        return None
    return obj.get(id_column or "id", number) if isinstance(obj, dict) else None


def _row_from_record(
    number: int, row_id, record: dict, text_column: str, raw: str, unit: str = "line"
):
    if text_column not in record:
        return Reject(
            number,
            row_id,
            f"no {text_column!r} field (fields: "
            f"{sorted(record)}); name the text field with --text-column",
            raw[:RAW_KEEP],
            unit,
        )
    text = record[text_column]
    if not isinstance(text, str):
        found = "null" if text is None else type(text).__name__
        return Reject(number, row_id, f"text is {found}, expected a string", raw[:RAW_KEEP], unit)
    return Row(number, row_id, text, unit)


# --- Parquet ----------------------------------------------------------------------------


def _read_parquet(
    path, text_column: str, id_column: str | None, default_id
) -> Iterator[Row | Reject]:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for a file that is not Parquet
        raise InputError(
            f"input {path}",
            expected="a Parquet file",
            found=f"{type(exc).__name__}: {exc}",
            fix="Check the file, or give it the extension of its real format.",
        ) from exc
    names = pf.schema_arrow.names
    if text_column not in names:
        raise _missing_column(path, "text", text_column, names, "--text-column")
    if id_column is not None and id_column not in names:
        raise _missing_column(path, "id", id_column, names, "--id-column")
    id_name = id_column or ("id" if "id" in names else None)
    columns = [text_column] + ([id_name] if id_name and id_name != text_column else [])
    number = 0
    for batch in pf.iter_batches(batch_size=10_000, columns=columns):
        data = batch.to_pydict()
        ids = data[id_name] if id_name else None
        for i, text in enumerate(data[text_column]):
            number += 1
            row_id = ids[i] if ids is not None else default_id(number)
            record = {text_column: text}
            yield _row_from_record(number, row_id, record, text_column, _raw(record), "row")


def _raw(record: dict) -> str:
    buf = io.StringIO()
    json.dump(record, buf, ensure_ascii=False, default=str)
    return buf.getvalue()[:RAW_KEEP]

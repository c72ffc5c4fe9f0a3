"""JSONL input: one JSON object per line; lines end in LF, CRLF or a lone CR."""

from __future__ import annotations

import codecs
import io
import json
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

import orjson

from .input_rows import (
    RAW_KEEP,
    ReadOptions,
    Reject,
    Row,
    missing_content_columns,
    row_from_record,
)
from .input_streams import is_utf8, text_encoding

_BLOCK = 1 << 20


def read_jsonl(
    stream: IO[bytes], path, options: ReadOptions, default_id, stats
) -> Iterator[Row | Reject]:
    text_column, id_column = options.text_column, options.id_column
    encoding = text_encoding(stream.peek(4)[:4], options.encoding, path)
    if is_utf8(encoding):
        lines: _Lines | _Counted = binary_lines(stream)  # decoded line by line
    else:
        lines = _Counted(io.TextIOWrapper(stream, encoding, errors="surrogateescape"))
    key = id_column or "id"
    wanted, warned = options.content_columns, False
    for number, decoded, obj, error in json_lines(lines):
        raw = decoded.rstrip("\r\n")[:RAW_KEEP]
        if isinstance(error, UnicodeDecodeError):
            yield Reject(
                number,
                _id_of(decoded, id_column, default_id(number)),
                f"line is not valid UTF-8 ({error.reason} at byte {error.start})",
                raw,
            )
        elif error is not None:
            yield Reject(number, None, f"malformed JSON: {error.msg} at column {error.colno}", raw)
        elif not isinstance(obj, dict):
            yield Reject(number, None, f"expected a JSON object, found {type(obj).__name__}", raw)
        else:
            if key in obj:
                row_id = obj[key]
                if type(row_id) is float:  # orjson reads integers past 64 bits as floats
                    row_id = json.loads(decoded)[key]
                stats.saw_id(row_id)
            else:
                row_id = default_id(number)
            if wanted and not warned and (missing := [c for c in wanted if c not in obj]):
                stats.warnings.append(missing_content_columns(path, missing))
                warned = True  # once per file
            yield row_from_record(
                number, row_id, obj, text_column, decoded.rstrip("\r\n"), "line", wanted
            )
    stats.lines += lines.count


class _Counted:
    """Lines of a text stream (universal line ends), counted."""

    def __init__(self, lines: Iterable[str]):
        self._lines = lines
        self.count = 0

    def __iter__(self) -> Iterator[str]:
        for line in self._lines:
            self.count += 1
            yield line


class _Lines:
    """The lines of a binary stream, split on LF, CRLF and a lone CR (old Mac and some
    exporters), without their line ends; :attr:`count` is how many there were."""

    def __init__(self, stream: IO[bytes]):
        self._stream = stream
        self.count = 0

    def __iter__(self) -> Iterator[bytes]:
        read = getattr(self._stream, "read1", self._stream.read)  # a pipe: what has arrived
        pending: list[bytes] = []
        while block := read(_BLOCK):
            if pending:
                block = b"".join(pending) + block
                pending = []
            held = b""
            if block.endswith(b"\r"):  # maybe the first half of a CRLF: wait for the next block
                block, held = block[:-1], b"\r"
            if b"\r" in block:
                block = block.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            lines = block.split(b"\n")
            tail = lines.pop()
            if tail or held:
                pending.append(tail + held)
            self.count += len(lines)
            yield from lines
        if pending:
            last = b"".join(pending).rstrip(b"\r")
            self.count += 1
            yield last


def binary_lines(stream: IO[bytes]) -> _Lines:
    return _Lines(stream)


def _loads(line: str):
    """orjson where it can (twice as fast); json for what it refuses (NaN) and for the
    error message of a line that is not JSON. orjson reads integers past 64 bits as
    floats: the reader parses a line again with json when its id is a float."""
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

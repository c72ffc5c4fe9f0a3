"""CSV input, read so that a broken quote costs one line, never the rows after it.

A quote opened and never closed makes a CSV reader run on through every following line as
one field. Here each record is parsed strictly; when a record is malformed (a quote error,
the end of the file inside quotes, more than ``max_record_lines`` lines, or a multi-line
record with the wrong number of fields) only its first line is rejected, with its number,
and reading starts again on the next line. Quoted fields with line ends in them (a post of
several paragraphs) stay one record.
"""

from __future__ import annotations

import csv
import io
from collections import Counter, deque
from collections.abc import Iterator
from typing import IO

from ..errors import InputError
from .input_rows import ReadOptions, Reject, Row, missing_content_columns, printable
from .input_streams import text_encoding

DELIMITERS = ",;\t|"

csv.field_size_limit(2**31 - 1)  # a huge field is rejected by length with a clear reason


class _RecordTooLong(Exception):
    pass


class _Lines:
    """Physical lines handed to ``csv.reader``, keeping the lines of the record being read
    so a broken record can be rejected by its first line and the rest read again."""

    def __init__(self, lines: Iterator[str], max_record_lines: int):
        self._source = lines
        self._replay: deque[str] = deque()
        self.record: list[str] = []
        self.done = 0  # lines consumed by finished records and rejected lines
        self.read = 0  # lines read from the file
        self._max = max_record_lines

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self._replay:
            line = self._replay.popleft()
        else:
            line = next(self._source)  # StopIteration ends the reader
            self.read += 1
        self.record.append(line)
        if len(self.record) > self._max:
            raise _RecordTooLong
        return line

    def start(self) -> int:
        self.record = []
        return self.done + 1

    def accept(self) -> None:
        self.done += len(self.record)

    def reject_first(self) -> str:
        """Give up the record's first line; its other lines are read again."""
        first, rest = self.record[0], self.record[1:]
        self._replay.extendleft(reversed(rest))
        self.done += 1
        return first


def csv_records(lines: _Lines, delimiter: str, max_record_lines: int):
    """``(first line number, fields, None, None)`` per record, the header first, or
    ``(line number, None, reason, the line)`` for a line given up."""
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    width = None  # fields in the header
    while True:
        start = lines.start()
        try:
            fields = next(reader)
        except StopIteration:
            return
        except (csv.Error, _RecordTooLong) as exc:
            if not lines.record:  # raised before reading a line
                raise
            reason = _reason(exc, start, len(lines.record), max_record_lines)
            yield start, None, reason, lines.reject_first()
            reader = csv.reader(lines, delimiter=delimiter, strict=True)  # a fresh state
            continue
        span = len(lines.record)
        if width is not None and fields and len(fields) != width and span > 1:
            # Quotes that paired up across line ends: read the lines after the first again.
            reason = (
                f"a record over lines {start}-{start + span - 1} has {len(fields)} fields but "
                f"the header has {width} (a stray quote on line {start}?)"
            )
            yield start, None, reason, lines.reject_first()
            continue
        lines.accept()
        if width is None and fields:
            width = len(fields)
        yield start, fields, None, None


def _reason(exc: Exception, start: int, span: int, max_record_lines: int) -> str:
    if isinstance(exc, _RecordTooLong):
        return (
            f"a quoted field runs over more than {max_record_lines} lines (a quote opened on "
            f"line {start} and never closed?); raise --max-lines-per-row if posts are that long"
        )
    if "unexpected end of data" in str(exc):
        return f"malformed CSV: a quote opened on line {start} is never closed"
    where = f" (in a record over lines {start}-{start + span - 1})" if span > 1 else ""
    return f"malformed CSV: {exc}{where}"


def read_csv(
    stream: IO[bytes], path, options: ReadOptions, default_id, stats
) -> Iterator[Row | Reject]:
    text_column, id_column = options.text_column, options.id_column
    max_record_lines = options.max_record_lines
    encoding = text_encoding(stream.peek(4)[:4], options.encoding, path)
    # surrogateescape keeps bad bytes inside their row, so only that row is rejected.
    text = io.TextIOWrapper(stream, encoding, errors="surrogateescape", newline="")
    first_line = text.readline()
    if not first_line:
        return  # an empty file has no rows
    delimiter = options.delimiter or sniff_delimiter(first_line)
    lines = _Lines(_chain(first_line, text), max_record_lines)
    records = csv_records(lines, delimiter, max_record_lines)
    try:
        header = _header(next(records), path)
    except StopIteration:
        return
    _check_header(header, path, first_line, delimiter, text_column, id_column, stats)
    id_name = id_column or ("id" if "id" in header else None)
    text_at = header.index(text_column)
    id_at = header.index(id_name) if id_name else None
    content_at = {c: header.index(c) for c in options.content_columns if c in header}
    missing = [c for c in options.content_columns if c not in header]
    if missing:
        stats.warnings.append(missing_content_columns(path, missing))

    row_number = 0
    for start, fields, reason, raw in records:
        if fields is None:
            line = raw.rstrip("\r\n")
            yield Reject(start, _id_of_line(line, delimiter, id_at), reason, printable(line))
            continue
        if not fields:
            continue  # a blank line is not a row
        row_number += 1
        given_id = id_at is not None and id_at < len(fields)
        row_id = fields[id_at] if given_id else default_id(row_number)
        if len(fields) != len(header):
            yield Reject(
                start,
                row_id,
                f"row has {len(fields)} fields but the header has {len(header)} "
                f"(an unquoted {_name(delimiter)} or quote?)",
                printable(delimiter.join(fields)),
            )
            continue
        if given_id:
            stats.saw_id(row_id)
        content = {c: fields[i] for c, i in content_at.items()} if content_at else None
        yield Row(start, row_id, fields[text_at], content=content)
    stats.lines += lines.read


def _id_of_line(line: str, delimiter: str, id_at: int | None):
    """The id of a line given up, read leniently, so the reject can name its post."""
    if id_at is None:
        return None
    fields = next(csv.reader([line], delimiter=delimiter), [])
    return printable(fields[id_at]) if id_at < len(fields) else None


def _chain(first: str, rest: IO[str]) -> Iterator[str]:
    yield first
    yield from rest


def _header(record, path) -> list[str]:
    _, fields, reason, _ = record
    if fields is None:
        raise InputError(
            f"input {path}",
            expected="a CSV header line naming the columns",
            found=f"line 1 is not valid CSV ({reason})",
            fix="Fix the header line (a stray quote?).",
        )
    return [printable(h) for h in fields]


def _check_header(header, path, first_line, delimiter, text_column, id_column, stats) -> None:
    for column, option in ((text_column, "--text-column"), (id_column, "--id-column")):
        if column is not None and column not in header:
            raise InputError(
                f"input {path}",
                expected=f"a {'text' if option == '--text-column' else 'id'} column {column!r}",
                found=f"columns {header}" if any(header) else "no columns (an empty header)",
                fix=_header_fix(first_line, delimiter, column, option),
            )
    repeated = {name: n for name, n in Counter(header).items() if n > 1}
    if repeated:
        names = ", ".join(f"{name!r} ({n} times)" for name, n in repeated.items())
        stats.warnings.append(
            f"{path}: the header repeats {names}; the first column of each name is read"
        )


def _header_fix(first_line: str, delimiter: str, column: str, option: str) -> str:
    if "\0" in first_line:
        return (
            "The file looks UTF-16: pass --encoding utf-16 "
            "(utf-16-le or utf-16-be when it has no byte order mark)."
        )
    for other in DELIMITERS:
        if other != delimiter and column in first_line.rstrip("\r\n").split(other):
            return f"The columns are separated by {_name(other)}: pass --delimiter {other!r}."
    return f"Name the column with {option} COLUMN."


def sniff_delimiter(header_line: str) -> str:
    """The delimiter of a header line: the candidate found most often outside quotes.

    >>> sniff_delimiter("id;text;date\\n"), sniff_delimiter('id,"a;b"\\n')
    (';', ',')
    """
    outside, quoted = [], False
    for char in header_line:
        if char == '"':
            quoted = not quoted
        elif not quoted:
            outside.append(char)
    counts = Counter(c for c in outside if c in DELIMITERS)
    if not counts:
        return ","
    best = max(counts.values())
    return next(d for d in DELIMITERS if counts[d] == best)  # ties: the order of DELIMITERS


def _name(delimiter: str) -> str:
    return {",": "comma", ";": "semicolon", "\t": "tab", "|": "bar"}.get(delimiter, repr(delimiter))

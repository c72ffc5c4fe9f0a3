"""What reading an input yields: a :class:`Row` to score or a :class:`Reject` with its line
(or row) number and reason, never anything else, so no input row is lost."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

DEFAULT_MAX_CHARS = 100_000
DEFAULT_MAX_RECORD_LINES = 200  # CSV: line ends one quoted field may hold before it is suspect
RAW_KEEP = 2000  # characters of a rejected row kept in the rejects file

# Bad bytes decoded with surrogateescape show up as lone surrogates.
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class ReadOptions:
    """How to read every input file: which fields, which limits, which text encoding."""

    text_column: str = "text"
    id_column: str | None = None  # None: an ``id`` column when there is one, else the number
    max_chars: int = DEFAULT_MAX_CHARS
    encoding: str | None = None  # None: UTF-8 (a UTF-8 or UTF-16 byte order mark is obeyed)
    delimiter: str | None = None  # CSV; None: sniffed from the header line
    max_record_lines: int = DEFAULT_MAX_RECORD_LINES  # CSV: line ends one record may hold
    # Columns carried with each row for models with content features (engagement counts,
    # posting time: a task's ``content_columns``); any other column is never read.
    content_columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class Row:
    number: int  # 1-based line of the record's start (CSV, JSONL) or row (Parquet)
    id: Any
    text: str
    unit: str = "line"  # "row" for Parquet
    source: str | None = None  # the file, when several are read as one input
    content: dict | None = None  # the row's ``content_columns`` that it has: column -> value


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


def check_text(row: Row, max_chars: int, encoding: str = "UTF-8") -> Row | Reject:
    """The row, or its reject when the text is empty, too long or not valid ``encoding``."""
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
        hint = "; if the file is in another encoding, pass --encoding (e.g. cp1258, latin-1)"
        reason = f"text is not valid {encoding}{hint if encoding == 'UTF-8' else ''}"
        return Reject(row.number, row.id, reason, printable(row.text), unit)
    return row


def printable(text: str) -> str:
    """``text`` with undecodable bytes shown as U+FFFD, cut to what a reject keeps."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")[:RAW_KEEP]


def row_from_record(
    number: int,
    row_id,
    record: dict,
    text_column: str,
    raw: str,
    unit: str = "line",
    content_columns: tuple[str, ...] = (),
) -> Row | Reject:
    """The row of a JSON object or Parquet record, or its reject (no text, or not a string)."""
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
    content = {c: record[c] for c in content_columns if c in record} if content_columns else None
    return Row(number, row_id, text, unit, content=content)


def missing_content_columns(path, missing: list[str]) -> str:
    """The warning for an input without some of the columns content features read."""
    return (
        f"{path}: no column {', '.join(map(repr, missing))}: the model's content features "
        "(engagement counts, posting hour) are unknown for its rows, which are scored on "
        "their text and links alone"
    )

"""Parquet input, read in batches of rows (a Parquet file has rows, not lines)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

from ..errors import InputError
from .input_rows import RAW_KEEP, Reject, Row, missing_content_columns, row_from_record

_BATCH_ROWS = 10_000


def read_parquet(
    path,
    text_column: str,
    id_column: str | None,
    default_id,
    stats,
    missing_column,
    content_columns: tuple[str, ...] = (),
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
        raise missing_column(path, "text", text_column, names, "--text-column")
    if id_column is not None and id_column not in names:
        raise missing_column(path, "id", id_column, names, "--id-column")
    id_name = id_column or ("id" if "id" in names else None)
    columns = [text_column] + ([id_name] if id_name and id_name != text_column else [])
    content = [c for c in content_columns if c in names and c not in columns]
    missing = [c for c in content_columns if c not in names]
    if missing:
        stats.warnings.append(missing_content_columns(path, missing))
    columns += content
    total = max(pf.metadata.num_rows, 1)
    number = 0
    for batch in pf.iter_batches(batch_size=_BATCH_ROWS, columns=columns):
        data = batch.to_pydict()
        ids = data[id_name] if id_name else None
        for i, text in enumerate(data[text_column]):
            number += 1
            if ids is not None:
                row_id = ids[i]
                stats.saw_id(row_id)
            else:
                row_id = default_id(number)
            record = {text_column: text}
            wanted = {c: data[c][i] for c in content_columns if c in data}
            yield row_from_record(
                number, row_id, record | wanted, text_column, _raw(record), "row", tuple(wanted)
            )
        stats.file_fraction(number / total)
    stats.lines += number


def _raw(record: dict) -> str:
    buf = io.StringIO()
    json.dump(record, buf, ensure_ascii=False, default=str)
    return buf.getvalue()[:RAW_KEEP]

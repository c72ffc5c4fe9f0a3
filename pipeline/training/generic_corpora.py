"""Generic corpora: any CSV, JSONL or Parquet files with a text column and, where given, a
label and an id column; labels mapped to a task's names."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import datasets
import pyarrow as pa

from ..errors import CorpusError
from .corpus_files import (
    BASE_FEATURES,
    Corpus,
    counted_empty_texts,
    dataset_of,
    in_split_order,
    label_index,
    read_table,
    task_labels,
    task_name,
)

# ---------------------------------------------------------------- generic files


def load_generic(
    path: Path,
    files: dict[str, Path],
    text_column: str | None,
    label_column: str | None,
    id_column: str | None,
    task: str | None,
) -> Corpus:
    name = path.stem if path.is_file() else path.name
    labels = task_labels(task) if task is not None else None
    problems: Counter[str] = Counter()
    unknown: Counter[str] = Counter()
    splits = {}
    for split, file in files.items():
        table = read_table(file, problems)
        text_col = _pick(file, table, text_column, "text", "text_column", required=True)
        label_col = _pick(file, table, label_column, "label", "label_column")
        id_col = _pick(file, table, id_column, "id", "id_column")
        n = len(table[text_col])
        ids = _generic_ids(table.get(id_col), name, split, n, problems)
        texts = []
        for value in table[text_col]:
            if value is not None and not isinstance(value, str):
                problems["text not a string (converted)"] += 1
                value = str(value)
            texts.append(value or "")
        out_labels = _generic_labels(table.get(label_col), labels, n, problems, unknown)
        columns = {"id": ids, "text": counted_empty_texts(texts, problems), "label": out_labels}
        used = {text_col, label_col, id_col}
        for col, values in table.items():
            if col not in used:
                key = f"source_{col}" if col in columns else col
                columns[key] = _uniform(values, col, problems)
        splits[split] = dataset_of(columns, BASE_FEATURES)
    if unknown:
        found = ", ".join(f"{v!r} ({n:,} rows)" for v, n in unknown.most_common(10))
        raise CorpusError(
            f"labels of {path}",
            expected=f"the {task!r} labels {list(labels or ())} or their ids "
            f"0..{len(labels or ()) - 1}",
            found=found,
            fix="Map the labels to these names first, or load without task to keep them as text.",
        )
    return Corpus(
        name=name,
        task=task_name(task) if task is not None else None,
        labels=labels,
        splits=datasets.DatasetDict(in_split_order(splits)),
        problems=dict(problems),
        source=str(path),
    )


def _pick(
    file: Path,
    table: dict[str, list],
    given: str | None,
    default: str,
    option: str,
    *,
    required: bool = False,
) -> str | None:
    if given is None and default in table:
        return default
    if given is None and not required:
        return None
    wanted = given or default
    if wanted in table:
        return wanted
    raise CorpusError(
        f"{file}",
        expected=f"a column {wanted!r}",
        found=f"the columns {list(table)}" if table else "no columns (an empty file?)",
        fix=f"Pass {option}= naming one of the columns found.",
    )


def _generic_ids(
    values: list | None, name: str, split: str, n: int, problems: Counter[str]
) -> list[str]:
    ids = []
    for i in range(n):
        value = values[i] if values is not None else None
        if value is None or str(value).strip() == "":
            if values is not None:
                problems["id empty (row number used)"] += 1
            ids.append(f"{name}:{split}:{i}")
        else:
            ids.append(str(value).strip())
    duplicates = n - len(set(ids))
    if duplicates:
        problems["id repeated within a split"] += duplicates
    return ids


def _label_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # Parquet / JSON write 1 as 1.0 once a column has gaps
    return str(value).strip()


def _generic_labels(
    values: list | None,
    labels: tuple[str, ...] | None,
    n: int,
    problems: Counter[str],
    unknown: Counter[str],
) -> list[str | None]:
    if values is None:
        return [None] * n
    by_name = {label.casefold(): label for label in labels or ()}
    out: list[str | None] = []
    for value in values:
        text = "" if value is None else _label_text(value)
        if not text or (isinstance(value, float) and value != value):  # NaN is missing too
            problems["label empty (row kept unlabelled)"] += 1
            out.append(None)
        elif labels is None:
            out.append(text)
        elif text.casefold() in by_name:
            out.append(by_name[text.casefold()])
        elif (k := label_index(text, len(labels))) is not None:
            out.append(labels[k])
        else:
            unknown[text] += 1
            out.append(None)
    return out


def _uniform(values: list, column: str, problems: Counter[str]) -> list:
    """Keep an extra column as is when Arrow can hold it as one type, else as text."""
    kinds = {type(v) for v in values if v is not None}
    if len(kinds) <= 1 or kinds <= {int, float}:
        try:
            pa.array(values)
            return values
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            pass
    problems[f"column {column!r} had mixed types (kept as text)"] += 1
    return [
        None if v is None else v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
        for v in values
    ]

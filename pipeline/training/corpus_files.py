"""Corpus files: split files in a directory, their formats and headers, tables read with
every odd value counted, and the typed ``datasets`` columns every corpus reader builds."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import datasets
import pandas as pd
import pyarrow as pa

from ..batch.inputs import FORMATS
from ..errors import CorpusError, InputError
from ..tasks import load_task

SPLITS = ("train", "dev", "test")
_SPLIT_ALIASES = {
    "train": "train",
    "dev": "dev",
    "val": "dev",
    "valid": "dev",
    "validation": "dev",
    "test": "test",
}
FORMATS = FORMATS  # the same file types classify reads


@dataclass
class Corpus:
    """A corpus read into splits, plus the counts of what could not be read cleanly."""

    name: str
    task: str | None
    labels: tuple[str, ...] | None
    splits: datasets.DatasetDict
    problems: dict[str, int] = field(default_factory=dict)
    source: str = ""

    def summary(self) -> str:
        """One line per split (rows, label shares) and one per problem, for CLI output."""
        head = f"{self.name}" + (f" (task {self.task})" if self.task else "")
        lines = [f"{head} from {self.source}"]
        for split, ds in self.splits.items():
            counts = Counter(ds["label"])
            n = len(ds)
            parts = []
            for label in self.labels or sorted(k for k in counts if k is not None):
                parts.append(f"{label} {counts.get(label, 0):,} ({_pct(counts.get(label, 0), n)})")
            if counts.get(None):
                parts.append(f"unlabelled {counts[None]:,} ({_pct(counts[None], n)})")
            lines.append(f"  {split}: {n:,} rows" + ("; " + ", ".join(parts) if parts else ""))
        if self.problems:
            lines.append("  problems:")
            lines += [f"    {what}: {n:,}" for what, n in sorted(self.problems.items())]
        else:
            lines.append("  problems: none")
        return "\n".join(lines)


def _pct(k: int, n: int) -> str:
    return f"{100 * k / n:.1f}%" if n else "-"


# ---------------------------------------------------------------- files and formats


def split_files(path: Path) -> dict[str, Path]:
    if path.is_file():
        file_format(path)
        return {"train": path}
    if not path.is_dir():
        raise InputError(
            "corpus path",
            expected="an existing directory or .csv / .jsonl / .parquet file",
            found=f"{str(path)!r}, which does not exist",
            fix="Check the path; reference corpora live in ../shared/corpora/<name>.",
        )
    files: dict[str, Path] = {}
    unnamed = []
    for file in sorted(path.iterdir()):
        if not file.is_file() or file.suffix.lower() not in FORMATS:
            continue  # README, checksums and the like are not data
        split = _SPLIT_ALIASES.get(file.stem.lower())
        if split is None:
            unnamed.append(file.name)
        elif split in files:
            raise CorpusError(
                f"corpus directory {path}",
                expected=f"one file for split {split!r}",
                found=f"{files[split].name} and {file.name}",
                fix="Remove or rename one of them.",
            )
        else:
            files[split] = file
    if unnamed or not files:
        raise CorpusError(
            f"corpus directory {path}",
            expected="data files named train, dev (or val/validation) and test "
            "with the suffix .csv, .jsonl or .parquet",
            found=f"data files {unnamed}" if unnamed else "no data files",
            fix="Rename the files after their split, or load one file by its path.",
        )
    return files


def file_format(file: Path) -> str:
    fmt = FORMATS.get(file.suffix.lower())
    if fmt is None:
        raise InputError(
            f"corpus file {file}",
            expected=f"a file ending in {', '.join(FORMATS)}",
            found=f"the suffix {file.suffix!r}",
            fix="Convert the file to CSV, JSON Lines or Parquet.",
        )
    return fmt


def header_of(file: Path) -> list[str]:
    """The column names of a CSV file; reference corpora come only as CSV."""
    if file_format(file) != "csv":
        return []
    with open(file, encoding="utf-8-sig", newline="") as fh:
        return next(csv.reader(fh), [])


def read_csv(file: Path) -> pd.DataFrame:
    try:
        # dtype=str + keep_default_na=False: a comment "null" or "NA" is text, not missing
        return pd.read_csv(file, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CorpusError(
            f"CSV file {file}",
            expected="UTF-8 text",
            found=f"bytes that are not UTF-8 ({exc.reason} at byte {exc.start})",
            fix="Save the file as UTF-8.",
        ) from exc
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise CorpusError(
            f"CSV file {file}",
            expected="a header line and rows with the same number of fields",
            found=str(exc).strip(),
            fix="Quote fields that hold commas or newlines, or export the file again.",
        ) from exc


def read_table(file: Path, problems: Counter[str]) -> dict[str, list]:
    """A data file as column name -> list of Python values (None where a value is missing)."""
    fmt = file_format(file)
    if fmt == "csv":
        df = read_csv(file)
        return {str(c): df[c].tolist() for c in df.columns}
    if fmt == "parquet":
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(file)
        except (pa.ArrowInvalid, OSError) as exc:
            raise CorpusError(
                f"Parquet file {file}",
                expected="a readable Parquet file",
                found=str(exc),
                fix="Write the file again with pyarrow or pandas.",
            ) from exc
        return {name: table.column(name).to_pylist() for name in table.column_names}
    rows: list[dict] = []
    with open(file, encoding="utf-8-sig") as fh:
        for line in fh:
            if not line.strip():
                continue  # a blank line is not a row
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                problems["rows left out: line is not valid JSON"] += 1
                continue
            if not isinstance(row, dict):
                problems["rows left out: line is not a JSON object"] += 1
                continue
            rows.append(row)
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    return {name: [row.get(name) for row in rows] for name in names}


def in_split_order(splits: dict[str, datasets.Dataset]) -> dict[str, datasets.Dataset]:
    return {s: splits[s] for s in SPLITS if s in splits}


def dataset_of(columns: dict[str, list], features: dict[str, Any]) -> datasets.Dataset:
    """Build a Dataset with fixed types for the known columns and inferred ones for extras."""
    feats = dict(features)
    for name, values in columns.items():
        if name not in feats:
            schema = pa.schema([pa.field(name, pa.array(values).type)])
            feats[name] = datasets.Features.from_arrow_schema(schema)[name]
    return datasets.Dataset.from_dict(columns, features=datasets.Features(feats))


BASE_FEATURES = {
    "id": datasets.Value("string"),
    "text": datasets.Value("string"),
    "label": datasets.Value("string"),
}




# ---------------------------------------------------------------- tasks and labels


def task_name(task: str) -> str:
    return load_task(task).name


def task_labels(task: str) -> tuple[str, ...]:
    return tuple(load_task(task).labels)


def label_index(value: str, n: int) -> int | None:
    """The id a numeric label value stands for ('2', '2.0'), or None."""
    m = re.fullmatch(r"\s*(\d+)(?:\.0*)?\s*", value)
    if m and int(m.group(1)) < n:
        return int(m.group(1))
    return None




def counted_empty_texts(values: list[str], problems: Counter[str]) -> list[str]:
    """Empty texts are kept (a row is never dropped for it) and counted."""
    if empty := sum(1 for t in values if not t.strip()):
        problems["empty text"] += empty
    return values

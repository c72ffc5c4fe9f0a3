"""Labelled corpora read into ``datasets.DatasetDict`` splits, with what was odd counted.

:func:`load_corpus` reads the three reference corpora (ViHSD, ReINTEL, ViHOS; recognised by
their columns, see ``corpora/*.md``) and generic CSV / JSONL / Parquet files or directories
of train/dev/test files. Every split has at least the columns ``id``, ``text`` and ``label``.
Nothing is dropped silently: rows kept despite a defect, values that could not be parsed and
rows left out are all counted in :attr:`Corpus.problems`. Nothing here touches the network.

>>> corpus = load_corpus("../shared/corpora/vihsd")  # doctest: +SKIP
>>> corpus.splits["test"][0]["label"]  # doctest: +SKIP
'clean'
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import datasets
import pandas as pd
import pyarrow as pa

from ..batch.inputs import FORMATS
from ..errors import CorpusError, InputError
from ..tasks import load_task

__all__ = [
    "FALSE_LABELS",
    "HOSTILE_LABELS",
    "VIHOS_LABELS",
    "Corpus",
    "load_corpus",
]

HOSTILE_LABELS = ("clean", "offensive", "hate")  # ViHSD label_id 0, 1, 2
FALSE_LABELS = ("reliable", "unreliable")  # ReINTEL label 0, 1
VIHOS_LABELS = ("clean", "hostile")  # ViHOS: derived from whether a row has spans

SPLITS = ("train", "dev", "test")
_SPLIT_ALIASES = {
    "train": "train",
    "dev": "dev",
    "val": "dev",
    "valid": "dev",
    "validation": "dev",
    "test": "test",
}
_FORMATS = FORMATS  # the same file types classify reads


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


def load_corpus(
    path: str | Path,
    *,
    text_column: str | None = None,
    label_column: str | None = None,
    id_column: str | None = None,
    task: str | None = None,
) -> Corpus:
    """Read a reference corpus directory, a directory of split files, or one data file.

    A single file becomes split ``train``. A directory holds files named train / dev
    (or val, valid, validation) / test with the suffix .csv, .jsonl or .parquet. When the
    files have the columns of ViHSD, ReINTEL or ViHOS, that corpus's reader is used and the
    column options must be left out. Otherwise ``text_column`` (default ``text``),
    ``label_column`` (default ``label`` if present) and ``id_column`` (default ``id`` if
    present) pick the columns; with ``task`` the labels are mapped to the task's names.
    """
    path = Path(path)
    files = _split_files(path)
    columns = {split: _header(file) for split, file in files.items()}
    kinds = {split: _reference_kind(cols) for split, cols in columns.items()}
    kind = next(iter(kinds.values()))
    if len(set(kinds.values())) > 1:
        found = ", ".join(f"{files[s].name}: {kinds[s] or 'generic'}" for s in files)
        raise CorpusError(
            f"corpus {path}",
            expected="every split file in the same layout",
            found=found,
            fix="Keep one corpus per directory.",
        )
    if kind is None:
        return _load_generic(path, files, text_column, label_column, id_column, task)

    given = {"text_column": text_column, "label_column": label_column, "id_column": id_column}
    given = {k: v for k, v in given.items() if v is not None}
    if given:
        raise InputError(
            f"column options for {path}",
            expected=f"no column options, because this is the {kind} corpus with a fixed reader",
            found=", ".join(f"{k}={v!r}" for k, v in given.items()),
            fix="Leave out text_column / label_column / id_column for reference corpora.",
        )
    corpus_task, reader = _REFERENCE[kind]
    if task is not None and _task_name(task) != corpus_task:
        raise InputError(
            f"task for {path}",
            expected=f"task {corpus_task!r} (or none) for the {kind} corpus",
            found=repr(task),
            fix=f"Leave task out or pass task={corpus_task!r}.",
        )
    problems: Counter[str] = Counter()
    splits = {split: reader(_read_csv(file), split, problems) for split, file in files.items()}
    labels = VIHOS_LABELS if kind == "vihos" else _task_labels(corpus_task)
    return Corpus(
        name=kind,
        task=corpus_task,
        labels=labels,
        splits=datasets.DatasetDict(_in_split_order(splits)),
        problems=dict(problems),
        source=str(path),
    )


# ---------------------------------------------------------------- files and formats


def _split_files(path: Path) -> dict[str, Path]:
    if path.is_file():
        _format(path)
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
        if not file.is_file() or file.suffix.lower() not in _FORMATS:
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


def _format(file: Path) -> str:
    fmt = _FORMATS.get(file.suffix.lower())
    if fmt is None:
        raise InputError(
            f"corpus file {file}",
            expected=f"a file ending in {', '.join(FORMATS)}",
            found=f"the suffix {file.suffix!r}",
            fix="Convert the file to CSV, JSON Lines or Parquet.",
        )
    return fmt


def _header(file: Path) -> list[str]:
    """The column names of a CSV file; reference corpora come only as CSV."""
    if _format(file) != "csv":
        return []
    with open(file, encoding="utf-8-sig", newline="") as fh:
        return next(csv.reader(fh), [])


def _read_csv(file: Path) -> pd.DataFrame:
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


def _read_table(file: Path, problems: Counter[str]) -> dict[str, list]:
    """A data file as column name -> list of Python values (None where a value is missing)."""
    fmt = _format(file)
    if fmt == "csv":
        df = _read_csv(file)
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


def _in_split_order(splits: dict[str, datasets.Dataset]) -> dict[str, datasets.Dataset]:
    return {s: splits[s] for s in SPLITS if s in splits}


def _dataset(columns: dict[str, list], features: dict[str, Any]) -> datasets.Dataset:
    """Build a Dataset with fixed types for the known columns and inferred ones for extras."""
    feats = dict(features)
    for name, values in columns.items():
        if name not in feats:
            schema = pa.schema([pa.field(name, pa.array(values).type)])
            feats[name] = datasets.Features.from_arrow_schema(schema)[name]
    return datasets.Dataset.from_dict(columns, features=datasets.Features(feats))


_BASE = {
    "id": datasets.Value("string"),
    "text": datasets.Value("string"),
    "label": datasets.Value("string"),
}


# ---------------------------------------------------------------- tasks and labels


def _task_name(task: str) -> str:
    return load_task(task).name


def _task_labels(task: str) -> tuple[str, ...]:
    return tuple(load_task(task).labels)


def _label_index(value: str, n: int) -> int | None:
    """The id a numeric label value stands for ('2', '2.0'), or None."""
    m = re.fullmatch(r"\s*(\d+)(?:\.0*)?\s*", value)
    if m and int(m.group(1)) < n:
        return int(m.group(1))
    return None


# ---------------------------------------------------------------- reference corpora


def _reference_kind(columns: list[str]) -> str | None:
    cols = set(columns)
    if {"free_text", "label_id"} <= cols:
        return "vihsd"
    if {"post_message", "label"} <= cols and set(_REINTEL_META) <= cols:
        return "reintel"
    if {"content", "index_spans"} <= cols:
        return "vihos"
    return None


def _texts(values: list[str], problems: Counter[str]) -> list[str]:
    """Empty texts are kept (a row is never dropped for it) and counted."""
    if empty := sum(1 for t in values if not t.strip()):
        problems["empty text"] += empty
    return values


def _read_vihsd(df: pd.DataFrame, split: str, problems: Counter[str]) -> datasets.Dataset:
    ids, texts, labels = [], [], []
    for i, (text, label_id) in enumerate(zip(df["free_text"], df["label_id"], strict=True)):
        k = _label_index(label_id, len(HOSTILE_LABELS))
        if k is None:
            problems["rows left out: label_id not 0, 1 or 2"] += 1
            continue
        ids.append(f"vihsd:{split}:{i}")
        texts.append(text)
        labels.append(HOSTILE_LABELS[k])
    return _dataset({"id": ids, "text": _texts(texts, problems), "label": labels}, _BASE)


_REINTEL_META = ("timestamp_post", "num_like_post", "num_comment_post", "num_share_post")
_REINTEL_OUT = ("timestamp", "num_like", "num_comment", "num_share")
_LOST = object()  # a value pushed out of its row by shifted columns
_INT = re.compile(r"\s*(\d+)(?:\.0*)?\s*")
_COUNT_WITH_UNIT = re.compile(r"\s*(\d+)\s+(?:like|comment|share)s?\s*", re.IGNORECASE)
_DATE = re.compile(
    r"\s*([A-Z][a-z]+) (\d{1,2})(?:st|nd|rd|th) (\d{4}), (\d{2}):(\d{2}):(\d{2})(?:\.\d+)?\s*"
)
# The date strings carry no zone; the data was collected and labelled in Vietnam.
_VIETNAM = timezone(timedelta(hours=7))


def _unix_from_date(value: str) -> int | None:
    m = _DATE.fullmatch(value)
    if not m:
        return None
    month, day, year, hh, mm, ss = m.groups()
    try:
        when = datetime.strptime(f"{month} {day} {year} {hh}:{mm}:{ss}", "%B %d %Y %H:%M:%S")
    except ValueError:
        return None
    return int(when.replace(tzinfo=_VIETNAM).timestamp())


def _is_unix_time(value: str) -> bool:
    m = _INT.fullmatch(value)
    # 2004-01-01 .. 2033-05-18: anything else is not a post time from this corpus
    return bool(m) and 1_072_915_200 <= int(m.group(1)) < 2_000_000_000


def _is_text_fragment(value: str) -> bool:
    """A piece of post text that slipped into a metadata column."""
    v = value.strip()
    return bool(
        v
        and v.lower() != "unknown"
        and not _INT.fullmatch(v)
        and not _COUNT_WITH_UNIT.fullmatch(v)
        and not _DATE.fullmatch(v)
    )


def _repair_reintel(message: str, meta: list[str], problems: Counter[str]) -> tuple[str, list[Any]]:
    """Undo the two kinds of shifted rows found in ReINTEL; see corpora/reintel.md."""
    values: list[Any] = list(meta)
    # 1. A post cut at its commas: the tail sits in the first metadata columns and the real
    #    values follow in column order, starting with the post time; the last k values were
    #    cut off. The text is always rejoined; the values only when a post time follows.
    k = 0
    while k < len(values) and _is_text_fragment(values[k]):
        k += 1
    if k:
        message = ",".join([message, *values[:k]])
        rest = values[k:]
        if rest and _is_unix_time(rest[0]):
            values = rest + [_LOST] * k
            problems["shifted columns repaired (post text in metadata columns)"] += 1
            problems["metadata values lost to shifted columns"] += k
        else:
            values = [_LOST] * len(values)
            problems["shifted columns: post text rejoined, metadata not recoverable"] += 1
            problems["metadata values lost to shifted columns"] += len(values)
    # 2. The post time written as a date in a count column, with timestamp_post empty.
    if values[0] == "":
        for j in range(1, len(values)):
            if isinstance(values[j], str) and (unix := _unix_from_date(values[j])) is not None:
                values[0], values[j] = str(unix), _LOST
                problems[f"timestamp_post moved from a date in {_REINTEL_META[j]}"] += 1
                break
    return message, values


def _parse_count(column: str, value: Any, problems: Counter[str]) -> int | None:
    if value is _LOST:
        return None
    if not value.strip():
        problems[f"{column} empty"] += 1
        return None
    if m := _INT.fullmatch(value):
        return int(m.group(1))
    if m := _COUNT_WITH_UNIT.fullmatch(value):
        problems[f"{column} had a unit word, number kept"] += 1
        return int(m.group(1))
    if value.strip().lower() == "unknown":
        problems[f"{column} 'unknown'"] += 1
    else:
        problems[f"{column} not a number"] += 1
    return None


def _read_reintel(df: pd.DataFrame, split: str, problems: Counter[str]) -> datasets.Dataset:
    out: dict[str, list] = {name: [] for name in ("id", "text", "label", *_REINTEL_OUT)}
    metadata = (df[c] for c in _REINTEL_META)
    rows = zip(df["id"], df["post_message"], *metadata, df["label"], strict=True)
    for i, (source_id, message, *meta, label) in enumerate(rows):
        k = _label_index(label, len(FALSE_LABELS))
        if k is None:
            problems["rows left out: label not 0 or 1"] += 1
            continue
        if not source_id.strip():
            problems["id empty (row number used)"] += 1
            source_id = f"reintel:{split}:{i}"
        message, values = _repair_reintel(message, meta, problems)
        if message.strip() == "<URL>":
            problems["text is only <URL>"] += 1
        out["id"].append(source_id.strip())
        out["text"].append(message)
        out["label"].append(FALSE_LABELS[k])
        for column, name, value in zip(_REINTEL_META, _REINTEL_OUT, values, strict=True):
            out[name].append(_parse_count(column, value, problems))
    _texts(out["text"], problems)
    ints = {name: datasets.Value("int64") for name in _REINTEL_OUT}
    return _dataset(out, {**_BASE, **ints})


def _merge_offsets(offsets: list[int]) -> list[list[int]]:
    """Character offsets [3, 4, 5, 9] -> half-open spans [[3, 6], [9, 10]]."""
    spans: list[list[int]] = []
    for o in offsets:
        if spans and o == spans[-1][1]:
            spans[-1][1] = o + 1
        else:
            spans.append([o, o + 1])
    return spans


def _read_vihos(df: pd.DataFrame, split: str, problems: Counter[str]) -> datasets.Dataset:
    index = df[df.columns[0]] if df.columns[0] not in ("content", "index_spans") else None
    out: dict[str, list] = {"id": [], "text": [], "label": [], "spans": []}
    for i, (text, raw) in enumerate(zip(df["content"], df["index_spans"], strict=True)):
        try:
            offsets = json.loads(raw)
            if not isinstance(offsets, list) or not all(type(o) is int for o in offsets):
                raise ValueError
        except ValueError:
            problems["rows left out: index_spans not a list of offsets"] += 1
            continue
        inside = sorted({o for o in offsets if 0 <= o < len(text)})
        if len(inside) < len(set(offsets)):
            problems["span offsets outside the text (dropped)"] += len(set(offsets)) - len(inside)
        if inside != offsets and len(inside) == len(set(offsets)):
            problems["index_spans unsorted or repeated (sorted)"] += 1
        spans = _merge_offsets(inside)
        for a, b in spans:
            if (a > 0 and text[a - 1].isalnum() and text[a].isalnum()) or (
                b < len(text) and text[b - 1].isalnum() and text[b].isalnum()
            ):
                problems["span starts or ends inside a word (kept as marked)"] += 1
        row = index.iloc[i].strip() if index is not None else ""
        out["id"].append(f"vihos:{split}:{row or i}")
        out["text"].append(text)
        out["label"].append(VIHOS_LABELS[1] if spans else VIHOS_LABELS[0])
        out["spans"].append(spans)
    _texts(out["text"], problems)
    spans_type = datasets.List(datasets.List(datasets.Value("int32")))
    return _dataset(out, {**_BASE, "spans": spans_type})


_Reader = Callable[[pd.DataFrame, str, Counter], datasets.Dataset]
_REFERENCE: dict[str, tuple[str, _Reader]] = {
    "vihsd": ("hostile", _read_vihsd),
    "reintel": ("false", _read_reintel),
    "vihos": ("hostile", _read_vihos),
}


# ---------------------------------------------------------------- generic files


def _load_generic(
    path: Path,
    files: dict[str, Path],
    text_column: str | None,
    label_column: str | None,
    id_column: str | None,
    task: str | None,
) -> Corpus:
    name = path.stem if path.is_file() else path.name
    labels = _task_labels(task) if task is not None else None
    problems: Counter[str] = Counter()
    unknown: Counter[str] = Counter()
    splits = {}
    for split, file in files.items():
        table = _read_table(file, problems)
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
        columns = {"id": ids, "text": _texts(texts, problems), "label": out_labels}
        used = {text_col, label_col, id_col}
        for col, values in table.items():
            if col not in used:
                key = f"source_{col}" if col in columns else col
                columns[key] = _uniform(values, col, problems)
        splits[split] = _dataset(columns, _BASE)
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
        task=_task_name(task) if task is not None else None,
        labels=labels,
        splits=datasets.DatasetDict(_in_split_order(splits)),
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
        elif (k := _label_index(text, len(labels))) is not None:
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

"""Readers of the reference corpora, recognised by their columns (see ``corpora/*.md``):
ViHSD (hostile), ReINTEL (false; its shifted columns repaired) and ViHOS (spans)."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import datasets
import pandas as pd

from .corpus_files import BASE_FEATURES, counted_empty_texts, dataset_of, label_index

HOSTILE_LABELS = ("clean", "offensive", "hate")  # ViHSD label_id 0, 1, 2
FALSE_LABELS = ("reliable", "unreliable")  # ReINTEL label 0, 1
VIHOS_LABELS = ("clean", "hostile")  # ViHOS: derived from whether a row has spans


# ---------------------------------------------------------------- reference corpora


def reference_kind(columns: list[str]) -> str | None:
    cols = set(columns)
    if {"free_text", "label_id"} <= cols:
        return "vihsd"
    if {"post_message", "label"} <= cols and set(_REINTEL_META) <= cols:
        return "reintel"
    if {"content", "index_spans"} <= cols:
        return "vihos"
    return None


def _read_vihsd(df: pd.DataFrame, split: str, problems: Counter[str]) -> datasets.Dataset:
    ids, texts, labels = [], [], []
    for i, (text, label_id) in enumerate(zip(df["free_text"], df["label_id"], strict=True)):
        k = label_index(label_id, len(HOSTILE_LABELS))
        if k is None:
            problems["rows left out: label_id not 0, 1 or 2"] += 1
            continue
        ids.append(f"vihsd:{split}:{i}")
        texts.append(text)
        labels.append(HOSTILE_LABELS[k])
    columns = {"id": ids, "text": counted_empty_texts(texts, problems), "label": labels}
    return dataset_of(columns, BASE_FEATURES)


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
        k = label_index(label, len(FALSE_LABELS))
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
    counted_empty_texts(out["text"], problems)
    ints = {name: datasets.Value("int64") for name in _REINTEL_OUT}
    return dataset_of(out, {**BASE_FEATURES, **ints})


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
    counted_empty_texts(out["text"], problems)
    spans_type = datasets.List(datasets.List(datasets.Value("int32")))
    return dataset_of(out, {**BASE_FEATURES, "spans": spans_type})


_Reader = Callable[[pd.DataFrame, str, Counter], datasets.Dataset]
REFERENCE: dict[str, tuple[str, _Reader]] = {
    "vihsd": ("hostile", _read_vihsd),
    "reintel": ("false", _read_reintel),
    "vihos": ("hostile", _read_vihos),
}

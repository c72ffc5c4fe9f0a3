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

from collections import Counter
from pathlib import Path

import datasets

from ..errors import CorpusError, InputError
from .corpus_files import (
    Corpus,
    header_of,
    in_split_order,
    read_csv,
    split_files,
    task_labels,
    task_name,
)
from .generic_corpora import load_generic
from .reference_corpora import FALSE_LABELS, HOSTILE_LABELS, REFERENCE, VIHOS_LABELS, reference_kind

__all__ = [
    "FALSE_LABELS",
    "HOSTILE_LABELS",
    "VIHOS_LABELS",
    "Corpus",
    "load_corpus",
]


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
    files = split_files(path)
    columns = {split: header_of(file) for split, file in files.items()}
    kinds = {split: reference_kind(cols) for split, cols in columns.items()}
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
        return load_generic(path, files, text_column, label_column, id_column, task)

    given = {"text_column": text_column, "label_column": label_column, "id_column": id_column}
    given = {k: v for k, v in given.items() if v is not None}
    if given:
        raise InputError(
            f"column options for {path}",
            expected=f"no column options, because this is the {kind} corpus with a fixed reader",
            found=", ".join(f"{k}={v!r}" for k, v in given.items()),
            fix="Leave out text_column / label_column / id_column for reference corpora.",
        )
    corpus_task, reader = REFERENCE[kind]
    if task is not None and task_name(task) != corpus_task:
        raise InputError(
            f"task for {path}",
            expected=f"task {corpus_task!r} (or none) for the {kind} corpus",
            found=repr(task),
            fix=f"Leave task out or pass task={corpus_task!r}.",
        )
    problems: Counter[str] = Counter()
    splits = {split: reader(read_csv(file), split, problems) for split, file in files.items()}
    labels = VIHOS_LABELS if kind == "vihos" else task_labels(corpus_task)
    return Corpus(
        name=kind,
        task=corpus_task,
        labels=labels,
        splits=datasets.DatasetDict(in_split_order(splits)),
        problems=dict(problems),
        source=str(path),
    )

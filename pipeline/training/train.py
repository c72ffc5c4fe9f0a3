"""Train a model from a corpus and write its whole directory: config, weights, metrics, card.

The corpus's train (and dev) splits are fitted; its fixed test split is only evaluated, as
is the test split minus every text also seen in training (published numbers use the full
split; the second shows what the model does on truly unseen text). Reviewed labels from the
queue can be merged into the training data (``reviews``; see ``pipeline.training.merge_reviews``).
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import platform
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import CorpusError, InputError
from ..model import registry
from ..model.card import write_model_card
from ..model.directory import METRICS_FILE, load_model, read_config, save_model, write_json
from ..model.families import FAMILY_NAMES, SCORERS, scorer_class
from ..model.neural import require_torch
from ..model.transformer import (
    hold_out_dev,
    last_checkpoint,
    require_libraries,
)
from ..tasks import CONTENT_KEYS, Task, load_task
from ..text.mask import same_post_key
from ..text.prepare import prepare
from .corpora import Corpus, load_corpus
from .functional import evaluate_functional, load_functional
from .merge_reviews import (
    MergeReport,
    describe_source,
    is_database_url,
    merge_reviews,
    read_reviews,
)
from .metrics import evaluate
from .span_supervision import RISKY as SPAN_LABELS
from .span_supervision import span_examples

log = logging.getLogger(__name__)

TRAIN_SPLITS = ("train", "dev")
FUNCTIONAL_SOURCE = "corpora/functional/vi_functional.jsonl"
FAMILIES = FAMILY_NAMES  # what --family takes


@dataclass(frozen=True)
class TrainResult:
    model_dir: Path
    metrics: dict
    became_current: bool
    corpus_summary: str  # splits, label shares and what the reader could not parse


def next_version(task_dir: Path, name: str) -> str:
    pattern = re.compile(rf"^{re.escape(name)}-(\d+)$")
    taken = [int(m.group(1)) for p in task_dir.glob(f"{name}-*") if (m := pattern.match(p.name))]
    return str(max(taken, default=0) + 1)


def _labelled(corpus: Corpus, split: str) -> tuple[list[str], list[str], list[str]]:
    ds = corpus.splits[split]
    rows = [
        (i, t, lab)
        for i, t, lab in zip(ds["id"], ds["text"], ds["label"], strict=True)
        if lab is not None
    ]
    return [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]


def content_meta(corpus: Corpus, split: str) -> list[dict | None]:
    """Each labelled row's content metadata (engagement counts, posting time), in the order of
    :func:`_labelled`; ``None`` for every row of a corpus without those columns. Only the
    keys of ``CONTENT_KEYS`` are read: never an author column."""
    ds = corpus.splits[split]
    keys = [k for k in CONTENT_KEYS if k in ds.column_names]
    if not keys:
        return [None] * sum(lab is not None for lab in ds["label"])
    columns = [ds[k] for k in keys]
    return [
        dict(zip(keys, values, strict=True))
        for lab, *values in zip(ds["label"], *columns, strict=True)
        if lab is not None
    ]


def labelled_split(corpus: Corpus, split: str) -> tuple[list[str], list[str], list[dict | None]]:
    """The texts, labels and content metadata of a split's labelled rows, as training and
    its test-set metrics read them (so a benchmark can score the very same test posts)."""
    _, texts, labels = _labelled(corpus, split)
    return texts, labels, content_meta(corpus, split)


def _check_corpus(corpus: Corpus, task: Task) -> None:
    if "train" not in corpus.splits or "test" not in corpus.splits:
        raise CorpusError(
            f"corpus {corpus.source}",
            expected="a train split and a fixed test split",
            found=f"splits {sorted(corpus.splits)}",
            fix="Give the corpus a test file (test.csv / test.jsonl / test.parquet) beside train.",
        )
    found = {lab for split in corpus.splits.values() for lab in split["label"] if lab is not None}
    unknown = sorted(found - set(task.labels))
    if unknown:
        raise CorpusError(
            f"corpus {corpus.source}",
            expected=f"labels of task {task.name!r}: {list(task.labels)}",
            found=f"labels {unknown}",
            fix="Pick the task that matches the corpus, or map its labels.",
        )


def train_model(
    task_name: str,
    corpus_path: Path,
    *,
    models_root: Path = Path("models"),
    name: str | None = None,
    version: str | None = None,
    promote: bool | None = None,
    workers: int = 1,
    corpus_options: dict | None = None,
    hyperparameters: dict | None = None,
    command: str = "",
    reviews: str | Path | None = None,
    span_supervision: str | Path | None = None,
    family: str = "linear",
    family_options: dict | None = None,
    actor: str = "train",
    audit_session=None,
) -> TrainResult:
    """Fit, save, reload, evaluate on the fixed test split and write the model card.

    ``promote=None`` makes the model current only when the task has no current model yet
    (``registry.promote_first``). ``promote=True`` promotes it as ``kiemtin models promote``
    does (``registry.promote``: through the gate, recorded in HISTORY.jsonl and, given
    ``audit_session``, the audit trail, by ``actor``); a refusal raises
    ``PromotionRefused`` with the model directory written but not current.
    ``reviews`` (an export file or a database URL) merges reviewed labels into training.
    ``family`` picks the model family (``name`` defaults to it); ``hyperparameters`` go to
    its scorer (linear: ``C``, ``cv_folds``; transformer: ``base_model``,
    ``segmented_input``, ``max_length``, ``epochs``, ...; neural: ``dim``, ``channels``,
    ``epochs``, ...; ensemble: ``members``). The linear family fits train and dev together;
    a family whose ``fit`` takes a dev set (transformer, neural: early stopping and
    calibration; ensemble: the members' mix) fits train and keeps the dev
    split for that (a corpus without one: a seeded, stratified 10% of train).
    ``family_options`` say how a transformer is fitted, not what it is: ``work_dir`` (its
    checkpoints; default ``out/train/<task>-<name>``) and ``resume`` (continue from the last
    checkpoint there).
    """
    if family not in FAMILIES:
        raise InputError(
            "--family",
            expected=f"one of {list(FAMILIES)}",
            found=repr(family),
            fix=f"Pick one of {', '.join(FAMILIES)} (linear is the default).",
        )
    name = name or family
    task = load_task(task_name)
    if family == "transformer":
        family_options = _transformer_options(task.name, name, hyperparameters, family_options)
    elif family == "neural":
        require_torch("--family neural")  # before the minutes of segmentation
    corpus = load_corpus(corpus_path, task=task.name, **(corpus_options or {}))
    _check_corpus(corpus, task)

    train_ids, train_texts, train_labels, train_meta = [], [], [], []
    split_sizes = {}
    for split in TRAIN_SPLITS:
        if split in corpus.splits:
            ids, texts, labels = _labelled(corpus, split)
            split_sizes[split] = len(ids)
            train_ids += ids
            train_texts += texts
            train_labels += labels
            train_meta += content_meta(corpus, split)
    test_texts, test_labels, test_meta = labelled_split(corpus, "test")
    merged = None
    if reviews is not None:
        shown = describe_source(reviews)
        merged = MergeReport(shown if is_database_url(reviews) else _display_path(shown))
        reviewed = read_reviews(reviews, task, merged)
        train_ids, train_texts, train_labels = merge_reviews(
            (train_ids, train_texts, train_labels), test_texts, reviewed, merged
        )
        log.info("%s", merged.summary())
        # merging keeps the corpus rows in order and appends reviewed posts, whose
        # metadata is unknown
        train_meta += [None] * (len(train_texts) - len(train_meta))
    spans = None
    if span_supervision is not None:
        if not set(SPAN_LABELS) <= set(task.labels):
            raise InputError(
                "--span-supervision",
                expected=f"a task with the labels {list(SPAN_LABELS)} (hostile)",
                found=f"task {task.name!r} with labels {list(task.labels)}",
                fix="Leave --span-supervision out for this task.",
            )
        extra_texts, extra_labels, spans = span_examples(
            span_supervision, train_texts, train_labels, test_texts
        )
        log.info("%s", spans.summary())
        train_texts, train_labels = train_texts + extra_texts, train_labels + extra_labels
        train_meta += [None] * len(extra_texts)

    log.info("normalising and segmenting %d texts", len(train_texts) + len(test_texts))
    prepared = prepare(train_texts + test_texts, workers=workers)
    train_prepared, test_prepared = prepared[: len(train_texts)], prepared[len(train_texts) :]

    dev = None
    scorer = SCORERS[family](task, **(hyperparameters or {}))
    if "dev" in inspect.signature(scorer.fit).parameters:
        # transformer, ensemble: the dev split stops, calibrates and mixes
        fit_options = family_options if family == "transformer" else {}
        train_labels, dev = _fit_with_dev(
            scorer, train_prepared, train_labels, split_sizes, fit_options
        )
    else:
        log.info("fitting %s on %d texts", scorer.family, len(train_texts))
        if scorer.content_features:
            scorer.fit(train_prepared, train_labels, meta=train_meta)
        else:
            scorer.fit(train_prepared, train_labels)

    task_dir = Path(models_root) / task.name
    version = version or next_version(task_dir, name)
    model_dir = task_dir / f"{name}-{version}"
    data = {
        "corpus": corpus.name,
        "source": _display_path(corpus.source),
        "splits_used": [s for s in TRAIN_SPLITS if s in corpus.splits],
        "n_train": len(train_labels),
        "train_label_counts": {lab: train_labels.count(lab) for lab in task.labels},
        "corpus_problems": dict(sorted(corpus.problems.items())),
    }
    if dev is not None:
        data["dev"] = dev
    if merged is not None:
        data["reviews"] = merged.to_dict()
    if spans is not None:
        data["span_supervision"] = spans.to_dict()
    save_model(
        scorer,
        model_dir,
        extra_config={
            "name": name,
            "version": version,
            "training_data": data,
            "reproduce": command,
            "library_versions": _library_versions(family),
        },
    )

    # Metrics come from the model as saved, so they describe exactly what is shipped.
    shipped = load_model_unchecked(model_dir)
    seen = {same_post_key(t) for t in train_texts}
    unseen = [i for i, t in enumerate(test_texts) if same_post_key(t) not in seen]
    test_name = f"{corpus.name}/test"
    metrics = {
        "task": task.name,
        "model": f"{task.name}/{model_dir.name}",
        "test_sets": {
            test_name: evaluate(shipped, test_prepared, test_labels, meta=test_meta),
            f"{test_name}-minus-train": evaluate(
                shipped,
                [test_prepared[i] for i in unseen],
                [test_labels[i] for i in unseen],
                meta=[test_meta[i] for i in unseen],
            ),
        },
    }
    if shipped.content_features:
        # what a text-only input (no engagement counts, no time) gets from the same model
        metrics["test_sets"][f"{test_name}-without-metadata"] = evaluate(
            shipped, test_prepared, test_labels, meta=[None] * len(test_prepared)
        )
    functional = functional_metrics(shipped, task.name)
    if functional is not None:
        metrics["functional"] = functional
    write_json(model_dir / METRICS_FILE, metrics)
    # The card shows what the files say, in their (sorted) order, so a card rendered later
    # from the same directory is the same bytes.
    metrics = json.loads((model_dir / METRICS_FILE).read_text(encoding="utf-8"))
    write_model_card(model_dir, read_config(model_dir), metrics, corpus)
    load_model(model_dir)  # the directory must now be whole

    if promote is None:
        became_current = registry.promote_first(model_dir)
    elif promote:
        became_current = registry.promote(
            models_root, model_dir, actor=actor, audit_session=audit_session
        ).changed
    else:
        became_current = False
    summary = corpus.summary() + (f"\n{merged.summary()}" if merged is not None else "")
    return TrainResult(model_dir, metrics, became_current, summary)


def functional_metrics(scorer, task: str) -> dict | None:
    """The model on the team's hand-written functional set (``corpora/functional``): per
    family and overall, the ids of the cases it gets wrong (their texts are in the set);
    None for a task the set has no cases of."""
    cases = [c for c in load_functional() if c.task == task]
    if not cases:
        return None
    result = evaluate_functional(scorer, cases, task)
    failed = [f["id"] for f in result.pop("failures")]
    return {**result, "failed": failed, "source": FUNCTIONAL_SOURCE}


def load_model_unchecked(model_dir: Path):
    """Load weights before metrics.json and the card exist (only training needs this)."""
    config = read_config(model_dir)
    family = scorer_class(config["family"], model_dir)
    return family.load(model_dir, config, Task.from_dict(config["task"]))


def _transformer_options(
    task_name: str, name: str, hyperparameters: dict | None, options: dict | None
) -> dict:
    """``work_dir`` (default ``out/train/<task>-<name>``) and ``resume``, checked before any
    work, as are the libraries and the base model: a run that cannot train stops at once."""
    require_libraries("--family transformer")
    if not (hyperparameters or {}).get("base_model"):
        raise InputError(
            "transformer hyper-parameters",
            expected="base_model: a local encoder directory or a hub id",
            found=f"{sorted(hyperparameters or {})}",
            fix="Pass hyperparameters={'base_model': ...} (--base-model on the command line).",
        )
    options = dict(options or {})
    work_dir = options.pop("work_dir", None) or Path("out") / "train" / f"{task_name}-{name}"
    resume = bool(options.pop("resume", False))
    if options:
        raise TypeError(f"unknown family_options {sorted(options)}: use work_dir, resume")
    if resume:
        last_checkpoint(work_dir)
    return {"work_dir": Path(work_dir), "resume": resume}


def _fit_with_dev(scorer, prepared, labels, split_sizes, fit_options):
    """Fit a family that keeps a dev set (early stopping, calibration, an ensemble's mix) on
    train, with the corpus's dev split as that set, or a held-out part of train (the
    scorer's ``dev_fraction``, stratified, its ``seed``). Returns the labels it was fitted
    on and what the dev set was."""
    task = scorer.task
    if "dev" in split_sizes:
        start = split_sizes["train"]
        dev_idx = list(range(start, start + split_sizes["dev"]))
        source = "the corpus's dev split"
    else:
        _, dev_idx = hold_out_dev(labels, scorer.dev_fraction, scorer.seed)
        source = (
            f"{scorer.dev_fraction:.0%} of the training texts held out "
            f"(stratified, seed {scorer.seed})"
        )
    in_dev = set(dev_idx)
    fit_idx = [i for i in range(len(labels)) if i not in in_dev]
    dev_labels = [labels[i] for i in dev_idx]
    log.info(
        "fitting %s on %d texts, dev %d (%s)", scorer.family, len(fit_idx), len(dev_idx), source
    )
    scorer.fit(
        [prepared[i] for i in fit_idx],
        [labels[i] for i in fit_idx],
        dev=([prepared[i] for i in dev_idx], dev_labels),
        **fit_options,
    )
    used_for = (
        "the mixing weights, calibration and decision weights"
        if scorer.family == "ensemble"
        else "early stopping, calibration and decision weights"
    )
    dev = {
        "source": source,
        "n": len(dev_idx),
        "label_counts": {lab: dev_labels.count(lab) for lab in task.labels},
        "used_for": used_for,
    }
    return [labels[i] for i in fit_idx], dev


def _display_path(source: str) -> str:
    # Relative to where train ran, so committed model files hold no machine-specific paths.
    return os.path.relpath(Path(source).resolve(), Path.cwd().resolve())


def _library_versions(family: str = "linear") -> dict:
    import datasets
    import numpy
    import scipy
    import sklearn
    import underthesea

    from .. import __version__

    versions = {
        "kiemtin": __version__,
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
        "underthesea": underthesea.__version__,
        "datasets": datasets.__version__,
    }
    if family == "transformer":
        import torch
        import transformers

        versions |= {"torch": torch.__version__, "transformers": transformers.__version__}
    elif family in ("neural", "ensemble"):  # an ensemble's neural member trains with torch
        try:
            import torch
        except ImportError:  # an ensemble of linear members needs none
            return versions
        versions["torch"] = torch.__version__
    return versions

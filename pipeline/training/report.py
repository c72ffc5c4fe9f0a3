"""Evaluation reports: one model on one corpus split, as JSON, an HTML page and PNG plots.

:func:`evaluate_model` scores the split, computes
:func:`pipeline.training.metrics.evaluate` (overall and per slice), and writes into ``out_dir``:

- ``metrics.json``: the ``evaluate()`` dict plus which model, corpus and split, the data of
  the plots (confusion matrix, precision-recall of the risk score, reliability bins), the
  most confident wrong predictions and, when there is one, the comparison model's metrics
  and the differences (this model minus the other), with the 95% bootstrap intervals of
  macro-F1 and ROC-AUC and of their paired differences (:mod:`.intervals`);
- ``report.html``: the same as tables, with the plots beside it (relative links, no script,
  nothing fetched: it opens from disk with no network);
- ``confusion.png``, ``precision_recall.png``, ``reliability.png``.

Corpus texts are untrusted: they are masked (:func:`pipeline.text.mask.mask_personal_data`) and
escaped by the autoescaping template. The same model, corpus and options give the same bytes
(sorted JSON, fixed float formats, PNGs without a timestamp).
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from jinja2 import Environment, PackageLoader, select_autoescape
from sklearn.metrics import average_precision_score, confusion_matrix, precision_recall_curve

from ..errors import CorpusError, InputError, ModelDirError
from ..model import DEFAULT_MODELS_ROOT
from ..model.base import Scorer
from ..model.directory import (
    current_model_dir,
    load_model,
    model_version,
    write_json,
)
from ..model.registry import resolve_model_dir
from ..tasks import known_tasks
from ..text.mask import mask_personal_data
from ..text.prepare import prepare
from .corpora import load_corpus
from .intervals import difference_intervals
from .metrics import ECE_BINS, evaluate, predict_with_meta
from .train import content_meta

__all__ = ["PLOTS", "Report", "evaluate_model", "headline", "render_html"]

WORST_ERRORS = 25
MAX_SHOWN_CHARS = 600  # longer texts are cut in the HTML (metrics.json keeps them whole)
PR_POINTS = 101  # recall levels 0.00, 0.01, ..., 1.00 stored in metrics.json
PLOTS = {
    "confusion": "confusion.png",
    "precision_recall": "precision_recall.png",
    "reliability": "reliability.png",
}
METRICS_FILE = "metrics.json"
HTML_FILE = "report.html"
# Headline metrics: key, title, whether higher is better.
HEADLINE = (
    ("macro_f1", "macro-F1", True),
    ("accuracy", "accuracy", True),
    ("roc_auc_risk", "ROC-AUC (risk)", True),
    ("ece", "ECE (top label)", False),
    ("risk_ece", "ECE (risk)", False),
)


@dataclass(frozen=True)
class Report:
    """What :func:`evaluate_model` wrote, and the metrics it wrote into ``metrics.json``."""

    out_dir: Path
    metrics: dict

    @property
    def html_path(self) -> Path:
        return self.out_dir / HTML_FILE

    @property
    def metrics_path(self) -> Path:
        return self.out_dir / METRICS_FILE

    @property
    def plot_paths(self) -> dict[str, Path]:
        return {name: self.out_dir / file for name, file in PLOTS.items()}


def evaluate_model(
    model_dir: str | os.PathLike,
    corpus_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    split: str = "test",
    against: str | os.PathLike | None = "current",
    models_root: str | os.PathLike = DEFAULT_MODELS_ROOT,
    workers: int = 1,
    worst: int = WORST_ERRORS,
    progress: Callable[[str], None] | None = None,
) -> Report:
    """Evaluate a model on a corpus split and write the report into ``out_dir`` (created).

    ``model_dir`` and ``against`` are model directories or ``task/name-version`` names under
    ``models_root``. ``against="current"`` compares with the task's CURRENT model when that
    is another directory (and says why not otherwise); ``against=None`` compares with none.
    Raises a :class:`~pipeline.errors.KiemtinError` for a bad model directory, a corpus
    without ``split`` or labels that are not the model's task's.
    """
    say = progress or (lambda message: None)
    model_path = resolve_model_dir(models_root, model_dir)
    scorer = load_model(model_path)
    other_path, skipped = _against_dir(against, model_path, scorer, models_root)
    other = load_model(other_path) if other_path is not None else None
    if other is not None:
        _check_same_task(scorer, other, model_path, other_path)

    say(f"reading the {split} split of {corpus_path}")
    corpus_name, ids, texts, labels, meta, unlabelled = _read_split(corpus_path, split, scorer)
    say(f"normalising and segmenting {len(texts):,} texts")
    prepared = prepare(texts, workers=workers)
    say(f"scoring with {model_version(model_path)}")
    proba = predict_with_meta(scorer, prepared, meta)
    result = evaluate(scorer, prepared, labels, proba=proba)
    pred = scorer.labels_from_proba(proba)

    metrics: dict = {
        **result,
        "model": model_version(model_path),
        "model_dir": str(model_path),
        "task": scorer.task.name,
        "labels": list(scorer.classes_),
        "risk_labels": list(scorer.task.risk_labels),
        "corpus": corpus_name,
        "corpus_path": str(corpus_path),
        "split": split,
        "test_set": f"{corpus_name}/{split}",
        "unlabelled_rows_skipped": unlabelled,
        # For a model with content features: how many texts came with their metadata.
        "rows_with_metadata": sum(m is not None for m in meta)
        if scorer.content_features
        else None,
        "curves": _curves(scorer, labels, proba, pred),
        "worst_errors": _worst_errors(scorer, ids, texts, labels, proba, pred, worst),
    }
    other_curves = None
    if other is not None:
        assert other_path is not None
        say(f"scoring with {model_version(other_path)} to compare")
        other_proba = predict_with_meta(other, prepared, meta)
        other_result = evaluate(other, prepared, labels, proba=other_proba)
        other_pred = other.labels_from_proba(other_proba)
        other_curves = _curves(other, labels, other_proba, other_pred)
        metrics["against"] = {
            "model": model_version(other_path),
            "model_dir": str(other_path),
            "metrics": other_result,
            "differences": _differences(result, other_result),
            "difference_intervals": difference_intervals(
                labels,
                (pred, scorer.risk_from_proba(proba)),
                (other_pred, other.risk_from_proba(other_proba)),
                scorer.classes_,
                scorer.task.risk_labels,
            ),
            "agreement": _agreement(labels, pred, other_pred),
            "curves": other_curves,
        }
    else:
        metrics["against"] = None if skipped is None else {"skipped": skipped}

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    say(f"writing the report into {out}")
    _write_plots(out, metrics, other_curves)
    write_json(out / METRICS_FILE, metrics)
    _write_atomic(out / HTML_FILE, render_html(metrics).encode("utf-8"))
    return Report(out, metrics)


# ---------------------------------------------------------------- inputs


def _against_dir(
    against: str | os.PathLike | None, model_path: Path, scorer: Scorer, models_root
) -> tuple[Path | None, str | None]:
    """The comparison model's directory, or None and why there is none."""
    if against is None or str(against).lower() == "none":
        return None, None
    if str(against) != "current":
        return resolve_model_dir(models_root, against), None
    try:
        current = current_model_dir(models_root, scorer.task.name)
    except ModelDirError:
        return None, f"no CURRENT model of task {scorer.task.name!r} under {models_root}"
    if not current.is_dir():
        return None, f"CURRENT names {current}, which does not exist"
    if current.resolve() == model_path.resolve():
        return None, f"{model_version(model_path)} is the task's CURRENT model"
    return current, None


def _check_same_task(scorer: Scorer, other: Scorer, model_path: Path, other_path: Path) -> None:
    if other.task.name != scorer.task.name or list(other.classes_) != list(scorer.classes_):
        raise ModelDirError(
            f"comparison model {other_path}",
            expected=f"a model of task {scorer.task.name!r} with labels {list(scorer.classes_)}"
            f" like {model_path}",
            found=f"task {other.task.name!r} with labels {list(other.classes_)}",
            fix="Compare with a model of the same task (--against DIR), or use --against none.",
        )


def _read_split(
    corpus_path, split: str, scorer: Scorer
) -> tuple[str, list[str], list[str], list[str], list[dict | None], int]:
    """(corpus name, ids, texts, labels, content metadata) of the labelled rows, and how many
    had no label."""
    task = scorer.task
    try:
        corpus = load_corpus(corpus_path, task=task.name if task.name in known_tasks() else None)
    except InputError as exc:
        if not exc.what.startswith("task for"):
            raise
        raise CorpusError(
            f"corpus {corpus_path}",
            expected=f"a corpus labelled for the model's task {task.name!r} "
            f"({', '.join(task.labels)})",
            found=f"a corpus of another task ({exc.expected})",
            fix="Evaluate a model of that task on it, or pass a corpus of this task.",
        ) from exc
    if corpus.task is not None and corpus.task != task.name:
        raise CorpusError(
            f"corpus {corpus_path}",
            expected=f"a corpus labelled for the model's task {task.name!r}",
            found=f"the {corpus.name} corpus of task {corpus.task!r}",
            fix="Evaluate a model of that task on it, or pass a corpus of this task.",
        )
    if split not in corpus.splits:
        raise CorpusError(
            f"corpus {corpus_path}",
            expected=f"a split {split!r}",
            found=f"the splits {list(corpus.splits)}",
            fix=f"Pass --split with one of {list(corpus.splits)}, or add a {split} file.",
        )
    ds = corpus.splits[split]
    unknown = sorted({lab for lab in ds["label"] if lab is not None} - set(task.labels))
    if unknown:
        raise CorpusError(
            f"labels of {corpus_path} ({split})",
            expected=f"the labels of the model's task {task.name!r}: {list(task.labels)}",
            found=f"labels {unknown[:10]}",
            fix="Pass a corpus of this task, or map its labels to these names.",
        )
    rows = [
        (i, t, lab)
        for i, t, lab in zip(ds["id"], ds["text"], ds["label"], strict=True)
        if lab is not None
    ]
    if not rows:
        raise CorpusError(
            f"corpus {corpus_path} ({split})",
            expected="labelled rows",
            found=f"{len(ds):,} rows, none with a label",
            fix="Pass a labelled split (a label column with the task's labels).",
        )
    ids, texts, labels = (list(col) for col in zip(*rows, strict=True))
    return corpus.name, ids, texts, labels, content_meta(corpus, split), len(ds) - len(rows)


# ---------------------------------------------------------------- numbers


def _r(x) -> float | None:
    return None if x is None else round(float(x), 4)


def _curves(scorer: Scorer, labels: list[str], proba: np.ndarray, pred: list[str]) -> dict:
    """The data behind the three plots (rounded, bounded in size)."""
    classes = list(scorer.classes_)
    y_true = np.asarray(labels)
    counts = confusion_matrix(y_true, np.asarray(pred), labels=classes)
    risky = np.isin(y_true, scorer.task.risk_labels)
    risk = scorer.risk_from_proba(proba)
    flagged = np.isin(np.asarray(pred), scorer.task.risk_labels)
    pr: dict = {
        "positives": int(risky.sum()),
        "negatives": int((~risky).sum()),
        "average_precision": None,
        "recall": None,
        "precision": None,
        "decided_labels": {
            "precision": _r(risky[flagged].mean()) if flagged.any() else None,
            "recall": _r(flagged[risky].mean()) if risky.any() else None,
        },
    }
    if 0 < risky.sum() < len(risky):
        precision, recall, _ = precision_recall_curve(risky, risk)
        levels = np.linspace(0, 1, PR_POINTS)
        pr["average_precision"] = _r(average_precision_score(risky, risk))
        pr["recall"] = [_r(x) for x in levels]
        # interpolated precision: the best precision at this recall or more
        pr["precision"] = [_r(precision[recall >= level].max()) for level in levels]
    top = proba.argmax(axis=1)
    return {
        "confusion_matrix": {
            "labels": classes,
            "rows": "true label",
            "columns": "predicted label",
            "counts": counts.astype(int).tolist(),
        },
        "precision_recall_risk": pr,
        "reliability": {
            "bins": ECE_BINS,
            "top_label": _reliability_bins(proba.max(axis=1), np.asarray(classes)[top] == y_true),
            "risk": _reliability_bins(risk, risky),
        },
    }


def _reliability_bins(score: np.ndarray, outcome: np.ndarray) -> list[dict]:
    """Equal-width bins of ``score`` in [0, 1]: count, mean score, share of true outcomes."""
    index = np.minimum((score * ECE_BINS).astype(int), ECE_BINS - 1)
    bins = []
    for b in range(ECE_BINS):
        inside = index == b
        n = int(inside.sum())
        bins.append(
            {
                "low": _r(b / ECE_BINS),
                "high": _r((b + 1) / ECE_BINS),
                "n": n,
                "mean_score": _r(score[inside].mean()) if n else None,
                "observed": _r(outcome[inside].mean()) if n else None,
            }
        )
    return bins


def _worst_errors(
    scorer: Scorer,
    ids: list[str],
    texts: list[str],
    labels: list[str],
    proba: np.ndarray,
    pred: list[str],
    k: int,
) -> list[dict]:
    """The ``k`` wrong predictions the model was surest of: highest probability of the
    predicted label first (ties: lowest probability of the true label, then corpus order)."""
    index = {c: i for i, c in enumerate(scorer.classes_)}
    risk = scorer.risk_from_proba(proba)
    wrong = [i for i in range(len(labels)) if pred[i] != labels[i]]
    wrong.sort(key=lambda i: (-proba[i, index[pred[i]]], proba[i, index[labels[i]]], i))
    return [
        {
            "rank": rank,
            "id": ids[i],
            "text": mask_personal_data(texts[i]),
            "label": labels[i],
            "predicted": pred[i],
            "confidence": _r(proba[i, index[pred[i]]]),
            "p_label": _r(proba[i, index[labels[i]]]),
            "risk": _r(risk[i]),
        }
        for rank, i in enumerate(wrong[:k], start=1)
    ]


def _diff(a, b) -> float | None:
    return None if a is None or b is None else _r(a - b)


def _metric_differences(a: dict, b: dict) -> dict:
    out = {key: _diff(a[key], b[key]) for key, _, _ in HEADLINE}
    out["per_class_f1"] = {
        c: _diff(a["per_class_f1"][c], b["per_class_f1"].get(c)) for c in a["per_class_f1"]
    }
    return out


def _differences(a: dict, b: dict) -> dict:
    """This model's metrics minus the other's, overall and per slice (None where undefined)."""
    out = _metric_differences(a, b)
    out["slices"] = {
        name: _metric_differences(s, b["slices"][name])
        for name, s in a["slices"].items()
        if name in b["slices"]
    }
    return out


def _agreement(labels: list[str], pred: list[str], other_pred: list[str]) -> dict:
    counts = {"same_label": 0, "both_right": 0, "only_this_right": 0, "only_other_right": 0}
    counts["both_wrong"] = 0
    for y, a, b in zip(labels, pred, other_pred, strict=True):
        counts["same_label"] += a == b
        if a == y and b == y:
            counts["both_right"] += 1
        elif a == y:
            counts["only_this_right"] += 1
        elif b == y:
            counts["only_other_right"] += 1
        else:
            counts["both_wrong"] += 1
    return counts


# ---------------------------------------------------------------- plots


def _write_atomic(path: Path, data: bytes) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    partial.replace(path)


def _save(fig, path: Path) -> None:
    buffer = io.BytesIO()
    # No "Software" stamp: the same numbers give the same bytes.
    fig.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    _write_atomic(path, buffer.getvalue())


def _write_plots(out: Path, metrics: dict, other_curves: dict | None) -> None:
    from matplotlib.figure import Figure  # no pyplot: no display, no global state

    curves = metrics["curves"]
    this, other = display_names(metrics)

    # Confusion matrix: counts, coloured by the share of each true label's row.
    cm = curves["confusion_matrix"]
    counts = np.asarray(cm["counts"], dtype=float)
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    n = len(cm["labels"])
    fig = Figure(figsize=(1.6 * n + 2.4, 1.4 * n + 1.6))
    ax = fig.add_subplot()
    ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    for i in range(n):
        for j in range(n):
            ax.text(
                j, i, f"{int(counts[i, j]):,}\n{shares[i, j]:.0%}", ha="center", va="center",
                color="white" if shares[i, j] > 0.6 else "black", fontsize=10,
            )  # fmt: skip
    ax.set_xticks(range(n), cm["labels"])
    ax.set_yticks(range(n), cm["labels"])
    ax.set_xlabel("predicted label")
    ax.set_ylabel("true label")
    ax.set_title(f"{this}: confusion matrix (share of each row)", fontsize=10)
    fig.tight_layout()
    _save(fig, out / PLOTS["confusion"])

    # Precision-recall of the risk score (risky labels against the rest).
    fig = Figure(figsize=(5.6, 4.4))
    ax = fig.add_subplot()
    pr = curves["precision_recall_risk"]
    base = pr["positives"] / max(pr["positives"] + pr["negatives"], 1)
    series = [(this, pr, "-", "#1f4e79")]
    if other_curves is not None:
        series.append((other, other_curves["precision_recall_risk"], "--", "#999999"))
    for name, data, style, colour in series:
        if data["recall"] is not None:
            ax.plot(
                data["recall"], data["precision"], style, color=colour,
                label=f"{name} (AP {data['average_precision']:.4f})",
            )  # fmt: skip
    point = pr["decided_labels"]
    if point["precision"] is not None and point["recall"] is not None:
        ax.plot(
            [point["recall"]], [point["precision"]], "o", color="#c0392b",
            label=f"{this}: decided labels",
        )  # fmt: skip
    ax.axhline(base, color="#bbbbbb", linewidth=0.8, label=f"share of risky texts {base:.2f}")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("recall of risky texts")
    ax.set_ylabel("precision")
    ax.set_title("Precision-recall of the risk score", fontsize=10)
    ax.legend(loc="lower left", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    _save(fig, out / PLOTS["precision_recall"])

    # Reliability diagrams: top-label confidence and risk.
    fig = Figure(figsize=(10, 4.4))
    panels = (
        ("top_label", "confidence of the top label", "share of correct top labels", "ece"),
        ("risk", "risk score", "share of risky texts", "risk_ece"),
    )
    for k, (key, xlabel, ylabel, ece_key) in enumerate(panels, start=1):
        ax = fig.add_subplot(1, 2, k)
        ax.plot([0, 1], [0, 1], color="#bbbbbb", linewidth=0.8, label="perfect calibration")
        series = [(this, curves, "o-", "#1f4e79", metrics[ece_key])]
        if other_curves is not None:
            ece = metrics["against"]["metrics"][ece_key]
            series.append((other, other_curves, "s--", "#999999", ece))
        for name, data, style, colour, ece in series:
            bins = [b for b in data["reliability"][key] if b["n"]]
            ece_text = "—" if ece is None else f"{ece:.4f}"
            ax.plot(
                [b["mean_score"] for b in bins], [b["observed"] for b in bins], style,
                color=colour, markersize=4, label=f"{name} (ECE {ece_text})",
            )  # fmt: skip
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=8)
    fig.suptitle(f"Reliability ({ECE_BINS} equal-width bins)", fontsize=10)
    fig.tight_layout()
    _save(fig, out / PLOTS["reliability"])


# ---------------------------------------------------------------- HTML


def _fmt(x, digits: int = 4) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def _fmt_diff(x) -> str:
    return "—" if x is None else f"{x:+.4f}"


def _ci(intervals: dict | None, key: str, signed: bool = False) -> str:
    """`` [low, high]``: the 95% interval of ``key`` when the report has one."""
    bounds = (intervals or {}).get(key)
    if not bounds:
        return ""
    shown = _fmt_diff if signed else _fmt
    return f" [{shown(bounds[0])}, {shown(bounds[1])}]"


def _diff_class(x, higher_better: bool = True) -> str:
    if x is None or x == 0:
        return "same"
    return "better" if (x > 0) == higher_better else "worse"


def _shown(text: str) -> str:
    return text if len(text) <= MAX_SHOWN_CHARS else text[:MAX_SHOWN_CHARS] + " […]"


def display_names(metrics: dict) -> tuple[str, str | None]:
    """How the report names the model and the comparison model: ``task/name-version``, or
    their directories when both have the same name (two trees of models)."""
    this, other = metrics["model"], (metrics.get("against") or {}).get("model")
    if other == this:
        return metrics["model_dir"], metrics["against"]["model_dir"]
    return this, other


def render_html(metrics: dict) -> str:
    """The report page for a ``metrics.json`` dict (autoescaped: corpus text stays text)."""
    env = Environment(
        loader=PackageLoader("pipeline.web", "templates"),
        autoescape=select_autoescape(["html"]),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(fmt=_fmt, diff=_fmt_diff, shown=_shown, ci=_ci)
    env.globals.update(diff_class=_diff_class, max_shown=MAX_SHOWN_CHARS)
    this, other = display_names(metrics)
    return env.get_template("report.html").render(
        m=metrics, plots=PLOTS, headline=HEADLINE, this=this, other=other
    )


def headline(metrics: dict) -> str:
    """One line of the headline numbers (and the differences to the comparison model)."""
    parts = [f"{metrics['test_set']}: n={metrics['n']:,}"]
    intervals = metrics.get("intervals")
    parts += [
        f"{title}={_fmt(metrics[key])}{_ci(intervals, key)}" for key, title, _ in HEADLINE
    ]
    line = " ".join(parts)
    against = metrics.get("against") or {}
    if "differences" in against:
        d, d_intervals = against["differences"], against.get("difference_intervals")
        line += f"\nvs {display_names(metrics)[1]}: " + " ".join(
            f"{title} {_fmt_diff(d[key])}{_ci(d_intervals, key, signed=True)}"
            for key, title, _ in HEADLINE
        )
    elif "skipped" in against:
        line += f"\nno comparison: {against['skipped']}"
    return line

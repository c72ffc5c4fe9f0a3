"""Where models are, and what ``kiemtin models list`` and ``kiemtin models show`` print about
them."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ...errors import KiemtinError, ModelDirError
from ..directory import (
    METRICS_FILE,
    check_model_dir,
    is_model_name,
    model_version,
    read_config,
    read_current,
)
from .comparison import (
    DEFAULT_TOLERANCE,
    GATE_METRICS,
    Comparison,
    compare,
    finite_number,
    format_metric,
    read_metrics,
    render_table,
)

# --- where models are ---------------------------------------------------------------------


def _tasks(models_root: Path) -> list[str]:
    if not models_root.is_dir():
        raise ModelDirError(
            f"models root {models_root}",
            expected="a directory of models/<task>/<name>-<version>/",
            found="no such directory" if not models_root.exists() else "a file",
            fix="Pass --models-root DIR where train.py wrote the models.",
        )
    return sorted(p.name for p in models_root.iterdir() if p.is_dir() and is_model_name(p.name))


def find_task_dir(models_root: Path, task: str) -> Path:
    """``models_root/<task>``, refused (naming the tasks there) when it is not a task."""
    models_root = Path(models_root)
    tasks = _tasks(models_root)
    if task not in tasks:
        raise ModelDirError(
            f"task {task!r} under {models_root}",
            expected=f"one of the task directories there: {tasks or 'none'}",
            found="no such directory",
            fix="Check the task name, or train a model for it first (train.py --task ...).",
        )
    return models_root / task


def resolve_model_dir(models_root: Path, model: str | os.PathLike) -> Path:
    """A model given as a directory, or as ``task/name-version`` under ``models_root``."""
    text = os.fspath(model)
    under_root = Path(models_root) / text
    if re.fullmatch(r"[^/\\]+/[^/\\]+", text) and under_root.is_dir():
        return under_root
    path = Path(text)
    if path.is_dir():
        return path
    known = [
        f"{task}/{p.name}"
        for task in (_tasks(Path(models_root)) if Path(models_root).is_dir() else [])
        for p in sorted((Path(models_root) / task).iterdir())
        if p.is_dir() and is_model_name(p.name)
    ]
    raise ModelDirError(
        f"model {text!r}",
        expected=f"a model directory, or task/name-version under {models_root}",
        found="no such directory",
        fix=f"Pick one of {known}." if known else "Train one first (train.py).",
    )


FILE_TIME_MARK = "*"
FILE_TIME_NOTE = (
    f"{FILE_TIME_MARK} metrics.json's file time (UTC): the config records no training date, "
    "and a copy or checkout resets the file time"
)


def _trained_at(model_dir: Path, config: dict | None) -> str | None:
    """Config's ``trained_at`` if recorded; else metrics.json's file time (UTC) marked with
    ``FILE_TIME_MARK``, since training writes no date (rebuilt models compare byte for byte)."""
    if config and isinstance(config.get("trained_at"), str):
        return config["trained_at"]
    try:
        mtime = (model_dir / METRICS_FILE).stat().st_mtime
    except OSError:
        return None
    return datetime.fromtimestamp(mtime, UTC).strftime("%Y-%m-%d %H:%M") + FILE_TIME_MARK


def _headline(metrics: dict) -> dict[str, dict]:
    return {
        name: {key: finite_number(m.get(key)) for key, _ in GATE_METRICS}
        for name, m in metrics["test_sets"].items()
    }


# --- list and show ------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelEntry:
    """One model directory as ``list_models`` sees it; ``problem`` says why it is invalid."""

    task: str
    name: str  # directory name, e.g. linear-1
    family: str | None
    version: str | None
    current: bool
    trained_at: str | None
    metrics: dict[str, dict]  # test set -> {"macro_f1": .., "roc_auc_risk": ..}
    problem: str | None = None

    @property
    def valid(self) -> bool:
        return self.problem is None


@dataclass(frozen=True)
class TaskModels:
    task: str
    current: str | None  # what CURRENT names
    models: tuple[ModelEntry, ...]
    problem: str | None = None  # CURRENT unreadable or naming a missing directory


@dataclass(frozen=True)
class Listing:
    tasks: tuple[TaskModels, ...]

    def table(self) -> str:
        header = ["task", "model", "current", "family", "version", "trained (UTC)", "test set",
                  "macro-F1", "ROC-AUC (risk)"]
        rows = []
        for t in self.tasks:
            for m in t.models:
                first = [t.task, m.name, "CURRENT" if m.current else "", m.family or "?",
                         m.version or "?", m.trained_at or "unknown"]
                if m.problem:
                    rows.append([*first, f"INVALID: {m.problem}", "", ""])
                    continue
                sets = list(m.metrics.items()) or [("(no test sets)", {})]
                for i, (name, values) in enumerate(sets):
                    lead = first if i == 0 else [""] * len(first)
                    rows.append([*lead, name, format_metric(values.get("macro_f1")),
                                 format_metric(values.get("roc_auc_risk"))])
            if not t.models:
                rows.append([t.task, "(no models)", "", "", "", "", "", "", ""])
        lines = [render_table(header, rows)]
        lines += [f"{t.task}: {t.problem}" for t in self.tasks if t.problem]
        if any((m.trained_at or "").endswith(FILE_TIME_MARK) for t in self.tasks
               for m in t.models):
            lines.append(FILE_TIME_NOTE)
        return "\n".join(lines)


def _entry(task: str, model_dir: Path, current: str | None) -> ModelEntry:
    is_current = model_dir.name == current
    try:
        config = check_model_dir(model_dir)
        metrics = read_metrics(model_dir)
    except KiemtinError as exc:
        try:
            config = read_config(model_dir)
        except KiemtinError:
            config = None
        version = (config or {}).get("version") or model_dir.name.rpartition("-")[2] or None
        return ModelEntry(task, model_dir.name, (config or {}).get("family"), version,
                          is_current, _trained_at(model_dir, config), {},
                          f"{exc.found} ({exc.fix})")
    return ModelEntry(task, model_dir.name, config.get("family"), str(config.get("version")),
                      is_current, _trained_at(model_dir, config), _headline(metrics))


def list_models(models_root: Path, task: str | None = None) -> Listing:
    """Every model directory of every task (or one task), valid or not."""
    models_root = Path(models_root)
    tasks = [task] if task is not None else _tasks(models_root)
    listed = []
    for name in tasks:
        task_dir = find_task_dir(models_root, name)
        problem = None
        try:
            current = read_current(task_dir)
        except ModelDirError as exc:
            current, problem = None, str(exc)
        dirs = sorted(
            (p for p in task_dir.iterdir() if p.is_dir() and is_model_name(p.name)),
            key=_version_key,
        )
        if current is not None and not (task_dir / current).is_dir():
            problem = f"CURRENT names {current}, which is not a directory here"
        listed.append(
            TaskModels(name, current, tuple(_entry(name, d, current) for d in dirs), problem)
        )
    return Listing(tuple(listed))


def _version_key(path: Path) -> tuple:
    name, _, version = path.name.rpartition("-")
    return (name, int(version), "") if version.isdigit() else (path.name, -1, version)


@dataclass(frozen=True)
class ModelInfo:
    """What ``kiemtin models show`` prints about one model directory."""

    model_dir: Path
    version: str  # task/name-version
    config: dict
    metrics: dict
    current: bool
    current_version: str | None  # the task's current model, when another one
    comparison: Comparison | None  # against the current model, when another one
    trained_at: str | None

    def text(self) -> str:
        c = self.config
        task = c.get("task", {})
        if self.current:
            state = "CURRENT"
        elif self.current_version:
            state = f"not current (CURRENT is {self.current_version})"
        else:
            state = "not current (the task has no CURRENT model)"
        hyper = c.get("hyperparameters", {})
        lines = [
            f"{self.version}: {state}",
            f"  directory: {self.model_dir}",
            f"  family: {c.get('family')}, labels: {', '.join(c.get('labels', []))} "
            f"(risk: {' + '.join(task.get('risk_labels', []))})",
            f"  preprocessing: {_step(c.get('normaliser'))}; {_step(c.get('segmenter'))}",
            "  hyper-parameters: "
            + ", ".join(f"{k}={json.dumps(v, sort_keys=True)}" for k, v in sorted(hyper.items())),
        ]
        if c.get("calibration"):
            lines.append(f"  calibration: {c['calibration'].get('method')}")
        lines.append(f"  trained: {self.trained_at or 'unknown'}")
        if (self.trained_at or "").endswith(FILE_TIME_MARK):
            lines.append(f"  {FILE_TIME_NOTE}")
        if c.get("reproduce"):
            lines.append(f"  reproduce: {c['reproduce']}")
        lines.append("training data:")
        lines += _training_data_lines(c.get("training_data") or {})
        labels = list(c.get("labels", []))
        header = ["test set", "n", "macro-F1", "ROC-AUC (risk)", "ECE",
                  *[f"F1 {lab}" for lab in labels]]
        rows = [
            [name, f"{m.get('n', '?')}", _shown(m.get("macro_f1")), _shown(m.get("roc_auc_risk")),
             _shown(m.get("ece")),
             *[_shown((m.get("per_class_f1") or {}).get(lab)) for lab in labels]]
            for name, m in self.metrics["test_sets"].items()
        ]
        lines += ["metrics:", render_table(header, rows, indent="  ")]
        if self.comparison is not None:
            lines += [f"against CURRENT {self.current_version}:", self.comparison.table()]
        return "\n".join(lines)


def _shown(value) -> str:
    """A metric from metrics.json as tables show it: 4 places, n/a when not a number."""
    return format_metric(finite_number(value))


def _step(step: dict | None) -> str:
    return "?" if not step else f"{step.get('name')} {step.get('version')}"


def _training_data_lines(data: dict) -> list[str]:
    lines = []
    if "corpus" in data:
        lines.append(f"  corpus: {data['corpus']} ({data.get('source', '?')}), splits "
                     f"{', '.join(data.get('splits_used', [])) or '?'}")
    if "n_train" in data:
        counts = data.get("train_label_counts") or {}
        shares = ", ".join(f"{lab} {n:,}" for lab, n in counts.items())
        lines.append(f"  training texts: {data['n_train']:,}" + (f" ({shares})" if shares else ""))
    if data.get("corpus_problems"):
        problems = ", ".join(f"{k}: {v}" for k, v in data["corpus_problems"].items())
        lines.append(f"  rows the reader skipped: {problems}")
    shown = {"corpus", "source", "splits_used", "n_train", "train_label_counts",
             "corpus_problems"}
    for key, value in data.items():
        if key not in shown:
            lines.append(f"  {key}: {json.dumps(value, ensure_ascii=False, sort_keys=True)}")
    return lines or ["  (not recorded)"]


def show_model(
    models_root: Path, model: str | os.PathLike, tolerance: float = DEFAULT_TOLERANCE
) -> ModelInfo:
    """One model directory in full; refuses an invalid one with what is wrong."""
    model_dir = resolve_model_dir(models_root, model)
    config = check_model_dir(model_dir)
    metrics = read_metrics(model_dir)
    try:
        current = read_current(model_dir.parent)
    except ModelDirError:
        current = None
    is_current = current is not None and (model_dir.parent / current).resolve() == (
        model_dir.resolve()
    )
    comparison = None
    current_version = None
    if current is not None and not is_current:
        current_dir = model_dir.parent / current
        current_version = model_version(current_dir)
        try:
            check_model_dir(current_dir)
            comparison = compare(model_dir, current_dir, tolerance)
        except KiemtinError:
            comparison = None  # nothing comparable: show the model alone
    return ModelInfo(
        model_dir=model_dir,
        version=model_version(model_dir),
        config=config,
        metrics=metrics,
        current=is_current,
        current_version=current_version,
        comparison=comparison,
        trained_at=_trained_at(model_dir, config),
    )

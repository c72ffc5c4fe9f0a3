"""The model registry: list and show model directories, promote one behind a gate, roll back.

``models/<task>/CURRENT`` names the promoted directory. A promotion goes through a gate: on
every fixed test set the candidate's ``metrics.json`` shares with the current model's (by
name, e.g. ``vihsd/test``), neither macro-F1 nor ROC-AUC of the risk score may be worse than
the current model's by more than a tolerance (default 0.005). ``force`` (with a reason)
overrides a refusal. Every change of CURRENT appends one JSON line to
``models/<task>/HISTORY.jsonl`` (so a rollback knows which model was current before) and,
given a session of the review store, one audit row (entity ``model``, id the task).

Functions return what a caller shows; they never print.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ..errors import InputError, KiemtinError, ModelDirError
from .directory import (
    CURRENT_FILE,
    METRICS_FILE,
    check_model_dir,
    model_version,
    read_config,
)

HISTORY_FILE = "HISTORY.jsonl"
DEFAULT_TOLERANCE = 0.005
# The metrics the gate compares, with how tables name them.
GATE_METRICS = (("macro_f1", "macro-F1"), ("roc_auc_risk", "ROC-AUC (risk)"))
_EPSILON = 1e-9  # metrics are rounded to 4 places: 0.6516 - 0.6466 must count as 0.005
_MODEL_NAME = re.compile(r"^[^/\\.][^/\\]*$")


class PromotionRefused(KiemtinError):
    """The gate found the candidate worse than the current model; carries the comparison."""

    def __init__(self, comparison: Comparison):
        self.comparison = comparison
        worse = ", ".join(
            f"{r.label} on {r.test_set} {r.change:+.4f}" for r in comparison.worse_rows
        )
        super().__init__(
            f"promotion of {comparison.candidate}",
            expected=f"no fixed-test-set metric worse than the current model "
            f"{comparison.baseline}'s by more than {comparison.tolerance:g}",
            found=worse,
            fix="Keep the current model and improve the candidate, or, if the drop is "
            "understood and accepted, promote anyway with --force --reason TEXT "
            "(recorded in HISTORY.jsonl and the audit trail).",
        )

    def __str__(self) -> str:
        return f"{super().__str__()}\n\n{self.comparison.table()}"


# --- tables -------------------------------------------------------------------------------


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def render_table(header: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "") -> str:
    """Plain-text columns, each as wide as its widest cell; numbers are right-aligned.

    >>> print(render_table(["model", "macro-F1"], [["linear-1", "0.6516"]]))
    model     macro-F1
    linear-1    0.6516
    """
    cells = [list(map(str, header)), *[list(map(str, r)) for r in rows]]
    widths = [max(len(r[i]) for r in cells if i < len(r)) for i in range(len(header))]
    numeric = [
        all(_is_number(r[i]) for r in cells[1:] if i < len(r) and r[i]) and len(cells) > 1
        for i in range(len(header))
    ]
    lines = []
    for r in cells:
        parts = [
            (c.rjust(w) if numeric[i] else c.ljust(w))
            for i, (c, w) in enumerate(zip(r, widths, strict=False))
        ]
        lines.append((indent + "  ".join(parts)).rstrip())
    return "\n".join(lines)


def _is_number(text: str) -> bool:
    return bool(re.fullmatch(r"[+-]?[\d,]+(\.\d+)?|n/a|[\d,]+/[\d,]+", text))


# --- comparison ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricRow:
    """One metric on one test set: the candidate's, the baseline's, and the change."""

    test_set: str
    metric: str  # key in metrics.json: macro_f1 or roc_auc_risk
    label: str  # how tables name it
    candidate: float | None
    baseline: float | None
    n_candidate: int | None
    n_baseline: int | None
    tolerance: float

    @property
    def change(self) -> float | None:
        if self.candidate is None or self.baseline is None:
            return None
        return round(self.candidate - self.baseline, 6)

    @property
    def worse(self) -> bool:
        """Beyond the tolerance; a metric the candidate lacks but the baseline has is worse
        (nothing shows it is not)."""
        if self.baseline is None:
            return False
        if self.candidate is None:
            return True
        return self.baseline - self.candidate > self.tolerance + _EPSILON

    @property
    def verdict(self) -> str:
        if self.baseline is None:
            return "n/a"
        return "WORSE" if self.worse else "ok"


@dataclass(frozen=True)
class Comparison:
    """A candidate model against a baseline (usually the current model) on their common
    fixed test sets."""

    candidate: str  # task/name-version
    baseline: str
    tolerance: float
    rows: tuple[MetricRow, ...]
    only_candidate: tuple[str, ...] = ()
    only_baseline: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def worse_rows(self) -> list[MetricRow]:
        return [r for r in self.rows if r.worse]

    @property
    def passes(self) -> bool:
        return not self.worse_rows

    def table(self, gate: bool = True) -> str:
        """The comparison as aligned plain text; ``gate=False`` leaves out the verdicts (a
        rollback has no gate)."""
        header = ["test set", "metric", "n", "candidate", "baseline", "change", ""]
        rows = [
            [
                r.test_set,
                r.label,
                f"{r.n_candidate if r.n_candidate is not None else '?'}"
                f"/{r.n_baseline if r.n_baseline is not None else '?'}",
                _fmt(r.candidate),
                _fmt(r.baseline),
                "n/a" if r.change is None else f"{r.change:+.4f}",
                r.verdict if gate else "",
            ]
            for r in self.rows
        ]
        lines = [
            (
                f"candidate {self.candidate} vs baseline {self.baseline} "
                f"(tolerance {self.tolerance:g}; n = candidate/baseline test rows)"
                if gate
                else f"{self.candidate} vs {self.baseline} (n = test rows of each)"
            ),
            render_table(header, rows, indent="  "),
        ]
        if self.only_candidate:
            lines.append(f"  only the candidate has: {', '.join(self.only_candidate)}")
        if self.only_baseline:
            lines.append(f"  only the baseline has: {', '.join(self.only_baseline)}")
        lines += [f"  note: {note}" for note in self.notes]
        worse = self.worse_rows
        if not gate:
            return "\n".join(lines)
        lines.append(
            f"gate: passes (no metric worse by more than {self.tolerance:g})"
            if not worse
            else f"gate: refused ({len(worse)} metric(s) worse by more than {self.tolerance:g})"
        )
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """The numbers, for HISTORY.jsonl and the audit trail."""
        sets: dict[str, dict] = {}
        for r in self.rows:
            sets.setdefault(r.test_set, {"n": [r.n_candidate, r.n_baseline]})[r.metric] = {
                "candidate": r.candidate,
                "baseline": r.baseline,
                "change": r.change,
                "worse": r.worse,
            }
        return {
            "candidate": self.candidate,
            "baseline": self.baseline,
            "tolerance": self.tolerance,
            "passes": self.passes,
            "test_sets": sets,
            "only_candidate": list(self.only_candidate),
            "only_baseline": list(self.only_baseline),
        }


def _check_tolerance(tolerance: float) -> float:
    try:
        value = float(tolerance)
    except (TypeError, ValueError):
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise InputError(
            "tolerance",
            expected="a number >= 0 (how much worse than the current model a metric may be)",
            found=repr(tolerance),
            fix=f"Use the default {DEFAULT_TOLERANCE} or another small non-negative number.",
        )
    return value


def read_metrics(model_dir: Path) -> dict:
    """``metrics.json`` of a model directory, checked for the ``test_sets`` mapping."""
    path = Path(model_dir) / METRICS_FILE
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        metrics = None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        metrics = f"{type(exc).__name__}: {exc}"
    if not (
        isinstance(metrics, dict)
        and isinstance(metrics.get("test_sets"), dict)
        and all(isinstance(m, dict) for m in metrics["test_sets"].values())
    ):
        found = (
            "no such file"
            if metrics is None
            else metrics
            if isinstance(metrics, str)
            else "no 'test_sets' mapping of test set name to metrics"
        )
        raise ModelDirError(
            str(path),
            expected='{"test_sets": {"<corpus>/test": {"macro_f1": ..., ...}}} as training '
            "writes it",
            found=found,
            fix="Retrain the model (train.py), or re-evaluate it on its fixed test set.",
        )
    return metrics


def _number(value) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def compare(
    candidate_dir: Path, baseline_dir: Path, tolerance: float = DEFAULT_TOLERANCE
) -> Comparison:
    """Compare two model directories on the fixed test sets both ``metrics.json`` hold.

    Refuses (``KiemtinError``) when they share no test set: there is nothing to compare.
    """
    tolerance = _check_tolerance(tolerance)
    candidate_dir, baseline_dir = Path(candidate_dir), Path(baseline_dir)
    cand_sets = read_metrics(candidate_dir)["test_sets"]
    base_sets = read_metrics(baseline_dir)["test_sets"]
    cand_name, base_name = model_version(candidate_dir), model_version(baseline_dir)
    common = [name for name in cand_sets if name in base_sets]
    if not common:
        raise KiemtinError(
            f"comparison of {cand_name} with {base_name}",
            expected="at least one fixed test set (by name) in both models' metrics.json",
            found=f"{cand_name}: {sorted(cand_sets) or 'none'}; "
            f"{base_name}: {sorted(base_sets) or 'none'}",
            fix="Train or evaluate the candidate on the same fixed test split as the current "
            "model (same corpus directory name, same test file); if the test sets changed on "
            "purpose, promote with --force --reason TEXT.",
        )
    rows, notes = [], []
    for name in common:
        cand, base = cand_sets[name], base_sets[name]
        n_cand, n_base = cand.get("n"), base.get("n")
        if n_cand != n_base and not name.endswith("-minus-train"):
            notes.append(
                f"{name} has {n_cand} rows for the candidate and {n_base} for the baseline: "
                "not the same test file, so its numbers do not compare exactly"
            )
        for key, label in GATE_METRICS:
            rows.append(
                MetricRow(
                    test_set=name,
                    metric=key,
                    label=label,
                    candidate=_number(cand.get(key)),
                    baseline=_number(base.get(key)),
                    n_candidate=n_cand,
                    n_baseline=n_base,
                    tolerance=tolerance,
                )
            )
    return Comparison(
        candidate=cand_name,
        baseline=base_name,
        tolerance=tolerance,
        rows=tuple(rows),
        only_candidate=tuple(n for n in cand_sets if n not in base_sets),
        only_baseline=tuple(n for n in base_sets if n not in cand_sets),
        notes=tuple(notes),
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
    return sorted(p.name for p in models_root.iterdir() if p.is_dir() and _is_model_name(p.name))


def _is_model_name(name: str) -> bool:
    return bool(_MODEL_NAME.match(name))


def _task_dir(models_root: Path, task: str) -> Path:
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
        if p.is_dir() and _is_model_name(p.name)
    ]
    raise ModelDirError(
        f"model {text!r}",
        expected=f"a model directory, or task/name-version under {models_root}",
        found="no such directory",
        fix=f"Pick one of {known}." if known else "Train one first (train.py).",
    )


def _read_current(task_dir: Path) -> str | None:
    """The directory name CURRENT holds, ``None`` with no CURRENT file."""
    path = task_dir / CURRENT_FILE
    if not path.is_file():
        return None
    name = path.read_text(encoding="utf-8").strip()
    if not _is_model_name(name):
        raise ModelDirError(
            str(path),
            expected="the name of a model directory beside it, like linear-1",
            found=repr(name),
            fix="Write the model directory's name into CURRENT, or promote a model.",
        )
    return name


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
        name: {key: _number(m.get(key)) for key, _ in GATE_METRICS}
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
                    rows.append([*lead, name, _fmt(values.get("macro_f1")),
                                 _fmt(values.get("roc_auc_risk"))])
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
        task_dir = _task_dir(models_root, name)
        problem = None
        try:
            current = _read_current(task_dir)
        except ModelDirError as exc:
            current, problem = None, str(exc)
        dirs = sorted(
            (p for p in task_dir.iterdir() if p.is_dir() and _is_model_name(p.name)),
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
            [name, f"{m.get('n', '?')}", _fmt(_number(m.get("macro_f1"))),
             _fmt(_number(m.get("roc_auc_risk"))), _fmt(_number(m.get("ece"))),
             *[_fmt(_number((m.get("per_class_f1") or {}).get(lab))) for lab in labels]]
            for name, m in self.metrics["test_sets"].items()
        ]
        lines += ["metrics:", render_table(header, rows, indent="  ")]
        if self.comparison is not None:
            lines += [f"against CURRENT {self.current_version}:", self.comparison.table()]
        return "\n".join(lines)


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
        current = _read_current(model_dir.parent)
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


# --- promote and roll back ----------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """The result of ``promote`` or ``rollback``: what CURRENT was and is, and why."""

    task: str
    action: str  # promote, force_promote, rollback, or none (nothing changed)
    before: str | None  # task/name-version current before
    after: str | None  # task/name-version current after
    model_dir: Path | None  # the directory now current
    comparison: Comparison | None
    reason: str | None = None
    history: dict | None = None  # the line appended to HISTORY.jsonl
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def changed(self) -> bool:
        return self.action != "none"

    @property
    def message(self) -> str:
        if not self.changed:
            return f"{self.after} is already CURRENT; nothing changed"
        verb = {
            "promote": "promoted",
            "force_promote": "promoted (forced past the gate)",
            "rollback": "rolled back to",
        }[self.action]
        was = f" (was {self.before})" if self.before else " (the task had no CURRENT model)"
        return f"{verb} {self.after}{was}"


def _clean_reason(reason: str | None) -> str | None:
    reason = (reason or "").strip()
    return reason or None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def read_history(task_dir: Path) -> list[dict]:
    """The lines of ``<task>/HISTORY.jsonl``, oldest first (empty without the file)."""
    path = Path(task_dir) / HISTORY_FILE
    if not path.is_file():
        return []
    entries = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError as exc:
                entry = exc
            if not isinstance(entry, dict) or entry.get("action") not in ("promote", "rollback"):
                raise ModelDirError(
                    f"{path} line {lineno}",
                    expected='one JSON object per line with "action" promote or rollback',
                    found=repr(line.strip()[:120]),
                    fix="Restore the file from version control; kiemtin only appends to it.",
                )
            entry["line"] = lineno
            entries.append(entry)
    return entries


def _open_promotions(history: list[dict]) -> list[dict]:
    """Promotions not yet undone, oldest first: a rollback undoes the promotion it names
    (and any later one still open), so successive rollbacks walk back one step each."""
    stack: list[dict] = []
    for entry in history:
        if entry["action"] == "promote":
            stack.append(entry)
            continue
        undone = entry.get("undoes")  # None: a rollback of a change made outside the registry
        if any(e["line"] == undone for e in stack):
            while stack.pop()["line"] != undone:
                pass
    return stack


@contextmanager
def _locked(task_dir: Path) -> Iterator[None]:
    """One promotion or rollback at a time per task (a lock on the task directory)."""
    try:
        import fcntl
    except ImportError:  # not on POSIX: no lock
        yield
        return
    fd = os.open(task_dir, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _write_current(task_dir: Path, name: str | None) -> None:
    path = task_dir / CURRENT_FILE
    if name is None:
        path.unlink(missing_ok=True)
        return
    tmp = task_dir / f".{CURRENT_FILE}.{os.getpid()}.tmp"
    tmp.write_text(name + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _current_text(task_dir: Path) -> str | None:
    path = task_dir / CURRENT_FILE
    return path.read_text(encoding="utf-8").strip() if path.is_file() else None


def _apply(
    task_dir: Path,
    target: Path,
    entry: dict,
    *,
    audit_session,
    actor: str,
    audit_action: str,
    before: dict,
    after: dict,
) -> None:
    """Append the history line, point CURRENT at ``target`` and record the audit row, all or
    nothing: a failure puts the files back as they were and rolls the audit row back."""
    history = task_dir / HISTORY_FILE
    old_current = _current_text(task_dir)
    old_size = history.stat().st_size if history.is_file() else None

    def write_files() -> None:
        with open(history, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n")
            f.flush()
            os.fsync(f.fileno())
        _write_current(task_dir, target.name)

    def restore() -> None:
        if old_size is None:
            history.unlink(missing_ok=True)
        else:
            with open(history, "r+b") as f:
                f.truncate(old_size)
        now = _current_text(task_dir)
        if now != old_current:
            _write_current(task_dir, old_current)

    try:
        if audit_session is None:
            write_files()
            return
        from ..store import audit
        from ..store.db import writing

        with writing(audit_session):
            audit.record(audit_session, actor, audit_action, "model", task_dir.name, before,
                         after)
            audit_session.flush()  # a store that cannot take the row fails before any file
            write_files()
    except BaseException as exc:
        try:
            restore()
        except Exception as failed:
            exc.add_note(
                f"Putting {history} and {task_dir / CURRENT_FILE} back failed too ({failed}): "
                f"check that CURRENT names {old_current} and that HISTORY.jsonl has no line "
                "for this change."
            )
        raise


def promote(
    models_root: Path,
    model: str | os.PathLike,
    *,
    actor: str,
    force: bool = False,
    reason: str | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    audit_session=None,
) -> Change:
    """Make ``model`` (a directory, or ``task/name-version``) its task's CURRENT model.

    The gate compares it with the current model (``compare``); a refusal raises
    ``PromotionRefused`` carrying the comparison, unless ``force`` (which needs a reason).
    With no current model the candidate is promoted; the current model again is a no-op.
    """
    reason = _clean_reason(reason)
    if force and reason is None:
        raise InputError(
            "--force",
            expected="a reason for overriding the promotion gate (--reason TEXT)",
            found="no reason",
            fix="Say why the model should be promoted anyway, e.g. --force --reason "
            "'test split relabelled; old numbers not comparable'. It goes into HISTORY.jsonl "
            "and the audit trail.",
        )
    tolerance = _check_tolerance(tolerance)
    models_root = Path(models_root)
    candidate = resolve_model_dir(models_root, model)
    config = check_model_dir(candidate)
    task_dir = candidate.parent
    task = task_dir.name
    config_task = (config.get("task") or {}).get("name")
    if config_task != task:
        raise ModelDirError(
            f"model directory {candidate}",
            expected=f"a model of task {task!r} (the directory it sits in)",
            found=f"a model of task {config_task!r}",
            fix=f"Move it to {models_root}/{config_task}/.",
        )
    if task_dir.parent.resolve() != models_root.resolve():
        raise ModelDirError(
            f"model directory {candidate}",
            expected=f"a directory under {models_root}/{task}/ (CURRENT names a directory "
            "beside it)",
            found=f"a directory in {task_dir}",
            fix=f"Copy it into {models_root}/{task}/, or pass --models-root {task_dir.parent}.",
        )
    with _locked(task_dir):
        cand_version = model_version(candidate)
        comparison, gate_problem = None, None
        try:
            current = _read_current(task_dir)
        except ModelDirError as exc:
            if not force:
                raise
            current, gate_problem = None, f"CURRENT unreadable: {exc.found}"
        if current == candidate.name:
            return Change(task, "none", cand_version, cand_version, candidate, None, reason)
        if current is not None:
            current_dir = task_dir / current
            try:
                check_model_dir(current_dir)
            except ModelDirError as exc:
                if not force:
                    raise KiemtinError(
                        f"promotion of {cand_version}",
                        expected="a readable current model to compare the candidate with",
                        found=f"CURRENT names {current}, which cannot be read: {exc.found}",
                        fix="Restore that directory, or promote without the comparison: "
                        "--force --reason TEXT.",
                    ) from exc
                gate_problem = f"current model unreadable: {exc.found}"
            if gate_problem is None:
                try:
                    comparison = compare(candidate, current_dir, tolerance)
                except KiemtinError as exc:
                    if not force:
                        raise
                    gate_problem = f"{exc.expected}, found {exc.found}"
                if comparison is not None and not comparison.passes and not force:
                    raise PromotionRefused(comparison)
        forced = gate_problem is not None or (comparison is not None and not comparison.passes)
        before = model_version(task_dir / current) if current else None
        entry = {
            "at": _now(),
            "action": "promote",
            "from": before,
            "to": cand_version,
            "actor": actor,
            "forced": forced,
            "reason": reason,
            "tolerance": tolerance,
            "comparison": comparison.to_dict() if comparison else None,
        }
        if gate_problem:
            entry["gate_problem"] = gate_problem
        action = "force_promote" if forced else "promote"
        _apply(
            task_dir,
            candidate,
            entry,
            audit_session=audit_session,
            actor=actor,
            audit_action=action,
            before={"current": before},
            after={"current": cand_version, "reason": reason, "forced": forced,
                   "comparison": entry["comparison"], "gate_problem": gate_problem},
        )
    notes = (gate_problem,) if gate_problem else ()
    return Change(task, action, before, cand_version, candidate, comparison, reason, entry, notes)


def rollback(
    models_root: Path,
    task: str,
    *,
    actor: str,
    reason: str | None = None,
    audit_session=None,
) -> Change:
    """Point CURRENT back at the model that was current before the last promotion still in
    force (from HISTORY.jsonl); each further rollback goes one promotion further back.

    When CURRENT was changed outside the registry (``train --promote``, an edit), that change
    is the one undone: CURRENT goes back to the model HISTORY.jsonl last made current.
    """
    reason = _clean_reason(reason)
    task_dir = _task_dir(Path(models_root), task)
    with _locked(task_dir):
        try:
            current = _read_current(task_dir)
        except ModelDirError:
            current = None  # an unreadable CURRENT is what a rollback repairs
        history = read_history(task_dir)
        history_path = task_dir / HISTORY_FILE
        last_known = _dir_name(history[-1]["to"]) if history else None
        undo = None
        if last_known is not None and last_known != current:
            # CURRENT was changed outside the registry (train --promote, an edit): undo that
            # change, back to the model the history last made current.
            target_name = last_known
            notes = (
                f"CURRENT ({current or 'none'}) was not set by the registry; going back to "
                f"{last_known}, the model HISTORY.jsonl last made current",
            )
        else:
            notes = ()
            open_promotions = _open_promotions(history)
            while open_promotions and _dir_name(open_promotions[-1].get("from")) == current:
                open_promotions.pop()  # would change nothing
            if not open_promotions:
                raise KiemtinError(
                    f"rollback of task {task!r}",
                    expected=f"a promotion recorded in {history_path} to undo",
                    found="no history"
                    if not history
                    else "every recorded promotion undone already",
                    fix="Promote the model you want instead: kiemtin models promote "
                    f"{task}/<name>-<version> (with --force --reason TEXT if the gate "
                    "refuses).",
                )
            undo = open_promotions[-1]
            target_name = _dir_name(undo.get("from"))
            if target_name is None:
                raise KiemtinError(
                    f"rollback of task {task!r}",
                    expected="a model that was current before the last promotion",
                    found=f"the promotion of {undo.get('to')} at {undo.get('at')} was the "
                    "task's first: no model was current before it",
                    fix=f"Promote the model you want instead: kiemtin models promote "
                    f"{task}/<name>-<version>.",
                )
        target = task_dir / target_name
        try:
            check_model_dir(target)
        except ModelDirError as exc:
            raise KiemtinError(
                f"rollback of task {task!r} to {model_version(target)}",
                expected="the model that was current before the last promotion, still whole",
                found=exc.found,
                fix=f"Restore {target} (e.g. from version control or a backup), or promote "
                "another model.",
            ) from exc
        comparison = None
        if current is not None and (task_dir / current).is_dir():
            try:
                comparison = compare(target, task_dir / current, DEFAULT_TOLERANCE)
            except KiemtinError:
                comparison = None  # shown for information only; a rollback has no gate
        before = model_version(task_dir / current) if current else None
        after = model_version(target)
        entry = {
            "at": _now(),
            "action": "rollback",
            "from": before,
            "to": after,
            "actor": actor,
            "forced": False,
            "reason": reason,
            "undoes": undo["line"] if undo else None,
            "comparison": comparison.to_dict() if comparison else None,
        }
        _apply(
            task_dir,
            target,
            entry,
            audit_session=audit_session,
            actor=actor,
            audit_action="rollback",
            before={"current": before},
            after={"current": after, "reason": reason,
                   "undoes": undo.get("to") if undo else before,
                   "comparison": entry["comparison"]},
        )
    return Change(task, "rollback", before, after, target, comparison, reason, entry, notes)


def _dir_name(version: str | None) -> str | None:
    """``hostile/linear-1`` -> ``linear-1``."""
    if not version:
        return None
    name = str(version).rpartition("/")[2]
    return name if _is_model_name(name) else None

"""The promotion gate's comparison of two model directories on their common fixed test sets,
and the plain-text tables the registry prints.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ...errors import InputError, KiemtinError, ModelDirError
from ..directory import METRICS_FILE, model_version

DEFAULT_TOLERANCE = 0.005
# The metrics the gate compares, with how tables name them.
GATE_METRICS = (("macro_f1", "macro-F1"), ("roc_auc_risk", "ROC-AUC (risk)"))
_EPSILON = 1e-9  # metrics are rounded to 4 places: 0.6516 - 0.6466 must count as 0.005


# --- tables -------------------------------------------------------------------------------


def format_metric(value) -> str:
    """A metric as every registry table shows it: 4 places, ``n/a`` for none."""
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
                format_metric(r.candidate),
                format_metric(r.baseline),
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


def check_tolerance(tolerance: float) -> float:
    """The gate's tolerance as a float, refused unless a finite number >= 0."""
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


def finite_number(value) -> float | None:
    """A metric read from metrics.json: a finite number as a float, anything else None."""
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def compare(
    candidate_dir: Path, baseline_dir: Path, tolerance: float = DEFAULT_TOLERANCE
) -> Comparison:
    """Compare two model directories on the fixed test sets both ``metrics.json`` hold.

    Refuses (``KiemtinError``) when they share no test set: there is nothing to compare.
    """
    tolerance = check_tolerance(tolerance)
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
                    candidate=finite_number(cand.get(key)),
                    baseline=finite_number(base.get(key)),
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

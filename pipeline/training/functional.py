"""The Vietnamese functional test set: hand-written hard cases grouped in families, and
per-family accuracy of a model on them (HateCheck style).

Each family tests one behaviour: an explicit insult is flagged, the same slur quoted in
order to reject it (counter-speech) or reported in the news is not, hate typed without
diacritics is still hate, a denial of a health hoax is reliable. The set is
``corpora/functional/vi_functional.jsonl`` (see ``corpora/functional/README.md``); metrics
on the reference test splits say how often a model is right, this set says where it breaks.

A case is correct when the model's decided label (``scorer.predict``, i.e.
``labels_from_proba``) equals the gold label. Because the review queue orders posts by risk,
each family also gets a *flagged* accuracy: ``risk >= 0.5`` against whether the gold label is
risky (offensive or hate; unreliable), which does not care whether an insult is called
offensive or hate.

>>> cases = load_functional()
>>> len(cases) >= 150, sorted({c.task for c in cases})
(True, ['false', 'hostile'])
"""

from __future__ import annotations

import functools
import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import InputError
from ..model.card import functional_table
from ..tasks import Task, known_tasks, load_task

if TYPE_CHECKING:
    from ..model.base import Scorer

__all__ = [
    "FUNCTIONAL_SET",
    "FunctionalCase",
    "evaluate_functional",
    "functional_table",
    "load_functional",
]

FUNCTIONAL_SET = (
    Path(__file__).resolve().parents[2] / "corpora" / "functional" / "vi_functional.jsonl"
)
FLAG_AT = 0.5  # risk at which a post counts as flagged in the "flagged" view
REQUIRED = ("id", "family", "task", "text", "label")
OPTIONAL = ("note",)
RISK_DIGITS = 4
_FAMILY = re.compile(r"^[a-z][a-z0-9_]*$")
_FIX = "Fix that line; each line is one JSON object like the others in the file (see its README)."


@dataclass(frozen=True)
class FunctionalCase:
    """One hand-written case: ``label`` is the gold label of ``task``."""

    id: str
    family: str
    task: str
    text: str
    label: str
    note: str = ""


@functools.cache
def _task(name: str) -> Task:
    return load_task(name)


def _bad_line(path: Path, lineno: int, expected: str, found: str) -> InputError:
    return InputError(
        f"functional test set {path} line {lineno}", expected=expected, found=found, fix=_FIX
    )


def _case(path: Path, lineno: int, line: str) -> FunctionalCase:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise _bad_line(path, lineno, "a JSON object", f"invalid JSON ({exc.msg})") from exc
    if not isinstance(obj, dict):
        raise _bad_line(path, lineno, "a JSON object", f"a JSON {type(obj).__name__}")
    missing = [k for k in REQUIRED if k not in obj]
    extra = sorted(set(obj) - set(REQUIRED) - set(OPTIONAL))
    if missing or extra:
        found = ", ".join(
            part
            for part in (
                f"missing {missing}" if missing else "",
                f"unknown keys {extra}" if extra else "",
            )
            if part
        )
        raise _bad_line(path, lineno, f"the keys {list(REQUIRED)} (and optionally 'note')", found)
    not_text = [k for k in (*REQUIRED, *OPTIONAL) if k in obj and not isinstance(obj[k], str)]
    empty = [k for k in REQUIRED if isinstance(obj[k], str) and not obj[k].strip()]
    if not_text or empty:
        raise _bad_line(
            path, lineno, "non-empty strings", f"{not_text + empty} not a non-empty string"
        )
    if not _FAMILY.match(obj["family"]):
        raise _bad_line(path, lineno, "a snake_case family name", repr(obj["family"]))
    if obj["task"] not in known_tasks():
        raise _bad_line(path, lineno, f"a task from {known_tasks()}", repr(obj["task"]))
    labels = _task(obj["task"]).labels
    if obj["label"] not in labels:
        raise _bad_line(
            path, lineno, f"a label of task {obj['task']!r} from {list(labels)}", repr(obj["label"])
        )
    return FunctionalCase(**obj)


def load_functional(
    path: Path | str = FUNCTIONAL_SET, task: str | None = None
) -> list[FunctionalCase]:
    """The cases of the set at ``path`` in file order; only those of ``task`` when given.

    Blank lines are skipped; any other line that is not a well-formed case, and an id used
    twice, raise :class:`~pipeline.errors.InputError` naming the file and line.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(
            "functional test set",
            expected="a JSON Lines file of cases",
            found=f"no file {path}",
            fix=f"Pass the path of the set, by default {FUNCTIONAL_SET}.",
        )
    cases: list[FunctionalCase] = []
    seen: dict[str, int] = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        case = _case(path, lineno, line)
        if case.id in seen:
            raise _bad_line(
                path, lineno, "each id once", f"{case.id!r} again (first on line {seen[case.id]})"
            )
        seen[case.id] = lineno
        cases.append(case)
    return [c for c in cases if task is None or c.task == task]


def _scorer(scorer_or_classifier, task: str) -> Scorer:
    """The scorer of ``task``: the object itself, or the model of ``task`` in a Classifier."""
    models = getattr(scorer_or_classifier, "models", None)
    if isinstance(models, dict):
        if task not in models:
            raise InputError(
                "classifier",
                expected=f"a model for task {task!r}",
                found=f"models for {sorted(models)}",
                fix=f"Load the classifier with the task {task!r}.",
            )
        return models[task]
    scorer = scorer_or_classifier
    if scorer.task.name != task:
        raise InputError(
            "scorer",
            expected=f"a model of task {task!r}",
            found=f"a model of task {scorer.task.name!r}",
            fix="Evaluate each task's cases with that task's model.",
        )
    return scorer


def _share(correct: int, n: int) -> float | None:
    return round(correct / n, 4) if n else None


def evaluate_functional(scorer_or_classifier, cases, task: str) -> dict:
    """Per-family and overall accuracy of a model on the ``cases`` of ``task``.

    ``scorer_or_classifier`` is a :class:`~pipeline.model.base.Scorer` of ``task`` or a
    :class:`~pipeline.model.classifier.Classifier` holding one; cases of other tasks are
    left out. Returns ``n``, ``correct``, ``accuracy`` (decided label equals gold) and
    ``flagged_correct`` / ``flagged_accuracy`` (``risk >= 0.5`` equals "gold is risky"),
    the same per family under ``families`` (in the order families first appear, with the
    gold label counts), and ``failures``: every case wrong in either view, with its id,
    family, text, gold and predicted label, risk, and ``wrong`` (``label``, ``flag`` or
    both).
    """
    scorer = _scorer(scorer_or_classifier, task)
    chosen = [c for c in cases if c.task == task]
    if not chosen:
        raise InputError(
            "functional test set",
            expected=f"cases of task {task!r}",
            found=f"none among {len(cases)} cases",
            fix="Load the set without filtering it to another task.",
        )
    proba = scorer.predict_proba([c.text for c in chosen])
    predicted = scorer.labels_from_proba(proba)
    risk = scorer.risk_from_proba(proba).tolist()
    risky = set(scorer.task.risk_labels)
    families: dict[str, dict] = {}
    failures = []
    for case, pred, r in zip(chosen, predicted, risk, strict=True):
        label_ok = pred == case.label
        flag_ok = (r >= FLAG_AT) == (case.label in risky)
        fam = families.setdefault(
            case.family, {"n": 0, "correct": 0, "flagged_correct": 0, "gold": Counter()}
        )
        fam["n"] += 1
        fam["correct"] += label_ok
        fam["flagged_correct"] += flag_ok
        fam["gold"][case.label] += 1
        if not (label_ok and flag_ok):
            failures.append(
                {
                    "id": case.id,
                    "family": case.family,
                    "text": case.text,
                    "gold": case.label,
                    "predicted": pred,
                    "risk": round(r, RISK_DIGITS),
                    "wrong": [w for w, ok in (("label", label_ok), ("flag", flag_ok)) if not ok],
                }
            )
    for fam in families.values():
        fam["accuracy"] = _share(fam["correct"], fam["n"])
        fam["flagged_accuracy"] = _share(fam["flagged_correct"], fam["n"])
        fam["gold"] = dict(fam["gold"])
    n = len(chosen)
    correct = sum(f["correct"] for f in families.values())
    flagged = sum(f["flagged_correct"] for f in families.values())
    return {
        "task": task,
        "n": n,
        "correct": correct,
        "accuracy": _share(correct, n),
        "flagged_correct": flagged,
        "flagged_accuracy": _share(flagged, n),
        "families": families,
        "failures": failures,
    }

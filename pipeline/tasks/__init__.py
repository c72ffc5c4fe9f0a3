"""Tasks are data: a named classification problem with its labels and which of them are risky.

The bundled tasks live in ``pipeline/tasks/*.json``; a trainer adds one by writing another
JSON file (anywhere) and passing its path where a task name is expected.

>>> load_task("hostile").risk_labels
('offensive', 'hate')
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError

TASKS_DIR = Path(__file__).parent


@dataclass(frozen=True)
class Task:
    name: str
    labels: tuple[str, ...]
    risk_labels: tuple[str, ...]
    description: str = ""
    reference_corpus: str | None = None

    def __post_init__(self):
        if len(self.labels) < 2 or len(set(self.labels)) != len(self.labels):
            raise InputError(
                f"task {self.name!r}",
                expected="at least two distinct labels",
                found=repr(list(self.labels)),
                fix="List each label once in the task file's 'labels'.",
            )
        unknown = [r for r in self.risk_labels if r not in self.labels]
        if not self.risk_labels or unknown:
            raise InputError(
                f"task {self.name!r}",
                expected=f"'risk_labels' chosen from {list(self.labels)}",
                found=repr(list(self.risk_labels)),
                fix="Name at least one of the task's labels as risky.",
            )

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "description": self.description,
            "labels": list(self.labels),
            "risk_labels": list(self.risk_labels),
            "reference_corpus": self.reference_corpus,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Task:
        return cls(
            name=data["name"],
            labels=tuple(data["labels"]),
            risk_labels=tuple(data["risk_labels"]),
            description=data.get("description", ""),
            reference_corpus=data.get("reference_corpus"),
        )


def known_tasks() -> list[str]:
    return sorted(p.stem for p in TASKS_DIR.glob("*.json"))


def load_task(name_or_path: str | Path) -> Task:
    """A bundled task by name, or a task JSON file by path."""
    path = Path(name_or_path)
    if path.suffix != ".json":
        path = TASKS_DIR / f"{name_or_path}.json"
    if not path.is_file():
        raise InputError(
            "task",
            expected=f"one of {known_tasks()} or the path of a task .json file",
            found=repr(str(name_or_path)),
            fix="Check the spelling, or write a task file like pipeline/tasks/hostile.json.",
        )
    try:
        return Task.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        raise InputError(
            f"task file {path}",
            expected="JSON with 'name', 'labels' and 'risk_labels'",
            found=f"{type(exc).__name__}: {exc}",
            fix="Compare it with pipeline/tasks/hostile.json.",
        ) from exc

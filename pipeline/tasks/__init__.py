"""Tasks are data: a named classification problem with its labels and which of them are risky.

The bundled tasks live in ``pipeline/tasks/*.json``; a trainer adds one by writing another
JSON file (anywhere) and passing its path where a task name is expected.

>>> load_task("hostile").risk_labels
('offensive', 'hate')
>>> load_task("hostile").display["vi"]["labels"]["hate"]
'thù ghét'
>>> load_task("hostile").guidelines["hate"]["en"]["definition"][:40]
'Harassing or abusive language aimed dire'
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError

TASKS_DIR = Path(__file__).parent
# What a task's ``content_columns`` may map: a post's engagement counts and posting time.
CONTENT_KEYS = ("num_like", "num_comment", "num_share", "timestamp")


@dataclass(frozen=True)
class Task:
    name: str
    labels: tuple[str, ...]
    risk_labels: tuple[str, ...]
    description: str = ""
    reference_corpus: str | None = None
    # How the web app shows the task and its labels, per language:
    # {"vi": {"name": "thù địch", "labels": {"hate": "thù ghét", ...}}, "en": {...}}. Display
    # only: labels are stored, exported and trained on by their names in ``labels``.
    display: dict = field(default_factory=dict, compare=False, hash=False)
    # Reviewers' guidelines, version 1 (admins edit later versions in the web app, kept in
    # the database: ``pipeline.store.guidelines``): per label and language a definition and
    # short examples, {"hate": {"vi": {"definition": "...", "examples": ["..."]}, "en": ...}}.
    guidelines: dict = field(default_factory=dict, compare=False, hash=False)
    # Input columns holding each post's content metadata, for models trained with content
    # features (``pipeline.model.content``): {"num_like": "num_like_post", "timestamp": ...}.
    # Never a column about the author.
    content_columns: dict = field(default_factory=dict, compare=False, hash=False)

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
        for language, shown in self.display.items():
            extra = sorted(set((shown or {}).get("labels", {})) - set(self.labels))
            if extra:
                raise InputError(
                    f"task {self.name!r}",
                    expected=f"'display' names for the labels {list(self.labels)}",
                    found=f"{extra} in display[{language!r}]",
                    fix="Name only the task's own labels under display.<language>.labels.",
                )
        check_guidelines(self.name, self.labels, self.guidelines)
        unknown_keys = sorted(set(self.content_columns) - set(CONTENT_KEYS))
        if unknown_keys:
            raise InputError(
                f"task {self.name!r}",
                expected=f"'content_columns' keys from {list(CONTENT_KEYS)}",
                found=f"{unknown_keys}",
                fix="Map only engagement counts and the posting time; never author fields.",
            )

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "description": self.description,
            "labels": list(self.labels),
            "risk_labels": list(self.risk_labels),
            "reference_corpus": self.reference_corpus,
            **({"content_columns": dict(self.content_columns)} if self.content_columns else {}),
        }

    @classmethod
    def from_dict(cls, data: dict) -> Task:
        return cls(
            name=data["name"],
            labels=tuple(data["labels"]),
            risk_labels=tuple(data["risk_labels"]),
            description=data.get("description", ""),
            reference_corpus=data.get("reference_corpus"),
            display=data.get("display") or {},
            guidelines=data.get("guidelines") or {},
            content_columns=data.get("content_columns") or {},
        )


def check_guidelines(task: str, labels: tuple[str, ...], guidelines: dict) -> None:
    """InputError unless ``guidelines`` maps some of ``labels`` to {language: {"definition":
    str, "examples": [str, ...]}}."""
    extra = sorted(set(guidelines) - set(labels))
    if extra:
        raise InputError(
            f"guidelines of task {task!r}",
            expected=f"guidelines for the labels {list(labels)}",
            found=f"{extra}",
            fix="Write guidelines only for the task's own labels.",
        )
    for label, per_language in guidelines.items():
        for language, entry in (per_language or {}).items():
            ok = (
                isinstance(entry, dict)
                and isinstance(entry.get("definition", ""), str)
                and isinstance(entry.get("examples", []), list)
                and all(isinstance(e, str) for e in entry.get("examples", []))
            )
            if not ok:
                raise InputError(
                    f"guidelines of task {task!r}",
                    expected='{"definition": "...", "examples": ["...", ...]} per language',
                    found=f"{entry!r:.80} for label {label!r}, language {language!r}",
                    fix="Compare with the guidelines in pipeline/tasks/hostile.json.",
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

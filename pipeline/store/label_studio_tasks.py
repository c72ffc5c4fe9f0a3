"""One Label Studio task, read and checked: its text and task, kiemtin's own scores when
the file carries them, and its annotations sorted into answers and a decision.

``parse_task`` raises ``TaskError`` with the reason a task cannot be imported (the import
reports it and goes on); ``LABEL_STUDIO_FILE`` is how errors about the whole file word it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ..tasks import known_tasks, load_task
from ._shared import ScoredPost
from .json_array import Wording
from .labels_export import FROM_NAME
from .users import NAME_PATTERN

if TYPE_CHECKING:
    from .label_studio import ImportReport

_MISSING = object()
LABEL_STUDIO_FILE = Wording(
    file="Label Studio file",
    element="task",
    expected_file="a JSON file exported from Label Studio (Export, format JSON)",
    expected_array="a JSON array of tasks, [{\"data\": {\"text\": ...}, \"annotations\": "
    "[...]}, ...], as Label Studio's JSON export writes it",
    found_object="a JSON object (one task, a JSON Lines file, or not a task export at all)",
    fix_encoding="Export the file from Label Studio again, or save it as UTF-8.",
    fix_cut_short="The file may be cut short; export it from Label Studio again.",
    fix_not_array="In Label Studio choose Export, format JSON (not JSON-MIN, CSV or TSV); "
    "wrap hand-written tasks in [ ].",
)


class TaskError(ValueError):
    """Why one Label Studio task cannot be imported."""


@dataclass(frozen=True)
class Annotation:
    """One annotation of a task: who chose which label, when, with their note."""

    reviewer: str
    label: str
    time: datetime | None
    note: str | None = None


@dataclass(eq=False)
class LabelStudioTask:
    """One Label Studio task, checked, with its annotations sorted out."""

    position: int
    ls_id: object
    task: object  # pipeline.tasks.Task
    text: str
    source_id: str | None
    record: dict | None  # a scored record when the file carries kiemtin's scores
    answers: list[Annotation]
    decision: Annotation | None  # the ground-truth annotation
    kiemtin_id: int | None
    label_source: int | None
    reviews_needed: int | None
    decided_at: datetime | None
    post: ScoredPost | None = None

    @property
    def reviewed(self) -> bool:
        return bool(self.answers or self.decision)


class TaskNames:
    """Task names a file may use: the bundled tasks and the one given by the caller."""

    def __init__(self, default_task):
        self.default = default_task
        self.cache = {} if default_task is None else {default_task.name: default_task}

    def find(self, name):
        if name is None:
            return self.default
        if not isinstance(name, str):
            return None
        if name not in self.cache:
            self.cache[name] = load_task(name) if name in known_tasks() else None
        return self.cache[name]


def parse_task(
    position: int, element: object, tasks: TaskNames, report: ImportReport
) -> LabelStudioTask:
    if not isinstance(element, dict):
        raise TaskError(f"expected a task object, found {type(element).__name__}")
    data = element.get("data")
    if not isinstance(data, dict):
        raise TaskError(
            "no 'data' object: expected a Label Studio task {\"data\": {\"text\": ...}, "
            "\"annotations\": [...]} (export as JSON, not JSON-MIN)"
        )
    text = data.get("text")
    if not isinstance(text, str) or not text.strip():
        raise TaskError("data has no 'text' (kiemtin reads data.text: <Text value=\"$text\"/>)")
    name = data.get("task")
    task = tasks.find(name)
    if task is None:
        if name is None:
            raise TaskError("data has no 'task' and no task was given: pass task= (--task)")
        raise TaskError(f"unknown task {name!r} in data.task")
    if tasks.default is not None and task.name != tasks.default.name:
        raise TaskError(f"data.task is {task.name!r}, but the import is for "
                         f"{tasks.default.name!r}")
    annotations = element.get("annotations", element.get("completions", []))
    if not isinstance(annotations, list):
        raise TaskError("'annotations' is not a list")
    answers: list[Annotation] = []
    decision = None
    for k, annotation in enumerate(annotations, start=1):
        where = f"annotation {k}"
        if not isinstance(annotation, dict):
            raise TaskError(f"{where}: expected an object")
        if annotation.get("was_cancelled"):
            report.cancelled += 1
            continue
        parsed = Annotation(
            _annotator(annotation, where), _chosen(annotation, task, where),
            _parse_time(annotation.get("created_at"), f"{where}: created_at"),
            annotation.get("kiemtin_note") or None,
        )
        if annotation.get("ground_truth"):
            if decision is not None:
                raise TaskError(f"{where}: a second ground-truth annotation (one decides)")
            decision = parsed
        elif any(a.reviewer == parsed.reviewer for a in answers):
            raise TaskError(f"{where}: a second annotation by {parsed.reviewer!r} "
                             "(a reviewer answers an item once)")
        else:
            answers.append(parsed)
    if "kiemtin_source_id" in data:
        source_id = data["kiemtin_source_id"]
    else:
        source_id = None if element.get("id") is None else f"label-studio:{element['id']}"
    decided_at = _MISSING
    if "kiemtin_decided_at" in data:
        decided_at = _parse_time(data["kiemtin_decided_at"], "data.kiemtin_decided_at")
    return LabelStudioTask(
        position=position,
        ls_id=element.get("id"),
        task=task,
        text=text,
        source_id=None if source_id is None else str(source_id),
        record=_kiemtin_record(data, task, text, source_id),
        answers=answers,
        decision=decision,
        kiemtin_id=_whole(data, "kiemtin_item_id", 1),
        label_source=_whole(data, "kiemtin_label_source", 1),
        reviews_needed=_whole(data, "kiemtin_reviews_needed", 1),
        decided_at=None if decided_at is _MISSING else decided_at,
    )


def _parse_time(value, where: str) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None:
        raise TaskError(f"{where}: expected an ISO 8601 time, found {value!r}")
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _whole(data: dict, key: str, minimum: int) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise TaskError(f"data.{key}: expected a whole number >= {minimum}, found {value!r}")
    return value


def _annotator(annotation: dict, where: str) -> str:
    who = annotation.get("completed_by")
    name = None
    if isinstance(who, dict):
        name = who.get("username") or who.get("email")
        if not name and isinstance(who.get("id"), int):
            name = f"label-studio-{who['id']}"
    elif isinstance(who, int) and not isinstance(who, bool):
        name = f"label-studio-{who}"  # a Label Studio user id: all the file says
    elif isinstance(who, str):
        name = who.strip()
    if not name:
        raise TaskError(f"{where}: no annotator (expected 'completed_by': a user id or object)")
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise TaskError(f"{where}: annotator {name!r} is not a usable account name "
                         "(letters, digits, '.', '_', '@', '-'; at most 64)")
    return name


def _chosen(annotation: dict, task, where: str) -> str:
    result = annotation.get("result")
    choices = [r for r in result or () if isinstance(r, dict) and r.get("type") == "choices"]
    if len(choices) > 1:
        choices = [r for r in choices if r.get("from_name") == FROM_NAME]
    if len(choices) != 1:
        raise TaskError(
            f"{where}: expected one 'choices' result (from <Choices name=\"{FROM_NAME}\">), "
            f"found {len(choices)}"
        )
    value = choices[0].get("value")
    picked = value.get("choices") if isinstance(value, dict) else None
    if not isinstance(picked, list) or len(picked) != 1 or not isinstance(picked[0], str):
        raise TaskError(f"{where}: expected exactly one chosen label, found {picked!r}")
    by_fold = {label.casefold(): label for label in task.labels}
    label = by_fold.get(picked[0].strip().casefold())
    if label is None:
        raise TaskError(f"{where}: label {picked[0]!r} is not one of task {task.name!r}'s "
                         f"labels {list(task.labels)}")
    return label


def _kiemtin_record(data: dict, task, text: str, source_id) -> dict | None:
    """The scored record kiemtin's own fields describe, or None to score the text."""
    if "kiemtin_model_version" not in data:
        return None
    proba = data.get("kiemtin_proba")
    if not isinstance(proba, dict) or set(proba) != set(task.labels):
        raise TaskError(f"data.kiemtin_proba: expected a probability for each of "
                         f"{list(task.labels)}, found {proba!r}")
    score = {
        "label": data.get("kiemtin_model_label"),
        "proba": proba,
        "risk": data.get("kiemtin_risk"),
        "words": data.get("kiemtin_words", []),
    }
    return {"id": source_id, "text": text, "scores": {task.name: score},
            "model_versions": {task.name: data.get("kiemtin_model_version")}}

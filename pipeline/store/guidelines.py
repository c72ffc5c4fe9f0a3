"""Reviewer guidelines: what each label of a task means, with short examples, in Vietnamese and
English, as versions.

Version 1 is the task file's (``pipeline/tasks/<task>.json``, ``"guidelines"``) and is not
stored; an admin's edit (``save_guidelines``) stores version 2, 3, ... in the ``guidelines``
table, and the highest version is the one in force (``current_guidelines``,
``version_in_force``). Every answer records the version it was given under
(``answers.record_answer``), so a change of definitions can be traced in the labels. Saving
checks the version the editor loaded (a stale form is a ConflictError) and is audited
(entity ``guidelines``).

>>> from pipeline.store.guidelines import default_guidelines
>>> g = default_guidelines("hostile")
>>> g.version, sorted(g.labels), g.entry("hate", "vi")["examples"][0][:20]
(1, ['clean', 'hate', 'offensive'], 'Bọn miền đó toàn lũ ')
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..errors import InputError
from ..tasks import check_guidelines, known_tasks, load_task
from . import audit
from ._shared import ConflictError, NotFoundError, acting_user
from .db import writing
from .tables import GuidelineVersion, utcnow

EDITING_ROLES = ("admin",)
LANGUAGES = ("vi", "en")  # Vietnamese first: every label needs a Vietnamese definition
MAX_DEFINITION = 2_000  # characters of one label's definition
MAX_EXAMPLE = 500  # characters of one example
MAX_EXAMPLES = 10  # examples per label and language
MAX_NOTE = 1_000


@dataclass(frozen=True)
class Guidelines:
    """One version of a task's guidelines; ``author`` None for the task file's (version 1)."""

    task: str
    version: int
    labels: dict  # {label: {language: {"definition": str, "examples": [str, ...]}}}
    author: str | None = None
    note: str | None = None
    created_at: datetime | None = None

    def entry(self, label: str, language: str) -> dict:
        """The definition and examples of ``label`` in ``language``, else in Vietnamese, else
        empty ones."""
        per_language = self.labels.get(label) or {}
        found = per_language.get(language) or per_language.get("vi") or {}
        return {
            "definition": found.get("definition", ""),
            "examples": list(found.get("examples", [])),
        }


def _task(task: str):
    if task not in known_tasks():
        raise NotFoundError(
            "task",
            expected=f"one of {known_tasks()}",
            found=repr(task),
            fix="Guidelines belong to a bundled task (pipeline/tasks/*.json).",
        )
    return load_task(task)


def default_guidelines(task: str) -> Guidelines:
    """Version 1: the guidelines written in the task file."""
    return Guidelines(task, 1, _task(task).guidelines)


def _latest(session: Session, task: str) -> GuidelineVersion | None:
    query = (
        select(GuidelineVersion)
        .where(GuidelineVersion.task == task)
        .order_by(GuidelineVersion.version.desc())
        .limit(1)
    )
    return session.scalars(query).first()


def _from_row(row: GuidelineVersion) -> Guidelines:
    return Guidelines(
        row.task, row.version, row.labels, row.author.name, row.note, row.created_at
    )


def current_guidelines(session: Session, task: str) -> Guidelines:
    """The guidelines in force for ``task``: the latest stored version, else the task file's."""
    row = _latest(session, task)
    return _from_row(row) if row is not None else default_guidelines(task)


def version_in_force(session: Session, task: str) -> int | None:
    """The version number in force (1 when none is stored); None for a task with no file."""
    stored = session.scalar(
        select(func.max(GuidelineVersion.version)).where(GuidelineVersion.task == task)
    )
    if stored is not None:
        return stored
    return 1 if task in known_tasks() else None


def guideline_history(session: Session, task: str) -> list[Guidelines]:
    """Every version of ``task``'s guidelines, the newest first, ending with version 1."""
    rows = session.scalars(
        select(GuidelineVersion)
        .where(GuidelineVersion.task == task)
        .order_by(GuidelineVersion.version.desc())
    )
    return [_from_row(r) for r in rows] + [default_guidelines(task)]


def clean_labels(task: str, labels: dict) -> dict:
    """``labels`` checked and tidied for ``task``: text stripped, empty examples dropped;
    InputError when a label is unknown, a Vietnamese definition is missing or text is too
    long."""
    known = _task(task)
    check_guidelines(task, known.labels, labels)
    out: dict = {}
    for label in known.labels:
        per_language = labels.get(label) or {}
        out[label] = {}
        for language in LANGUAGES:
            entry = per_language.get(language) or {}
            definition = (entry.get("definition") or "").strip()
            examples = [e.strip() for e in entry.get("examples") or [] if e and e.strip()]
            if language == "vi" and not definition:
                raise InputError(
                    f"guidelines of {label!r}",
                    expected="a Vietnamese definition",
                    found="none",
                    fix="Write what the label means in Vietnamese; English is optional.",
                )
            if len(definition) > MAX_DEFINITION:
                raise InputError(
                    f"definition of {label!r} ({language})",
                    expected=f"at most {MAX_DEFINITION:,} characters",
                    found=f"{len(definition):,}",
                    fix="Keep the definition to what decides the label.",
                )
            if len(examples) > MAX_EXAMPLES or any(len(e) > MAX_EXAMPLE for e in examples):
                raise InputError(
                    f"examples of {label!r} ({language})",
                    expected=f"at most {MAX_EXAMPLES} examples of {MAX_EXAMPLE} characters",
                    found=f"{len(examples)} examples, the longest "
                    f"{max((len(e) for e in examples), default=0)} characters",
                    fix="Keep a few short, typical examples.",
                )
            if definition or examples:
                out[label][language] = {"definition": definition, "examples": examples}
    return out


def save_guidelines(
    session: Session,
    task: str,
    actor: str,
    labels: dict,
    expected_version: int | None,
    note: str | None = None,
) -> Guidelines:
    """An admin's new version of ``task``'s guidelines, edited from ``expected_version`` (the
    version the form showed; None skips the check, for scripts only). Refused with
    ConflictError when another version was saved since, ForbiddenError for other roles,
    InputError for guidelines that are incomplete or too long."""
    labels = clean_labels(task, labels)
    note = (note or "").strip() or None
    if note is not None and len(note) > MAX_NOTE:
        raise InputError(
            "note", expected=f"at most {MAX_NOTE:,} characters", found=f"{len(note):,}",
            fix="Say briefly what changed.",
        )
    with writing(session):
        user = acting_user(session, actor, EDITING_ROLES, "edit guidelines")
        current = version_in_force(session, task)
        if expected_version is not None and expected_version != current:
            raise ConflictError(
                f"guidelines of {task!r}",
                expected=f"version {expected_version} (the version you loaded)",
                found=f"version {current}: someone saved another since",
                fix="Reload the page, look at their changes and edit again.",
            )
        before = current_guidelines(session, task)
        row = GuidelineVersion(
            task=task, version=current + 1, labels=labels, author_id=user.id, note=note,
            created_at=utcnow(),
        )
        session.add(row)
        try:
            session.flush()
        except IntegrityError as exc:  # a concurrent save of the same version
            raise ConflictError(
                f"guidelines of {task!r}",
                expected=f"to save version {current + 1}",
                found="another editor saved it at the same moment",
                fix="Reload the page and edit again.",
            ) from exc
        audit.record(
            session,
            user.name,
            "edit",
            "guidelines",
            f"{task}:{row.version}",
            {"version": before.version, "labels": before.labels},
            {"version": row.version, "labels": labels, "note": note},
        )
        saved = Guidelines(task, row.version, labels, user.name, note, row.created_at)
    return saved

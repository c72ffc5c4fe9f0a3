"""Promote a model behind the gate, roll back, and the history both append to.

Every promotion and rollback appends one JSON line to ``models/<task>/HISTORY.jsonl`` and,
given a session of the review store, one audit row, all or nothing; one change at a time per
task. Only a task's first model, made current by training (``promote_first``), is not
recorded: no model was current before it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ...errors import InputError, KiemtinError, ModelDirError
from ..directory import (
    CURRENT_FILE,
    check_model_dir,
    is_model_name,
    model_version,
    read_current,
    read_current_text,
    write_current,
)
from .comparison import DEFAULT_TOLERANCE, Comparison, check_tolerance, compare
from .listing import find_task_dir, resolve_model_dir

try:
    import fcntl
except ImportError:  # not on POSIX: no lock
    fcntl = None

HISTORY_FILE = "HISTORY.jsonl"


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
    if fcntl is None:
        yield
        return
    fd = os.open(task_dir, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


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
    old_current = read_current_text(task_dir)
    old_size = history.stat().st_size if history.is_file() else None

    def write_files() -> None:
        with open(history, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n")
            f.flush()
            os.fsync(f.fileno())
        write_current(task_dir, target.name)

    def restore() -> None:
        if old_size is None:
            history.unlink(missing_ok=True)
        else:
            with open(history, "r+b") as f:
                f.truncate(old_size)
        now = read_current_text(task_dir)
        if now != old_current:
            write_current(task_dir, old_current)

    try:
        if audit_session is None:
            write_files()
            return
        # The review store is a layer above the models (it imports them): imported only
        # when a caller passes one of its sessions, so training and listing run without it.
        from ...store import audit
        from ...store.db import writing

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
    tolerance = check_tolerance(tolerance)
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
            current = read_current(task_dir)
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


def promote_first(model_dir: Path) -> bool:
    """Make ``model_dir`` its task's CURRENT model if the task has no CURRENT file yet: what
    training does with a task's first model. ``False`` (nothing changed) when it has one.

    The one change of CURRENT not recorded in HISTORY.jsonl: no model was current before,
    so there is nothing a rollback could go back to, and the history of a task starts with
    its first promotion over another model.
    """
    model_dir = Path(model_dir)
    task_dir = model_dir.parent
    with _locked(task_dir):
        if read_current_text(task_dir) is not None:
            return False
        write_current(task_dir, model_dir.name)
    return True


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

    When CURRENT was changed outside the registry (an edit by hand, a copy), that change is
    the one undone: CURRENT goes back to the model HISTORY.jsonl last made current.
    """
    reason = _clean_reason(reason)
    task_dir = find_task_dir(Path(models_root), task)
    with _locked(task_dir):
        try:
            current = read_current(task_dir)
        except ModelDirError:
            current = None  # an unreadable CURRENT is what a rollback repairs
        history = read_history(task_dir)
        history_path = task_dir / HISTORY_FILE
        last_known = _dir_name(history[-1]["to"]) if history else None
        undo = None
        if last_known is not None and last_known != current:
            # CURRENT was changed outside the registry (an edit, a copy): undo that change,
            # back to the model the history last made current.
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
    return name if is_model_name(name) else None

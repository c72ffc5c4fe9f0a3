"""Model directories: ``models/<task>/<name>-<version>/`` and ``models/<task>/CURRENT``.

A directory holds ``config.json`` (task, labels, family, normaliser/segmenter versions,
hyper-parameters), the family's weight files, ``metrics.json`` and a ``README.md`` model
card. Loading checks every part and refuses the whole directory if one is missing.

``CURRENT`` names the promoted directory of a task; this module alone reads and writes it
(:func:`read_current`, :func:`write_current`). Promotions and rollbacks go through
:mod:`pipeline.model.registry`, which records each change.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

from ..errors import ModelDirError
from ..tasks import Task
from ..text.prepare import PREPROCESSING
from .base import Scorer
from .config_file import CONFIG_FILE, FORMAT, read_config, write_json
from .families import scorer_class

METRICS_FILE = "metrics.json"
CARD_FILE = "README.md"
CURRENT_FILE = "CURRENT"
_MODEL_NAME = re.compile(r"^[^/\\.][^/\\]*$")
log = logging.getLogger(__name__)


def save_model(scorer: Scorer, directory: Path, *, extra_config: dict) -> Path:
    """Write config and weights; metrics and the card are added by training."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    family_config = scorer.save(directory)
    config = {
        "format": FORMAT,
        "task": scorer.task.to_dict(),
        "labels": list(scorer.classes_),
        "files": list(scorer.files),
        **family_config,
        **extra_config,
    }
    write_json(directory / CONFIG_FILE, config)
    return directory


def check_model_dir(directory: Path) -> dict:
    """Validate the whole directory; return its config."""
    directory = Path(directory)
    config = read_config(directory)
    family = scorer_class(config.get("family"), directory)
    needed = [*family.files, METRICS_FILE, CARD_FILE]
    missing = [name for name in needed if not (directory / name).is_file()]
    if missing:
        raise ModelDirError(
            f"model directory {directory}",
            expected=f"{', '.join([CONFIG_FILE, *needed])}",
            found=f"{', '.join(missing)} missing",
            fix="Copy the whole directory, or retrain it with train.py.",
        )
    mismatched = {
        step: config.get(step)
        for step, want in PREPROCESSING.items()
        if config.get(step, {}).get("name") != want["name"]
    }
    if mismatched:
        raise ModelDirError(
            f"model directory {directory}",
            expected=f"preprocessing {PREPROCESSING}",
            found=f"{mismatched}",
            fix="The model was trained with other text preprocessing; retrain it.",
        )
    return config


def load_model(directory: Path) -> Scorer:
    """Load a model directory of any family, after checking it is whole."""
    directory = Path(directory)
    config = check_model_dir(directory)
    for step, want in PREPROCESSING.items():
        if (trained := config[step].get("version")) != want["version"]:
            # Same steps, other rules (a few rare forms read differently): it still scores.
            log.warning(
                "%s was trained with %s v%s, this code runs v%s; retrain it for the same text",
                model_version(directory), want["name"], trained, want["version"],
            )
    task = Task.from_dict(config["task"])
    try:
        return scorer_class(config["family"], directory).load(directory, config, task)
    except (KeyError, ValueError, OSError) as exc:
        raise ModelDirError(
            f"model directory {directory}",
            expected="weights that match config.json",
            found=f"{type(exc).__name__}: {exc}",
            fix="The directory is damaged or mixed from two models; retrain it.",
        ) from exc


def model_version(directory: Path) -> str:
    """``<task>/<name>-<version>``, how outputs name the model that scored them."""
    directory = Path(directory)
    return f"{directory.parent.name}/{directory.name}"


def is_model_name(name: str) -> bool:
    """Whether ``name`` can be a task or model directory that CURRENT names: no path
    separator, not hidden."""
    return bool(_MODEL_NAME.match(name))


def read_current_text(task_dir: Path) -> str | None:
    """What ``<task_dir>/CURRENT`` holds, stripped and unchecked; ``None`` with no file."""
    path = Path(task_dir) / CURRENT_FILE
    return path.read_text(encoding="utf-8").strip() if path.is_file() else None


def read_current(task_dir: Path) -> str | None:
    """The directory name CURRENT holds, ``None`` with no CURRENT file; refused when it is
    not the name of a directory beside it."""
    name = read_current_text(task_dir)
    if name is not None and not is_model_name(name):
        raise ModelDirError(
            str(Path(task_dir) / CURRENT_FILE),
            expected="the name of a model directory beside it, like linear-1",
            found=repr(name),
            fix="Write the model directory's name into CURRENT, or promote a model.",
        )
    return name


def write_current(task_dir: Path, name: str | None) -> None:
    """Point ``<task_dir>/CURRENT`` at ``name`` atomically (a synced temporary file beside
    it, renamed over it); ``None`` removes CURRENT. Only the registry calls this, so that
    every change is recorded."""
    task_dir = Path(task_dir)
    path = task_dir / CURRENT_FILE
    if name is None:
        path.unlink(missing_ok=True)
        return
    tmp = task_dir / f".{CURRENT_FILE}.{os.getpid()}.tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(name + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def current_model_dir(models_root: Path, task: str) -> Path:
    """The promoted model of ``task``: ``models_root/<task>/CURRENT`` names its directory."""
    task_dir = Path(models_root) / task
    name = read_current(task_dir)
    if name is None:
        raise ModelDirError(
            f"current model for task {task!r}",
            expected=f"a file {task_dir / CURRENT_FILE} naming a model directory",
            found="no such file",
            fix=f"Train one with `python train.py --task {task} --corpus DIR` or pass --model.",
        )
    return task_dir / name

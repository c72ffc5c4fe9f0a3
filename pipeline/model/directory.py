"""Model directories: ``models/<task>/<name>-<version>/`` and ``models/<task>/CURRENT``.

A directory holds ``config.json`` (task, labels, family, normaliser/segmenter versions,
hyper-parameters), the family's weight files, ``metrics.json`` and a ``README.md`` model
card. Loading checks every part and refuses the whole directory if one is missing.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import ModelDirError
from ..tasks import Task
from ..text.prepare import PREPROCESSING
from .base import Scorer

FORMAT = "kiemtin-model/1"
CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.json"
CARD_FILE = "README.md"
CURRENT_FILE = "CURRENT"


def _families() -> dict[str, type[Scorer]]:
    from .linear import LinearScorer
    from .transformer import TransformerScorer  # imports torch only when it loads a model

    return {LinearScorer.family: LinearScorer, TransformerScorer.family: TransformerScorer}


def write_json(path: Path, data) -> None:
    """Stable JSON (sorted keys, fixed indent) so rebuilt models compare byte for byte."""
    path.write_text(
        json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )


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


def read_config(directory: Path) -> dict:
    directory = Path(directory)
    if not directory.is_dir():
        raise ModelDirError(
            f"model directory {directory}",
            expected="a directory written by `kiemtin train`",
            found="no such directory" if not directory.exists() else "a file",
            fix="Pass --model models/<task>/<name>-<version>, or train one with train.py.",
        )
    path = directory / CONFIG_FILE
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        config = None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelDirError(
            f"model directory {directory}",
            expected=f"{CONFIG_FILE} with valid JSON",
            found=f"{type(exc).__name__}: {exc}",
            fix="Restore the file from where the model came from, or retrain it.",
        ) from exc
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        found = "no config.json" if config is None else f"format {config.get('format')!r}"
        raise ModelDirError(
            f"model directory {directory}",
            expected=f"a {CONFIG_FILE} of format {FORMAT!r}",
            found=found,
            fix="This is not a kiemtin model directory; retrain with train.py.",
        )
    return config


def check_model_dir(directory: Path) -> dict:
    """Validate the whole directory; return its config."""
    directory = Path(directory)
    config = read_config(directory)
    families = _families()
    family = config.get("family")
    if family not in families:
        raise ModelDirError(
            f"model directory {directory}",
            expected=f"a model family from {sorted(families)}",
            found=repr(family),
            fix="Upgrade kiemtin, or retrain the model with this version.",
        )
    needed = [*families[family].files, METRICS_FILE, CARD_FILE]
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
    task = Task.from_dict(config["task"])
    try:
        return _families()[config["family"]].load(directory, config, task)
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


def current_model_dir(models_root: Path, task: str) -> Path:
    """The promoted model of ``task``: ``models_root/<task>/CURRENT`` names its directory."""
    task_dir = Path(models_root) / task
    current = task_dir / CURRENT_FILE
    if not current.is_file():
        raise ModelDirError(
            f"current model for task {task!r}",
            expected=f"a file {current} naming a model directory",
            found="no such file",
            fix=f"Train one with `python train.py --task {task} --corpus DIR` or pass --model.",
        )
    name = current.read_text(encoding="utf-8").strip()
    if not name or "/" in name or name.startswith("."):
        raise ModelDirError(
            str(current),
            expected="the name of a directory beside it, like linear-1",
            found=repr(name),
            fix="Write the model directory's name into CURRENT.",
        )
    return task_dir / name


def set_current(model_dir: Path) -> None:
    model_dir = Path(model_dir)
    (model_dir.parent / CURRENT_FILE).write_text(model_dir.name + "\n", encoding="utf-8")

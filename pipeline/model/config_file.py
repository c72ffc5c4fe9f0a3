"""``config.json`` of a model directory: its format tag, how it is written and how it is read.

Kept apart from :mod:`pipeline.model.directory` (which re-exports these names) because the
family modules need it too, and ``directory`` imports the families: ``onnx_runtime`` reads a
config through this module without importing the families that import it.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import ModelDirError

FORMAT = "kiemtin-model/1"
CONFIG_FILE = "config.json"


def write_json(path: Path, data) -> None:
    """Stable JSON (sorted keys, fixed indent) so rebuilt models compare byte for byte."""
    path.write_text(
        json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )


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

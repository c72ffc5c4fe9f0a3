"""Checkpoints of a classify run, so a killed run continues where it stopped.

After each chunk the run writes ``OUTPUT.resume.json`` (atomically): how many input rows are
done and how long the partial output and rejects files were at that moment. ``--resume``
cuts both files back to those lengths (a kill may land after a write but before its
checkpoint) and skips that many input rows, so every row comes out exactly once, in order.
The checkpoint also holds a fingerprint of the inputs and options: resuming with other
inputs, models or options is refused. Before the finished files are renamed into place the
checkpoint is marked ``complete``, so a kill during the renames is finished by ``--resume``
instead of crashing it.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import InputError
from .inputs import input_files

CHECKPOINT_VERSION = 1


def fingerprint(inputs: list[str], options: dict) -> dict:
    """Input files (path, size, modification time) and the options that shape the output."""
    files = []
    for f in input_files(inputs):
        stat = f.stat()
        files.append({"path": str(f.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns})
    return {"inputs": files, "options": options}


@dataclass(frozen=True)
class Checkpoint:
    fingerprint: dict
    items: int  # input rows done (scored or rejected)
    output_position: int  # bytes of the partial output (Parquet: parts written)
    rejects_position: int  # bytes of the partial rejects file
    scored: int
    rejected: int
    complete: bool = False  # every row is written; only the renames may be left to do

    @staticmethod
    def path_for(output: str | Path) -> Path:
        output = Path(output)
        return output.with_name(output.name + ".resume.json")

    def save(self, path: Path) -> None:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps({"version": CHECKPOINT_VERSION, **asdict(self)}), "utf-8")
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> Checkpoint:
        try:
            data = json.loads(path.read_text("utf-8"))
            if data.pop("version") != CHECKPOINT_VERSION:
                raise ValueError("another checkpoint version")
            return cls(**data)
        except (ValueError, TypeError, KeyError) as exc:
            raise InputError(
                f"checkpoint {path}",
                expected=f"a kiemtin classify checkpoint (version {CHECKPOINT_VERSION})",
                found=f"{type(exc).__name__}: {exc}",
                fix="Run without --resume to start the output over.",
            ) from exc

    def check_matches(self, expected: dict, path: Path) -> None:
        if self.fingerprint == expected:
            return
        was, now = self.fingerprint, expected
        if was["inputs"] != now["inputs"]:
            found = "input files that changed (path, size or modification time) since that run"
        else:
            changed = sorted(
                k
                for k in {*was["options"], *now["options"]}
                if was["options"].get(k) != now["options"].get(k)
            )
            found = f"other options or models than the interrupted run ({', '.join(changed)})"
        raise InputError(
            "--resume",
            expected="the same inputs, models and options as the interrupted run",
            found=found,
            fix=f"Run the same command as before, or drop --resume to start over ({path}).",
        )

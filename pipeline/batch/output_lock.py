"""One run per output: ``OUTPUT.lock`` is held (``flock``) while a run writes ``OUTPUT``,
so a second run on the same output is refused instead of interleaving with the first. The
operating system releases the lock when the process dies, so a killed run never leaves a
stale lock behind."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import InputError

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; runs are not guarded there
    fcntl = None


class OutputLock:
    def __init__(self, output: str | Path):
        output = Path(output)
        self.path = output.with_name(output.name + ".lock")
        self._fd: int | None = None

    def __enter__(self) -> OutputLock:
        if fcntl is None:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 32).decode("ascii", "replace").strip() or "?"
                os.close(fd)
                raise InputError(
                    f"output {self.path.with_suffix('')}",
                    expected="an output no other run is writing",
                    found=f"another kiemtin classify (process {holder}) is writing it",
                    fix="Wait for that run to finish, or write to another -o OUTPUT.",
                ) from None
            # The run that held the lock removes the file when done: lock the file that
            # is at the path now, not one removed between open and flock.
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            self.path.unlink(missing_ok=True)
            os.close(self._fd)
            self._fd = None

"""What reading an input saw, beyond its rows: lines and bytes read (the run's summary and
progress bar), files a directory held that are not inputs, and warnings such as repeated
header names or ids, each given once with its count."""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any


@dataclass
class ReadStats:
    lines: int = 0  # physical lines of CSV and JSONL files, rows of Parquet files
    bytes_total: int | None = None  # size on disk of every input; None for stdin
    skipped_files: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    _bytes_done: int = 0  # files read to the end
    _file: IO[bytes] | None = None  # the file being read, as on disk (before decompressing)
    _file_fraction: float | None = None  # Parquet: share of the file's rows read
    _file_size: int = 0
    _id_hashes: array = field(default_factory=lambda: array("q"))

    # --- bytes read, for the progress bar -----------------------------------------------

    def start_file(self, raw: IO[bytes] | None, size: int) -> None:
        self._file, self._file_size, self._file_fraction = raw, size, None

    def file_fraction(self, fraction: float) -> None:
        self._file_fraction = fraction

    def end_file(self) -> None:
        self._bytes_done += self._file_size
        self._file, self._file_size, self._file_fraction = None, 0, None

    @property
    def bytes_read(self) -> int:
        if self._file_fraction is not None:
            return self._bytes_done + int(self._file_size * self._file_fraction)
        if self._file is not None and not self._file.closed:
            try:
                return self._bytes_done + min(self._file.tell(), self._file_size)
            except (OSError, ValueError):  # a pipe cannot tell
                pass
        return self._bytes_done

    # --- ids seen more than once --------------------------------------------------------

    def saw_id(self, value: Any) -> None:
        """Remember an id given by the input (not a line number), as a 64-bit hash: 8 bytes
        per row, so ten million rows cost 80 MB and no id text is kept."""
        try:
            h = hash(value)
        except TypeError:  # a JSON list or object as the id
            h = hash(repr(value))
        self._id_hashes.append(h)

    def repeated_ids(self) -> tuple[int, int]:
        """(ids given more than once, rows that repeat an id seen before)."""
        if len(self._id_hashes) < 2:
            return 0, 0
        import numpy as np

        _, counts = np.unique(np.frombuffer(self._id_hashes, dtype=np.int64), return_counts=True)
        repeated = counts[counts > 1]
        return int(repeated.size), int((repeated - 1).sum())

    def all_warnings(self) -> list[str]:
        """Every warning, the repeated ids last (they are known once every row is read)."""
        ids, extra_rows = self.repeated_ids()
        if not ids:
            return list(self.warnings)
        appear = "id appears" if ids == 1 else "ids appear"
        repeat = "row repeats" if extra_rows == 1 else "rows repeat"
        return [
            *self.warnings,
            f"{ids:,} {appear} more than once ({extra_rows:,} {repeat} an earlier id); every "
            "row is still scored; name a unique id column with --id-column",
        ]

"""Open an input as a stream: decompressed (``.gz``, ``.zst``), its text encoding found (a
byte order mark, else ``--encoding``, UTF-8 by default), and the bytes read from disk
counted for the progress bar. Nothing is read into memory whole."""

from __future__ import annotations

import codecs
import gzip
import io
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from ..errors import InputError
from .input_stats import ReadStats

COMPRESSIONS = {".gz": "gzip", ".zst": "zstd", ".zstd": "zstd"}
DEFAULT_ENCODING = "utf-8"
_UTF8 = {"utf-8", "utf_8", "utf8", "utf-8-sig", "utf_8_sig"}
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def split_compression(path: str | Path) -> tuple[str, str | None]:
    """The format suffix and the compression of a file name.

    >>> split_compression("posts.csv.gz")
    ('.csv', 'gzip')
    >>> split_compression("posts.JSONL")
    ('.jsonl', None)
    """
    path = Path(path)
    compression = COMPRESSIONS.get(path.suffix.lower())
    if compression:
        path = path.with_suffix("")
    return path.suffix.lower(), compression


def check_encoding(name: str | None) -> str | None:
    """``name`` if Python knows the codec (``None`` stays None: UTF-8, or a BOM's)."""
    if name is None:
        return None
    try:
        codecs.lookup(name)
    except LookupError:
        raise InputError(
            "--encoding",
            expected="a text encoding such as utf-8, utf-8-sig, utf-16, latin-1 or cp1258",
            found=repr(name),
            fix="Pass the encoding the file was saved in (Windows Vietnamese text is cp1258).",
        ) from None
    return name


@contextmanager
def open_binary(path: str | Path, stats: ReadStats) -> Iterator[IO[bytes]]:
    """The decompressed bytes of ``path`` (``-``: stdin), with a ``peek`` for the BOM."""
    if str(path) == "-":
        stats.start_file(None, 0)
        yield sys.stdin.buffer
        stats.end_file()
        return
    path = Path(path)
    compression = split_compression(path)[1]
    with open(path, "rb") as raw:
        stats.start_file(raw, path.stat().st_size)
        try:
            if compression == "gzip":
                with gzip.GzipFile(fileobj=raw) as stream:
                    yield io.BufferedReader(_Checked(stream, path))
            elif compression == "zstd":
                import zstandard

                with zstandard.ZstdDecompressor().stream_reader(raw) as stream:
                    yield io.BufferedReader(_Checked(stream, path))
            else:
                yield raw
        finally:
            stats.end_file()


class _Checked(io.RawIOBase):
    """A decompressing stream whose damage (a truncated or corrupt archive) becomes an
    InputError naming the file, not a traceback from gzip or zstandard."""

    def __init__(self, stream, path: Path):
        self._stream, self._path = stream, path

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        try:
            data = self._stream.read(len(buffer))
        except (OSError, EOFError, ValueError) as exc:  # zstandard.ZstdError is a ValueError
            raise InputError(
                f"input {self._path}",
                expected=f"a complete {split_compression(self._path)[1]} archive",
                found=f"{type(exc).__name__}: {exc}",
                fix="Compress the file again, or read the uncompressed file.",
            ) from exc
        buffer[: len(data)] = data
        return len(data)


def text_encoding(head: bytes, requested: str | None, path) -> str:
    """The codec to read a file whose first bytes are ``head``: a UTF-16 byte order mark
    wins over the UTF-8 default; UTF-8 strips its own BOM. UTF-16 without a BOM is refused
    with the fix, since read as UTF-8 every line would be rejected."""
    utf8 = requested is None or requested.lower() in _UTF8
    if head.startswith(_UTF16_BOMS) and (utf8 or requested.lower().startswith("utf-16")):
        return "utf-16"
    if not utf8:
        return requested
    if len(head) >= 4 and head.count(0) * 4 >= len(head):
        order = "le" if head[1:2] == b"\0" else "be"
        raise InputError(
            f"input {path}",
            expected=f"text in {requested or 'UTF-8'}",
            found="NUL bytes between the characters: UTF-16 without a byte order mark",
            fix=f"Pass --encoding utf-16-{order}, or save the file as UTF-8.",
        )
    return "utf-8-sig"


def is_utf8(encoding: str) -> bool:
    return encoding.lower() in _UTF8

"""Read the elements of a (large) JSON array file one at a time, in chunks, never the whole
file at once: ``for element in JsonArrayReader(path, wording): ...``.

A file that is missing, not UTF-8, not an array or cut short raises ``InputError`` in the
words of ``Wording`` (``label_studio`` says "Label Studio file", "task" and how to export
one again); the elements already read have been yielded by then.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError

READ_CHUNK = 1 << 20  # characters read at a time


@dataclass(frozen=True)
class Wording:
    """What the errors call the file and its elements, and what they advise."""

    file: str = "JSON array file"
    element: str = "element"
    expected_file: str = "a JSON file holding one array"
    expected_array: str = "a JSON array of elements, [..., ...]"
    found_object: str = "a JSON object"
    fix_encoding: str = "Save the file as UTF-8."
    fix_cut_short: str = "The file may be cut short; write it again."
    fix_not_array: str = "Wrap the elements in [ ]."


GENERIC = Wording()


class JsonArrayReader:
    """The elements of a JSON array in a file, one at a time, read in chunks."""

    _decoder = json.JSONDecoder()
    _space = " \t\r\n"

    def __init__(self, path: Path, wording: Wording = GENERIC):
        self.path = path
        self.wording = wording

    def __iter__(self) -> Iterator[object]:
        if not self.path.is_file():
            raise InputError(
                self.wording.file,
                expected=self.wording.expected_file,
                found=f"no file at {self.path}",
                fix="Check the path.",
            )
        self.buf, self.pos, self.base, self.eof = "", 0, 0, False
        with open(self.path, encoding="utf-8-sig") as self.file:
            first = self._peek()
            if first != "[":
                raise self._not_an_array(first)
            self.pos += 1
            if self._peek() == "]":
                self.pos += 1
                self._end()
                return
            while True:
                yield self._value()
                after = self._peek()
                self.pos += 1
                if after == "]":
                    self._end()
                    return
                if after != ",":
                    raise self._malformed(
                        f"expected ',' or ']' after a {self.wording.element}", self.pos - 1
                    )

    def _more(self, at_least: int = READ_CHUNK) -> bool:
        if self.eof:
            return False
        try:
            chunk = self.file.read(max(at_least, READ_CHUNK))
        except UnicodeDecodeError as exc:
            raise InputError(
                f"{self.wording.file} {self.path}",
                expected="UTF-8 JSON",
                found=f"bytes that are not UTF-8 ({exc.reason})",
                fix=self.wording.fix_encoding,
            ) from exc
        if not chunk:
            self.eof = True
            return False
        self.base += self.pos
        self.buf = self.buf[self.pos :] + chunk
        self.pos = 0
        return True

    def _peek(self) -> str:
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in self._space:
                self.pos += 1
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self._more():
                return ""

    def _value(self) -> object:
        self._peek()  # raw_decode does not skip leading white space
        while True:
            try:
                value, end = self._decoder.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                if self._more(len(self.buf)):  # doubling: a long task costs linear time
                    continue
                raise self._malformed(exc.msg, exc.pos) from None
            if end == len(self.buf) and self._more(len(self.buf)):
                continue  # a bare number could go on in the next chunk
            self.pos = end
            return value

    def _end(self) -> None:
        if self._peek():
            raise self._malformed("more text after the array's closing ']'", self.pos)

    def _malformed(self, message: str, at: int) -> InputError:
        return InputError(
            f"{self.wording.file} {self.path}",
            expected=f"one complete JSON array of {self.wording.element}s",
            found=f"malformed JSON at character {self.base + at:,}: {message}",
            fix=self.wording.fix_cut_short,
        )

    def _not_an_array(self, first: str) -> InputError:
        if not first:
            found = "an empty file"
        elif first == "{":
            found = self.wording.found_object
        else:
            found = f"text starting with {self.buf[self.pos : self.pos + 30]!r}"
        return InputError(
            f"{self.wording.file} {self.path}",
            expected=self.wording.expected_array,
            found=found,
            fix=self.wording.fix_not_array,
        )

"""Errors written for the person who must act: what was expected, what was found, how to fix it.

Library code raises these; only the CLI turns them into exit codes.
"""


class KiemtinError(Exception):
    """Base error. The message always says expected / found / fix."""

    def __init__(self, what: str, *, expected: str, found: str, fix: str):
        self.what = what
        self.expected = expected
        self.found = found
        self.fix = fix
        super().__init__(f"{what}: expected {expected}, but found {found}. {fix}")


class InputError(KiemtinError):
    """An input file or option cannot be used as given."""


class CorpusError(KiemtinError):
    """A corpus directory or file is not in the shape its reader expects."""


class ModelDirError(KiemtinError):
    """A model directory is missing parts or is not readable."""


def scoring_failed(exc: Exception) -> str:
    """The reason a row is rejected with when scoring it raised ``exc``."""
    return f"scoring failed: {type(exc).__name__}: {exc}"

"""Errors tso3 reports to users as one line (exit status 2)."""

from __future__ import annotations

import os


class Tso3Error(Exception):
    """Base class of every error tso3 reports as one line without traceback."""


class InputError(Tso3Error):
    """Bad input: a file, association or parameter tso3 cannot use.

    Parameters
    ----------
    path : str or os.PathLike or None
        The file the problem is in (``None`` for problems with no file).
    problem : str
        What is wrong, phrased for the user.
    """

    def __init__(self, path: str | os.PathLike | None, problem: str) -> None:
        self.path = None if path is None else os.fspath(path)
        # one line whatever the message of an exception it quotes
        self.problem = problem = " ".join(str(problem).split())
        super().__init__(f"{self.path}: {problem}" if self.path else problem)


class ParameterError(InputError):
    """A step parameter (config file, --set, or API argument) is invalid."""

    def __init__(self, name: str, problem: str, path: str | os.PathLike | None = None) -> None:
        self.name = name
        super().__init__(path, f"parameter {name}: {problem}")


class OutputExistsError(Tso3Error):
    """A product already exists and ``--overwrite`` was not given."""


class OutputWriteError(Tso3Error):
    """The products could not be written: the disk is full, over quota or read-only.

    Parameters
    ----------
    path : str or os.PathLike
        Where the products go.
    error : OSError
        What the system said.
    """

    def __init__(self, path: str | os.PathLike, error: OSError) -> None:
        self.path = os.fspath(path)
        super().__init__(f"{self.path}: cannot write the products: {error.strerror}")

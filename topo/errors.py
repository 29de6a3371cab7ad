"""Exceptions. The CLI catches :class:`TopoError`, prints it and exits with status 2."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LayoutError", "PlacementError", "Problem", "TopoError"]


class TopoError(Exception):
    """Base class of every error topo reports to a user (bad input, impossible plan)."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem in an input file: where it is and what is wrong.

    ``line`` is 1-based; 0 when the file has no line for it (a missing file, say).
    """

    file: str
    line: int
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class LayoutError(TopoError, ValueError):
    """Every problem found in a layout or catalogue file, one per line.

    Parameters
    ----------
    problems
        The problems, in file order. ``str(error)`` prints one line each, as
        ``file:line: key.path: what was expected, got what``.
    """

    def __init__(self, problems: list[Problem] | Problem) -> None:
        self.problems = [problems] if isinstance(problems, Problem) else list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class PlacementError(TopoError, ValueError):
    """A parallelism plan that cannot be placed on a layout."""

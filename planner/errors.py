"""The two kinds of user-facing failure, and the one kind that is our bug.

* :class:`InputError` - bad input (exit code 2). Carries one :class:`Problem` per thing that is wrong,
  each naming the file, the path of the field inside it and what is wrong.
* :class:`NoPlanError` - the input is valid but no plan can meet the demand (exit code 1). Carries the
  diagnosis: which resource runs out and by how much.
* :class:`PlanCheckError` - the independent checker rejected a plan the optimizer produced. That is a
  defect in rackplan, never a user error; the CLI reports it as an internal error (exit code 3).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any


class Exit(IntEnum):
    """The command line's exit codes (CONTRACT.md)."""

    OK = 0
    """A plan was found, or the input is valid."""
    NO_PLAN = 1
    """No plan can meet the demand (or a plan failed its check)."""
    BAD_INPUT = 2
    """Bad input: one line per problem, nothing written."""
    INTERNAL = 3
    """A bug in rackplan."""
    INTERRUPTED = 130
    BROKEN_PIPE = 141


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one input file."""

    file: str
    """Name of the file (as the user gave it), or ``<command line>``."""
    path: str
    """Path of the field inside the file, e.g. ``halls[0].rows[2].rack_type``; empty for the whole file."""
    message: str
    """What is wrong, in one sentence."""
    line: int | None = None
    """1-based line in the file where the field starts, when known."""

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class InputError(Exception):
    """Bad input: one or more problems, reported together."""

    def __init__(self, problems: list[Problem]):
        if not problems:
            raise ValueError("InputError needs at least one problem")
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    @classmethod
    def one(cls, file: str, path: str, message: str, line: int | None = None) -> "InputError":
        return cls([Problem(file, path, message, line)])


class NoPlanError(Exception):
    """The demand cannot be met by this facility. ``shortfalls`` name what runs out and by how much;
    ``demand`` is the demand they are about when it is not the one the command was given (``phases``:
    the first wave that does not fit, with the waves installed before it)."""

    def __init__(self, message: str, shortfalls: list[str] | None = None, demand: Any = None):
        self.shortfalls = list(shortfalls or [])
        self.demand = demand
        super().__init__(message)


class PlanCheckError(Exception):
    """A plan failed the independent check. This is a bug in rackplan, never expected output."""

    def __init__(self, violations: list[str]):
        self.violations = list(violations)
        shown = "; ".join(self.violations[:5])
        more = f" (and {len(self.violations) - 5} more)" if len(self.violations) > 5 else ""
        super().__init__(f"plan failed the independent check: {shown}{more}")

"""What a configuration problem is, how a check reports one, and the error carrying them all."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydantic_core import PydanticCustomError

from consumer.errors import SignalRelayError

__all__ = ["ConfigError", "Problem", "refuse"]


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with one variable; `str()` is the line shown to the operator.

    Attributes:
        variable: the environment variable to change (a `*_FILE` variant when the file is bad).
        problem: what is wrong, in words that never repeat a secret value.
    """

    variable: str
    problem: str

    def __str__(self) -> str:
        return f"{self.variable}: {self.problem}"


class ConfigError(SignalRelayError, ValueError):
    """Settings are missing or invalid; `str()` is one `VARIABLE: problem` line per problem.

    `variable` and `problem` are those of the first problem; `problems` lists every one found.
    """

    def __init__(self, variable: str, problem: str, *, more: Sequence[Problem] = ()) -> None:
        self.problems: tuple[Problem, ...] = (Problem(variable, problem), *more)
        self.variable = variable
        self.problem = problem
        super().__init__("\n".join(str(each) for each in self.problems))

    @classmethod
    def of(cls, problems: Sequence[Problem]) -> ConfigError:
        """One error listing `problems` (at least one), in the order they were found."""
        first, *more = problems
        return cls(first.variable, first.problem, more=more)


def refuse(problem: str, variable: str | None = None) -> PydanticCustomError:
    """A validation error whose message is exactly `problem`, reported against `variable`.

    Without `variable` the problem is the field's own variable. Raise what this returns.
    """
    return PydanticCustomError(
        "config", problem, None if variable is None else {"variable": variable}
    )

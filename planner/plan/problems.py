"""Every geometric problem of a plan at once: :class:`PlanError`.

The case model lists every problem of ``case.json`` (:class:`planner.plan.case_reader.
CaseError`); the checks against the bone (a cut that misses, overlapping cuts, a footplate
off the bone, a segment still attached, a vector in its cut plane) gather theirs in a list
of one-line strings, and :func:`raise_problems` raises them together.
"""

from __future__ import annotations

from collections.abc import Sequence

from planner.errors import PlannerError

__all__ = ["PlanError", "collect", "raise_problems"]


class PlanError(PlannerError):
    """A plan that cannot work; ``problems`` lists every problem found, one line each.

    The message is the problem itself when there is one; otherwise a summary line
    (``"3 problems in the plan:"``) followed by one problem per line.
    """

    def __init__(self, problems: Sequence[str]):
        self.problems = tuple(str(p) for p in problems) or ("the plan cannot work",)
        if len(self.problems) == 1:
            message = self.problems[0]
        else:
            lines = [f"{len(self.problems)} problems in the plan:"]
            lines += [f"  {p}" for p in self.problems]
            message = "\n".join(lines)
        super().__init__(message)


def raise_problems(problems: Sequence[str]) -> None:
    """Raise :class:`PlanError` listing ``problems``, if there are any."""
    if problems:
        raise PlanError(problems)


def collect(problems: list[str], exc: PlannerError) -> None:
    """Append the problem(s) of ``exc`` to ``problems`` (every one of a PlanError)."""
    problems.extend(exc.problems if isinstance(exc, PlanError) else [str(exc)])

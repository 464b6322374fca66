"""CLI verbs of the guides stage (work in progress)."""

from __future__ import annotations

__all__ = ["add_commands"]


def add_commands(sub) -> None:
    """Register this stage's verbs on the planner sub-parser (none yet)."""

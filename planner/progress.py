"""The progress callback, one type for every long step.

A step reports ``progress(task, done, total)``: ``task`` a short phrase shown to the user
("reading slices", "collision sweep"), ``done`` of ``total`` true units (slices, steps),
``done == total`` when the task is finished. The CLI supplies the printer
(:class:`planner.cli.common.Progress`); library code only calls it.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["ProgressFn"]

ProgressFn = Callable[[str, int, int], None]

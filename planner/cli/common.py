"""What every command shares: the disclaimer, progress, warnings, paths, safe text.

Everything the user typed and every value is shown literally: :func:`show` and
:func:`quote` escape rich markup, so a name such as ``[bold]x[/]`` or a value such as
``[nan, 0, 0]`` prints as written.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

DISCLAIMER = "research software, not a certified medical device: check every plan"
LPS = "LPS mm (x to the patient's left, y posterior, z superior)"


def show(value) -> str:
    """``value`` as text that rich prints literally (markup escaped)."""
    from rich.markup import escape

    return escape(str(value))


def quote(value) -> str:
    """``repr(value)`` escaped for rich (names in messages: ``'ramus_left'``)."""
    from rich.markup import escape

    return escape(repr(value))


def format_value(value) -> str:
    """A case.json value for a table cell: numbers as written (6 significant figures),
    lists in brackets, nothing for None."""
    if isinstance(value, list | tuple):
        return "(" + ", ".join(format_value(v) for v in value) + ")"
    if isinstance(value, float):
        return f"{value:g}"
    return "" if value is None else str(value)


def add_verb(sub, name: str, help_text: str, example: str) -> argparse.ArgumentParser:
    """A sub-command whose help shows ``example`` (with CASE for the case folder)."""
    return sub.add_parser(
        name,
        help=help_text,
        description=help_text,
        epilog=f"example:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


class Progress:
    """Progress of long steps; callable as ``progress(task, done, total)``.

    On a terminal: a rich bar per task, with the time elapsed (a step that cannot count
    its units shows ``0/1`` and its clock until done). Otherwise (piped, captured): plain
    lines, one when a task starts, at most one every ``every_s`` seconds while it runs,
    and one when it finishes.
    """

    def __init__(self, console, *, enabled: bool = True, every_s: float = 5.0):
        self.console = console
        self.enabled = enabled
        self.every_s = every_s
        self._bar = None
        self._tasks: dict[str, int] = {}
        self._lines: dict[str, tuple[float, float, bool]] = {}  # start, last print, done

    def __enter__(self):
        if self.enabled and self.console.is_terminal:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
            )

            self._bar = Progress(
                SpinnerColumn(),
                TextColumn("{task.description:<22}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=self.console,
                transient=True,
            )
            self._bar.__enter__()
        return self

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.__exit__(*exc)

    def __call__(self, task: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self._bar is not None:
            if task not in self._tasks:
                self._tasks[task] = self._bar.add_task(show(task), total=total)
            self._bar.update(self._tasks[task], completed=done, total=total)
            return
        self._line(task, done, total)

    def _line(self, task: str, done: int, total: int) -> None:
        now = time.perf_counter()
        start, last, finished = self._lines.get(task, (now, -1e9, False))
        complete = total > 0 and done >= total
        if finished and complete:
            return
        if task not in self._lines:
            text = f"{task} ..." if not complete else f"{task} {done}/{total}"
        elif complete:
            text = f"{task} {done}/{total} done in {now - start:.1f} s"
        elif now - last >= self.every_s:
            text = f"{task} {done}/{total} ({now - start:.0f} s)"
        else:
            self._lines[task] = (start, last, finished)
            return
        self.console.print(show(text), highlight=False, soft_wrap=True)
        self._lines[task] = (start, now, complete)


def print_warnings(console, warnings: Sequence[str], *, title: str = "warnings") -> None:
    """Print every warning, one line each (the plan never hides a doubt)."""
    if not warnings:
        return
    console.print(f"[bold yellow]{show(title)} ({len(warnings)}):[/]")
    for w in warnings:
        console.print(f"  [yellow]![/] {show(w)}", soft_wrap=True)


def seconds_since(t0: float) -> str:
    return f"{time.perf_counter() - t0:.1f} s"


def path_arg(text: str) -> Path:
    return Path(text).expanduser()

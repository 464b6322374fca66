"""What every command shares: the disclaimer, progress bars, warnings, path arguments."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

DISCLAIMER = "research software, not a certified medical device: check every plan"


class Progress:
    """A rich progress bar for long steps; callable as ``progress(task, done, total)``."""

    def __init__(self, console, *, enabled: bool = True):
        self.console = console
        self.enabled = enabled and console.is_terminal
        self._bar = None
        self._tasks: dict[str, int] = {}

    def __enter__(self):
        if self.enabled:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(
                TextColumn("{task.description:<22}"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total}"),
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
        if self._bar is None:
            return
        if task not in self._tasks:
            self._tasks[task] = self._bar.add_task(task, total=total)
        self._bar.update(self._tasks[task], completed=done, total=total)


def print_warnings(console, warnings: Sequence[str], *, title: str = "warnings") -> None:
    """Print every warning, one line each (the plan never hides a doubt)."""
    if not warnings:
        return
    console.print(f"[bold yellow]{title} ({len(warnings)}):[/]")
    for w in warnings:
        console.print(f"  [yellow]![/] {w}", soft_wrap=True)


def seconds_since(t0: float) -> str:
    return f"{time.perf_counter() - t0:.1f} s"


def path_arg(text: str) -> Path:
    return Path(text).expanduser()

"""The ``planner`` command: parse, call one function, print the result.

This is the only module that prints or exits. Bad input raises :class:`PlannerError` in
the library; here it becomes one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from planner.errors import PlannerError

__all__ = ["main"]

DISCLAIMER = "research software, not a certified medical device: check every plan"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 2 bad input)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from rich.console import Console

    out = Console(highlight=False)
    if not out.is_terminal:  # piped or captured: wide enough for the tables, no wrapping
        out = Console(highlight=False, width=140)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        return args.func(args, out) or 0
    except PlannerError as exc:
        err.print(f"[bold red]error:[/] {exc}", markup=True, soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        err.print("interrupted; nothing was written")
        return 130


def _parser() -> argparse.ArgumentParser:
    from planner import cli_build, cli_models, cli_plan

    parser = argparse.ArgumentParser(
        prog="planner",
        description=f"Plan craniofacial distraction osteogenesis from CT ({DISCLAIMER}).",
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    for module in (cli_models, cli_plan, cli_build):
        module.add_commands(sub)
    return parser


def _version() -> str:
    from planner import __version__

    return f"planner {__version__}"


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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""The ``planner`` command: parse, call one function, print the result.

This is the only module that prints or exits. Bad input raises :class:`PlannerError` in
the library; here it becomes one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from planner.cli.common import DISCLAIMER
from planner.errors import PlannerError

__all__ = ["main"]


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
    from planner.cli import build, guides, plan, render, scan, view

    parser = argparse.ArgumentParser(
        prog="planner",
        description=f"Plan craniofacial distraction osteogenesis from CT ({DISCLAIMER}).",
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    for module in (scan, plan, build, view, render, guides):
        module.add_commands(sub)
    return parser


def _version() -> str:
    from planner import __version__

    return f"planner {__version__}"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

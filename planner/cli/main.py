"""The ``planner`` command: parse, call one function, print the result.

This is the only module that prints or exits. Bad input raises :class:`PlannerError` in
the library; here it becomes one line on stderr and exit status 2. So does a fault of the
environment (an :class:`OSError`: disk full, read-only folder, no permission), naming the
path and the fix. Nothing is half-written: every output is written atomically.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from collections.abc import Sequence

from planner.cli.common import DISCLAIMER
from planner.errors import PlannerError

__all__ = ["main", "os_error_message"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status.

    0 ok; 2 bad input or a fault of the environment (one line on stderr: out of memory,
    a disk full, a folder not writable); 1 a bug in planner (one line; set
    ``PLANNER_DEBUG=1`` for the traceback); 130 interrupted.
    """
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
        _error(err, str(exc))
        return 2
    except BrokenPipeError:  # the reader of a pipe went away (| head): stop quietly
        _silence_stdout()
        return 0
    except OSError as exc:  # disk full, read-only folder, permissions: the environment
        _error(err, os_error_message(exc))
        return 2
    except KeyboardInterrupt:
        err.print("interrupted; nothing was written")
        return 130
    except MemoryError as exc:  # the environment: a scan too large for this machine
        what = " ".join(str(exc).split())[:120]
        _error(
            err,
            f"out of memory{f' ({what})' if what else ''}: the scan is too large for this "
            "machine's memory (planner needs about 5 times the scan's size); nothing was "
            "written: crop the series to the head, or use a machine with more memory",
        )
        return 2
    except Exception as exc:  # a bug in planner: one line, the traceback on request
        if os.environ.get("PLANNER_DEBUG"):
            raise
        what = " ".join(f"{type(exc).__name__}: {exc}".split())[:200]
        _error(
            err,
            f"internal error ({what}); this is a bug in planner, please report it with the "
            "command you ran (PLANNER_DEBUG=1 shows the traceback)",
        )
        return 1


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real stdout (captured): nothing to silence
        pass


def _error(err, text: str) -> None:
    """One line on stderr, the message shown literally."""
    from rich.markup import escape

    line = " ".join(text.split())  # one line, whatever the message holds
    err.print(f"[bold red]error:[/] {escape(line)}", markup=True, soft_wrap=True)


# errno -> what it means for the user and how to fix it
_OS_FIXES = {
    errno.ENOSPC: "the disk is full; free some space and run again",
    errno.EDQUOT: "the disk quota is used up; free some space and run again",
    errno.EROFS: "the file system is read-only; choose a writable folder",
    errno.EACCES: "permission denied; choose a folder you may write to, or ask for access",
    errno.EPERM: "permission denied; choose a folder you may write to, or ask for access",
    errno.ENOENT: "it does not exist; check the path",
    errno.EISDIR: "it is a folder; give a file name",
    errno.ENOTDIR: "a part of the path is a file, not a folder; choose another path",
    errno.EEXIST: "it exists already; choose another path or remove it",
    errno.ENAMETOOLONG: "the name is too long; choose a shorter path",
}


def os_error_message(exc: OSError) -> str:
    """One line for an OSError: the path, what happened, and the fix."""
    fix = _OS_FIXES.get(exc.errno, "check the path and the disk, then run again")
    reason = exc.strerror or type(exc).__name__
    where = f" {exc.filename}" if exc.filename is not None else ""
    return f"cannot use{where}: {fix} ({reason})"


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line naming the verb's help."""

    def error(self, message: str):
        from rich.console import Console

        err = Console(stderr=True, highlight=False, soft_wrap=True)
        _error(err, f"{message} (see '{self.prog} --help')")
        self.exit(2)


def _parser() -> argparse.ArgumentParser:
    from planner.cli import build, guides, plan, render, scan, view

    parser = OneLineParser(
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

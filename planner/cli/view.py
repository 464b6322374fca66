"""CLI verb of the view stage: ``planner view`` (the planning window, or a screenshot)."""

from __future__ import annotations

import argparse

from planner.cli.common import add_verb, path_arg, print_warnings, show

__all__ = ["add_commands"]

VIEW_NAMES = ("front", "left", "right", "below", "top")


def add_commands(sub) -> None:
    """Register ``view`` on the planner sub-parser."""
    p = add_verb(
        sub,
        "view",
        "open the planning window on a case: place cuts and distractors on the bone, see "
        "the CT, watch the movement day by day, save case.json",
        "planner view CASE          (or: planner view CASE --screenshot plan.png --day 10)",
    )
    p.add_argument("case_dir", type=path_arg, metavar="CASE_DIR", help="the case folder")
    p.add_argument(
        "--screenshot",
        type=path_arg,
        metavar="FILE.png",
        help="render the scene off-screen into this PNG and exit (no display needed)",
    )
    p.add_argument(
        "--day",
        type=float,
        default=0.0,
        help="with --screenshot: days since surgery to show (default 0)",
    )
    p.add_argument(
        "--view",
        default="front",
        metavar="VIEW",
        help=f"with --screenshot: {', '.join(VIEW_NAMES)} (default front)",
    )
    p.add_argument(
        "--size",
        default="1280x720",
        metavar="WxH",
        help="with --screenshot: picture size in pixels (default 1280x720)",
    )
    p.set_defaults(func=_view)


def _view(args: argparse.Namespace, out) -> int:
    from planner.errors import PlannerError

    if args.view not in VIEW_NAMES:
        raise PlannerError(f"unknown view {args.view!r}: choose one of {', '.join(VIEW_NAMES)}")
    if args.screenshot is not None:
        return _screenshot(args, out)
    if args.day != 0.0 or args.size != "1280x720":
        raise PlannerError("--day and --size go with --screenshot; the window has a day slider")
    from planner.view.app import display_problem, open_window

    problem = display_problem()  # before loading anything: answer at once
    if problem:
        raise PlannerError(problem)
    out.print(f"planning window on {show(args.case_dir)}: the keys are listed in the window")
    editor = open_window(args.case_dir)
    if editor.dirty:
        out.print("[yellow]closed with unsaved edits: case.json was not changed by them[/]")
    else:
        out.print("closed")
    return 0


def _screenshot(args: argparse.Namespace, out) -> int:
    from planner.bone.models import read_models
    from planner.errors import PlannerError
    from planner.pipeline.build import plan_case
    from planner.plan.case import load_case
    from planner.render.clip import parse_size
    from planner.render.stills import render_screenshot

    if args.screenshot.suffix.lower() != ".png":
        raise PlannerError(f"--screenshot {args.screenshot} must end in .png")
    case = load_case(args.case_dir)
    plan = plan_case(case, read_models(args.case_dir), collisions=False)
    path = render_screenshot(
        plan, args.screenshot, day=args.day, view=args.view, size=parse_size(args.size)
    )
    out.print(f"wrote {show(path)} (day {args.day:g}, view {args.view})")
    print_warnings(out, plan.warnings)
    return 0

"""CLI verbs of the render stage: ``animate`` and ``pose``."""

from __future__ import annotations

import argparse
import math
import time

from planner.cli.common import add_verb, path_arg, seconds_since, show
from planner.errors import PlannerError

__all__ = ["add_commands"]


def add_commands(sub) -> None:
    """Register ``animate`` and ``pose`` on the planner sub-parser."""
    p = add_verb(
        sub,
        "animate",
        "film the distraction (MP4 and GIF) and make before/after and displacement stills",
        "planner animate CASE --view left --seconds 4 --size 1280x720",
    )
    p.add_argument("case_dir", type=path_arg, metavar="CASE_DIR", help="the case folder")
    p.add_argument(
        "--view",
        default="auto",
        metavar="VIEW",
        help="front, left, right, below, top or orbit (default: the view that shows the "
        "movement best)",
    )
    p.add_argument("--fps", type=int, default=20, help="frames per second (default 20)")
    p.add_argument("--seconds", type=float, default=3.0, help="length of the clip (default 3 s)")
    p.add_argument(
        "--size", default="1280x720", metavar="WxH", help="frame size in pixels (1280x720)"
    )
    p.add_argument(
        "-o",
        "--out",
        type=path_arg,
        metavar="DIR",
        help="where to write (default: CASE_DIR/out)",
    )
    p.add_argument("--no-gif", action="store_true", help="write the MP4 only")
    p.add_argument("--no-stills", action="store_true", help="write the clip only")
    p.add_argument(
        "--face",
        action="store_true",
        help="also the face: skin from the CT carried by an approximate soft-tissue model "
        "(before/after and a clip, for patients and families)",
    )
    p.set_defaults(func=_animate)

    p = add_verb(
        sub,
        "pose",
        "write every segment as it stands on a day of the treatment, as STL (LPS mm)",
        "planner pose CASE --day 7 -o /tmp/day7",
    )
    p.add_argument("case_dir", type=path_arg, metavar="CASE_DIR", help="the case folder")
    p.add_argument(
        "--day", type=float, required=True, help="days since surgery (turns done by then)"
    )
    p.add_argument(
        "-o", "--out", type=path_arg, required=True, metavar="DIR", help="folder to write"
    )
    p.set_defaults(func=_pose)


def _settings(args):
    from planner.render.clip import ClipSettings, parse_size
    from planner.render.offscreen import check_view

    if args.view != "auto":
        check_view(args.view)
    if not 1 <= args.fps <= 60:
        raise PlannerError(f"--fps {args.fps} is out of range: choose 1 to 60")
    if not (math.isfinite(args.seconds) and 0.2 <= args.seconds <= 120):
        raise PlannerError(f"--seconds {args.seconds:g} is out of range: choose 0.2 to 120")
    return ClipSettings(
        view=args.view, fps=args.fps, seconds=args.seconds, size=parse_size(args.size)
    )


def _animate(args: argparse.Namespace, out) -> int:
    import dataclasses

    from planner.pipeline.load import load_plan
    from planner.render.bundle import best_view
    from planner.render.clip import render_clip, treatment_end
    from planner.render.export import check_writable
    from planner.render.offscreen import require_rendering

    t0 = time.perf_counter()
    settings = _settings(args)
    folder = check_writable(args.out or args.case_dir / "out")
    plan = load_plan(args.case_dir)
    treatment_end(plan)  # a case with nothing to animate stops here
    require_rendering()
    if settings.view == "auto":
        settings = dataclasses.replace(settings, view=best_view(plan))
    written = render_clip(plan, folder, settings=settings, gif=not args.no_gif)
    if not args.no_stills:
        from planner.render.stills import write_before_after, write_displacement_map

        v = settings.view
        written.append(write_before_after(plan, folder / f"before_after_{v}.png", view=v))
        written.append(write_displacement_map(plan, folder / f"displacement_{v}.png", view=v))
    if args.face:
        from planner.render.face import write_face_outputs

        written += write_face_outputs(plan, args.case_dir, folder, settings=settings)
    out.print(
        f"{settings.n_frames} frames, {settings.size[0]}x{settings.size[1]}, view "
        f"{settings.view}, in {seconds_since(t0)}:"
    )
    for path in written:
        out.print(f"  {show(path)}")
    return 0


def _pose(args: argparse.Namespace, out) -> int:
    from planner.pipeline.load import load_plan
    from planner.render.clip import check_day
    from planner.render.export import check_writable, write_segments_at

    folder = check_writable(args.out)
    plan = load_plan(args.case_dir)
    day = check_day(plan, args.day)
    paths = write_segments_at(plan, day, folder)
    out.print(f"{len(paths)} segments at day {day:g} (LPS mm):")
    for path in paths:
        out.print(f"  {show(path)}")
    return 0

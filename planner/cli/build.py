"""CLI verbs of the plan: ``check``, ``build``, ``schedule`` and ``demo``."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from planner.cli.common import DISCLAIMER, Progress, add_verb, path_arg, print_warnings, show

__all__ = ["add_commands", "print_plan"]


def add_commands(sub) -> None:
    p = add_verb(
        sub,
        "check",
        "check the plan against the bone and print every problem and warning",
        "planner check CASE",
    )
    p.add_argument("case_dir", type=path_arg, metavar="CASE_DIR", help="the case folder")
    p.add_argument(
        "--no-collisions",
        action="store_true",
        help="skip the collision sweep (the slowest check)",
    )
    p.set_defaults(func=_check)

    p = add_verb(
        sub, "build", "rebuild everything derived into CASE_DIR/out", "planner build CASE"
    )
    p.add_argument("case_dir", type=path_arg, metavar="CASE_DIR", help="the case folder")
    p.set_defaults(func=_build)

    p = add_verb(
        sub,
        "schedule",
        "print the turn schedule; export CSV or iCalendar",
        "planner schedule CASE --csv turns.csv --ics turns.ics",
    )
    p.add_argument("case_dir", type=path_arg, metavar="CASE_DIR", help="the case folder")
    p.add_argument(
        "--csv", type=path_arg, metavar="FILE", help="also write every activation as CSV"
    )
    p.add_argument(
        "--ics",
        type=path_arg,
        metavar="FILE",
        help="also write an iCalendar file for a phone (needs the protocol's start date)",
    )
    p.set_defaults(func=_schedule)

    p = add_verb(
        sub,
        "demo",
        "build and plan the built-in synthetic sample case",
        "planner demo /tmp/demo",
    )
    p.add_argument(
        "out_dir", type=path_arg, metavar="OUT_DIR", help="folder to create (dicom/, case/)"
    )
    p.add_argument("--force", action="store_true", help="replace an existing OUT_DIR")
    p.add_argument(
        "--case",
        type=path_arg,
        metavar="CASE_JSON",
        help="plan the sample with this case.json's decisions instead of the built-in "
        "bilateral plan (e.g. samples/hfm-curvilinear/case.json)",
    )
    p.set_defaults(func=_demo)


def _plan(case_dir: Path, out, *, collisions: bool = True):
    from planner.bone.models import read_models
    from planner.pipeline.build import plan_case
    from planner.plan.case import load_case

    case = load_case(case_dir)
    models = read_models(case_dir)
    with Progress(out) as progress:
        return plan_case(case, models, collisions=collisions, progress=progress)


def _check(args: argparse.Namespace, out) -> int:
    from planner.plan.case import CaseError
    from planner.plan.problems import PlanError

    try:
        plan = _plan(args.case_dir, out, collisions=not args.no_collisions)
    except (CaseError, PlanError) as exc:  # list every problem, then the one-line error
        n = len(exc.problems)
        where = "case" if isinstance(exc, CaseError) else "plan"
        out.print(f"[bold red]{n} problem{'s' if n > 1 else ''} in the {where}:[/]")
        for problem in exc.problems:
            out.print(f"  [red]x[/] {show(problem)}", soft_wrap=True)
        raise
    print_plan(out, plan)
    out.print(
        "plan checked: "
        + ("no warnings" if not plan.warnings else f"{len(plan.warnings)} warning(s) above")
    )
    return 0


def _build(args: argparse.Namespace, out) -> int:
    from planner.pipeline.build import OUT_DIR, build_case

    t0 = time.perf_counter()
    with Progress(out) as progress:
        plan, manifest = build_case(args.case_dir, progress=progress)
    print_plan(out, plan)
    out.print(
        f"{len(manifest['outputs'])} outputs in {show(args.case_dir / OUT_DIR)} "
        f"(manifest.json) in {time.perf_counter() - t0:.1f} s"
    )
    return 0


def _schedule(args: argparse.Namespace, out) -> int:
    from planner.motion.calendar import write_csv, write_ics
    from planner.motion.schedule import make_schedule
    from planner.plan.case import load_case
    from planner.plan.devices import device_catalog

    for option, path in (("--csv", args.csv), ("--ics", args.ics)):
        _check_output_file(option, path)
    case = load_case(args.case_dir)
    sched = make_schedule(case.distractors, device_catalog(case), case.protocol)
    print_schedule(out, sched)
    if args.csv:
        write_csv(sched, args.csv)
        out.print(f"wrote {show(args.csv)}")
    if args.ics:
        write_ics(sched, args.ics, label=case.label or "case")
        out.print(f"wrote {show(args.ics)}")
    print_warnings(out, sched.warnings)
    return 0


def _check_output_file(option: str, path: Path | None) -> None:
    """Refuse an output path that cannot be a file before any work is done."""
    from planner.errors import PlannerError

    if path is None:
        return
    if path.is_dir():
        raise PlannerError(
            f"{option} {path} is a folder; give a file name, "
            f"e.g. {path / ('schedule.' + option.lstrip('-'))}"
        )
    if path.parent.exists() and not path.parent.is_dir():
        raise PlannerError(f"{option} {path}: {path.parent} is a file, not a folder")


def print_schedule(out, sched) -> None:
    from rich.table import Table

    from planner.motion.schedule import schedule_rows

    rows = schedule_rows(sched)
    if rows:
        table = Table(*rows[0].keys(), title="activation schedule")
        for row in rows:
            table.add_row(*(show(v) for v in row.values()))
        out.print(table)
    print_targets(out, sched)
    out.print(
        f"distraction ends day {sched.end_of_distraction_days:.1f}; consolidation ends day "
        f"{sched.end_of_consolidation_days:.0f}"
    )


def print_targets(out, sched) -> None:
    """One line per distractor: length, activations, when the target is reached."""
    import math

    for name, p in sched.plans.items():
        when = f" ({p.when_target_reached:%a %d %b %Y %H:%M})" if p.when_target_reached else ""
        out.print(
            f"distractor {show(name)}: {p.planned_mm:g} mm in {p.n_activations} activations of "
            f"{p.step_mm:g} mm; target reached on day {math.floor(p.day_target_reached + 1e-9)}"
            f"{when}"
        )


def print_plan(out, plan) -> None:
    """Print the plan summary: segments, motion, measurements, collisions, warnings."""
    from rich.table import Table

    table = Table("segment", "role", "volume cm³", "triangles", "watertight")
    for s in plan.cut.segments:
        table.add_row(
            show(s.name),
            show(plan.roles[s.name]),
            f"{s.volume_mm3 / 1000:.2f}",
            f"{len(s.mesh.faces):,}",
            "yes" if s.mesh.is_watertight else "NO",
        )
    out.print(table)
    balance = plan.cut.volume_balance()
    out.print(
        "volume conserved by the cuts: "
        + ", ".join(f"{show(m)} {v:+.3%}" for m, v in balance.items())
    )
    if plan.schedule is not None:
        s = plan.schedule
        print_targets(out, s)
        b = plan.bilateral
        for (a, c), deg in b.angles_deg.items():
            out.print(f"angle between {show(a)} and {show(c)}: {deg:.1f}°")
        for name, mm in b.mismatch_mm.items():
            out.print(f"binding mismatch at {show(name)}: {mm:.2f} mm")
        m = plan.measurements
        if m.advancement is not None:
            a = m.advancement
            out.print(
                f"{show(a.landmark)} moves {a.length_mm:.1f} mm (anterior {a.anterior_mm:+.1f}, "
                f"vertical {a.vertical_mm:+.1f}, lateral {a.lateral_mm:+.1f})"
            )
        for c, (before, after) in m.mandibular_length_mm.items():
            out.print(f"mandibular length ({show(c)}): {before:.1f} → {after:.1f} mm")
        if m.intercondylar_mm:
            before, after = m.intercondylar_mm
            out.print(f"intercondylar distance: {before:.1f} → {after:.1f} mm")
        for name, label in m.estimates.items():
            out.print(f"  {show(name)}: {show(label)}")
    if plan.collisions is not None:
        for line in plan.collisions.summary():
            out.print(f"collision check: {show(line)}")
    if plan.guides:
        from planner.guides.run import guide_lines

        for line in guide_lines(plan.guides):
            out.print(show(line), soft_wrap=True)
    print_warnings(out, plan.warnings)


def _demo(args: argparse.Namespace, out) -> int:
    from planner.pipeline.demo import run_demo

    t0 = time.perf_counter()
    out.print(f"planner demo: {DISCLAIMER}")
    with Progress(out) as progress:
        result = run_demo(
            args.out_dir, overwrite=args.force, case_file=args.case, progress=progress
        )
    from planner.cli.scan import print_models

    print_models(out, result.models)
    print_plan(out, result.plan)
    out.print(f"demo written to {show(args.out_dir)} in {time.perf_counter() - t0:.1f} s:")
    for line in result.contents:
        out.print(f"  {show(line)}")
    return 0

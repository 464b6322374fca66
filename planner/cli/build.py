"""CLI verbs of the plan: ``check``, ``build``, ``schedule`` and ``demo``."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from planner.cli.common import DISCLAIMER, Progress, path_arg, print_warnings

__all__ = ["add_commands", "print_plan"]


def add_commands(sub) -> None:
    p = sub.add_parser("check", help="check the plan against the bone and print every warning")
    p.add_argument("case_dir", type=path_arg, metavar="CASE_DIR")
    p.add_argument("--no-collisions", action="store_true", help="skip the collision sweep")
    p.set_defaults(func=_check)

    p = sub.add_parser("build", help="rebuild everything derived into CASE_DIR/out")
    p.add_argument("case_dir", type=path_arg, metavar="CASE_DIR")
    p.set_defaults(func=_build)

    p = sub.add_parser("schedule", help="print the turn schedule; export CSV or iCalendar")
    p.add_argument("case_dir", type=path_arg, metavar="CASE_DIR")
    p.add_argument("--csv", type=path_arg, metavar="FILE", help="write the schedule as CSV")
    p.add_argument("--ics", type=path_arg, metavar="FILE", help="write an iCalendar file")
    p.set_defaults(func=_schedule)

    p = sub.add_parser("demo", help="build and plan the built-in synthetic sample case")
    p.add_argument("out_dir", type=path_arg, metavar="OUT_DIR")
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
    plan = _plan(args.case_dir, out, collisions=not args.no_collisions)
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
        f"{len(manifest['outputs'])} outputs in {args.case_dir / OUT_DIR} "
        f"(manifest.json) in {time.perf_counter() - t0:.1f} s"
    )
    return 0


def _schedule(args: argparse.Namespace, out) -> int:
    from planner.motion.schedule import make_schedule, write_csv, write_ics
    from planner.plan.case import load_case
    from planner.plan.devices import device_catalog

    case = load_case(args.case_dir)
    if not case.distractors:
        from planner.errors import PlannerError

        raise PlannerError("the case has no distractor; add one with 'planner distractor add'")
    sched = make_schedule(case.distractors, device_catalog(case), case.protocol)
    print_schedule(out, sched)
    if args.csv:
        write_csv(sched, args.csv)
        out.print(f"wrote {args.csv}")
    if args.ics:
        write_ics(sched, args.ics, label=case.label or "case")
        out.print(f"wrote {args.ics}")
    print_warnings(out, sched.warnings)
    return 0


def print_schedule(out, sched) -> None:
    from rich.table import Table

    from planner.motion.schedule import schedule_rows

    rows = schedule_rows(sched)
    if rows:
        table = Table(*rows[0].keys(), title="activation schedule")
        for row in rows:
            table.add_row(*row.values())
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
            f"distractor {name}: {p.planned_mm:g} mm in {p.n_activations} activations of "
            f"{p.step_mm:g} mm; target reached on day {math.floor(p.day_target_reached + 1e-9)}"
            f"{when}"
        )


def print_plan(out, plan) -> None:
    """Print the plan summary: segments, motion, measurements, collisions, warnings."""
    from rich.table import Table

    table = Table("segment", "role", "volume cm³", "triangles", "watertight")
    for s in plan.cut.segments:
        table.add_row(
            s.name,
            plan.roles[s.name],
            f"{s.volume_mm3 / 1000:.2f}",
            f"{len(s.mesh.faces):,}",
            "yes" if s.mesh.is_watertight else "NO",
        )
    out.print(table)
    balance = plan.cut.volume_balance()
    out.print(
        "volume conserved by the cuts: " + ", ".join(f"{m} {v:+.3%}" for m, v in balance.items())
    )
    if plan.schedule is not None:
        s = plan.schedule
        print_targets(out, s)
        b = plan.bilateral
        for (a, c), deg in b.angles_deg.items():
            out.print(f"angle between {a} and {c}: {deg:.1f}°")
        for name, mm in b.mismatch_mm.items():
            out.print(f"binding mismatch at {name}: {mm:.2f} mm")
        m = plan.measurements
        if m.advancement is not None:
            a = m.advancement
            out.print(
                f"{a.landmark} moves {a.length_mm:.1f} mm (anterior {a.anterior_mm:+.1f}, "
                f"vertical {a.vertical_mm:+.1f}, lateral {a.lateral_mm:+.1f})"
            )
        for c, (before, after) in m.mandibular_length_mm.items():
            out.print(f"mandibular length ({c}): {before:.1f} → {after:.1f} mm")
        if m.intercondylar_mm:
            before, after = m.intercondylar_mm
            out.print(f"intercondylar distance: {before:.1f} → {after:.1f} mm")
        for name, label in m.estimates.items():
            out.print(f"  {name}: {label}")
    if plan.collisions is not None:
        for line in plan.collisions.summary():
            out.print(f"collision check: {line}")
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
    out.print(f"demo written to {args.out_dir} in {time.perf_counter() - t0:.1f} s:")
    for line in result.contents:
        out.print(f"  {line}")
    return 0

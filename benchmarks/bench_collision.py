"""Time the collision sweep of the demo case, with and without culling (goal: <= 5 s).

The demo case (``planner demo``): a 12k-triangle moving mandible segment against a
200k-triangle skull and two small fixed segments, 37 activations. Prints the wall and CPU
time of :func:`planner.motion.collision.collision_sweep` with culling (the default), the
same sweep with culling switched off (``cull=False``), measured in the same run, their
ratio, and checks that both give the same answers.

Run: ``python benchmarks/bench_collision.py [DEMO_DIR]`` (``DEMO_DIR`` made by
``planner demo DEMO_DIR`` beforehand; without it a demo is made in a temporary folder,
about a minute more).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from planner.bone.models import read_models
from planner.motion.collision import collision_sweep
from planner.motion.distraction import segment_poses
from planner.pipeline.build import plan_case
from planner.plan.case import load_case


def demo_dir(argv: list[str]) -> Path:
    if argv:
        return Path(argv[0])
    from planner.pipeline.demo import run_demo

    folder = Path(tempfile.mkdtemp(prefix="bench-collision-")) / "demo"
    run_demo(folder)
    return folder


def sweep_inputs(folder: Path):
    case_dir = folder / "case" if (folder / "case").is_dir() else folder
    plan = plan_case(load_case(case_dir), read_models(case_dir), collisions=False)
    moving = {n: m for n, m in plan.segments.items() if n in set(plan.motion.segments)}
    static = {n: m for n, m in plan.segments.items() if n not in moving}
    sched = plan.schedule
    return (
        moving,
        static,
        segment_poses(plan.motion, sched),
        0.0,
        sched.end_of_distraction_days,
    ), {"schedule_times": [a.time_days for a in sched.activations]}


def timed(args, kwargs, cull: bool):
    wall, cpu = time.perf_counter(), time.process_time()
    report = collision_sweep(*args, **kwargs, cull=cull)
    return report, time.perf_counter() - wall, time.process_time() - cpu


def same(a, b) -> bool:
    return (
        np.array_equal(a.times_days, b.times_days)
        and all(np.array_equal(a.distance_mm[k], b.distance_mm[k]) for k in a.distance_mm)
        and a.min_distance_mm == b.min_distance_mm
        and a.min_distance_t_days == b.min_distance_t_days
        and [c.t_days for c in a.contacts] == [c.t_days for c in b.contacts]
        and all(
            np.array_equal(x.zone_clearance_mm, y.zone_clearance_mm)
            for x, y in zip(a.initial_contacts, b.initial_contacts, strict=True)
        )
    )


def main(argv: list[str]) -> None:
    args, kwargs = sweep_inputs(demo_dir(argv))
    moving, static = args[0], args[1]
    sizes = ", ".join(f"{n} {len(m.faces)}" for n, m in {**moving, **static}.items())
    print(f"demo case: triangles {sizes}; {len(kwargs['schedule_times'])} activations")
    culled, wall, cpu = timed(args, kwargs, cull=True)
    full, wall_full, cpu_full = timed(args, kwargs, cull=False)
    print(f"sweep, culled:     {wall:6.2f} s wall, {cpu:6.2f} s CPU")
    print(f"sweep, not culled: {wall_full:6.2f} s wall, {cpu_full:6.2f} s CPU")
    print(f"ratio (not culled / culled): {wall_full / wall:.1f}x wall, {cpu_full / cpu:.1f}x CPU")
    gap = max(np.abs(culled.distance_mm[k] - full.distance_mm[k]).max() for k in full.distance_mm)
    print(f"same answers: {same(culled, full)} (largest difference in the table {gap:.1e} mm)")


if __name__ == "__main__":
    main(sys.argv[1:])

"""Time the guide of one osteotomy on a 300k-triangle bone (goal: <= 1 s per osteotomy).

The bone is an ellipsoidal "ramus" (radii 6 × 20 × 30 mm, an icosphere of 327,680
triangles) cut across by a horizontal osteotomy, with a linear distractor's footplates
on its lateral face; a coarse second model sets the midline. Prints the median wall and
CPU time of :func:`planner.guides.make.build_guide` over a few runs, the checks' time,
and a floor measured in the same run: converting the bone to manifold3d and one boolean
of it with a box (what any mesh-boolean guide maker pays at least).

Run: ``python benchmarks/bench_guides.py``
"""

from __future__ import annotations

import os
import statistics
import time

import numpy as np
import trimesh

from planner.guides.checks import check_guide
from planner.guides.make import build_guide
from planner.plan.case import SCHEMA_VERSION, case_from_dict

RUNS = 3


def bone() -> dict[str, trimesh.Trimesh]:
    ramus = trimesh.creation.icosphere(subdivisions=7)
    ramus.apply_scale((6.0, 20.0, 30.0))
    ramus.apply_translation((35.0, 0.0, 0.0))
    other = trimesh.creation.icosphere(subdivisions=2, radius=5.0)
    other.apply_translation((-35.0, 0.0, 0.0))
    return {"mandible": ramus, "skull": other}


def case(models):
    lateral = models["mandible"].vertices[:, 0].max()
    fixed = _on_surface(models["mandible"], 0.0, 7.0)
    moving = _on_surface(models["mandible"], -2.0, -7.0)
    assert lateral > 40
    return case_from_dict(
        {
            "schema_version": SCHEMA_VERSION,
            "label": "benchmark",
            "osteotomies": [
                {
                    "name": "cut",
                    "center_mm": [35.0, 0.0, 0.0],
                    "normal": [0.0, 0.0, 1.0],
                    "in_plane_axis": [0.0, -1.0, 0.0],
                    "size_mm": [44.0, 16.0],
                }
            ],
            "distractors": [
                {
                    "name": "d",
                    "device": "linear-20",
                    "fixed_point_mm": fixed,
                    "moving_point_mm": moving,
                    "vector": [0.0, -0.7071, -0.7071],
                    "target_mm": 10.0,
                }
            ],
            "protocol": {
                "latency_days": 1,
                "rate_mm_per_day": 1,
                "activations_per_day": 2,
                "consolidation_days": 42,
            },
            "guides": [{"name": "g", "osteotomy": "cut", "distractor": "d"}],
        }
    )


def _on_surface(mesh, y, z):
    """The lateral surface point of the ellipsoid at (y, z)."""
    x = 35.0 + 6.0 * np.sqrt(max(0.0, 1 - (y / 20.0) ** 2 - (z / 30.0) ** 2))
    return [float(x), float(y), float(z)]


def _floor(mesh) -> float:
    import manifold3d

    from planner.geometry import to_manifold

    t = time.perf_counter()
    solid = to_manifold(mesh, "bone")
    box = manifold3d.Manifold.cube((20.0, 20.0, 1.0), True).translate((35.0, 0.0, 0.0))
    (solid - box).num_tri()
    return time.perf_counter() - t


def main() -> None:
    models = bone()
    c = case(models)
    print(f"bone: {len(models['mandible'].faces):,} triangles")
    walls, cpus = [], []
    for _ in range(RUNS):
        t, p = time.perf_counter(), time.process_time()
        (part,) = build_guide(c.guides[0], c, models)
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - p)
    t = time.perf_counter()
    checks = check_guide(part, models)
    check_s = time.perf_counter() - t
    floor = _floor(models["mandible"])
    wall, cpu = statistics.median(walls), statistics.median(cpus)
    print(f"guide: {len(part.mesh.faces):,} triangles, checks passed: {checks['passed']}")
    print(f"build per osteotomy: {wall:.2f} s wall, {cpu:.2f} s CPU (median of {RUNS})")
    print(f"checks: {check_s:.2f} s")
    print(f"floor (bone -> manifold3d + one boolean): {floor:.2f} s; ratio {wall / floor:.1f}x")
    load = os.getloadavg()[0]
    print(f"load average {load:.1f} on {os.cpu_count()} cores (wall time grows with it)")
    verdict = "met" if wall <= 1.0 else ("met in CPU time" if cpu <= 1.0 else "NOT met")
    print(f"goal <= 1 s per osteotomy: {verdict}")


if __name__ == "__main__":
    main()

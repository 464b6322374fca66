"""A small synthetic "mandible" with known answers: two upright bars, one each side.

Each bar is a box 8 mm thick (x), 40 mm long (y) and 40 mm tall (z); the left one spans
x 36..44, so its lateral face is the plane x = 44 (normal +x). A horizontal osteotomy at
z = 0 cuts it; a distractor has footplates on the lateral face above and below the cut.
"""

from __future__ import annotations

import numpy as np
import trimesh

from planner.plan.case import SCHEMA_VERSION, case_from_dict

LATERAL_X = 44.0
VECTOR = np.array([0.0, -1.0, -1.0]) / np.sqrt(2.0)
FIXED = (LATERAL_X, 0.0, 7.0)
MOVING = (LATERAL_X, -2.0, -7.0)


def bar_models(subdivisions: int = 4) -> dict[str, trimesh.Trimesh]:
    """The two bars as one model (``mandible``), LPS mm."""
    bars = []
    for x in (40.0, -40.0):
        bar = trimesh.creation.box(extents=(8.0, 40.0, 40.0))
        bar.apply_translation((x, 0.0, 0.0))
        bars.append(bar)
    mesh = trimesh.util.concatenate(bars)
    for _ in range(subdivisions):
        mesh = mesh.subdivide()
    return {"mandible": mesh}


def bar_case(**guide):
    """The case: one cut through the left bar, one distractor, one guide (``guide`` sets)."""
    settings = {"name": "g", "osteotomy": "cut", "distractor": "left", **guide}
    return case_from_dict(
        {
            "schema_version": SCHEMA_VERSION,
            "label": "bars",
            "osteotomies": [
                {
                    "name": "cut",
                    "center_mm": [40.0, 0.0, 0.0],
                    "normal": [0.0, 0.0, 1.0],
                    "in_plane_axis": [0.0, -1.0, 0.0],
                    "size_mm": [30.0, 20.0],
                }
            ],
            "distractors": [
                {
                    "name": "left",
                    "device": "linear-20",
                    "fixed_point_mm": list(FIXED),
                    "moving_point_mm": list(MOVING),
                    "vector": VECTOR.tolist(),
                    "target_mm": 10.0,
                }
            ],
            "protocol": {
                "latency_days": 1,
                "rate_mm_per_day": 1,
                "activations_per_day": 2,
                "consolidation_days": 42,
            },
            "guides": [settings],
        }
    )

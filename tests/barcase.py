"""The suite's smallest plannable case: a bar "mandible" cut across at y = 0.

The bar is 10 x 80 x 10 mm along y, centred at the origin; one osteotomy across it at
y = 0 and one linear device whose moving footplate is on the anterior half (y < 0), so
that half moves along ``vector`` (anterior is -y in LPS). Tests add the static bone they
need (a block ahead of the bar, a skull above it). No CT: plans are made from the meshes.
"""

from __future__ import annotations

import copy

import trimesh

from planner.plan.case import SCHEMA_VERSION

PROTOCOL = {
    "latency_days": 1,
    "rate_mm_per_day": 1,
    "activations_per_day": 2,
    "consolidation_days": 42,
    "start_date": "2026-12-01",
}


def bar() -> trimesh.Trimesh:
    """The 10 x 80 x 10 mm bar along y, centred at the origin."""
    return trimesh.creation.box(extents=(10, 80, 10))


def bar_case_data(*, vector=(0.0, -1.0, 0.0), target_mm: float = 10.0, distractors=True):
    """The case.json object of the bar case (a fresh copy each call)."""
    data = {
        "schema_version": SCHEMA_VERSION,
        "label": "bar",
        "osteotomies": [
            {"name": "cut", "center_mm": [0, 0, 0], "normal": [0, 1, 0], "size_mm": [30, 30]}
        ],
        "distractors": [
            {
                "name": "d",
                "device": "linear-20",
                "fixed_point_mm": [0, 10, 5],
                "moving_point_mm": [0, -10, 5],
                "vector": [float(v) for v in vector],
                "target_mm": target_mm,
            }
        ]
        if distractors
        else [],
        "protocol": copy.deepcopy(PROTOCOL),
    }
    return data

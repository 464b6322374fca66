"""Tests for planner.pipeline.segments: segment names, roles and neighbours."""

from types import SimpleNamespace

import numpy as np
import trimesh

from planner.pipeline.segments import name_segments, segment_roles, segments_near
from planner.plan.cuts import Segment


def _cut(*models_and_offsets):
    segments = []
    for model, x in models_and_offsets:
        mesh = trimesh.creation.box(extents=(1, 1, 1))
        mesh.apply_translation((x, 0, 0))
        segments.append(Segment(model=model, mesh=mesh, volume_mm3=1.0))
    return SimpleNamespace(segments=tuple(segments))


def test_names_and_roles_follow_the_footplates():
    cut = _cut(("skull", 0), ("mandible", 5), ("mandible", 10), ("mandible", 15), ("mandible", 20))
    moving_of = {"left": 1, "right": 1}
    fixed_of = {"left": 2, "right": 3}
    named, names = _named(cut, moving_of, fixed_of)
    assert names == [
        "skull",
        "mandible_moving_left_right",
        "mandible_fixed_left",
        "mandible_fixed_right",
        "mandible_part5",
    ]
    assert [s.name for s in named] == names
    assert segment_roles(names, moving_of, fixed_of) == {
        "skull": "static",
        "mandible_moving_left_right": "moving (left, right)",
        "mandible_fixed_left": "fixed (left)",
        "mandible_fixed_right": "fixed (right)",
        "mandible_part5": "static",
    }


def _named(cut, moving_of, fixed_of):
    from planner.plan.cuts import CutResult

    result = CutResult(cut.segments, (), (), {}, (), 1.0)
    out, names = name_segments(result, moving_of, fixed_of)
    return out.segments, names


def test_segments_near_a_point():
    cut = _cut(("a", 0), ("b", 1.5), ("c", 10))
    # (0.5, 0.5, 0.5) is a corner of a; b's nearest corner (1.0, 0.5, 0.5) is 0.5 mm away
    assert segments_near(cut, np.array([0.5, 0.5, 0.5]), 1.0, skip=0) == [1]
    assert segments_near(cut, np.array([0.5, 0.5, 0.5]), 0.1, skip=0) == []

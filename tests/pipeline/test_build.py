"""The planning stage end to end on synthetic bone with known answers."""

import json

import numpy as np
import pytest
import trimesh

from planner.errors import PlannerError
from planner.pipeline.build import plan_case
from planner.pipeline.outputs import write_plan
from planner.plan.case import case_from_dict
from tests.barcase import bar, bar_case_data


def block(gap_mm):
    """A static "skull" block in front of the bar (anterior is -y), ``gap_mm`` away."""
    b = trimesh.creation.box(extents=(30, 10, 30))
    b.apply_translation((0, -40 - gap_mm - 5, 0))
    return b


def case(**changes):
    data = bar_case_data()
    data["landmarks_mm"] = {"chin": [0, -40, 0], "condyle_left": [0, 40, 0]}
    for key, value in changes.items():
        path = key.split("__")
        target = data
        for p in path[:-1]:
            target = target[int(p)] if isinstance(target, list) else target[p]
        target[path[-1]] = value
    return case_from_dict(data)


def test_translated_segment_follows_the_schedule_exactly():
    plan = plan_case(case(), {"mandible": bar()}, collisions=False)
    assert sorted(plan.roles.values()) == ["fixed (d)", "moving (d)"]
    moving = next(n for n, r in plan.roles.items() if r.startswith("moving"))
    start = plan.segments[moving].vertices.copy()
    for a in plan.schedule.activations:
        for t in (a.time_days - 1e-6, a.time_days + 1e-6):
            moved = plan.meshes_at(t)[moving].vertices
            expected = a.cumulative_mm - (a.mm if t < a.time_days else 0.0)
            shift = moved - start
            assert np.allclose(shift, [0, -expected, 0], atol=0.01)
    # rigid: the segment's shape is unchanged at the end
    end = plan.meshes_at(plan.schedule.end_of_distraction_days)[moving]
    assert end.volume == pytest.approx(plan.segments[moving].volume, rel=1e-9)
    assert plan.measurements.advancement.anterior_mm == pytest.approx(10.0)
    # mandibular length grows by the distraction (chin moves straight away from the condyle)
    before, after = plan.measurements.mandibular_length_mm["condyle_left"]
    assert (before, after) == pytest.approx((80.0, 90.0), abs=1e-6)


def test_volume_is_conserved_and_outputs_are_listed(tmp_path):
    plan = plan_case(case(), {"mandible": bar()}, collisions=False)
    kerf = sum(k.volume_mm3 for k in plan.cut.kerfs)
    assert kerf == pytest.approx(100.0)  # 10 × 10 × 1 mm
    assert sum(s.volume_mm3 for s in plan.cut.segments) + kerf == pytest.approx(8000.0)
    manifest = write_plan(plan, tmp_path / "out")
    listed = {e["path"]: e for e in manifest["outputs"]}
    on_disk = {
        str(p.relative_to(tmp_path / "out"))
        for p in (tmp_path / "out").rglob("*")
        if p.is_file() and p.name != "manifest.json"
    }
    assert {p for p in listed if not p.startswith("../models/")} == on_disk
    assert listed["../models/mandible.stl"]["kind"] == "model"
    for entry in listed.values():
        if entry["kind"] == "segment":
            assert entry["watertight"] and entry["triangles"] > 0 and entry["volume_mm3"] > 0
    assert json.loads((tmp_path / "out" / "manifest.json").read_text()) == manifest
    rows = (tmp_path / "out" / "schedule.csv").read_text().splitlines()
    assert len(rows) == 1 + 20  # header + 10 mm in 0.5 mm steps


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"osteotomies__0__center_mm": [0, 0, 200]}, "misses the bone"),
        ({"distractors__0__vector": [0, 0, 1]}, "lies in the cut plane"),
        ({"distractors__0__target_mm": 25}, "beyond the stroke"),
        ({"distractors__0__moving_point_mm": [0, -10, 30]}, "moving footplate point"),
        ({"osteotomies__0__size_mm": [4, 30]}, "still attached"),
    ],
)
def test_plans_that_cannot_work_are_refused(changes, message):
    with pytest.raises(PlannerError, match=message):
        plan_case(case(**changes), {"mandible": bar()}, collisions=False)


def test_vector_close_to_the_cut_plane_is_warned():
    plan = plan_case(
        case(distractors__0__vector=[0, -0.4, 1]), {"mandible": bar()}, collisions=False
    )
    assert any("from the cut plane" in w for w in plan.warnings)


def test_planted_collision_is_found_on_the_right_day():
    # 6.8 mm of clearance: the 13th activation (6.5 mm) leaves 0.3 mm, the 14th (7.0 mm)
    # closes it. Activations at 08:00 and 20:00 from day 1: the 14th is on day 7 at 20:00.
    plan = plan_case(case(), {"mandible": bar(), "skull": block(6.8)})
    first = plan.collisions.first_contact
    assert first is not None
    assert first.t_days == pytest.approx(1 + 8 / 24 + 13 * 0.5, abs=1e-3)
    assert first.day == 7
    assert first.point_on_other_mm[1] == pytest.approx(-46.8, abs=0.1)
    assert any("contact" in w for w in plan.warnings)


def test_no_collision_when_the_way_is_clear():
    plan = plan_case(case(), {"mandible": bar(), "skull": block(12.0)})
    assert plan.collisions.first_contact is None
    moving = next(n for n, r in plan.roles.items() if r.startswith("moving"))
    assert plan.collisions.min_distance_mm[(moving, "skull")] == pytest.approx(2.0, abs=0.05)
    assert not any("contact" in w for w in plan.warnings)


def test_every_problem_of_the_plan_is_listed():
    """Two distractors, each with a footplate off the bone, and a cut that misses it."""
    first = {
        "name": "d",
        "device": "linear-20",
        "fixed_point_mm": [0, 10, 30],  # 25 mm above the bar
        "moving_point_mm": [0, -10, 5],
        "vector": [0, -1, 0],
        "target_mm": 10,
    }
    second = {**first, "name": "e", "fixed_point_mm": [0, 10, 5], "moving_point_mm": [40, -10, 5]}
    misses = {"name": "far", "center_mm": [0, 0, 200], "normal": [0, 1, 0], "size_mm": [30, 30]}
    cut = {"name": "cut", "center_mm": [0, 0, 0], "normal": [0, 1, 0], "size_mm": [30, 30]}
    bad = case(distractors=[first, second], osteotomies=[cut, misses])
    with pytest.raises(PlannerError) as caught:
        plan_case(bad, {"mandible": bar()}, collisions=False)
    lines = str(caught.value).splitlines()
    assert lines[0] == "3 problems in the plan:"
    assert len(lines) == 4
    assert "'far' misses the bone" in lines[1]
    assert "fixed footplate point of distractor 'd'" in lines[2]
    assert "moving footplate point of distractor 'e'" in lines[3]
    assert caught.value.problems == tuple(line.strip() for line in lines[1:])

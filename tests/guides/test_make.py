"""Guides on the synthetic bars, checked against answers known in advance."""

from __future__ import annotations

import numpy as np
import pytest

from planner.errors import PlannerError
from planner.geometry import SurfaceIndex, contains
from planner.guides.checks import check_guide
from planner.guides.make import build_guide
from tests.guides.bars import FIXED, LATERAL_X, MOVING, VECTOR, bar_case, bar_models


@pytest.fixture(scope="module")
def built():
    case, models = bar_case(), bar_models()
    (part,) = build_guide(case.guides[0], case, models)
    return part, models, check_guide(part, models)


def test_inside_sits_at_the_clearance_on_the_lateral_face(built):
    part, models, checks = built
    v = part.mesh.vertices
    # the bone is sampled every 0.15 mm: the inside sags toward it by < 0.02 mm between
    assert LATERAL_X + 0.23 <= v[:, 0].min() <= LATERAL_X + 0.25
    # closest-point distance from the guide's bone side to the bone: the clearance
    on_face = (np.abs(v[:, 1]) < 19.5) & (np.abs(v[:, 2]) < 19.5)  # not over the bar's rim
    inside = v[(v[:, 0] < LATERAL_X + 0.26) & on_face]
    d = SurfaceIndex(models["mandible"].triangles).distance(inside)
    assert len(inside) > 100
    assert 0.23 <= d.min() and d.max() <= 0.25 + 1e-9
    assert checks["clearance_mm"][0] >= 0.23 and checks["clearance_mm"][1] <= 0.2501


def test_wall_and_slot_block_heights(built):
    part, _, checks = built
    v = part.mesh.vertices
    assert checks["min_wall_mm"] >= 3.0
    # shell outside at clearance + wall (+0.02 margin); slot block top 6 mm above the inside
    top = v[:, 0][(v[:, 0] > LATERAL_X + 2) & (v[:, 0] < LATERAL_X + 4)]
    assert np.median(top) == pytest.approx(LATERAL_X + 0.25 + 3.02, abs=0.02)
    assert v[:, 0].max() == pytest.approx(LATERAL_X + 0.25 + 6.0, abs=0.02)


def test_slot_lies_in_the_cut_plane_and_is_blade_plus_two_clearances(built):
    part, _, checks = built
    assert part.slot.width_mm == pytest.approx(1.5)
    assert checks["slot_angle_deg"] < 0.01
    assert checks["slot_offset_mm"] < 1e-3
    assert checks["slot_width_mm"] == pytest.approx(1.5, abs=1e-3)


def test_holes_follow_the_planned_screws(built):
    part, _, checks = built
    x = VECTOR.copy()
    z = np.array([1.0, 0.0, 0.0])
    expected = []
    for point, away in ((FIXED, 1.0), (MOVING, -1.0)):
        xf = x * (1 if x[2] * away > 0 else -1)  # along the vector, away from the cut
        yf = np.cross(z, xf)
        for hx, hy in ((0.0, 0.0), (5.0, -2.5), (5.0, 2.5)):
            expected.append(np.asarray(point) + hx * xf + hy * yf)
    got = np.array([s.point_mm for s in part.screws])
    assert np.allclose(got, expected, atol=1e-9)
    assert all(np.allclose(s.axis, z) for s in part.screws)
    assert checks["hole_angle_deg"] < 0.01 and checks["hole_offset_mm"] < 0.01


def test_guide_is_one_watertight_body_that_seats_and_misses_the_bone(built):
    part, _, checks = built
    assert checks["passed"], checks["failures"]
    assert checks["watertight"] and checks["manifold"] and checks["bodies"] == 1
    assert checks["volume_mm3"] > 0 and checks["seats"]
    assert checks["bone_overlap_mm3"] < 1e-3
    assert np.allclose(part.insertion, [1.0, 0.0, 0.0])
    assert part.label_lines[-1] == "L LAT cut"


def test_filament_clearance_moves_the_inside_out():
    case, models = bar_case(clearance_mm=0.4), bar_models()
    (part,) = build_guide(case.guides[0], case, models)
    assert part.mesh.vertices[:, 0].min() == pytest.approx(LATERAL_X + 0.4, abs=0.02)
    assert part.slot.width_mm == pytest.approx(1.0 + 0.8)


def test_separate_positioning_guide_has_the_holes_and_no_slot():
    case, models = bar_case(positioning="separate"), bar_models()
    cutting, positioning = build_guide(case.guides[0], case, models)
    assert cutting.slot is not None and not cutting.screws
    assert positioning.slot is None and len(positioning.screws) == 6
    for part in (cutting, positioning):
        checks = check_guide(part, models)
        assert checks["passed"], (part.name, checks["failures"])
    assert cutting.label_lines[-1].endswith("CUT") and positioning.label_lines[-1].endswith("POS")


def test_an_undercut_insertion_is_refused():
    # tilted 70° from the lateral face's normal, inside the cut plane: the face locks
    case = bar_case(insertion=[np.cos(np.radians(70)), np.sin(np.radians(70)), 0.0])
    with pytest.raises(PlannerError, match="locks"):
        build_guide(case.guides[0], case, bar_models())


@pytest.mark.parametrize("settings", [{"sleeve_length_mm": 8.0}, {"slot_ends": "open_start"}])
def test_sleeves_and_an_open_slot_end_still_make_one_good_body(settings):
    case, models = bar_case(**settings), bar_models()
    (part,) = build_guide(case.guides[0], case, models)
    checks = check_guide(part, models)
    assert checks["passed"], checks["failures"]
    if "sleeve_length_mm" in settings:  # sleeves stand 8 mm off the lateral face
        assert part.mesh.vertices[:, 0].max() == pytest.approx(LATERAL_X + 8.0, abs=1e-6)
    # the slot runs out of the guide at its start (+y, as in_plane_axis is -y), its end
    # stays closed by the block's wall
    start, end = part.slot.s_range_mm[1] + 1.5, part.slot.s_range_mm[0] - 1.5
    inside = contains(np.array([[47.0, start, 0.0], [47.0, end, 0.0]]), part.mesh.triangles)
    assert inside.tolist() == [settings.get("slot_ends") != "open_start", True]


def test_clearance_check_takes_the_worst_of_vertices_and_face_centres(built):
    _, _, checks = built
    at, between = checks["clearance_at_vertices_mm"], checks["clearance_between_vertices_mm"]
    assert checks["clearance_mm"] == [min(at[0], between[0]), max(at[1], between[1])]

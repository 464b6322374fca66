"""Tests for planner.plan.free: the free-segment check and the bridges it reports."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import trimesh

from planner.errors import PlannerError
from planner.plan.case import Distractor, Osteotomy
from planner.plan.cuts import cut_bone, osteotomy_frame
from planner.plan.free import free_segment_check, require_free_segment
from tests.plan.cutcases import (
    assert_segments_sound,
    make_bar,
    make_distractor,
    make_osteotomy,
    moved,
    random_rotation,
)

# ---------------------------------------------------------------------------------------
# Free-segment check


def test_complete_cut_frees_the_segment():
    result = cut_bone({"bar": make_bar()}, [make_osteotomy("mid", (0, 0, 0), (0, 0, 1), (30, 30))])
    report = require_free_segment(result, make_distractor((0, 10, 20), (0, 10, -20)))
    assert report.free and report.bridges == ()
    assert report.moving_segment != report.fixed_segment


@pytest.mark.parametrize("seed", [None, 1, 2, 3])
def test_too_small_rectangle_leaves_an_analytic_bridge(seed):
    # 20 x 20 bar; rectangle y in [-4, 12] leaves bone y in [-10, -4]: 20 x 6 = 120 mm^2
    bar, ost = make_bar(), make_osteotomy("ramus_left", (0, 4, 0), (0, 0, 1), (30, 16))
    rot, shift = np.eye(3), np.zeros(3)
    if seed is not None:
        rng = np.random.default_rng(seed)
        rot, shift = random_rotation(rng), rng.uniform(-50, 50, size=3)
        transform = np.eye(4)
        transform[:3, :3], transform[:3, 3] = rot, shift
        bar.apply_transform(transform)
        ost = moved(ost, rot, shift)
    moving, fixed = rot @ (0, 10, 20) + shift, rot @ (0, -10, -20) + shift
    result = cut_bone({"mandible": bar}, [ost])
    assert len(result.segments) == 1
    report = free_segment_check(result, moving, fixed)
    assert not report.free and report.explained
    (bridge,) = report.bridges
    assert bridge.osteotomy == "ramus_left"
    assert bridge.area_mm2 == pytest.approx(120.0, rel=1e-6)
    assert bridge.center_mm == pytest.approx(rot @ (0, -7, 0) + shift, abs=1e-6)
    assert bridge.size_mm == pytest.approx((20.0, 6.0), abs=1e-6)
    assert report.suggested_size_mm == {"ramus_left": (30.0, 32.0)}
    # the suggested rectangle does free it
    bigger = dataclasses.replace(ost, size_mm=report.suggested_size_mm["ramus_left"])
    assert free_segment_check(cut_bone({"mandible": bar}, [bigger]), moving, fixed).free


def test_attached_segment_is_refused_with_a_one_line_message():
    result = cut_bone(
        {"mandible": make_bar()}, [make_osteotomy("ramus_left", (0, 4, 0), (0, 0, 1), (30, 16))]
    )
    with pytest.raises(PlannerError) as err:
        require_free_segment(result, make_distractor((0, 10, 20), (0, -10, -20)))
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("segment at moving point of distractor 'left' is still attached")
    assert "bridge of 120 mm^2 at (0.0, -7.0, 0.0) on osteotomy 'ramus_left'" in message
    assert "extend size_mm (to 30 x 32 mm" in message


def _loop_with_neck():
    """A closed frame: top and bottom bars joined by two legs; the right leg has a 6x6 neck.

    The neck spans z 21..29 at x = 20, y = 0; the legs are 10 x 10 elsewhere.
    """
    boxes = [
        ((0, 0, 45), (50, 10, 10)),
        ((0, 0, 5), (50, 10, 10)),
        ((-20, 0, 25), (10, 10, 30)),
        ((20, 0, 15.5), (10, 10, 11)),
        ((20, 0, 34.5), (10, 10, 11)),
        ((20, 0, 25), (6, 6, 10)),
    ]
    parts = [trimesh.creation.box(extents=s).apply_translation(c) for c, s in boxes]
    return trimesh.boolean.union(parts, engine="manifold")


def test_attachment_away_from_the_cut_is_located():
    loop = _loop_with_neck()
    assert loop.is_watertight
    cut_left_leg = make_osteotomy("leg_left", (-20, 0, 30), (0, 0, 1), (20, 20))
    result = cut_bone({"loop": loop}, [cut_left_leg])
    assert len(result.segments) == 1
    report = free_segment_check(result, (0, 0, 0), (0, 0, 50), voxel_mm=0.5)
    assert not report.free and not report.explained
    (bridge,) = report.bridges
    assert bridge.osteotomy is None
    assert bridge.center_mm[:2] == pytest.approx([20, 0], abs=0.5)
    assert 20.5 <= bridge.center_mm[2] <= 29.5  # in the neck, to a voxel
    assert bridge.area_mm2 == pytest.approx(36.0, rel=0.25)
    with pytest.raises(PlannerError, match="not next to any cut rectangle"):
        require_free_segment(result, make_distractor((0, 0, 0), (0, 0, 50)))
    # cutting the neck too frees the bottom bar
    cut_neck = make_osteotomy("neck", (20, 0, 25), (0, 0, 1), (20, 20))
    both = cut_bone({"loop": loop}, [cut_left_leg, cut_neck])
    assert free_segment_check(both, (0, 0, 0), (0, 0, 50)).free


def test_unknown_points_are_refused_by_the_check():
    result = cut_bone({"bar": make_bar()}, [make_osteotomy("mid", (0, 0, 0), (0, 0, 1), (30, 30))])
    with pytest.raises(PlannerError, match=r"moving point of distractor 'left' \(0.0, 40.0"):
        require_free_segment(result, make_distractor((0, 40, 20), (0, 10, -20)))


# ---------------------------------------------------------------------------------------
# The synthetic head's mandible and its suggested ramus osteotomies


@pytest.fixture(scope="module")
def sample_mandible():
    head = pytest.importorskip("planner.samples.head")
    skimage_measure = pytest.importorskip("skimage.measure")
    truth = head.head_truth()
    if not truth.plan.get("osteotomies"):
        pytest.skip("planner.samples.head has no suggested osteotomies yet")
    # A mesh straight from the anatomy's signed distance (no CT, no planner.bone.surface needed).
    lm = truth.landmarks_mm
    names = ["chin", "menton", "condyle_left", "condyle_right", "gonion_left", "gonion_right"]
    pts = np.array([lm[n] for n in [*names, "lower_incisor"]])
    lo, hi, pitch = pts.min(axis=0) - 12, pts.max(axis=0) + 6, 1.0
    axes = [np.arange(lo[a], hi[a] + pitch, pitch) for a in range(3)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1)
    dist = head.signed_distance(grid.reshape(-1, 3), "mandible").reshape(grid.shape[:3])
    assert min(dist[[0, -1]].min(), dist[:, [0, -1]].min(), dist[:, :, [0, -1]].min()) > 0
    verts, faces, _, _ = skimage_measure.marching_cubes(dist, 0.0, spacing=(pitch,) * 3)
    mesh = trimesh.Trimesh(verts + lo, faces)
    if mesh.volume < 0:
        mesh.invert()
    osts = [
        Osteotomy(o["name"], *(tuple(o[k]) for k in ("centre_mm", "normal", "size_mm", "u_axis")))
        for o in truth.plan["osteotomies"]
    ]
    dists = [
        Distractor(
            d["name"],
            "generic",
            tuple(d["fixed_point_mm"]),
            tuple(d["moving_point_mm"]),
            tuple(d["vector"]),
            float(d["length_mm"]),
        )
        for d in truth.plan["distractors"]
    ]
    return mesh, osts, dists


def test_sample_head_ramus_cuts_free_the_body(sample_mandible):
    mesh, osts, dists = sample_mandible
    result = cut_bone({"mandible": mesh}, osts)
    assert len(result.segments) == 3  # body, and each ramus top (condyle + coronoid)
    assert result.crumbs == ()
    assert abs(result.volume_balance()["mandible"]) < 0.005
    assert all(k.volume_mm3 > 0 for k in result.kerfs)
    assert_segments_sound(result)
    body = 0  # the largest segment
    fixed = set()
    for d in dists:
        report = require_free_segment(result, d)
        assert report.moving_segment == body
        fixed.add(report.fixed_segment)
    assert fixed == {1, 2}


def test_sample_head_short_cut_reports_bridges_on_that_ramus(sample_mandible):
    mesh, osts, dists = sample_mandible
    short = [dataclasses.replace(osts[0], size_mm=(12.0, osts[0].size_mm[1])), *osts[1:]]
    result = cut_bone({"mandible": mesh}, short)
    assert len(result.segments) == 2
    side = next(d for d in dists if d.name.endswith(osts[0].name.split("_")[-1]))
    report = free_segment_check(result, side.moving_point_mm, side.fixed_point_mm)
    assert not report.free and report.explained
    assert {b.osteotomy for b in report.bridges} == {osts[0].name}
    frame = osteotomy_frame(osts[0])
    for b in report.bridges:  # on the plane, beyond the 12 mm but within the planned 26 mm
        u, v, n = np.linalg.solve(frame[:3, :3], b.center_mm - frame[:3, 3])
        assert abs(n) < 1e-6 and 6.0 < abs(u) < osts[0].size_mm[0] / 2 and abs(v) < 8.0
    assert report.suggested_size_mm[osts[0].name][0] <= osts[0].size_mm[0]
    others = [d for d in dists if d is not side]
    assert all(require_free_segment(result, d).free for d in others)

"""Tests for planner.plan.cuts: bounded cuts, segments, volume books, free-segment check."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import trimesh

from planner.errors import PlannerError
from planner.plan.case import Distractor, Osteotomy
from planner.plan.cuts import (
    cut_bone,
    free_segment_check,
    kerf_mesh,
    osteotomy_frame,
    require_free_segment,
    segment_at,
)


def _cut(name, center, normal, size, axis=(1, 0, 0), kerf=1.0):
    return Osteotomy(name, tuple(center), tuple(normal), tuple(size), tuple(axis), kerf)


def _bar():
    return trimesh.creation.box(extents=(20, 20, 60))


def _distractor(moving, fixed):
    return Distractor("left", "generic", tuple(fixed), tuple(moving), (0, 0, 1), 20.0)


def _random_rotation(rng):
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def _moved(ost, rot, shift):
    return dataclasses.replace(
        ost,
        center_mm=tuple(rot @ ost.center_mm + shift),
        normal=tuple(rot @ ost.normal),
        in_plane_axis=tuple(rot @ ost.in_plane_axis),
    )


def _assert_segments_sound(result):
    for seg in result.segments:
        assert seg.mesh.is_watertight
        assert seg.volume_mm3 > 0
        assert seg.mesh.volume == pytest.approx(seg.volume_mm3, rel=1e-6)


# ---------------------------------------------------------------------------------------
# Cutting and the volume books


def test_box_cut_through_gives_two_analytic_halves():
    result = cut_bone({"bar": _bar()}, [_cut("mid", (0, 0, 0), (0, 0, 1), (30, 30))])
    assert [s.volume_mm3 for s in result.segments] == pytest.approx([11800.0, 11800.0])
    assert [s.model for s in result.segments] == ["bar", "bar"]
    assert result.kerfs[0].osteotomy == "mid"
    assert result.kerfs[0].volume_mm3 == pytest.approx(400.0)
    assert result.kerfs[0].by_model_mm3["bar"] == pytest.approx(400.0)
    assert result.model_volume_mm3["bar"] == pytest.approx(24000.0)
    assert abs(result.volume_balance()["bar"]) < 1e-9
    zs = sorted(s.mesh.bounds[:, 2].tolist() for s in result.segments)
    assert zs == [pytest.approx([-30.0, -0.5]), pytest.approx([0.5, 30.0])]
    _assert_segments_sound(result)


def test_closed_cavities_stay_inside_their_segment():
    # a bar with a closed 4 mm cubic cavity (a sinus, a marrow space) above the cut: the
    # cavity is part of the upper segment, not a crumb of negative volume
    cavity = trimesh.creation.box(extents=(4, 4, 4))
    cavity.apply_translation((0, 0, 15))
    cavity.invert()
    hollow = trimesh.util.concatenate([_bar(), cavity])
    assert hollow.is_watertight and hollow.volume == pytest.approx(24000 - 64)
    result = cut_bone({"bar": hollow}, [_cut("mid", (0, 0, 0), (0, 0, 1), (30, 30))])
    assert result.crumbs == ()
    upper = max(result.segments, key=lambda s: s.mesh.centroid[2])
    assert upper.volume_mm3 == pytest.approx(11800.0 - 64.0)
    assert abs(result.volume_balance()["bar"]) < 1e-9
    assert segment_at(result, (0, 0, 25)) == result.segments.index(upper)
    _assert_segments_sound(result)


def test_tilted_cut_through_cylinder_matches_prism_volumes():
    n = 64
    cyl = trimesh.creation.cylinder(radius=10, height=60, sections=n)
    area = n / 2 * 10**2 * np.sin(2 * np.pi / n)  # the regular n-gon section
    ost = _cut("c", (0, 0, 10), (0, 0, 1), (25, 25), axis=(1, 1, 0), kerf=2.0)
    result = cut_bone({"cyl": cyl}, [ost])
    vols = sorted(s.volume_mm3 for s in result.segments)
    assert vols == pytest.approx([area * 19.0, area * 39.0], rel=1e-9)
    assert result.kerfs[0].volume_mm3 == pytest.approx(area * 2.0, rel=1e-9)
    _assert_segments_sound(result)


def test_two_parallel_cuts_give_three_segments():
    cuts = [
        _cut("low", (0, 0, -10), (0, 0, 1), (30, 30)),
        _cut("high", (0, 0, 10), (0, 0, -1), (30, 30), kerf=2.0),
    ]
    result = cut_bone({"bar": _bar()}, cuts)
    vols = sorted(s.volume_mm3 for s in result.segments)
    assert vols == pytest.approx(
        [400 * 18.5, 400 * 19.0, 400 * 19.5]
    )  # -9.5..9, 11..30, -30..-10.5
    assert [k.volume_mm3 for k in result.kerfs] == pytest.approx([400.0, 800.0])
    _assert_segments_sound(result)


@pytest.mark.parametrize("shape", ["icosphere", "capsule"])
def test_volume_books_balance_over_random_planes(shape):
    rng = np.random.default_rng(7)
    if shape == "icosphere":
        bone = trimesh.creation.icosphere(subdivisions=4, radius=20)
    else:
        bone = trimesh.creation.capsule(height=30, radius=12, count=[32, 32])
    worst = 0.0
    for _ in range(10):
        normal = rng.normal(size=3)
        normal /= np.linalg.norm(normal)
        axis = np.cross(normal, rng.normal(size=3))
        center = rng.uniform(-8, 8, size=3)
        center -= normal * (normal @ center) * 0.5  # keep the plane well inside
        ost = _cut("r", center, normal, (120, 120), axis=axis, kerf=rng.uniform(0.5, 2.0))
        result = cut_bone({"bone": bone}, [ost])
        assert len(result.segments) == 2
        _assert_segments_sound(result)
        worst = max(worst, abs(result.volume_balance()["bone"]))
        if shape == "icosphere":  # against spherical caps (the icosphere is 0.3% smaller)
            d = abs(normal @ center)
            caps = [np.pi * h**2 * (60 - h) / 3 for h in (20 - d - ost.kerf_mm / 2,)]
            caps.append(bone.volume - caps[0] - result.kerfs[0].volume_mm3)
            vols = sorted(s.volume_mm3 for s in result.segments)
            assert vols == pytest.approx(sorted(caps), rel=0.03)
    assert worst < 0.005


def test_cut_that_splits_nothing_still_balances():
    ost = _cut("notch", (0, 4, 0), (0, 0, 1), (30, 16))
    result = cut_bone({"bar": _bar()}, [ost])
    assert len(result.segments) == 1
    assert result.kerfs[0].volume_mm3 == pytest.approx(20 * 14 * 1.0)
    assert abs(result.volume_balance()["bar"]) < 1e-9


def test_small_components_become_crumbs_and_stay_in_the_books():
    result = cut_bone(
        {"bar": _bar()}, [_cut("tip", (0, 0, 25), (0, 0, 1), (30, 30))], min_volume_mm3=2000
    )
    assert len(result.segments) == 1
    (crumb,) = result.crumbs
    assert crumb.model == "bar"
    assert crumb.volume_mm3 == pytest.approx(400 * 4.5)
    assert crumb.center_mm == pytest.approx([0, 0, 27.75])
    assert abs(result.volume_balance()["bar"]) < 1e-9


def test_untouched_model_passes_through_whole():
    skull = trimesh.creation.icosphere(subdivisions=3, radius=30).apply_translation((0, 0, 100))
    result = cut_bone(
        {"skull": skull, "mandible": _bar()}, [_cut("mid", (0, 0, 0), (0, 0, 1), (30, 30))]
    )
    assert [s.model for s in result.segments] == ["skull", "mandible", "mandible"]
    assert result.segments[0].volume_mm3 == pytest.approx(skull.volume)
    assert result.kerfs[0].by_model_mm3 == {"skull": 0.0, "mandible": pytest.approx(400.0)}


def test_kerf_mesh_and_frame_follow_the_osteotomy():
    ost = _cut("k", (1, 2, 3), (0, 0, 1), (40, 30), axis=(0, 1, 0), kerf=1.5)
    frame = osteotomy_frame(ost)
    assert frame[:3, 0] == pytest.approx([0, 1, 0])  # in_plane_axis
    assert frame[:3, 1] == pytest.approx([-1, 0, 0])  # normal x in_plane_axis
    assert frame[:3, 3] == pytest.approx([1, 2, 3])
    box = kerf_mesh(ost)
    assert box.volume == pytest.approx(40 * 30 * 1.5)
    expected = np.array([[1 - 15, 2 - 20, 3 - 0.75], [1 + 15, 2 + 20, 3 + 0.75]])
    assert np.allclose(box.bounds, expected)


# ---------------------------------------------------------------------------------------
# Validation


def test_cut_that_misses_the_bone_is_refused():
    ost = _cut("ramus_left", (0, 0, 80), (0, 0, 1), (40, 30))
    with pytest.raises(PlannerError, match=r"'ramus_left' misses the bone: its cut rectangle"):
        cut_bone({"bar": _bar()}, [ost])


def test_crossing_cuts_are_refused_naming_both():
    cuts = [
        _cut("horizontal", (0, 0, 0), (0, 0, 1), (30, 30)),
        _cut("vertical", (0, 0, 0), (1, 0, 0), (30, 80), axis=(0, 1, 0)),
    ]
    with pytest.raises(PlannerError, match=r"'horizontal' and 'vertical' overlap inside the"):
        cut_bone({"bar": _bar()}, cuts)


def test_slabs_crossing_outside_bone_are_allowed():
    right = _bar().apply_translation((40, 0, 0))
    cuts = [
        _cut("a", (5, 0, 0), (0, 0, 1), (40, 30)),  # x from -15 to 25
        _cut("b", (37.5, 0, 0.3), (0, 0, 1), (35, 30)),  # x from 20 to 55: overlaps in air
    ]
    result = cut_bone({"left": _bar(), "right": right}, cuts)
    assert len(result.segments) == 4


def test_open_model_is_refused():
    open_box = _bar()
    open_box.update_faces(np.arange(len(open_box.faces)) > 0)
    with pytest.raises(PlannerError, match="not a closed"):
        cut_bone({"bar": open_box}, [_cut("mid", (0, 0, 0), (0, 0, 1), (30, 30))])


def test_duplicate_names_are_refused():
    ost = _cut("mid", (0, 0, 0), (0, 0, 1), (30, 30))
    with pytest.raises(PlannerError, match="given twice"):
        cut_bone({"bar": _bar()}, [ost, ost])


# ---------------------------------------------------------------------------------------
# Points on segments


def test_segment_at_finds_the_segment_under_a_surface_point():
    result = cut_bone({"bar": _bar()}, [_cut("mid", (0, 0, 0), (0, 0, 1), (30, 30))])
    upper = next(i for i, s in enumerate(result.segments) if s.mesh.bounds[0, 2] > 0)
    lower = 1 - upper
    assert segment_at(result, (10.0, 3.0, 15.0)) == upper  # on the surface
    assert segment_at(result, (10.3, 3.0, 15.0)) == upper  # a hair outside
    assert segment_at(result, (0.0, 0.0, -20.0)) == lower  # inside
    assert segment_at(result, (0.0, 0.0, -0.2)) == lower  # in the kerf, nearer the lower
    with pytest.raises(PlannerError, match=r"footplate point \(20.0, 3.0, 15.0\) is 10.0 mm"):
        segment_at(result, (20.0, 3.0, 15.0), label="footplate point")


# ---------------------------------------------------------------------------------------
# Free-segment check


def test_complete_cut_frees_the_segment():
    result = cut_bone({"bar": _bar()}, [_cut("mid", (0, 0, 0), (0, 0, 1), (30, 30))])
    report = require_free_segment(result, _distractor((0, 10, 20), (0, 10, -20)))
    assert report.free and report.bridges == ()
    assert report.moving_segment != report.fixed_segment


@pytest.mark.parametrize("seed", [None, 1, 2, 3])
def test_too_small_rectangle_leaves_an_analytic_bridge(seed):
    # 20 x 20 bar; rectangle y in [-4, 12] leaves bone y in [-10, -4]: 20 x 6 = 120 mm^2
    bar, ost = _bar(), _cut("ramus_left", (0, 4, 0), (0, 0, 1), (30, 16))
    rot, shift = np.eye(3), np.zeros(3)
    if seed is not None:
        rng = np.random.default_rng(seed)
        rot, shift = _random_rotation(rng), rng.uniform(-50, 50, size=3)
        transform = np.eye(4)
        transform[:3, :3], transform[:3, 3] = rot, shift
        bar.apply_transform(transform)
        ost = _moved(ost, rot, shift)
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
    result = cut_bone({"mandible": _bar()}, [_cut("ramus_left", (0, 4, 0), (0, 0, 1), (30, 16))])
    with pytest.raises(PlannerError) as err:
        require_free_segment(result, _distractor((0, 10, 20), (0, -10, -20)))
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
    cut_left_leg = _cut("leg_left", (-20, 0, 30), (0, 0, 1), (20, 20))
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
        require_free_segment(result, _distractor((0, 0, 0), (0, 0, 50)))
    # cutting the neck too frees the bottom bar
    cut_neck = _cut("neck", (20, 0, 25), (0, 0, 1), (20, 20))
    both = cut_bone({"loop": loop}, [cut_left_leg, cut_neck])
    assert free_segment_check(both, (0, 0, 0), (0, 0, 50)).free


def test_unknown_points_are_refused_by_the_check():
    result = cut_bone({"bar": _bar()}, [_cut("mid", (0, 0, 0), (0, 0, 1), (30, 30))])
    with pytest.raises(PlannerError, match=r"moving point of distractor 'left' \(0.0, 40.0"):
        require_free_segment(result, _distractor((0, 40, 20), (0, 10, -20)))


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
    _assert_segments_sound(result)
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

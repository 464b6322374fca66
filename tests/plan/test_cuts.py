"""Tests for planner.plan.cuts: bounded cuts, segments, volume books, points on segments."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from planner.errors import PlannerError
from planner.plan.cuts import cut_bone, kerf_mesh, osteotomy_frame, segment_at
from planner.plan.problems import PlanError
from tests.plan.cutcases import (
    assert_segments_sound,
    make_bar,
    make_osteotomy,
)

# ---------------------------------------------------------------------------------------
# Cutting and the volume books


def test_box_cut_through_gives_two_analytic_halves():
    result = cut_bone({"bar": make_bar()}, [make_osteotomy("mid", (0, 0, 0), (0, 0, 1), (30, 30))])
    assert [s.volume_mm3 for s in result.segments] == pytest.approx([11800.0, 11800.0])
    assert [s.model for s in result.segments] == ["bar", "bar"]
    assert result.kerfs[0].osteotomy == "mid"
    assert result.kerfs[0].volume_mm3 == pytest.approx(400.0)
    assert result.kerfs[0].by_model_mm3["bar"] == pytest.approx(400.0)
    assert result.model_volume_mm3["bar"] == pytest.approx(24000.0)
    assert abs(result.volume_balance()["bar"]) < 1e-9
    zs = sorted(s.mesh.bounds[:, 2].tolist() for s in result.segments)
    assert zs == [pytest.approx([-30.0, -0.5]), pytest.approx([0.5, 30.0])]
    assert_segments_sound(result)


def test_closed_cavities_stay_inside_their_segment():
    # a bar with a closed 4 mm cubic cavity (a sinus, a marrow space) above the cut: the
    # cavity is part of the upper segment, not a crumb of negative volume
    cavity = trimesh.creation.box(extents=(4, 4, 4))
    cavity.apply_translation((0, 0, 15))
    cavity.invert()
    hollow = trimesh.util.concatenate([make_bar(), cavity])
    assert hollow.is_watertight and hollow.volume == pytest.approx(24000 - 64)
    result = cut_bone({"bar": hollow}, [make_osteotomy("mid", (0, 0, 0), (0, 0, 1), (30, 30))])
    assert result.crumbs == ()
    upper = max(result.segments, key=lambda s: s.mesh.centroid[2])
    assert upper.volume_mm3 == pytest.approx(11800.0 - 64.0)
    assert abs(result.volume_balance()["bar"]) < 1e-9
    assert segment_at(result, (0, 0, 25)) == result.segments.index(upper)
    assert_segments_sound(result)


def test_tilted_cut_through_cylinder_matches_prism_volumes():
    n = 64
    cyl = trimesh.creation.cylinder(radius=10, height=60, sections=n)
    area = n / 2 * 10**2 * np.sin(2 * np.pi / n)  # the regular n-gon section
    ost = make_osteotomy("c", (0, 0, 10), (0, 0, 1), (25, 25), axis=(1, 1, 0), kerf=2.0)
    result = cut_bone({"cyl": cyl}, [ost])
    vols = sorted(s.volume_mm3 for s in result.segments)
    assert vols == pytest.approx([area * 19.0, area * 39.0], rel=1e-9)
    assert result.kerfs[0].volume_mm3 == pytest.approx(area * 2.0, rel=1e-9)
    assert_segments_sound(result)


def test_two_parallel_cuts_give_three_segments():
    cuts = [
        make_osteotomy("low", (0, 0, -10), (0, 0, 1), (30, 30)),
        make_osteotomy("high", (0, 0, 10), (0, 0, -1), (30, 30), kerf=2.0),
    ]
    result = cut_bone({"bar": make_bar()}, cuts)
    vols = sorted(s.volume_mm3 for s in result.segments)
    assert vols == pytest.approx(
        [400 * 18.5, 400 * 19.0, 400 * 19.5]
    )  # -9.5..9, 11..30, -30..-10.5
    assert [k.volume_mm3 for k in result.kerfs] == pytest.approx([400.0, 800.0])
    assert_segments_sound(result)


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
        ost = make_osteotomy(
            "r", center, normal, (120, 120), axis=axis, kerf=rng.uniform(0.5, 2.0)
        )
        result = cut_bone({"bone": bone}, [ost])
        assert len(result.segments) == 2
        assert_segments_sound(result)
        worst = max(worst, abs(result.volume_balance()["bone"]))
        if shape == "icosphere":  # against spherical caps (the icosphere is 0.3% smaller)
            d = abs(normal @ center)
            caps = [np.pi * h**2 * (60 - h) / 3 for h in (20 - d - ost.kerf_mm / 2,)]
            caps.append(bone.volume - caps[0] - result.kerfs[0].volume_mm3)
            vols = sorted(s.volume_mm3 for s in result.segments)
            assert vols == pytest.approx(sorted(caps), rel=0.03)
    assert worst < 0.005


def test_cut_that_splits_nothing_still_balances():
    ost = make_osteotomy("notch", (0, 4, 0), (0, 0, 1), (30, 16))
    result = cut_bone({"bar": make_bar()}, [ost])
    assert len(result.segments) == 1
    assert result.kerfs[0].volume_mm3 == pytest.approx(20 * 14 * 1.0)
    assert abs(result.volume_balance()["bar"]) < 1e-9


def test_small_components_become_crumbs_and_stay_in_the_books():
    result = cut_bone(
        {"bar": make_bar()},
        [make_osteotomy("tip", (0, 0, 25), (0, 0, 1), (30, 30))],
        min_volume_mm3=2000,
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
        {"skull": skull, "mandible": make_bar()},
        [make_osteotomy("mid", (0, 0, 0), (0, 0, 1), (30, 30))],
    )
    assert [s.model for s in result.segments] == ["skull", "mandible", "mandible"]
    assert result.segments[0].volume_mm3 == pytest.approx(skull.volume)
    assert result.kerfs[0].by_model_mm3 == {"skull": 0.0, "mandible": pytest.approx(400.0)}


def test_cutting_again_gives_the_same_result_and_follows_edits():
    # the pieces of each model are kept with the mesh, keyed by the cuts' geometry: a
    # repeated plan reuses them, a moved cut or an edited model is cut afresh
    import dataclasses

    bar = make_bar()
    mid = make_osteotomy("mid", (0, 0, 0), (0, 0, 1), (30, 30))

    def volumes(result):
        return [s.volume_mm3 for s in result.segments]

    first = cut_bone({"bar": bar}, [mid])
    again = cut_bone({"bar": bar}, [mid])
    assert volumes(again) == volumes(first) == pytest.approx([11800.0, 11800.0])
    assert again.segments[0].mesh is not first.segments[0].mesh  # meshes are never shared
    assert np.array_equal(again.segments[0].mesh.vertices, first.segments[0].mesh.vertices)
    first.segments[0].mesh.apply_translation((0, 0, 100))  # editing one leaves the next
    third = cut_bone({"bar": bar}, [mid])
    assert third.segments[0].mesh.bounds[:, 2].tolist() == pytest.approx(
        again.segments[0].mesh.bounds[:, 2].tolist()
    )
    assert segment_at(third, (0, 0, 20)) == segment_at(again, (0, 0, 20))
    up = cut_bone({"bar": bar}, [dataclasses.replace(mid, center_mm=(0.0, 0.0, 10.0))])
    assert volumes(up) == pytest.approx([15800.0, 7800.0])
    bar.vertices[:, 2] *= 2  # 20 x 20 x 120 now: the kept pieces are dropped
    longer = cut_bone({"bar": bar}, [mid])
    assert volumes(longer) == pytest.approx([23800.0, 23800.0])
    assert longer.model_volume_mm3["bar"] == pytest.approx(48000.0)
    assert_segments_sound(longer)


def test_kerf_mesh_and_frame_follow_the_osteotomy():
    ost = make_osteotomy("k", (1, 2, 3), (0, 0, 1), (40, 30), axis=(0, 1, 0), kerf=1.5)
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
    ost = make_osteotomy("ramus_left", (0, 0, 80), (0, 0, 1), (40, 30))
    with pytest.raises(PlannerError, match=r"'ramus_left' misses the bone: its cut rectangle"):
        cut_bone({"bar": make_bar()}, [ost])


def test_crossing_cuts_are_refused_naming_both():
    cuts = [
        make_osteotomy("horizontal", (0, 0, 0), (0, 0, 1), (30, 30)),
        make_osteotomy("vertical", (0, 0, 0), (1, 0, 0), (30, 80), axis=(0, 1, 0)),
    ]
    with pytest.raises(PlannerError, match=r"'horizontal' and 'vertical' overlap inside the"):
        cut_bone({"bar": make_bar()}, cuts)


def test_slabs_crossing_outside_bone_are_allowed():
    right = make_bar().apply_translation((40, 0, 0))
    cuts = [
        make_osteotomy("a", (5, 0, 0), (0, 0, 1), (40, 30)),  # x from -15 to 25
        make_osteotomy(
            "b", (37.5, 0, 0.3), (0, 0, 1), (35, 30)
        ),  # x from 20 to 55: overlaps in air
    ]
    result = cut_bone({"left": make_bar(), "right": right}, cuts)
    assert len(result.segments) == 4


def test_open_model_is_refused():
    open_box = make_bar()
    open_box.update_faces(np.arange(len(open_box.faces)) > 0)
    with pytest.raises(PlannerError, match="not a closed"):
        cut_bone({"bar": open_box}, [make_osteotomy("mid", (0, 0, 0), (0, 0, 1), (30, 30))])


def test_the_same_cut_twice_is_refused_as_overlapping():
    # (names that differ are the case model's rule, see tests/plan/test_case.py)
    ost = make_osteotomy("mid", (0, 0, 0), (0, 0, 1), (30, 30))
    with pytest.raises(PlannerError, match="'mid' and 'mid' overlap inside the bone"):
        cut_bone({"bar": make_bar()}, [ost, ost])


def test_every_cut_problem_is_listed():
    cuts = [
        make_osteotomy("high", (0, 0, 200), (0, 0, 1), (30, 30)),
        make_osteotomy("mid", (0, 0, 0), (0, 0, 1), (30, 30)),
        make_osteotomy("low", (0, 0, -200), (0, 0, 1), (30, 30)),
    ]
    with pytest.raises(PlanError) as caught:
        cut_bone({"bar": make_bar()}, cuts)
    assert str(caught.value).splitlines()[0] == "2 problems in the plan:"
    assert ["high" in caught.value.problems[0], "low" in caught.value.problems[1]] == [True] * 2
    problems: list[str] = []  # or gathered, and the cut goes on
    result = cut_bone({"bar": make_bar()}, cuts, problems=problems)
    assert len(problems) == 2 and len(result.segments) == 2


# ---------------------------------------------------------------------------------------
# Points on segments


def test_segment_at_finds_the_segment_under_a_surface_point():
    result = cut_bone({"bar": make_bar()}, [make_osteotomy("mid", (0, 0, 0), (0, 0, 1), (30, 30))])
    upper = next(i for i, s in enumerate(result.segments) if s.mesh.bounds[0, 2] > 0)
    lower = 1 - upper
    assert segment_at(result, (10.0, 3.0, 15.0)) == upper  # on the surface
    assert segment_at(result, (10.3, 3.0, 15.0)) == upper  # a hair outside
    assert segment_at(result, (0.0, 0.0, -20.0)) == lower  # inside
    assert segment_at(result, (0.0, 0.0, -0.2)) == lower  # in the kerf, nearer the lower
    with pytest.raises(PlannerError, match=r"footplate point \(20.0, 3.0, 15.0\) is 10.0 mm"):
        segment_at(result, (20.0, 3.0, 15.0), label="footplate point")


def test_only_the_last_few_cuts_are_kept_per_model():
    import dataclasses

    from planner.geometry.meshcache import cached

    bar = make_bar()
    mid = make_osteotomy("mid", (0, 0, 0), (0, 0, 1), (30, 30))
    for z in range(8):
        result = cut_bone({"bar": bar}, [dataclasses.replace(mid, center_mm=(0.0, 0.0, z))])
        lower = 400.0 * (30 + z - 0.5)
        assert [s.volume_mm3 for s in result.segments] == pytest.approx(
            sorted([lower, 23600.0 - lower], reverse=True)
        )
    assert len(cached(bar, "cut_parts", dict)) == 4


def test_nearest_mesh_matches_a_brute_force_reference():
    from planner.geometry import closest_point_on_surface, contains
    from planner.plan.locate import nearest_mesh

    meshes = [
        trimesh.creation.icosphere(subdivisions=2, radius=10.0),
        trimesh.creation.box(extents=(8, 8, 8)).apply_translation((4, 0, 0)),  # overlaps
        trimesh.creation.icosphere(subdivisions=2, radius=5.0).apply_translation((30, 0, 0)),
    ]

    def reference(p, tol):
        d = [
            0.0
            if contains([p], m.triangles)[0]
            else closest_point_on_surface([p], m.triangles)[1][0]
            for m in meshes
        ]
        best = int(np.argmin(d))  # first of equals
        return best if d[best] <= tol else None

    rng = np.random.default_rng(11)
    pts = [*rng.uniform(-15, 40, size=(60, 3)), meshes[2].vertices[0], meshes[1].vertices[0]]
    for p in pts:
        want = reference(p, 2.0)
        if want is None:
            with pytest.raises(PlannerError, match="from the nearest bone"):
                nearest_mesh(meshes, p, 2.0, "point")
        else:
            assert nearest_mesh(meshes, p, 2.0, "point") == want


def test_a_model_s_joined_bodies_move_as_one_where_no_cut_parts_them():
    # a newborn's mandible: two halves (bars along x), 2 mm apart at the midline (the
    # symphysis holds them together); each half cut near its far end (a ramus cut). The
    # two body pieces meet across the gap and are one segment; the rami stay apart
    from planner.bone.bodies import JOINED

    halves = [
        trimesh.creation.box(
            extents=(40, 10, 10),
            transform=trimesh.transformations.translation_matrix((side * 21, 0, 0)),
        )
        for side in (-1, 1)
    ]
    cuts = [
        make_osteotomy(f"ramus_{n}", (side * 30, 0, 0), (1, 0, 0), (30, 30), axis=(0, 1, 0))
        for n, side in (("right", -1), ("left", 1))
    ]
    mandible = trimesh.util.concatenate(halves)
    apart = cut_bone({"mandible": mandible}, cuts)
    assert sorted(s.volume_mm3 for s in apart.segments) == pytest.approx([1050, 1050, 2850, 2850])
    mandible.metadata[JOINED] = True
    joined = cut_bone({"mandible": mandible}, cuts)
    assert [s.volume_mm3 for s in joined.segments] == pytest.approx([5700, 1050, 1050])
    body = joined.segments[0].mesh
    assert body.body_count == 2 and body.bounds[:, 0] == pytest.approx([-29.5, 29.5])
    assert abs(joined.volume_balance()["mandible"]) < 1e-9
    assert_segments_sound(joined)
    # uncut, the two halves are one segment too
    (whole,) = cut_bone(
        {"mandible": mandible}, [make_osteotomy("far", (0, 30, 0), (0, 1, 0), (5, 5))], problems=[]
    ).segments
    assert whole.volume_mm3 == pytest.approx(8000)

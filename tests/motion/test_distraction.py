import json
import math

import numpy as np
import pytest
import trimesh

from planner.errors import PlannerError
from planner.geometry import apply_affine
from planner.motion.distraction import (
    Motion,
    MotionSettings,
    curvilinear_track,
    device_pose,
    footplate_points,
    landmark_positions,
    moved_mesh,
    pose_at,
    segment_poses,
    solve_segment_pose,
    vector_angles_deg,
)
from planner.motion.measure import bilateral_report, measure, to_jsonable
from planner.motion.schedule import length_at, make_schedule
from planner.plan.case import Distractor, Protocol
from planner.plan.devices import device_catalog

CATALOG = device_catalog()
RNG = np.random.default_rng(7)


def unit(v):
    v = np.asarray(v, dtype=float)
    return tuple(float(x) for x in v / np.linalg.norm(v))


def dist(name, vector, *, moving=(0.0, 0.0, 0.0), device="linear-20", target=15.0, curve=None):
    moving = np.asarray(moving, dtype=float)
    return Distractor(
        name=name,
        device=device,
        fixed_point_mm=tuple(moving + np.array([0.0, 10.0, 0.0])),
        moving_point_mm=tuple(moving),
        vector=unit(vector),
        target_mm=target,
        curve_toward=None if curve is None else unit(curve),
    )


def assert_rigid(pose, points):
    rot = pose[:3, :3]
    assert np.allclose(rot.T @ rot, np.eye(3), atol=1e-12)
    assert np.linalg.det(rot) == pytest.approx(1.0, abs=1e-12)
    assert np.array_equal(pose[3], [0.0, 0.0, 0.0, 1.0])
    moved = apply_affine(pose, points)
    d0 = np.linalg.norm(points[:, None] - points[None], axis=-1)
    d1 = np.linalg.norm(moved[:, None] - moved[None], axis=-1)
    assert np.abs(d1 - d0).max() < 1e-9


def toe(theta_deg, a=40.0, s=15.0):
    """Two devices at x = +-a, vectors at +-theta/2 about -y in the axial plane."""
    half = math.radians(theta_deg) / 2
    left = dist("left", (math.sin(half), -math.cos(half), 0.0), moving=(a, 0.0, 0.0), target=s)
    right = dist("right", (-math.sin(half), -math.cos(half), 0.0), moving=(-a, 0.0, 0.0), target=s)
    return left, right


# ---------------------------------------------------------------------------------------
# one device


def test_linear_segment_follows_the_schedule_day_by_day():
    d = dist("left", (0.2, -1.0, -0.3), moving=(35.0, -20.0, -40.0))
    sched = make_schedule([d], CATALOG, Protocol(latency_days=1.0))
    motion = Motion({"left": "distal"})
    point = np.array([5.0, -60.0, -45.0])  # e.g. the chin, on the moving segment
    first = 1 + 8 / 24
    for t in np.arange(0.0, 20.0, 0.25):
        done = sum(1 for k in range(30) if first + k / 2 <= t + 1e-12)  # turns done by t
        pose = pose_at(motion, sched, t)["distal"]
        moved = apply_affine(pose, point) - point
        assert np.linalg.norm(moved) == pytest.approx(0.5 * done, abs=0.01)
        assert moved == pytest.approx(0.5 * done * np.array(d.vector), abs=0.01)
        assert np.array_equal(pose[:3, :3], np.eye(3))


def test_curvilinear_moving_point_runs_on_the_track():
    d = dist(
        "left",
        (0.0, -1.0, 0.2),
        moving=(30.0, 5.0, -20.0),
        device="curvilinear-20-r40",
        curve=(0.0, 0.3, 1.0),
    )
    dev = CATALOG[d.device]
    centre, axis = curvilinear_track(d, dev)
    m = np.asarray(d.moving_point_mm)
    assert np.linalg.norm(m - centre) == pytest.approx(40.0, abs=1e-12)
    # the centre lies on the curve_toward side, perpendicular to the vector
    assert np.dot(centre - m, d.vector) == pytest.approx(0.0, abs=1e-12)
    assert np.dot(centre - m, d.curve_toward) > 0
    for s in np.linspace(0.0, 20.0, 11):
        pose = device_pose(d, dev, s)
        p = apply_affine(pose, m)
        assert np.linalg.norm(p - centre) == pytest.approx(40.0, abs=1e-9)
        assert np.dot(p - m, axis) == pytest.approx(0.0, abs=1e-9)  # stays in the track plane
        r0, r1 = m - centre, p - centre
        arc = 40.0 * math.atan2(np.linalg.norm(np.cross(r0, r1)), np.dot(r0, r1))
        assert arc == pytest.approx(s, abs=1e-9)
        # rotation angle of the whole segment is s / R
        angle = math.acos(np.clip((np.trace(pose[:3, :3]) - 1) / 2, -1, 1))
        assert angle == pytest.approx(s / 40.0, abs=1e-9)
        assert_rigid(pose, RNG.normal(scale=50.0, size=(20, 3)))
    # it starts along +vector, and curves toward the centre
    step = apply_affine(device_pose(d, dev, 1e-4), m) - m
    assert step / 1e-4 == pytest.approx(np.array(d.vector), abs=1e-5)
    end = apply_affine(device_pose(d, dev, 20.0), m)
    assert np.dot(end - m, d.curve_toward) > 0
    # the chord is shorter than the arc: 2 R sin(s / 2R)
    assert np.linalg.norm(end - m) == pytest.approx(80.0 * math.sin(0.25), abs=1e-9)


def test_device_pose_bad_inputs():
    d = dist("left", (0.0, -1.0, 0.0))
    with pytest.raises(PlannerError, match=r"length 20\.5 mm is outside the stroke"):
        device_pose(d, CATALOG["linear-20"], 20.5)
    with pytest.raises(PlannerError, match="outside the stroke"):
        device_pose(d, CATALOG["linear-20"], -1.0)
    with pytest.raises(ValueError, match="uses 'linear-20'"):
        device_pose(d, CATALOG["linear-25"], 1.0)
    bad = dist("c", (0.0, -1.0, 0.0), device="curvilinear-20-r40", curve=(0.0, 2.0, 0.0))
    with pytest.raises(PlannerError, match="curve_toward is parallel to the vector"):
        device_pose(bad, CATALOG[bad.device], 1.0)
    assert np.array_equal(device_pose(d, CATALOG["linear-20"], 20.0)[:3, 3], [0, -20.0, 0])


# ---------------------------------------------------------------------------------------
# several devices on one segment


def test_single_device_is_exact():
    d = dist(
        "c", (0.0, -1.0, 0.3), moving=(20, 0, 0), device="curvilinear-30-r60", curve=(0, 0, 1)
    )
    sp = solve_segment_pose([d], CATALOG, [12.0])
    assert np.array_equal(sp.matrix, device_pose(d, CATALOG[d.device], 12.0))
    assert sp.residual_mm == {"c": 0.0} and sp.residual_max_mm == {"c": 0.0}


def test_parallel_devices_give_zero_mismatch_and_a_translation():
    v = (0.1, -1.0, -0.2)
    left = dist("left", v, moving=(40.0, 0.0, -30.0), device="linear-20")
    right = dist("right", v, moving=(-40.0, 5.0, -28.0), device="linear-25")  # other model
    sp = solve_segment_pose([left, right], CATALOG, {"left": 12.0, "right": 12.0})
    assert np.allclose(sp.matrix[:3, :3], np.eye(3), atol=1e-12)
    assert sp.matrix[:3, 3] == pytest.approx(12.0 * np.array(left.vector), abs=1e-12)
    assert max(sp.residual_mm.values()) < 1e-9
    assert vector_angles_deg([left, right])[0, 1] == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("theta", [1.0, 5.0, 10.0, 20.0])
@pytest.mark.parametrize("s", [5.0, 15.0])
def test_toe_in_mismatch_is_s_sin_half_theta(theta, s):
    left, right = toe(theta, s=s)
    sp = solve_segment_pose([left, right], CATALOG, [s, s])
    expected = s * math.sin(math.radians(theta) / 2)
    for name in ("left", "right"):
        assert sp.residual_mm[name] == pytest.approx(expected, abs=1e-9)
        assert sp.residual_max_mm[name] == pytest.approx(expected, abs=1e-9)
    # the segment cannot stretch: it translates straight forward by s cos(theta / 2)
    assert np.allclose(sp.matrix[:3, :3], np.eye(3), atol=1e-12)
    assert sp.matrix[:3, 3] == pytest.approx([0, -s * math.cos(math.radians(theta) / 2), 0])
    assert sp.residual_vector_mm["left"] == pytest.approx([-expected, 0, 0], abs=1e-9)
    assert vector_angles_deg([left, right])[0, 1] == pytest.approx(theta, abs=1e-9)


def test_mismatch_does_not_depend_on_the_frame_orientation():
    left, right = toe(10.0)
    a = solve_segment_pose([left, right], CATALOG, [15.0, 15.0])
    # the same problem rotated: poses rotate, residuals do not change
    rot = trimesh.transformations.random_rotation_matrix(rand=RNG.random(3))
    turned = [
        dist(d.name, rot[:3, :3] @ d.vector, moving=rot[:3, :3] @ d.moving_point_mm)
        for d in (left, right)
    ]
    b = solve_segment_pose(turned, CATALOG, [15.0, 15.0])
    for name in ("left", "right"):
        assert b.residual_mm[name] == pytest.approx(a.residual_mm[name], abs=1e-9)
    assert b.matrix == pytest.approx(rot @ a.matrix @ rot.T, abs=1e-9)


def test_solved_poses_are_rigid():
    pts = RNG.normal(scale=60.0, size=(30, 3))
    for _ in range(10):
        ds = [
            dist(
                "a", RNG.normal(size=3) + np.array([0, -3, 0]), moving=RNG.normal(scale=30, size=3)
            ),
            dist(
                "b", RNG.normal(size=3) + np.array([0, -3, 0]), moving=RNG.normal(scale=30, size=3)
            ),
            dist(
                "c",
                [0, -1, 0.2],
                moving=RNG.normal(scale=30, size=3),
                device="curvilinear-30-r60",
                curve=[0, 0, 1],
            ),
        ]
        sp = solve_segment_pose(ds, CATALOG, RNG.uniform(0, 20, size=3))
        assert_rigid(sp.matrix, pts)
        # binding shows up as a residual: unequal devices disagree
        assert max(sp.residual_mm.values()) > 0.01


def test_footplate_frame():
    f = footplate_points((1.0, 2.0, 3.0), half_size_mm=5.0)
    assert f.shape == (7, 3)
    assert f.mean(axis=0) == pytest.approx([1.0, 2.0, 3.0])
    assert np.cov(f.T, bias=True) == pytest.approx(np.eye(3) * 50 / 7)  # isotropic


# ---------------------------------------------------------------------------------------
# segments over time, reports, measurements


def bilateral_case(theta=10.0, s=15.0):
    left, right = toe(theta, s=s)
    sched = make_schedule([left, right], CATALOG, Protocol(latency_days=1.0))
    motion = Motion(
        {"left": "distal", "right": "distal"},
        fixed_segment_of={"left": "proximal_left", "right": "proximal_right"},
    )
    landmarks = {
        "chin": (0.0, -50.0, -10.0),
        "condyle_left": (45.0, 40.0, 30.0),
        "condyle_right": (-45.0, 40.0, 30.0),
        "nasion": (0.0, -60.0, 80.0),
    }
    segments = {
        "chin": "distal",
        "condyle_left": "proximal_left",
        "condyle_right": "proximal_right",
        "nasion": "skull",
    }
    return sched, motion, landmarks, segments


def test_bilateral_report_and_condyle_estimates():
    theta, s = 10.0, 15.0
    sched, motion, landmarks, segments = bilateral_case(theta, s)
    rep = bilateral_report(motion, sched, landmarks_mm=landmarks, landmark_segments=segments)
    e = s * math.sin(math.radians(theta / 2))
    assert rep.angles_deg == {("left", "right"): pytest.approx(theta)}
    assert rep.mismatch_mm == pytest.approx({"left": e, "right": e})
    assert rep.lengths_mm == {"left": 15.0, "right": 15.0}
    assert rep.t_days == sched.end_of_distraction_days
    # condyles pushed medially by the mismatch (left is +x in LPS); estimates are labelled
    assert rep.landmark_moves_mm["condyle_left"] == pytest.approx([-e, 0, 0], abs=1e-9)
    assert rep.landmark_moves_mm["condyle_right"] == pytest.approx([e, 0, 0], abs=1e-9)
    assert set(rep.estimates) == {"condyle_left", "condyle_right"}
    assert all(v.startswith("ESTIMATE") for v in rep.estimates.values())
    assert rep.landmark_moves_mm["nasion"] == pytest.approx([0, 0, 0])
    chin = rep.landmark_moves_mm["chin"]
    assert chin == pytest.approx([0, -s * math.cos(math.radians(theta / 2)), 0])
    assert len(rep.warnings) == 3  # not parallel + mismatch at each side
    assert any("10.0 degrees apart" in w for w in rep.warnings)
    assert sum("binding mismatch" in w for w in rep.warnings) == 2
    json.dumps(to_jsonable(rep))


def test_small_angle_gives_no_warning():
    sched, motion, _, _ = bilateral_case(theta=2.0)  # within the 2.5 degree tolerance
    rep = bilateral_report(motion, sched)
    assert rep.warnings == ()
    assert rep.mismatch_mm["left"] == pytest.approx(15 * math.sin(math.radians(1.0)))
    strict = bilateral_report(motion, sched, settings=MotionSettings(parallel_tolerance_deg=1.0))
    assert len(strict.warnings) == 1


def test_vertical_vector_warning():
    d = dist("ramus_left", (0.0, -0.3, 1.0), moving=(40, 20, 0))
    sched = make_schedule([d], CATALOG, Protocol())
    motion = Motion({"ramus_left": "ramus"})
    rep = bilateral_report(motion, sched)
    assert len(rep.warnings) == 1 and "posterior open bite" in rep.warnings[0]
    assert bilateral_report(motion, sched, ramus_distractors=[]).warnings == ()


def test_non_parallel_devices_on_different_segments_do_not_bind():
    left, right = toe(20.0)
    sched = make_schedule([left, right], CATALOG, Protocol())
    rep = bilateral_report(Motion({"left": "a", "right": "b"}), sched)
    assert rep.warnings == ()
    assert rep.mismatch_mm == {"left": 0.0, "right": 0.0}
    assert rep.angles_deg[("left", "right")] == pytest.approx(20.0)


def test_measure_bilateral():
    theta, s = 10.0, 15.0
    sched, motion, landmarks, segments = bilateral_case(theta, s)
    m = measure(motion, sched, landmarks, segments)
    fwd = s * math.cos(math.radians(theta / 2))
    e = s * math.sin(math.radians(theta / 2))
    assert m.advancement.landmark == "chin"
    assert m.advancement.length_mm == pytest.approx(fwd)
    assert m.advancement.anterior_mm == pytest.approx(fwd)
    assert m.advancement.vertical_mm == pytest.approx(0.0, abs=1e-9)
    assert m.intercondylar_mm == pytest.approx((90.0, 90.0 - 2 * e))
    chin, cond = np.array(landmarks["chin"]), np.array(landmarks["condyle_left"])
    after = np.linalg.norm(chin + np.array([0, -fwd, 0]) - cond - np.array([-e, 0, 0]))
    assert m.mandibular_length_mm["condyle_left"] == pytest.approx(
        (np.linalg.norm(chin - cond), after)
    )
    assert set(m.estimates) == {"condyle_left", "condyle_right"}
    assert m.warnings == ()
    # without the binding estimate the condyles stay put
    plain = measure(motion, sched, landmarks, segments, binding=False)
    assert plain.intercondylar_mm == pytest.approx((90.0, 90.0))
    assert plain.estimates == {}
    json.dumps(to_jsonable(m))


def test_measure_unilateral_warns_about_a_condyle_on_the_moving_segment():
    d = dist("left", (0.0, -1.0, 0.5), moving=(40.0, 0.0, -20.0))
    sched = make_schedule([d], CATALOG, Protocol())
    motion = Motion({"left": "body"}, fixed_segment_of={"left": "proximal_left"})
    landmarks = {
        "chin": (0, -50, -10),
        "condyle_left": (45, 40, 30),
        "condyle_right": (-45, 40, 30),
    }
    segments = {"chin": "body", "condyle_left": "proximal_left", "condyle_right": "body"}
    m = measure(motion, sched, landmarks, segments)
    assert m.advancement.vertical_mm == pytest.approx(15.0 * d.vector[2])
    assert m.advancement.anterior_mm == pytest.approx(-15.0 * d.vector[1])
    assert len(m.warnings) == 1 and "condyle_right lies on the moving segment" in m.warnings[0]
    assert m.estimates == {}  # one device: no mismatch, the proximal segment stays put
    assert m.mandibular_length_mm["condyle_right"][0] == pytest.approx(
        m.mandibular_length_mm["condyle_right"][1]
    )
    missing = measure(motion, sched, {}, {})
    assert missing.advancement is None and "'chin' is not set" in missing.warnings[0]


def test_pose_at_continuous_and_segment_poses():
    sched, motion, _, _ = bilateral_case(theta=6.0)
    poses = segment_poses(motion, sched, continuous=True)
    for a in sched.activations[::7]:
        step = pose_at(motion, sched, a.time_days)["distal"]
        assert poses(a.time_days)["distal"] == pytest.approx(step, abs=1e-12)
    t = sched.first_activation_days + 2.25  # between turns 5 and 6 (2.5 and 3 mm)
    mid = poses(t)["distal"][:3, 3]
    lo = pose_at(motion, sched, t)["distal"][:3, 3]
    hi = pose_at(motion, sched, t + 0.25)["distal"][:3, 3]
    assert mid == pytest.approx((lo + hi) / 2, abs=1e-9)
    assert length_at(sched, "left", t, continuous=True) == pytest.approx(2.75)


def test_motion_checks():
    with pytest.raises(PlannerError, match="both footplates on segment 'a'"):
        Motion({"left": "a"}, fixed_segment_of={"left": "a"})
    with pytest.raises(PlannerError, match="chained segments"):
        Motion({"left": "a", "right": "b"}, fixed_segment_of={"right": "a"})
    sched, _, _, _ = bilateral_case()
    with pytest.raises(ValueError, match="no moving segment for: right"):
        pose_at(Motion({"left": "a"}), sched, 3.0)
    with pytest.raises(ValueError, match="not in the schedule: ghost"):
        pose_at(Motion({"left": "a", "right": "a", "ghost": "a"}), sched, 3.0)
    assert Motion({"left": "a", "right": "a", "x": "b"}).segments == {
        "a": ("left", "right"),
        "b": ("x",),
    }


def test_landmarks_on_a_segment_with_two_fixed_footplates_stay_put():
    left, right = toe(10.0)
    sched = make_schedule([left, right], CATALOG, Protocol())
    motion = Motion({"left": "face", "right": "face"}, {"left": "skull", "right": "skull"})
    pos, est = landmark_positions(
        motion, sched, {"nasion": (0, -60, 80)}, {"nasion": "skull"}, 100.0
    )
    assert pos["nasion"] == pytest.approx([0, -60, 80]) and est == {}


def test_moved_mesh_is_a_rigid_copy():
    mesh = trimesh.creation.box(extents=(10, 20, 30))
    before = mesh.vertices.copy()
    d = dist("c", (0, -1, 0), device="curvilinear-20-r40", curve=(0, 0, 1))
    pose = device_pose(d, CATALOG[d.device], 17.0)
    out = moved_mesh(mesh, pose)
    assert np.array_equal(mesh.vertices, before)
    assert out.vertices == pytest.approx(apply_affine(pose, before), abs=1e-12)
    assert out.volume == pytest.approx(mesh.volume)
    scale = np.diag([2.0, 1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="rigid"):
        moved_mesh(mesh, scale)
    with pytest.raises(TypeError):
        moved_mesh(before, pose)

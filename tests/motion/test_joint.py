"""A segment that carries a joint turns about it: ball joint and hinge, analytic cases."""

import math

import numpy as np
import pytest

from planner.geometry import apply_affine, rigid_pose, rotation_about_axis
from planner.motion.distraction import Motion, footplate_points, solve_at, solve_segment_pose
from planner.motion.joint import fit_about_joints, joints_on_moving_segments
from planner.motion.measure import bilateral_report, measure
from planner.motion.schedule import make_schedule
from planner.plan.case import Distractor, Protocol
from planner.plan.devices import device_catalog

CATALOG = device_catalog()
CONDYLE = np.array([35.0, 5.0, -20.0])  # the far condyle, LPS mm
MOVING = np.array([-35.0, 10.0, -55.0])  # the moving footplate on the near ramus


def rotation_about(point, axis, angle_rad):
    rot = rotation_about_axis(axis, angle_rad)
    return rigid_pose(rot, np.asarray(point) - rot @ point)


def assert_rigid(pose):
    rot = pose[:3, :3]
    assert np.allclose(rot.T @ rot, np.eye(3), atol=1e-12)
    assert np.linalg.det(rot) == pytest.approx(1.0, abs=1e-12)


def test_ball_joint_recovers_a_rotation_about_the_joint():
    pose = rotation_about(CONDYLE, [0.3, -1.0, 0.2], math.radians(7))
    src = footplate_points(MOVING)
    got = fit_about_joints(src, apply_affine(pose, src), [CONDYLE])
    assert np.allclose(got, pose, atol=1e-9)


def test_hinge_recovers_a_rotation_about_its_axis():
    other = CONDYLE * [-1, 1, 1]
    pose = rotation_about(CONDYLE, other - CONDYLE, math.radians(-11))
    src = footplate_points(MOVING)
    got = fit_about_joints(src, apply_affine(pose, src), [CONDYLE, other])
    assert np.allclose(got, pose, atol=1e-9)


def test_hinge_is_the_best_angle_about_its_axis():
    """No angle about the axis fits the targets better than the one returned."""
    other = CONDYLE * [-1, 1, 1]
    src = footplate_points(MOVING)
    dst = src + np.array([0.0, -8.0, -6.0])  # a translation: no hinge rotation reaches it
    got = fit_about_joints(src, dst, [CONDYLE, other])
    assert_rigid(got)
    best = np.sum((apply_affine(got, src) - dst) ** 2)
    for deg in np.linspace(-30, 30, 601):
        trial = rotation_about(CONDYLE, other - CONDYLE, math.radians(deg))
        assert np.sum((apply_affine(trial, src) - dst) ** 2) >= best - 1e-9


@pytest.mark.parametrize("bad", [np.zeros((0, 3)), [CONDYLE, CONDYLE], [CONDYLE] * 3])
def test_joints_must_be_one_point_or_two_distinct_points(bad):
    src = footplate_points(MOVING)
    with pytest.raises(ValueError, match="joints_mm"):
        fit_about_joints(src, src, bad)


def distractor(vector, target=15.0):
    v = np.asarray(vector, dtype=float) / np.linalg.norm(vector)
    return Distractor(
        name="right",
        device="linear-20",
        fixed_point_mm=tuple(MOVING + np.array([0.0, 0.0, 10.0])),
        moving_point_mm=tuple(MOVING),
        vector=tuple(v),
        target_mm=target,
    )


def test_the_joint_stays_and_a_push_across_the_lever_arm_is_a_turn():
    """A push square to the line from the joint: the point moves ~s along an arc about it."""
    arm = MOVING - CONDYLE
    across = np.cross(arm, [0.0, 1.0, 0.0])  # square to the lever arm
    d = distractor(across, target=5.0)
    sp = solve_segment_pose([d], CATALOG, [5.0], joints_mm=[CONDYLE])
    assert_rigid(sp.matrix)
    assert np.allclose(apply_affine(sp.matrix, CONDYLE), CONDYLE, atol=1e-9)
    moved = apply_affine(sp.matrix, MOVING)
    # on the sphere about the joint, close to where the device alone would put it
    assert np.linalg.norm(moved - CONDYLE) == pytest.approx(np.linalg.norm(arm), abs=1e-9)
    r = np.linalg.norm(arm)
    assert np.linalg.norm(moved - MOVING) == pytest.approx(5.0, abs=5.0**2 / r)
    assert np.linalg.norm(sp.residual_vector_mm["right"]) < 5.0**2 / r  # the arc's sagitta


def test_a_push_towards_the_joint_cannot_move_the_segment():
    """Along the lever arm the joint forbids it all: the whole length is the residual."""
    d = distractor(CONDYLE - MOVING, target=6.0)
    sp = solve_segment_pose([d], CATALOG, [6.0], joints_mm=[CONDYLE])
    assert np.allclose(sp.matrix, np.eye(4), atol=1e-6)
    assert np.linalg.norm(sp.residual_vector_mm["right"]) == pytest.approx(6.0, abs=1e-4)


def test_a_condyle_on_the_moving_segment_is_held_and_reported():
    """One-sided plan: the far condyle lies on the moving segment; the segment turns about it."""
    d = distractor([0.0, -0.5, -1.0])
    landmarks = {"condyle_left": tuple(CONDYLE), "chin": (0.0, -60.0, -60.0)}
    segments = {"condyle_left": "body", "chin": "body"}
    joints = joints_on_moving_segments(landmarks, segments, {"body"})
    assert joints == {"body": (tuple(CONDYLE),)}
    motion = Motion({"right": "body"}, joints_mm=joints)
    sched = make_schedule([d], CATALOG, Protocol())
    end = sched.end_of_distraction_days
    pose = solve_at(motion, sched, end)["body"].matrix
    assert np.allclose(apply_affine(pose, CONDYLE), CONDYLE, atol=1e-9)
    chin = apply_affine(pose, landmarks["chin"])
    assert chin[0] > 1.0  # a right ramus pushed down turns the chin to the left (+x)
    found = measure(motion, sched, landmarks, segments)
    assert any("held in its joint" in w for w in found.warnings)
    report = bilateral_report(motion, sched, landmarks_mm=landmarks, landmark_segments=segments)
    assert any("turns and misses the path of 'right'" in w for w in report.warnings)


def test_joints_must_be_on_moving_segments():
    with pytest.raises(ValueError, match="no distractor moves"):
        Motion({"right": "body"}, joints_mm={"skull": (tuple(CONDYLE),)})

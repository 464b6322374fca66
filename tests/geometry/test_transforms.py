import math

import numpy as np
import pytest

from planner.errors import PlannerError
from planner.geometry import (
    apply_affine,
    check_pose,
    invert_pose,
    rigid_pose,
    rotation_about_axis,
    unit,
)


def _random_pose(rng):
    axis = rng.normal(size=3)
    return rigid_pose(
        rotation_about_axis(axis, rng.uniform(-math.pi, math.pi)), rng.normal(size=3)
    )


def test_apply_known_answers():
    quarter = rigid_pose(rotation_about_axis([0, 0, 1], math.pi / 2), [10.0, 0, 0])
    assert apply_affine(quarter, [1.0, 0, 0]) == pytest.approx([10.0, 1.0, 0.0])
    assert apply_affine(quarter, [[1.0, 0, 0], [0, 0, 5]]) == pytest.approx(
        np.array([[10.0, 1, 0], [10, 0, 5]])
    )
    scale = np.diag([2.0, 2.0, 2.0, 1.0])
    scale[:3, 3] = 1.0
    assert apply_affine(scale, [[1.0, 0.0, 0.0]]) == pytest.approx(np.array([[3.0, 1, 1]]))
    assert apply_affine(np.eye(4), np.zeros((2, 4, 3))).shape == (2, 4, 3)


def test_apply_refuses_bad_shapes():
    with pytest.raises(ValueError, match=r"\(4, 4\)"):
        apply_affine(np.eye(3), [0.0, 0, 0])
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        apply_affine(np.eye(4), [0.0, 0])


def test_invert_is_exact_for_rigid_poses():
    rng = np.random.default_rng(5)
    for _ in range(20):
        pose = _random_pose(rng)
        assert invert_pose(pose) @ pose == pytest.approx(np.eye(4), abs=1e-12)
        assert invert_pose(pose) == pytest.approx(np.linalg.inv(pose), abs=1e-12)
        assert check_pose(pose) is not None


def test_rotation_follows_the_right_hand_rule():
    r = rotation_about_axis([0, 0, 2.0], math.pi / 2)  # axis need not be unit
    assert r @ [1.0, 0, 0] == pytest.approx([0.0, 1.0, 0.0])
    with pytest.raises(PlannerError, match="rotation axis"):
        rotation_about_axis([0, 0, 0], 1.0)


@pytest.mark.parametrize(
    "pose, message",
    [
        (np.eye(3), "shape"),
        (np.full((4, 4), np.nan), "finite"),
        (np.diag([2.0, 1, 1, 1]), "rigid"),
        (np.diag([-1.0, 1, 1, 1]), "rigid"),  # a mirror
        (np.array([[1.0, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 1, 1]]), "rigid"),
    ],
)
def test_check_pose_refuses(pose, message):
    with pytest.raises(ValueError, match=message):
        check_pose(pose, "the pose")


def test_unit_vectors():
    assert unit([3.0, 0, 4]) == pytest.approx([0.6, 0, 0.8])
    assert unit([[0.0, 0, 2], [0, 0, 0]]) == pytest.approx(np.array([[0, 0, 1.0], [0, 0, 0]]))
    assert unit([1e308, 1e308, 0]) == pytest.approx([2**-0.5, 2**-0.5, 0])  # no overflow
    assert unit([1e-300, 0, 0]) == pytest.approx([1.0, 0, 0])  # no underflow
    assert unit([np.nan, 0, 1]).tolist() == [0.0, 0.0, 0.0]
    assert unit([np.inf, 0, 1]).tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(PlannerError, match="vector of 'left' must be a finite, non-zero"):
        unit([0, 0, 0], name="vector of 'left'")
    with pytest.raises(PlannerError, match="finite, non-zero"):
        unit([np.inf, 0, 0], name="v")
    with pytest.raises(PlannerError, match="3-vector"):
        unit([1.0, 2.0], name="v")
    with pytest.raises(ValueError, match="shape"):
        unit([1.0, 2.0])

"""The scene at a day: items, poses, colours, cached meshes, devices at their length."""

import numpy as np
import pytest

from planner.render.scene import MOVING_COLORS, ROLE_COLORS, ROLES, scene_at
from tests.render.cases import TARGET_MM, VECTOR, make_plan


def by_name(items):
    return {it.name: it for it in items}


def test_items_roles_and_poses_follow_the_plan():
    plan = make_plan()
    end = plan.schedule.end_of_distraction_days
    start, last = by_name(scene_at(plan, 0.0)), by_name(scene_at(plan, end))
    assert set(start) == {
        "segment:skull",
        "segment:mandible_fixed_d",
        "segment:mandible_moving_d",
        "cut:cut",
        "vector:d",
        "device:d",
    }
    assert all(it.role in ROLES for it in start.values())
    assert start["segment:mandible_moving_d"].role == "moving"
    assert start["segment:mandible_moving_d"].color_rgba == MOVING_COLORS[0]
    assert start["segment:skull"].color_rgba == ROLE_COLORS["fixed"]
    assert np.allclose(start["segment:mandible_moving_d"].pose, np.eye(4))
    moved = last["segment:mandible_moving_d"].pose
    assert np.allclose(moved[:3, :3], np.eye(3))
    assert np.allclose(moved[:3, 3], TARGET_MM * VECTOR, atol=1e-9)
    assert np.allclose(last["segment:skull"].pose, np.eye(4))


def test_static_meshes_are_cached_and_devices_lengthen():
    plan = make_plan()
    end = plan.schedule.end_of_distraction_days
    a, b = by_name(scene_at(plan, 0.0)), by_name(scene_at(plan, end))
    for name in ("segment:skull", "segment:mandible_moving_d", "cut:cut", "vector:d"):
        assert a[name].mesh is b[name].mesh
    # the device's moving end travels with the segment: its far extent grows by the target
    reach0 = a["device:d"].mesh.vertices @ VECTOR
    reach1 = b["device:d"].mesh.vertices @ VECTOR
    assert reach1.max() - reach0.max() == pytest.approx(TARGET_MM, abs=1e-6)
    assert reach1.min() == pytest.approx(reach0.min(), abs=1e-6)  # the fixed end stays


def test_step_and_continuous_days():
    plan = make_plan()
    first = plan.schedule.activations[0]
    half = first.time_days - 0.25  # half an interval before the first turn
    step = by_name(scene_at(plan, half))["segment:mandible_moving_d"].pose
    smooth = by_name(scene_at(plan, half, continuous=True))["segment:mandible_moving_d"].pose
    assert np.allclose(step, np.eye(4))
    assert np.linalg.norm(smooth[:3, 3]) == pytest.approx(first.mm / 2)


@pytest.mark.parametrize("radius", [0.5, 1.25])
def test_a_placed_unit_cylinder_is_trimesh_s_cylinder(radius):
    """Same volume, faces, ends and radius (turned about its axis as the scene turns it)."""
    import trimesh

    from planner.render.scene import cylinder_between

    a, b = np.array([1.0, -2.0, 3.0]), np.array([4.0, 2.0, -9.0])
    fast = cylinder_between(a, b, radius)
    axis = (b - a) / np.linalg.norm(b - a)
    ref = trimesh.creation.cylinder(radius=radius, segment=[a, b], sections=12)
    assert fast.is_watertight and fast.volume == pytest.approx(ref.volume, rel=1e-12)
    assert len(fast.faces) == len(ref.faces)
    ends = fast.vertices @ axis
    assert ends.min() == pytest.approx(a @ axis) and ends.max() == pytest.approx(b @ axis)
    off_axis = fast.vertices - a - np.outer((fast.vertices - a) @ axis, axis)
    np.testing.assert_allclose(np.linalg.norm(off_axis, axis=1).max(), radius)

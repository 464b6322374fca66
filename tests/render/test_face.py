"""The skin from a CT and the stated soft-tissue model, on a synthetic ball of tissue."""

import math

import numpy as np
import pytest

from planner.render.face import (
    FULL_WITHIN_MM,
    SOFT_TISSUE_RATIO,
    face_items,
    skin_model,
    skin_surface,
)
from planner.scan.volume import Volume
from tests.render.cases import TARGET_MM, VECTOR, make_plan

RADIUS_MM = 46.0  # the moving bar ends 40 mm from the centre: skin within 12 mm of it


def ball_volume():
    """Soft tissue (40 HU) in a ball of RADIUS_MM about the origin, air outside; 2 mm voxels."""
    n = 72
    idx = np.indices((n, n, n)).astype(float)
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    affine[:3, 3] = -(n - 1)  # centre at the origin
    xyz = np.stack([affine[i, i] * idx[i] + affine[i, 3] for i in range(3)])
    r = np.sqrt((xyz**2).sum(axis=0))
    # a linear ramp 4 mm wide across the boundary: the -300 HU level is at r = RADIUS_MM
    level = (40 - -300) / 1040
    hu = (40 - 1040 * np.clip((r - RADIUS_MM) / 4 + level, 0, 1)).astype(np.float32)
    return Volume(hu=hu, affine=affine)


def test_skin_is_the_outer_surface():
    skin = skin_surface(ball_volume())
    r = np.linalg.norm(skin.vertices, axis=1)
    assert r.mean() == pytest.approx(RADIUS_MM, abs=1.5)
    assert skin.area == pytest.approx(4 * math.pi * RADIUS_MM**2, rel=0.05)


def test_soft_tissue_follows_the_bone_with_the_stated_ratio():
    plan = make_plan()
    skin = skin_surface(ball_volume())
    model = skin_model(plan, skin)
    (w,) = model.weights.values()
    bar = plan.segments["mandible_moving_d"]
    from scipy.spatial import cKDTree

    d, _ = cKDTree(bar.vertices).query(skin.vertices)
    assert np.allclose(w[d <= FULL_WITHIN_MM], SOFT_TISSUE_RATIO)
    assert np.all(w[d > FULL_WITHIN_MM + 50] < 1e-3)
    assert np.all(np.diff(w[np.argsort(d)]) <= 1e-12)  # falls off with distance
    end = plan.schedule.end_of_distraction_days
    (item,) = face_items(model, plan, end)
    moved = item.mesh.vertices - skin.vertices
    near = d <= FULL_WITHIN_MM
    assert near.any()
    assert np.allclose(moved[near], SOFT_TISSUE_RATIO * TARGET_MM * VECTOR, atol=1e-9)

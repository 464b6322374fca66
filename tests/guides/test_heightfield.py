"""The sag of the guide's flat faces below the clearance envelope, on analytic cases."""

from __future__ import annotations

import numpy as np

from planner.guides import heightfield as hf

RADIUS_MM = 0.25
STEP_MM = 0.25


def _grid(n=24):
    return hf.Grid(np.eye(3), np.array([-3.0, -3.0]), STEP_MM, (n, n))


def _crease_samples(slope_deg=60.0):
    """A sharp convex bone edge: a roof of two planes falling ``slope_deg`` each side of a
    ridge 30° off the grid's x, sampled every 0.02 mm."""
    a, b = np.meshgrid(np.arange(-6.0, 6.0, 0.02), np.arange(-4.0, 4.0, 0.02))
    a, b = a.ravel(), b.ravel()
    c, s = np.cos(np.radians(30)), np.sin(np.radians(30))
    z = -np.abs(b) * np.tan(np.radians(slope_deg))
    return np.stack([a * c - b * s, a * s + b * c, z], axis=1)


def _centroid_sags(grid, height, samples):
    """Envelope at each triangle's centroid minus the mean of its corners (mm)."""
    nx, ny = grid.shape
    sags = []
    for offset, corners in zip(
        hf.FACE_CENTROIDS, ((0, 0, 1, 0, 1, 1), (0, 0, 1, 1, 0, 1)), strict=True
    ):
        shifted = hf.Grid(
            grid.rotation, grid.origin + STEP_MM * np.array(offset), STEP_MM, (nx, ny)
        )
        env = hf.point_balls(shifted, samples, RADIUS_MM)[:-1, :-1]
        c = np.reshape(corners, (3, 2))
        mean = sum(height[di : nx - 1 + di, dj : ny - 1 + dj] for di, dj in c) / 3
        low = np.min([height[di : nx - 1 + di, dj : ny - 1 + dj] for di, dj in c], axis=0)
        ok = (env > hf.NO_HEIGHT / 2) & (low > hf.NO_HEIGHT / 2)
        sags.append((env - mean)[ok])
    return np.concatenate(sags)


def test_lift_keeps_every_face_centre_within_the_allowance_over_a_crease():
    grid, samples = _grid(), _crease_samples()
    z = hf.point_balls(grid, samples, RADIUS_MM)
    z = np.where(z > hf.NO_HEIGHT / 2, z, hf.NO_HEIGHT)
    before = _centroid_sags(grid, z, samples)
    # over an edge the envelope is a cylinder of the clearance's radius (0.25 mm), as wide
    # as a face: the faces across it sag 0.036 mm below it, beyond the allowance
    assert before.max() > 0.035
    lift = hf.face_sag_lift(grid, z, samples, RADIUS_MM, 0.03)
    after = _centroid_sags(grid, z + lift, samples)
    assert after.max() <= 0.03 + 1e-9
    assert 0 <= lift.min() and lift.max() <= before.max() - 0.03 + 1e-9


def test_no_lift_on_a_flat_bone():
    grid = _grid()
    x, y = np.meshgrid(np.arange(-4, 4, 0.05), np.arange(-4, 4, 0.05))
    samples = np.stack([x.ravel(), y.ravel(), 0 * x.ravel()], axis=1)
    z = hf.point_balls(grid, samples, RADIUS_MM)
    assert np.all(hf.face_sag_lift(grid, z, samples, RADIUS_MM, 0.03) == 0)

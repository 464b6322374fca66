"""The part of a piece within reach of another piece's whole movement: :func:`within_reach`.

A moving segment only ever meets the triangles of the other piece near the path it
sweeps; a skull of 200k triangles is mostly out of reach of a mandible segment. Culling
the other piece to those triangles once, before its bounding hierarchy is built, makes
every distance query of the sweep cheaper and leaves every answer unchanged: the closest
triangle of the other piece is always kept (see :func:`within_reach`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.spatial import cKDTree

from planner.geometry import apply_affine
from planner.motion.collision.surface import Surface

__all__ = ["within_reach"]

_VOXEL_MM = 1.0  # the swept path is kept as the voxels its vertices pass through
_SAMPLE = 1000  # vertices per pose that bound the distance from above


def _upper_bound(part: Surface, poses: Sequence[np.ndarray], other: Surface, step_mm) -> float:
    """An upper bound on the distance from ``part`` to ``other`` over ``poses`` (mm): at
    each pose, the smallest distance from a sample of its vertices to a corner of
    ``other`` (the sample's closest vertex moves at most ``step_mm`` to the next pose)."""
    sample = part.vertices[:: max(1, len(part.vertices) // _SAMPLE)]
    tree, worst, last = other.index.vertex_tree, 0.0, np.inf
    for pose in poses:
        dist = tree.query(apply_affine(pose, sample), distance_upper_bound=last + step_mm)[0]
        last = float(dist.min())
        if not np.isfinite(last):  # (not when step_mm bounds the motion, as it should)
            last = float(tree.query(apply_affine(pose, sample))[0].min())
        worst = max(worst, last)
    return worst


def within_reach(
    moving: Surface,
    parts: Sequence[Surface],
    poses: Sequence[np.ndarray],
    other: Surface,
    motion_mm: float,
) -> np.ndarray:
    """Mask ``(m,) bool`` of the faces of ``other`` that can be the closest to a part.

    Parameters
    ----------
    moving : Surface
        The moving piece (local frame); ``parts`` are subsets of it whose distance to
        ``other`` is measured (the whole piece, or its initial contact zone and the rest).
    poses : sequence of (4, 4) float
        The moving piece's pose in ``other``'s frame at every sample time.
    other : Surface
        The other piece, in its own frame.
    motion_mm : float
        The largest displacement of a point of ``moving`` between two consecutive sample
        times (between samples each point stays within it of its position at either end).

    Returns
    -------
    (m,) bool
        Faces of ``other`` (in its order) within reach: at any time ``t`` between the
        samples, the distance of a part is at most ``R``, its largest sampled upper bound
        plus ``motion_mm``; its closest point lies on a moving triangle within
        ``2 max(radius)`` of a vertex, itself within ``motion_mm`` of that vertex at a
        sample time, i.e. in a voxel of the swept vertices. A face is kept when its centroid
        is within ``R + 2 max(radius) + motion_mm + voxel diagonal / 2 + its radius`` of
        the centre of such a voxel, so the closest face is always kept.
    """
    reach = max(_upper_bound(p, poses, other, motion_mm) for p in parts) + motion_mm
    reach += 2.0 * float(moving.radius.max()) + motion_mm + _VOXEL_MM * np.sqrt(3) / 2
    swept = np.vstack([apply_affine(pose, moving.vertices) for pose in poses])
    cells = np.floor(swept / _VOXEL_MM).astype(np.int64)
    lo = cells.min(axis=0)
    cells -= lo
    size = cells.max(axis=0) + 1
    flat = np.unique((cells[:, 0] * size[1] + cells[:, 1]) * size[2] + cells[:, 2])
    voxels = np.stack(np.unravel_index(flat, tuple(size)), axis=1) + lo
    tree = cKDTree((voxels + 0.5) * _VOXEL_MM)
    radius = other.radius
    dist = tree.query(other.centroids, distance_upper_bound=reach + radius.max())[0]
    return dist <= reach + radius + 1e-6 * (1.0 + reach)

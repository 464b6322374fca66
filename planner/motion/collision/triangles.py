"""Exact distances between triangles, many pairs at once (the collision engine's kernel).

Points on triangles and segments come from :mod:`planner.geometry`; here they are combined
into triangle-triangle distances: 6 point-triangle, 9 segment-segment and 6
edge-through-triangle tests per pair.
"""

from __future__ import annotations

import numpy as np

from planner.geometry import closest_point_on_triangles, closest_points_on_segments

__all__ = ["segment_hits_triangle", "triangle_distance"]


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("...i,...i->...", a, b)


def segment_hits_triangle(p, q, a, b, c):
    """Where segments ``pq`` pierce triangles ``abc``: ``(mask (n,), points (n, 3))``."""
    d, e1, e2 = q - p, b - a, c - a
    h = np.cross(d, e2)
    det = _dot(e1, h)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / det
        s = p - a
        u = inv * _dot(s, h)
        qv = np.cross(s, e1)
        v = inv * _dot(d, qv)
        t = inv * _dot(e2, qv)
        scale = _dot(e1, e1) * _dot(d, d)
        hit = (np.abs(det) > 1e-12 * scale) & (u >= 0) & (v >= 0) & (u + v <= 1)
        hit &= (t >= 0) & (t <= 1)
    return hit, p + d * np.where(hit, t, 0.0)[:, None]


def triangle_distance(ta: np.ndarray, tb: np.ndarray):
    """Exact distances between triangle pairs ``ta``, ``tb`` ``(n, 3, 3)``.

    Returns ``(distance (n,), point_a (n, 3), point_b (n, 3))``; 0 where they intersect.
    """
    cands_a, cands_b = [], []
    for k in range(3):
        cands_a.append(ta[:, k])
        cands_b.append(closest_point_on_triangles(ta[:, k], tb))
        cands_b.append(tb[:, k])
        cands_a.append(closest_point_on_triangles(tb[:, k], ta))
    for i in range(3):
        for j in range(3):
            pa, pb = closest_points_on_segments(
                ta[:, i], ta[:, (i + 1) % 3], tb[:, j], tb[:, (j + 1) % 3]
            )
            cands_a.append(pa)
            cands_b.append(pb)
    pa, pb = np.stack(cands_a), np.stack(cands_b)  # (m, n, 3)
    dist = np.linalg.norm(pa - pb, axis=2)
    dist[~np.isfinite(dist)] = np.inf
    best = dist.argmin(axis=0)
    cols = np.arange(ta.shape[0])
    d, pa, pb = dist[best, cols], pa[best, cols], pb[best, cols]
    for edges, tri in ((ta, tb), (tb, ta)):
        for i in range(3):
            hit, x = segment_hits_triangle(
                edges[:, i], edges[:, (i + 1) % 3], *tri.transpose(1, 0, 2)
            )
            d = np.where(hit, 0.0, d)
            pa = np.where(hit[:, None], x, pa)
            pb = np.where(hit[:, None], x, pb)
    return d, pa, pb

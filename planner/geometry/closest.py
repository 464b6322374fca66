"""Closest points on triangles, segments and triangle surfaces.

:func:`closest_point_on_triangles` is the fast, vectorised kernel (Ericson, *Real-Time
Collision Detection*, 5.1.5: the Voronoi region of the triangle that holds the point);
:func:`closest_point_on_triangles_naive` is a plain reference written differently
(project on the plane, else the nearest edge), kept beside it for tests, as trimesh does
in ``proximity.py``. Against a whole surface: :func:`closest_point_on_surface` for a few
points (pruned by bounding boxes, nothing built), :class:`SurfaceIndex` for many (two k-d
trees, built once).
"""

from __future__ import annotations

import itertools

import numpy as np

__all__ = [
    "SurfaceIndex",
    "closest_point_on_surface",
    "closest_point_on_triangles",
    "closest_point_on_triangles_naive",
    "closest_points_on_segments",
    "triangle_bounds",
]


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("...i,...i->...", a, b)


def closest_point_on_triangles(points, triangles) -> np.ndarray:
    """Closest point on each triangle to the point of the same row.

    Parameters
    ----------
    points : (n, 3) float
    triangles : (n, 3, 3) float
        Vertices ``a, b, c`` of each triangle (any orientation; degenerate triangles, flat
        to a segment or a point, are handled through their edges).

    Returns
    -------
    (n, 3) float
        ``closest[i]`` is the point of triangle ``i`` nearest ``points[i]``.
    """
    p = np.asarray(points, dtype=float).reshape(-1, 3)
    tri = np.asarray(triangles, dtype=float).reshape(-1, 3, 3)
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
    ab, ac = b - a, c - a
    d1, d2 = _dot(ab, p - a), _dot(ac, p - a)
    d3, d4 = _dot(ab, p - b), _dot(ac, p - b)
    d5, d6 = _dot(ab, p - c), _dot(ac, p - c)
    va, vb, vc = d3 * d6 - d5 * d4, d5 * d2 - d1 * d6, d1 * d4 - d3 * d2
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        den = va + vb + vc
        out = a + ab * (vb / den)[:, None] + ac * (vc / den)[:, None]
        e43, e56 = d4 - d3, d5 - d6
        regions = (  # lowest priority first; later ones override
            ((va <= 0) & (e43 >= 0) & (e56 >= 0), b + (c - b) * (e43 / (e43 + e56))[:, None]),
            ((vb <= 0) & (d2 >= 0) & (d6 <= 0), a + ac * (d2 / (d2 - d6))[:, None]),
            ((d6 >= 0) & (d5 <= d6), c),
            ((vc <= 0) & (d1 >= 0) & (d3 <= 0), a + ab * (d1 / (d1 - d3))[:, None]),
            ((d3 >= 0) & (d4 <= d3), b),
            ((d1 <= 0) & (d2 <= 0), a),
        )
        for mask, q in regions:
            out = np.where(mask[:, None], q, out)
    bad = ~np.all(np.isfinite(out), axis=1)
    if np.any(bad):  # degenerate triangles (0/0): the nearest point of their edges
        out[bad] = _closest_on_edges(p[bad], tri[bad])
    return out


def _closest_on_edges(p: np.ndarray, tri: np.ndarray) -> np.ndarray:
    """Closest point to ``p (n, 3)`` on the three edges of ``tri (n, 3, 3)``."""
    cands = np.stack(
        [closest_points_on_segments(p, p, tri[:, k], tri[:, (k + 1) % 3])[1] for k in range(3)]
    )
    dist = np.linalg.norm(cands - p, axis=2)
    return cands[np.argmin(dist, axis=0), np.arange(len(p))]


def closest_point_on_triangles_naive(points, triangles) -> np.ndarray:
    """Reference for :func:`closest_point_on_triangles`, one row at a time.

    The projection on the triangle's plane if it falls inside (barycentric test), else the
    nearest of the closest points on the three edges. Slow; for tests.
    """
    p_all = np.asarray(points, dtype=float).reshape(-1, 3)
    tri_all = np.asarray(triangles, dtype=float).reshape(-1, 3, 3)
    out = np.empty_like(p_all)
    for i, (p, (a, b, c)) in enumerate(zip(p_all, tri_all, strict=True)):
        n = np.cross(b - a, c - a)
        nn = float(n @ n)
        if nn > 0:
            q = p - n * float((p - a) @ n) / nn
            u = np.cross(c - b, q - b) @ n
            v = np.cross(a - c, q - c) @ n
            w = np.cross(b - a, q - a) @ n
            if u >= 0 and v >= 0 and w >= 0:
                out[i] = q
                continue
        best = None
        for s, e in ((a, b), (b, c), (c, a)):
            d = e - s
            dd = float(d @ d)
            t = 0.0 if dd == 0 else min(1.0, max(0.0, float((p - s) @ d) / dd))
            x = s + t * d
            if best is None or np.linalg.norm(p - x) < np.linalg.norm(p - best):
                best = x
        out[i] = best
    return out


def closest_points_on_segments(p1, q1, p2, q2) -> tuple[np.ndarray, np.ndarray]:
    """Closest points between segments ``p1 q1`` and ``p2 q2``, row by row.

    Ericson 5.1.9. All arguments ``(n, 3)``; segments may be points.

    Returns
    -------
    on_first, on_second : (n, 3) float
    """
    p1, q1, p2, q2 = (np.asarray(x, dtype=float) for x in (p1, q1, p2, q2))
    d1, d2, r = q1 - p1, q2 - p2, p1 - p2
    a, e, f = _dot(d1, d1), _dot(d2, d2), _dot(d2, r)
    c, b = _dot(d1, r), _dot(d1, d2)
    eps = 1e-18
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        den = a * e - b * b
        s = np.where(den > eps * np.maximum(a * e, eps), np.clip((b * f - c * e) / den, 0, 1), 0.0)
        t = np.where(e > eps, (b * s + f) / e, 0.0)
        s = np.where(t < 0, np.clip(-c / a, 0, 1), np.where(t > 1, np.clip((b - c) / a, 0, 1), s))
        t = np.clip(t, 0, 1)
        s = np.where(a > eps, s, 0.0)
        t = np.where(a > eps, t, np.clip(np.where(e > eps, f / e, 0.0), 0, 1))
        s = np.where((e <= eps) & (a > eps), np.clip(-c / a, 0, 1), s)
    s = np.nan_to_num(s)
    return p1 + d1 * s[..., None], p2 + d2 * t[..., None]


class SurfaceIndex:
    """Triangles prepared for closest-point queries (two k-d trees).

    Parameters
    ----------
    triangles : (m, 3, 3) float
        The surface, any triangles (need not be closed), mm.

    Notes
    -----
    A query's nearest vertex gives an upper bound ``u``; the candidates are the triangles
    whose bounding sphere (about the centroid) comes within ``u``: small triangles through
    a tree of centroids, the few large ones (radius over twice the median) all at once.
    Each candidate is measured exactly with :func:`closest_point_on_triangles`.
    """

    def __init__(self, triangles):
        from scipy.spatial import cKDTree

        tri = np.asarray(triangles, dtype=float).reshape(-1, 3, 3)
        if not len(tri):
            raise ValueError("triangles must not be empty")
        self.triangles = tri
        self.centroids = tri.mean(axis=1)
        self.radius = np.linalg.norm(tri - self.centroids[:, None], axis=2).max(axis=1)
        self.vertex_tree = cKDTree(tri.reshape(-1, 3))
        self.small_radius = 2.0 * float(np.median(self.radius))
        small = self.radius <= self.small_radius
        self.small, self.large = np.flatnonzero(small), np.flatnonzero(~small)
        self.small_tree = cKDTree(self.centroids[small])

    def query(self, points) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Closest points on the surface.

        Parameters
        ----------
        points : (n, 3) float

        Returns
        -------
        closest : (n, 3) float
        distance : (n,) float
            Exact, mm.
        triangle : (n,) int
            Index of a triangle holding the closest point.
        """
        points = np.asarray(points, dtype=float).reshape(-1, 3)
        n = len(points)
        upper, vertex = self.vertex_tree.query(points)
        upper = np.asarray(upper, dtype=float)
        lists = self.small_tree.query_ball_point(points, upper + self.small_radius + 1e-9)
        counts = np.fromiter(map(len, lists), np.int64, n)
        faces = self.small[np.fromiter(itertools.chain.from_iterable(lists), np.int64)]
        which = np.repeat(np.arange(n), counts)
        if len(self.large):
            c, r = self.centroids[self.large], self.radius[self.large]
            step = max(1, 2**22 // len(c))
            for start in range(0, n, step):
                p = points[start : start + step]
                gap = np.linalg.norm(p[:, None] - c[None], axis=2) - r
                i, k = np.nonzero(gap <= upper[start : start + len(p), None])
                which = np.concatenate([which, start + i])
                faces = np.concatenate([faces, self.large[k]])
        near = np.linalg.norm(points[which] - self.centroids[faces], axis=1) - self.radius[faces]
        keep = near <= upper[which] + 1e-9
        which, faces = which[keep], faces[keep]
        q = closest_point_on_triangles(points[which], self.triangles[faces])
        d = np.linalg.norm(q - points[which], axis=1)
        d[~np.isfinite(d)] = np.inf
        # the start: the nearest vertex, exact; then the best candidate of each point
        closest = self.triangles.reshape(-1, 3)[vertex].copy()
        triangle = np.asarray(vertex) // 3
        distance = upper.copy()
        order = np.lexsort((d, which))
        first = order[np.r_[True, which[order][1:] != which[order][:-1]]] if len(order) else order
        better = d[first] < distance[which[first]]
        rows, best = which[first][better], first[better]
        distance[rows], closest[rows], triangle[rows] = d[best], q[best], faces[best]
        return closest, distance, triangle

    def distance(self, points) -> np.ndarray:
        """Exact distances ``(n,)`` from ``points (n, 3)`` to the surface, mm."""
        return self.query(points)[1]


def triangle_bounds(triangles) -> tuple[np.ndarray, np.ndarray]:
    """Axis-aligned bounding box of each triangle.

    Parameters
    ----------
    triangles : (m, 3, 3) float

    Returns
    -------
    lo, hi : (m, 3) float
        Per-coordinate minimum and maximum of each triangle's three vertices.
    """
    tri = np.asarray(triangles, dtype=float).reshape(-1, 3, 3)
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
    return np.minimum(np.minimum(a, b), c), np.maximum(np.maximum(a, b), c)


def closest_point_on_surface(
    points, triangles, *, bounds: tuple[np.ndarray, np.ndarray] | None = None, vertices=None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Closest points on a triangle surface, for a few query points.

    Each point is measured exactly against the triangles whose bounding box lies within
    its nearest corner's distance; no index is built, so this is the quick choice for a
    handful of points (a footplate, a landmark). For many points on one surface, build a
    :class:`SurfaceIndex` once and query it.

    Parameters
    ----------
    points : (n, 3) float
    triangles : (m, 3, 3) float
    bounds : (lo, hi), optional
        ``triangle_bounds(triangles)``, when already known (e.g. kept with the mesh).
    vertices : (k, 3) float, optional
        The distinct vertices of the triangles (``mesh.vertices``), when known: fewer
        points to search for the nearest corner than the ``3 m`` corners.

    Returns
    -------
    closest : (n, 3) float
    distance : (n,) float
        Exact, mm.
    triangle : (n,) int
        Index of a triangle holding the closest point.
    """
    pts = np.asarray(points, dtype=float).reshape(-1, 3)
    tri = np.asarray(triangles, dtype=float).reshape(-1, 3, 3)
    if not len(tri):
        raise ValueError("triangles must not be empty")
    lo, hi = triangle_bounds(tri) if bounds is None else bounds
    corners = tri.reshape(-1, 3) if vertices is None else np.asarray(vertices, dtype=float)
    closest = np.empty_like(pts)
    distance = np.empty(len(pts))
    triangle = np.empty(len(pts), dtype=np.int64)
    for i, p in enumerate(pts):
        upper2 = float(np.min(_dot(corners - p, corners - p)))
        gap = np.maximum(lo - p, 0.0) + np.maximum(p - hi, 0.0)
        near = np.flatnonzero(_dot(gap, gap) <= upper2 * (1 + 1e-9) + 1e-18)
        q = closest_point_on_triangles(np.broadcast_to(p, (len(near), 3)), tri[near])
        d = np.linalg.norm(q - p, axis=1)
        k = int(np.argmin(d))
        closest[i], distance[i], triangle[i] = q[k], d[k], near[k]
    return closest, distance, triangle

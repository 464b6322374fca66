"""Collision checks along a distraction: exact clearances between bone pieces over time.

Pieces are :class:`trimesh.Trimesh` surfaces in LPS mm; a pose is a ``(4, 4)`` rigid
transform with ``p' = T[:3, :3] @ p + T[:3, 3]``.

How a distance is computed (exact, not vertex-to-vertex):

1. Every triangle longer than twice the median edge is split along its longest edge (the
   surface is unchanged), so every surface point lies within ``h = longest edge / √3`` of a
   vertex of its own triangle.
2. A KD-tree on each piece's vertices gives, for every vertex of one piece, the nearest
   vertex of the other (both ways). The smallest such distance ``U`` bounds the true distance
   ``D`` from above, and only triangles with a vertex within ``U + h_a + h_b`` of the other
   piece can hold the closest points.
3. Those triangles are paired by centroid distance and plane bounds, and the exact
   triangle-triangle distance (6 point-triangle, 9 segment-segment, 6 edge-through-triangle
   tests) is taken best-first. The result is exact up to floating point.

Over a sweep, each vertex keeps a bound on its distance to the other piece; a vertex is
queried again only when its bound, loosened by how far it has moved since, could matter.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import trimesh
from scipy.spatial import ConvexHull, cKDTree

from planner.errors import PlannerError

__all__ = [
    "Clearance",
    "CollisionReport",
    "Contact",
    "InitialContact",
    "clearance",
    "collision_sweep",
]

_CHUNK = 8192  # triangle pairs per vectorised batch
_TIGHT_LEVELS = 4  # boxes of up to 2**(n-1) faces are also bounded by their triangles
_TIE_MM = 1e-6  # distances are exact to this (ties closer than this are not split)
_ON_SURFACE_MM = 1e-3  # a vertex of an overlap this close to a surface lies on it


# --------------------------------------------------------------------------- kernels
def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("...i,...i->...", a, b)


def _closest_on_triangle(p, a, b, c):
    """Closest points on triangles ``abc`` to points ``p`` (all ``(n, 3)``); Ericson 5.1.5."""
    ab, ac = b - a, c - a
    d1, d2 = _dot(ab, p - a), _dot(ac, p - a)
    d3, d4 = _dot(ab, p - b), _dot(ac, p - b)
    d5, d6 = _dot(ab, p - c), _dot(ac, p - c)
    va, vb, vc = d3 * d6 - d5 * d4, d5 * d2 - d1 * d6, d1 * d4 - d3 * d2
    with np.errstate(divide="ignore", invalid="ignore"):
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
    return out


def _closest_on_segments(p1, q1, p2, q2):
    """Closest points between segments ``p1q1`` and ``p2q2`` (all ``(n, 3)``); Ericson 5.1.9."""
    d1, d2, r = q1 - p1, q2 - p2, p1 - p2
    a, e, f = _dot(d1, d1), _dot(d2, d2), _dot(d2, r)
    c, b = _dot(d1, r), _dot(d1, d2)
    eps = 1e-18
    with np.errstate(divide="ignore", invalid="ignore"):
        den = a * e - b * b
        s = np.where(den > eps * np.maximum(a * e, eps), np.clip((b * f - c * e) / den, 0, 1), 0.0)
        t = np.where(e > eps, (b * s + f) / e, 0.0)
        s = np.where(t < 0, np.clip(-c / a, 0, 1), np.where(t > 1, np.clip((b - c) / a, 0, 1), s))
        t = np.clip(t, 0, 1)
        s = np.where(a > eps, s, 0.0)
        t = np.where(a > eps, t, np.clip(np.where(e > eps, f / e, 0.0), 0, 1))
        s = np.where((e <= eps) & (a > eps), np.clip(-c / a, 0, 1), s)
    s = np.nan_to_num(s)
    return p1 + d1 * s[:, None], p2 + d2 * t[:, None]


def _segment_hits_triangle(p, q, a, b, c):
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


def _triangle_distance(ta: np.ndarray, tb: np.ndarray):
    """Exact distances between triangle pairs ``ta``, ``tb`` ``(n, 3, 3)``.

    Returns ``(distance (n,), point_a (n, 3), point_b (n, 3))``; 0 where they intersect.
    """
    cands_a, cands_b = [], []
    for k in range(3):
        cands_a.append(ta[:, k])
        cands_b.append(_closest_on_triangle(ta[:, k], tb[:, 0], tb[:, 1], tb[:, 2]))
        cands_b.append(tb[:, k])
        cands_a.append(_closest_on_triangle(tb[:, k], ta[:, 0], ta[:, 1], ta[:, 2]))
    for i in range(3):
        for j in range(3):
            pa, pb = _closest_on_segments(ta[:, i], ta[:, (i + 1) % 3], tb[:, j], tb[:, (j + 1) % 3])
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
            hit, x = _segment_hits_triangle(edges[:, i], edges[:, (i + 1) % 3], *tri.transpose(1, 0, 2))
            d = np.where(hit, 0.0, d)
            pa = np.where(hit[:, None], x, pa)
            pb = np.where(hit[:, None], x, pb)
    return d, pa, pb


def _winding_number(points: np.ndarray, tri: np.ndarray) -> np.ndarray:
    """Generalised winding numbers of ``points (n, 3)`` for closed triangles ``(m, 3, 3)``."""
    out = np.empty(len(points))
    for i, p in enumerate(points):
        a, b, c = (tri[:, k] - p for k in range(3))
        la, lb, lc = (np.linalg.norm(x, axis=1) for x in (a, b, c))
        num = _dot(a, np.cross(b, c))
        den = la * lb * lc + _dot(a, b) * lc + _dot(a, c) * lb + _dot(b, c) * la
        out[i] = np.arctan2(num, den).sum() / (2 * np.pi)
    return out


def _apply(pose: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ pose[:3, :3].T + pose[:3, 3]


def _invert(pose: np.ndarray) -> np.ndarray:
    inv = np.eye(4)
    inv[:3, :3] = pose[:3, :3].T
    inv[:3, 3] = -pose[:3, :3].T @ pose[:3, 3]
    return inv


def _check_pose(pose, name: str) -> np.ndarray:
    pose = np.asarray(pose, dtype=float)
    if pose.shape != (4, 4) or not np.all(np.isfinite(pose)):
        raise ValueError(f"{name} must be a finite (4, 4) array, got shape {pose.shape}")
    r = pose[:3, :3]
    if not np.allclose(r.T @ r, np.eye(3), atol=1e-6) or np.linalg.det(r) < 0:
        raise ValueError(f"{name} must be a rigid transform (rotation + translation)")
    if not np.allclose(pose[3], [0, 0, 0, 1]):
        raise ValueError(f"{name} must have last row (0, 0, 0, 1)")
    return pose


# --------------------------------------------------------------------------- surfaces
def _unit(v: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    return np.divide(v, norm, out=np.zeros_like(v), where=norm > 0)


def _morton_order(points: np.ndarray) -> np.ndarray:
    """Indices that sort ``points (n, d)`` along a Z-order curve (coherent runs), d <= 6."""
    lo, hi = points.min(axis=0), points.max(axis=0)
    q = ((points - lo) / np.maximum(hi - lo, 1e-12) * 1023).astype(np.uint64)
    dims = points.shape[1]
    code = np.zeros(len(points), dtype=np.uint64)
    for bit in range(10):
        for axis in range(dims):
            code |= ((q[:, axis] >> np.uint64(bit)) & np.uint64(1)) << np.uint64(dims * bit + axis)
    return np.argsort(code, kind="stable")


def _node_axes(area_n: np.ndarray, size: int) -> np.ndarray:
    """Axes ``(n, 3, 3)`` (mean normal, two tangents) of runs of ``size`` faces."""
    idx = np.minimum(np.arange(-(-len(area_n) // size) * size), len(area_n) - 1)
    n = _unit(area_n[idx].reshape(-1, size, 3).sum(axis=1))
    n[~n.any(axis=1)] = (1.0, 0.0, 0.0)
    t1 = _unit(np.cross(n, np.eye(3)[np.abs(n).argmin(axis=1)]))
    return np.stack([n, t1, np.cross(n, t1)], axis=1)


def _extents(points: np.ndarray, axes: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per-level ``(min, max)`` of triangles ``(f, 3, 3)`` along ``axes (k, 3)``.

    Level ``l`` node ``i`` holds the faces ``[i 2^l, (i + 1) 2^l)`` of the Z-ordered list.
    """
    proj = points @ axes.T
    lo, hi = proj.min(axis=1), proj.max(axis=1)
    out = [(lo, hi)]
    while len(lo) > 1:
        if len(lo) % 2:
            lo, hi = np.vstack([lo, lo[-1:]]), np.vstack([hi, hi[-1:]])
        lo, hi = np.minimum(lo[0::2], lo[1::2]), np.maximum(hi[0::2], hi[1::2])
        out.append((lo, hi))
    return out


def _project(points: np.ndarray, axes: np.ndarray) -> np.ndarray:
    """Coordinates of ``points (m, k, 3)`` along ``axes (m, a, 3)``: ``(m, k, a)``."""
    return sum(points[:, :, None, d] * axes[:, None, :, d] for d in range(3))


def _set_bound(pa, axa, pb, axb):
    """Lower bound on the distance between point sets ``pa``/``pb`` ``(m, k, 3)``' hulls.

    Separating gaps along both sets' axes ``(m, 3, 3)`` and the line through their means,
    and bounding spheres.
    """
    ma, mb = pa.mean(axis=1), pb.mean(axis=1)
    ra = np.linalg.norm(pa - ma[:, None], axis=2).max(axis=1)
    rb = np.linalg.norm(pb - mb[:, None], axis=2).max(axis=1)
    lower = np.linalg.norm(mb - ma, axis=1) - ra - rb
    u = _unit(mb - ma)[:, None]
    for axes in (axa, axb, u):
        xa, xb = _project(pa, axes), _project(pb, axes)
        gap = np.maximum(xb.min(axis=1) - xa.max(axis=1), xa.min(axis=1) - xb.max(axis=1))
        lower = np.maximum(lower, gap.max(axis=1))
    return lower


class _Surface:
    """A triangle surface prepared for distance queries, in its own (local) frame."""

    def __init__(self, vertices: np.ndarray, faces: np.ndarray, max_edge_mm: float | None = None):
        vertices = np.asarray(vertices, dtype=float)
        faces = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
        used, faces = np.unique(faces, return_inverse=True)
        vertices, faces = vertices[used], faces.reshape(-1, 3)
        if max_edge_mm is None:
            edges = np.linalg.norm(vertices[faces] - vertices[np.roll(faces, -1, 1)], axis=2)
            max_edge_mm = 2.0 * float(np.median(edges))
        self.max_edge_mm = max_edge_mm
        while True:  # split the longest edge of long triangles: the surface is unchanged
            tri = vertices[faces]
            length = np.linalg.norm(tri[:, [1, 2, 0]] - tri, axis=2)
            k = length.argmax(1)
            long = length[np.arange(len(faces)), k] > max_edge_mm
            if not long.any():
                break
            f, k = faces[long], k[long]
            rows = np.arange(len(f))
            i0, i1, i2 = f[rows, k], f[rows, (k + 1) % 3], f[rows, (k + 2) % 3]
            mid = len(vertices) + rows
            vertices = np.vstack([vertices, 0.5 * (vertices[i0] + vertices[i1])])
            faces = np.vstack([faces[~long], np.c_[i0, mid, i2], np.c_[mid, i1, i2]])
        tri = vertices[faces]
        faces = faces[_morton_order(tri.mean(axis=1))]
        self.vertices, self.faces = vertices, faces
        self.tri = tri = vertices[faces]
        # every point of a triangle lies within (longest edge)/sqrt(3) of one of its vertices
        self.fcover = np.linalg.norm(tri[:, [1, 2, 0]] - tri, axis=2).max(axis=1) / math.sqrt(3)
        self.cover_mm = float(self.fcover.max())
        self.vcover = np.zeros(len(vertices))
        np.maximum.at(self.vcover, faces.ravel(), np.repeat(self.fcover, 3))
        self.centroids = tri.mean(axis=1)
        self.radius = np.linalg.norm(tri - self.centroids[:, None], axis=2).max(axis=1)
        area_n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        self.normals = _unit(area_n)
        self.tree = cKDTree(vertices)
        self.centroid_tree = cKDTree(self.centroids)
        self.hull = vertices[ConvexHull(vertices).vertices] if len(vertices) > 4 else vertices
        self.node_axes = [_node_axes(area_n, 2**k) for k in range(_TIGHT_LEVELS)]

    @classmethod
    def from_mesh(cls, mesh: trimesh.Trimesh) -> _Surface:
        return cls(mesh.vertices, mesh.faces)

    def subset(self, face_mask: np.ndarray) -> _Surface | None:
        if not np.any(face_mask):
            return None
        return _Surface(self.vertices, self.faces[face_mask], self.max_edge_mm)

    def distance_to(self, points: np.ndarray) -> np.ndarray:
        """Exact distances from ``points (n, 3)`` (local frame) to this surface."""
        points = np.asarray(points, dtype=float).reshape(-1, 3)
        if not len(points):
            return np.zeros(0)
        upper, _ = self.tree.query(points)
        lists = self.centroid_tree.query_ball_point(points, upper + self.radius.max() + 1e-9)
        counts = np.fromiter((len(x) for x in lists), int, len(points))
        which = np.repeat(np.arange(len(points)), counts)
        faces = np.concatenate([np.asarray(x, dtype=np.int64) for x in lists])
        q = _closest_on_triangle(points[which], *self.tri[faces].transpose(1, 0, 2))
        d = np.linalg.norm(q - points[which], axis=1)
        d[~np.isfinite(d)] = np.inf
        out = upper.copy()
        np.minimum.at(out, which, d)
        return out


class _Side:
    """Per-vertex bounds on the nearest-vertex distance from one surface to another."""

    def __init__(self, n: int):
        self.last = np.zeros((n, 3))
        self.lower = np.full(n, -np.inf)
        self.upper = np.full(n, np.inf)


class _Pair:
    """Exact distance between surface ``a`` (posed) and surface ``b`` (in its own frame)."""

    def __init__(self, a: _Surface, b: _Surface):
        self.a, self.b = a, b
        self.sides = (_Side(len(a.vertices)), _Side(len(b.vertices)))

    def _nearest(self, pose: np.ndarray, radius: float | None):
        """Posed vertices of both sides and their nearest-vertex distances where they matter.

        Returns ``(xa, [da, db])``: ``xa`` are a's vertices in b's frame and ``d*`` exact
        nearest-vertex distances to the other surface, ``inf`` where a vertex cannot be the
        nearest vertex of a point within ``radius`` (or within the smallest such distance
        ``U`` when ``radius`` is None) of the other surface. Without ``radius`` the
        per-vertex bounds are used and updated.
        """
        a, b = self.a, self.b
        xa, xb = _apply(pose, a.vertices), _apply(_invert(pose), b.vertices)
        sides = (
            (xa, b.tree, self.sides[0], a.vcover + b.cover_mm),
            (xb, a.tree, self.sides[1], b.vcover + a.cover_mm),
        )
        slack = a.cover_mm + b.cover_mm
        if radius is not None:
            return xa, [t.query(x, distance_upper_bound=radius + slack)[0] for x, t, _, _ in sides]
        disp = [np.linalg.norm(x - s.last, axis=1) for x, _, s, _ in sides]
        bound = min(float(np.min(s.upper + d)) for (_, _, s, _), d in zip(sides, disp, strict=True))
        if not np.isfinite(bound):  # first call: a strided sample gives a finite bound
            bound = min(float(t.query(x[:: max(1, len(x) // 2000)])[0].min()) for x, t, _, _ in sides)
        dists = []
        for (x, tree, s, margin), d in zip(sides, disp, strict=True):
            again = s.lower - d <= bound + margin
            found, _ = tree.query(x[again], distance_upper_bound=bound + slack + 1e-9)
            hit = np.isfinite(found)
            s.upper[again] = np.where(hit, found, s.upper[again] + d[again])
            s.lower[again] = np.where(hit, found, bound + slack)
            s.last[again] = x[again]
            out = np.full(len(x), np.inf)
            out[np.flatnonzero(again)[hit]] = found[hit]
            dists.append(out)
        return xa, dists

    def _leaf_pairs(self, pose, xa, dists, limit: float, axis):
        """Candidate triangle pairs ``(fa, fb)`` whose distance may be ``<= limit``.

        Faces are candidates when one of their vertices is close enough to the other surface
        (see :meth:`_nearest`). Runs of faces of both surfaces (a binary hierarchy over the
        Z-ordered faces) are split together, level by level, keeping pairs whose boxes, in
        b's axes plus ``axis``, lie within ``limit``; boxes of up to 8 faces are also bounded
        by separating axes of their triangles.
        """
        a, b = self.a, self.b
        fa = ((dists[0][a.faces] - a.fcover[:, None]) <= limit + b.cover_mm).any(axis=1)
        fb = ((dists[1][b.faces] - b.fcover[:, None]) <= limit + a.cover_mm).any(axis=1)
        axes = np.vstack([np.eye(3), axis])
        ext_a, ext_b = _extents(xa[a.faces], axes), _extents(b.tri, axes)
        cand_a, cand_b = [fa], [fb]
        for _ in range(len(ext_a) - 1):
            cand_a.append(np.logical_or.reduceat(cand_a[-1], np.arange(0, len(cand_a[-1]), 2)))
        for _ in range(len(ext_b) - 1):
            cand_b.append(np.logical_or.reduceat(cand_b[-1], np.arange(0, len(cand_b[-1]), 2)))
        top = min(len(ext_a), len(ext_b)) - 1
        i, j = np.flatnonzero(cand_a[top]), np.flatnonzero(cand_b[top])
        i, j = np.repeat(i, len(j)), np.tile(j, len(i))
        for level in range(top, -1, -1):
            if level < top:
                i = np.concatenate([2 * i, 2 * i, 2 * i + 1, 2 * i + 1])
                j = np.concatenate([2 * j, 2 * j + 1, 2 * j, 2 * j + 1])
                ca, cb = cand_a[level], cand_b[level]
                keep = (i < len(ca)) & (j < len(cb))
                i, j = i[keep], j[keep]
                keep = ca[i] & cb[j]
                i, j = i[keep], j[keep]
            if level == 0 or not len(i):  # single triangles are bounded in _face_pairs
                break
            (alo, ahi), (blo, bhi) = ext_a[level], ext_b[level]
            gap = np.maximum(blo[j] - ahi[i], alo[i] - bhi[j])
            lower = np.maximum(np.linalg.norm(np.maximum(gap[:, :3], 0.0), axis=1), gap[:, 3])
            keep = lower <= limit
            i, j = i[keep], j[keep]
            if level < _TIGHT_LEVELS:
                size = 2**level
                k = np.arange(size)
                pa = xa[a.faces[np.minimum(i[:, None] * size + k, len(fa) - 1)]]
                pb = b.tri[np.minimum(j[:, None] * size + k, len(fb) - 1)]
                axa = a.node_axes[level][i] @ pose[:3, :3].T
                lower = _set_bound(
                    pa.reshape(len(i), -1, 3), axa, pb.reshape(len(j), -1, 3), b.node_axes[level][j]
                )
                keep = lower <= limit
                i, j = i[keep], j[keep]
        return i, j

    def _face_pairs(self, pose, xa, dists, radius: float, strict: bool, axis=(1.0, 0.0, 0.0)):
        """Candidate triangle pairs, a's triangles posed, and a lower bound each, sorted.

        ``strict`` keeps only pairs that may be closer than ``radius - _TIE_MM`` (a minimum
        query), otherwise pairs that may be within ``radius + _TIE_MM``.
        """
        limit = radius - _TIE_MM if strict else radius + _TIE_MM
        ia, ib = self._leaf_pairs(pose, xa, dists, limit, np.asarray(axis, float))
        ta, tb = xa[self.a.faces[ia]], self.b.tri[ib]
        lower = np.linalg.norm(ta.mean(axis=1) - self.b.centroids[ib], axis=1)
        lower -= self.a.radius[ia] + self.b.radius[ib]
        na = self.a.normals[ia] @ pose[:3, :3].T
        for x in (
            np.einsum("nkd,nd->nk", ta - tb[:, :1], self.b.normals[ib]),
            np.einsum("nkd,nd->nk", tb - ta[:, :1], na),
        ):
            lower = np.maximum(lower, np.maximum(x.min(axis=1), -x.max(axis=1)))
        u = _unit(tb.mean(axis=1) - ta.mean(axis=1))[:, None]
        lower = np.maximum(lower, _dot(tb, u).min(axis=1) - _dot(ta, u).max(axis=1))
        keep = lower <= limit
        order = np.argsort(lower[keep], kind="stable")
        return ia[keep][order], ib[keep][order], ta[keep][order], lower[keep][order]

    def distance(self, pose: np.ndarray):
        """``(distance, point_a, point_b)``, points in ``b``'s frame, for ``a`` at ``pose``."""
        xa, dists = self._nearest(pose, None)
        k = [int(np.argmin(d)) for d in dists]
        if dists[0][k[0]] <= dists[1][k[1]]:
            best, pa = float(dists[0][k[0]]), xa[k[0]]
            pb = self.b.vertices[self.b.tree.query(pa)[1]]
        else:
            best, pb = float(dists[1][k[1]]), self.b.vertices[k[1]]
            pa = _apply(pose, self.a.vertices[self.a.tree.query(_apply(_invert(pose), pb))[1]])
        ia, ib, ta, lower = self._face_pairs(pose, xa, dists, best, True, _unit(pb - pa))
        for start in range(0, len(ia), _CHUNK):
            if lower[start] >= best - _TIE_MM:
                break
            sl = slice(start, start + _CHUNK)
            d, qa, qb = _triangle_distance(ta[sl], self.b.tri[ib[sl]])
            m = int(np.argmin(d))
            if d[m] < best:
                best, pa, pb = float(d[m]), qa[m], qb[m]
        return best, np.array(pa), np.array(pb)

    def faces_within(self, pose: np.ndarray, radius: float):
        """Boolean face masks of ``a`` and ``b`` within ``radius`` of the other surface."""
        xa, dists = self._nearest(pose, radius)
        ia, ib, ta, _ = self._face_pairs(pose, xa, dists, radius, False)
        in_a, in_b = np.zeros(len(self.a.faces), bool), np.zeros(len(self.b.faces), bool)
        for start in range(0, len(ia), _CHUNK):
            sl = slice(start, start + _CHUNK)
            near = _triangle_distance(ta[sl], self.b.tri[ib[sl]])[0] <= radius
            in_a[ia[sl][near]] = True
            in_b[ib[sl][near]] = True
        return in_a, in_b


# --------------------------------------------------------------------------- overlaps
def _manifold(vertices: np.ndarray, faces: np.ndarray):
    """A manifold3d solid, or None when the surface is not a closed volume."""
    import manifold3d

    mesh = manifold3d.Mesh(
        vert_properties=np.ascontiguousarray(vertices, dtype=np.float32),
        tri_verts=np.ascontiguousarray(faces, dtype=np.uint32),
    )
    solid = manifold3d.Manifold(mesh)
    if solid.status() != manifold3d.Error.NoError or solid.is_empty():
        return None
    return solid


def _crop(solid, lo: np.ndarray, hi: np.ndarray):
    import manifold3d

    return solid ^ manifold3d.Manifold.cube(list(hi - lo)).translate(list(lo))


def _overlap(solid_a, pose, solid_b, a: _Surface, b: _Surface) -> tuple[float, float]:
    """``(volume_mm3, depth_mm)`` of ``solid_a`` at ``pose`` inside ``solid_b`` (b's frame).

    The depth is the largest distance from a vertex of the overlap lying on one surface to
    the other surface (how far one surface has sunk into the other, at the vertices).
    """
    if solid_a is None or solid_b is None:
        return math.nan, math.nan
    moved = solid_a.transform(np.asarray(pose[:3, :], dtype=float).tolist())
    inter = moved ^ solid_b
    volume = float(inter.volume())
    if inter.is_empty() or volume <= 0:
        return 0.0, 0.0
    pts = np.array(inter.to_mesh().vert_properties, dtype=float)[:, :3]
    db = b.distance_to(pts)
    da = a.distance_to(_apply(_invert(pose), pts))
    on = np.minimum(da, db) <= _ON_SURFACE_MM
    depth = float(np.maximum(da, db)[on].max(initial=0.0))
    return volume, depth


# --------------------------------------------------------------------------- clearance
@dataclass(frozen=True)
class Clearance:
    """The closest approach of a posed piece to the rest of the bone.

    Attributes
    ----------
    distance_mm : float
        Exact surface-to-surface distance (0 when the surfaces touch or cross).
    point_on_moving_mm, point_on_static_mm : (3,) float
        The closest points, LPS mm (the moving one after the pose).
    penetrating : bool
        The pieces overlap: their overlap volume is positive, or one lies inside the other.
    penetration_depth_mm : float
        Largest depth of one surface inside the other, at the overlap's vertices; 0 when not
        penetrating, NaN when a mesh is not a closed volume and the surfaces cross.
    overlap_volume_mm3 : float
        Volume shared by the two pieces (manifold3d); NaN when a mesh is not a closed volume.
    static_index : int
        Which of the static meshes is closest.
    """

    distance_mm: float
    point_on_moving_mm: np.ndarray
    point_on_static_mm: np.ndarray
    penetrating: bool
    penetration_depth_mm: float = 0.0
    overlap_volume_mm3: float = 0.0
    static_index: int = 0


def _as_meshes(meshes, name: str) -> list[trimesh.Trimesh]:
    items = [meshes] if isinstance(meshes, trimesh.Trimesh) else list(meshes)
    for m in items:
        if not isinstance(m, trimesh.Trimesh):
            raise TypeError(f"{name} must hold trimesh.Trimesh meshes, got {type(m).__name__}")
        if len(m.faces) == 0:
            raise ValueError(f"{name} holds an empty mesh")
    if not items:
        raise ValueError(f"{name} is empty")
    return items


def _full_check(a: _Surface, mesh_a, pose, b: _Surface, mesh_b, pair: _Pair | None = None):
    """Distance, closest points (b's frame), penetration flag, depth and volume."""
    pair = pair or _Pair(a, b)
    d, pa, pb = pair.distance(pose)
    solid_a, solid_b = _manifold(mesh_a.vertices, mesh_a.faces), _manifold(mesh_b.vertices, mesh_b.faces)
    volume, depth = (0.0, 0.0)
    if d == 0.0:
        volume, depth = _overlap(solid_a, pose, solid_b, a, b)
        penetrating = bool(volume > 1e-9) if np.isfinite(volume) else True
    else:  # disjoint surfaces: overlapping only if one lies inside the other
        wa = _winding_number(_apply(pose, a.vertices[:1]), b.tri)[0]
        wb = _winding_number(_apply(_invert(pose), b.vertices[:1]), a.tri)[0]
        penetrating = bool(abs(wa) > 0.5 or abs(wb) > 0.5)
        if penetrating:
            volume, depth = _overlap(solid_a, pose, solid_b, a, b)
            depth = d if not np.isfinite(depth) else max(depth, d)
    return d, pa, pb, penetrating, depth, volume


def clearance(moving: trimesh.Trimesh, pose, static) -> Clearance:
    """Exact minimum distance between a posed piece and the static piece(s), with overlap.

    Parameters
    ----------
    moving : trimesh.Trimesh
        The moving piece in its day-0 position, LPS mm.
    pose : (4, 4) float
        Rigid transform applied to ``moving`` (``p' = T[:3, :3] @ p + T[:3, 3]``).
    static : trimesh.Trimesh or sequence of trimesh.Trimesh
        The rest of the bone, LPS mm.

    Returns
    -------
    Clearance
        Exact to floating point (see the module notes); overlap measures use manifold3d and
        need closed meshes.
    """
    pose = _check_pose(pose, "pose")
    moving = _as_meshes(moving, "moving")[0]
    statics = _as_meshes(static, "static")
    a = _Surface.from_mesh(moving)
    best = None
    for index, mesh in enumerate(statics):
        b = _Surface.from_mesh(mesh)
        d, pa, pb, pen, depth, vol = _full_check(a, moving, pose, b, mesh)
        key = (not pen, d, -np.nan_to_num(depth))
        if best is None or key < best[0]:
            best = (key, Clearance(d, pa, pb, pen, depth, vol, index))
    return best[1]

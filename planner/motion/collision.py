"""Collision checks along a distraction: exact clearances between bone pieces over time.

Pieces are :class:`trimesh.Trimesh` surfaces in LPS mm; a pose is a ``(4, 4)`` rigid
transform with ``p' = T[:3, :3] @ p + T[:3, 3]``.

Distances are exact surface to surface (to 1 µm, ``_TIE_MM``), not vertex to vertex:

1. Each piece's faces are sorted along a Z-order curve; runs of ``2**l`` consecutive faces
   are the nodes of level ``l`` of a bounding hierarchy, bounded by their extents along the
   13 directions of a 26-DOP and along a few extra axes (below), computed from the posed
   vertices (float32, rounded outwards) at every query.
2. An upper bound and its triangle pair come from the last closest pair and from the
   nearest vertices of a sample; a quick beam search down both hierarchies tightens it.
   The normals of the closest triangles it met become the extra axes: when many pairs tie,
   as across the parallel faces of a kerf, one of them separates whole regions at once.
3. Both hierarchies are split together from the top, keeping node pairs that may be closer
   than the bound; runs of up to 8 faces are bounded by their triangles themselves. The
   surviving triangle pairs are measured exactly (6 point-triangle, 9 segment-segment and
   6 edge-through-triangle tests), best first.

Overlaps (one piece pushed into another) are measured with manifold3d: the shared volume,
and its depth (how far a surface has sunk into the other piece).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import trimesh
from scipy.spatial import ConvexHull, QhullError, cKDTree

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
_BEAM = 64  # pairs followed per level by the quick search for a close pair
_AXES = 8  # extra separating axes at most
_CROWD = 20_000  # node pairs of a level beyond which a beam search runs first
_LOCAL_MM = 2.0  # triangles this close to the last closest pair are tried first
_DOP_LEVEL = 3  # runs of up to 2**3 faces are bounded by their triangles, larger ones by boxes
_TIE_MM = 1e-3  # distances are exact to 1 µm: closer ties (float32 noise) are not split
_ON_SURFACE_MM = 1e-3  # a point of an overlap this close to a surface lies on it
_DEPTH_SPACING_MM = 0.25  # sampling of an overlap's surface for its depth...
_DEPTH_SAMPLES = 5_000  # ...made coarser beyond this many points


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
            pa, pb = _closest_on_segments(
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
            hit, x = _segment_hits_triangle(
                edges[:, i], edges[:, (i + 1) % 3], *tri.transpose(1, 0, 2)
            )
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


def _mul(points: np.ndarray, axes: np.ndarray) -> np.ndarray:
    """``points (..., 3) @ axes.T`` for ``axes (k, 3)`` (einsum: BLAS is slow on thin arrays)."""
    return np.einsum("...d,kd->...k", points, axes)


def _apply(pose: np.ndarray, points: np.ndarray) -> np.ndarray:
    return _mul(points, pose[:3, :3]) + pose[:3, 3]


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
    """Indices that sort ``points (n, 3)`` along a Z-order curve (spatially coherent runs)."""
    lo, hi = points.min(axis=0), points.max(axis=0)
    q = ((points - lo) / np.maximum(hi - lo, 1e-12) * 1023).astype(np.uint64)
    code = np.zeros(len(points), dtype=np.uint64)
    for bit in range(10):
        for axis in range(3):
            code |= ((q[:, axis] >> np.uint64(bit)) & np.uint64(1)) << np.uint64(3 * bit + axis)
    return np.argsort(code, kind="stable")


def _extents(lo: np.ndarray, hi: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per-level ``(min, max)`` extents from those of level ``_DOP_LEVEL`` ``(n, k)``.

    Item ``l`` is level ``_DOP_LEVEL + l`` (node ``i`` holds children ``2i``, ``2i + 1``).
    """
    out = [(lo, hi)]
    while len(lo) > 1:
        if len(lo) % 2:
            lo, hi = np.vstack([lo, lo[-1:]]), np.vstack([hi, hi[-1:]])
        lo, hi = np.minimum(lo[0::2], lo[1::2]), np.maximum(hi[0::2], hi[1::2])
        out.append((lo, hi))
    return out


def _frames(area_n: np.ndarray) -> np.ndarray:
    """Axes ``(n, 3, 3)``: the unit mean normal and two tangents (any for a zero normal)."""
    n = _unit(area_n)
    n[~n.any(axis=1)] = (1.0, 0.0, 0.0)
    t1 = _unit(np.cross(n, np.eye(3)[np.abs(n).argmin(axis=1)]))
    return np.stack([n, t1, np.cross(n, t1)], axis=1)


def _runs(vertices, faces, area_n, rot, nodes: np.ndarray, size: int):
    """Vertices ``(m, 3 size, 3)`` and axes ``(m, 3, 3)`` of runs ``nodes`` of ``size`` faces.

    ``vertices`` are already posed; ``rot`` turns the local ``area_n`` into their frame.
    """
    idx = np.minimum(nodes[:, None] * size + np.arange(size), len(faces) - 1)
    pts = vertices[faces[idx]].reshape(len(nodes), -1, 3)
    return pts, _frames(_mul(area_n[idx].sum(axis=1), rot))


def _set_bound(pa: np.ndarray, pb: np.ndarray, axes: np.ndarray) -> np.ndarray:
    """Lower bound on the distance between the hulls of point sets ``(m, k, 3)``.

    The largest gap between the sets' projections on ``axes (m, r, 3)`` and on the line
    through their means (which also covers the bounding spheres).
    """
    u = _unit(pb.mean(axis=1) - pa.mean(axis=1))[:, None]
    axes = np.concatenate([axes, u], axis=1).transpose(0, 2, 1)
    xa, xb = pa @ axes, pb @ axes
    gap = np.maximum(xb.min(axis=1) - xa.max(axis=1), xa.min(axis=1) - xb.max(axis=1))
    return gap.max(axis=1)


_AXES_DOP = [(1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 1, 0), (1, -1, 0), (1, 0, 1), (1, 0, -1)]
_AXES_DOP += [(0, 1, 1), (0, 1, -1), (1, 1, 1), (1, 1, -1), (1, -1, 1), (1, -1, -1)]
_DOP = _unit(np.array(_AXES_DOP, dtype=float))  # the 13 directions of a 26-DOP


class _Surface:
    """A triangle surface prepared for distance queries, in its own (local) frame."""

    def __init__(self, vertices: np.ndarray, faces: np.ndarray):
        vertices = np.asarray(vertices, dtype=float)
        faces = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
        used, faces = np.unique(faces, return_inverse=True)
        vertices, faces = vertices[used], faces.reshape(-1, 3)
        faces = faces[_morton_order(vertices[faces].mean(axis=1))]
        self.vertices, self.faces = vertices, faces
        self.tri = tri = vertices[faces]
        self.centroids = tri.mean(axis=1)
        self.radius = np.linalg.norm(tri - self.centroids[:, None], axis=2).max(axis=1)
        self.area_normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        self.normals = _unit(self.area_normals)
        self.tree = cKDTree(vertices)
        self.vertex_face = np.zeros(len(vertices), dtype=np.int64)
        self.vertex_face[faces.ravel()] = np.repeat(np.arange(len(faces)), 3)
        # faces for point queries: small ones through a tree, the few large ones all at once
        self.small_radius = 2.0 * float(np.median(self.radius))
        small = self.radius <= self.small_radius
        self.small_faces, self.large_faces = np.flatnonzero(small), np.flatnonzero(~small)
        self.small_tree = cKDTree(self.centroids[small])
        try:  # the points that move the most under any rigid motion
            self.hull = vertices[ConvexHull(vertices).vertices]
        except QhullError:  # flat or tiny
            self.hull = vertices
        # runs of 2**_DOP_LEVEL faces: their vertices (float32, a coordinate per row: fast
        # projections) and their 26-DOPs, rounded outwards
        node = np.repeat(np.arange(len(faces)) >> _DOP_LEVEL, 3)
        key = np.unique(node * len(vertices) + faces.ravel())
        self.node_points = np.ascontiguousarray(vertices[key % len(vertices)].T, np.float32)
        self.starts = np.searchsorted(key // len(vertices), np.arange(node[-1] + 1))
        self.slack = 1e-6 * (np.abs(vertices).max() + 1.0)  # float32 rounding of projections
        self.dop = [
            (lo.astype(np.float32), hi.astype(np.float32))
            for lo, hi in self.extents(np.eye(4), _DOP)
        ]

    def extents(self, pose: np.ndarray, axes: np.ndarray):
        """Per-level ``(min, max)`` along ``axes (k, 3)`` of the surface moved by ``pose``,
        rounded outwards: item ``l`` is level ``_DOP_LEVEL + l``."""
        proj = np.ascontiguousarray(
            ((axes @ pose[:3, :3]).astype(np.float32) @ self.node_points).T
        )
        shift = axes @ pose[:3, 3]
        lo = np.minimum.reduceat(proj, self.starts) + (shift - self.slack)
        hi = np.maximum.reduceat(proj, self.starts) + (shift + self.slack)
        return _extents(lo, hi)

    def subset(self, face_mask: np.ndarray) -> _Surface | None:
        return _Surface(self.vertices, self.faces[face_mask]) if np.any(face_mask) else None

    def distance_to(self, points: np.ndarray) -> np.ndarray:
        """Exact distances from ``points (n, 3)`` (local frame) to this surface."""
        points = np.asarray(points, dtype=float).reshape(-1, 3)
        if not len(points):
            return np.zeros(0)
        upper, _ = self.tree.query(points)
        lists = self.small_tree.query_ball_point(points, upper + self.small_radius + 1e-9)
        counts = np.fromiter(map(len, lists), np.int64, len(points))
        faces = self.small_faces[np.fromiter(itertools.chain.from_iterable(lists), np.int64)]
        which = np.repeat(np.arange(len(points)), counts)
        if len(self.large_faces):
            c, r = self.centroids[self.large_faces], self.radius[self.large_faces]
            for start in range(0, len(points), max(1, 2**22 // len(c))):
                p = points[start : start + max(1, 2**22 // len(c))]
                near = (
                    np.linalg.norm(p[:, None] - c[None], axis=2) - r
                    <= upper[start : start + len(p), None]
                )
                i, k = np.nonzero(near)
                which = np.concatenate([which, start + i])
                faces = np.concatenate([faces, self.large_faces[k]])
        near = np.linalg.norm(points[which] - self.centroids[faces], axis=1) - self.radius[faces]
        which, faces = which[near <= upper[which]], faces[near <= upper[which]]
        q = _closest_on_triangle(points[which], *self.tri[faces].transpose(1, 0, 2))
        d = np.linalg.norm(q - points[which], axis=1)
        d[~np.isfinite(d)] = np.inf
        out = upper.copy()
        np.minimum.at(out, which, d)
        return out


class _Pair:
    """Exact distance between surface ``a`` (posed) and surface ``b`` (in its own frame).

    Keeps the last closest triangle pair: at a nearby pose its distance is a tight upper
    bound that prunes the hierarchy.
    """

    def __init__(self, a: _Surface, b: _Surface):
        self.a, self.b = a, b
        self.last: tuple[int, int] | None = None

    def _upper(self, xa: np.ndarray):
        """An upper bound on the distance, the two points giving it (b's frame), and sets
        :attr:`last` to the triangle pair giving it.

        The best of: the triangles around the last closest pair (which follows a contact
        curve as the pieces move), and a pair of triangles holding the nearest vertices of a
        sample.
        """
        a, b = self.a, self.b
        pairs = []
        if self.last is not None:
            fa, fb = self.last
            near_a = a.small_faces[a.small_tree.query_ball_point(a.centroids[fa], _LOCAL_MM)]
            near_b = b.small_faces[b.small_tree.query_ball_point(b.centroids[fb], _LOCAL_MM)]
            near_a, near_b = np.append(near_a, fa)[:64], np.append(near_b, fb)[:64]
            pairs = np.stack(np.meshgrid(near_a, near_b, indexing="ij"), -1).reshape(-1, 2)
        fa, fb = np.reshape(pairs, (-1, 2)).astype(np.int64).T
        d, qa, qb = np.zeros(0), np.zeros((0, 3)), np.zeros((0, 3))
        if len(fa):
            d, qa, qb = _triangle_distance(xa[a.faces[fa]], b.tri[fb])
        step = max(1, len(xa) // 1000)
        dist, k = b.tree.query(xa[::step], distance_upper_bound=d.min(initial=np.inf))
        m = int(np.argmin(dist))
        if np.isfinite(dist[m]):
            fa, fb = np.append(fa, a.vertex_face[m * step]), np.append(fb, b.vertex_face[k[m]])
            d2, qa2, qb2 = _triangle_distance(xa[a.faces[fa[-1:]]], b.tri[fb[-1:]])
            d, qa, qb = np.append(d, d2), np.vstack([qa, qa2]), np.vstack([qb, qb2])
        m = int(np.argmin(d))
        self.last = (int(fa[m]), int(fb[m]))
        return float(d[m]), qa[m], qb[m]

    def _node_pairs(self, pose, xa, limit: float, extra: np.ndarray, beam: bool, dive: bool):
        """Triangle pairs ``(fa, fb)`` whose distance may be ``<= limit``.

        Both hierarchies are split together from the top. Boxes are compared along the
        26-DOP directions and, exactly, along the ``extra (r, 3)`` axes (the directions of
        the best pair so far: when many pairs tie, as across the parallel faces of a kerf,
        one of them separates whole regions at once); runs of up to ``2**_DOP_LEVEL`` faces
        are bounded by their triangles. With ``beam``, only the ``_BEAM`` most promising
        pairs of each level are followed instead (a quick search for a close pair). With
        ``dive``, a level crowded with more than ``_CROWD`` pairs is first explored that way,
        and a closer pair found there tightens ``limit``. Returns ``(fa, fb, found)``, ``found``
        ``(distance, fa, fb, point_a, point_b)`` of the best such pair, or None.
        """
        a, b = self.a, self.b
        ext_a = a.extents(pose, np.vstack([_DOP, extra]))
        ext_b = [
            (np.hstack([d[0], e[0]]), np.hstack([d[1], e[1]]))
            for d, e in zip(b.dop, b.extents(np.eye(4), extra), strict=True)
        ]

        def bound(level, i, j):
            lower = np.full(len(i), -np.inf)
            if level >= _DOP_LEVEL:
                (alo, ahi), (blo, bhi) = ext_a[level - _DOP_LEVEL], ext_b[level - _DOP_LEVEL]
                gap = np.maximum(blo[j] - ahi[i], alo[i] - bhi[j])
                lower = np.maximum(np.linalg.norm(np.maximum(gap[:, :3], 0), axis=1), gap.max(1))
            if level <= _DOP_LEVEL and len(i):
                pa, axa = _runs(xa, a.faces, a.area_normals, pose[:3, :3], i, 2**level)
                pb, axb = _runs(b.vertices, b.faces, b.area_normals, np.eye(3), j, 2**level)
                lower = np.maximum(lower, _set_bound(pa, pb, np.concatenate([axa, axb], axis=1)))
            return lower

        def children(level, i, j):
            i = np.stack([2 * i, 2 * i, 2 * i + 1, 2 * i + 1], axis=-1)
            j = np.stack([2 * j, 2 * j + 1, 2 * j, 2 * j + 1], axis=-1)
            n_a, n_b = (-(-len(s.faces) // 2 ** (level - 1)) for s in (a, b))
            return i, j, (i < n_a) & (j < n_b)

        def descend(level, i, j):  # beam search down to triangles
            for lev in range(level, 0, -1):
                i, j, ok = children(lev, i, j)
                i, j = i[ok], j[ok]
                keep = np.argsort(bound(lev - 1, i, j), kind="stable")[:_BEAM]
                i, j = i[keep], j[keep]
            return i, j

        top = min(len(ext_a), len(ext_b)) - 1 + _DOP_LEVEL
        na_top, nb_top = (len(e[top - _DOP_LEVEL][0]) for e in (ext_a, ext_b))
        i, j = np.repeat(np.arange(na_top), nb_top), np.tile(np.arange(nb_top), na_top)
        if beam:
            return (*descend(top, i, j), None)
        found = None
        for level in range(top, 0, -1):
            lower = bound(level, i, j)
            i, j, lower = i[lower <= limit], j[lower <= limit], lower[lower <= limit]
            if dive and len(i) > _CROWD:  # dive first: a closer pair prunes the rest
                order = np.argsort(lower, kind="stable")[:_BEAM]
                fi, fj = descend(level, i[order], j[order])
                d, qa, qb = _triangle_distance(xa[a.faces[fi]], b.tri[fj])
                m = int(np.argmin(d))
                if found is None or d[m] < found[0]:
                    found = (float(d[m]), int(fi[m]), int(fj[m]), qa[m], qb[m])
                    limit = min(limit, max(found[0] - _TIE_MM, 0.0))
                    if found[0] == 0.0:
                        return i[:0], j[:0], found
                    i, j = i[lower <= limit], j[lower <= limit]
            i, j, ok = children(level, i, j)
            i, j = i[ok], j[ok]
        return i, j, found

    def _axes(self, pose, pairs, pa, pb) -> np.ndarray:
        """Extra separating axes: the best direction and the normals of triangle ``pairs``."""
        fa, fb = np.asarray(pairs).reshape(-1, 2).T
        axes = np.vstack([pb - pa, self.b.normals[fb], _mul(self.a.normals[fa], pose[:3, :3])])
        axes = _unit(axes[np.linalg.norm(axes, axis=1) > 0])
        keep = []  # drop near-duplicates (either sign)
        for k, axis in enumerate(axes):
            if all(abs(axis @ axes[m]) < 1 - 1e-9 for m in keep):
                keep.append(k)
        return axes[keep[:_AXES]]

    def _face_pairs(self, pose, xa, limit: float, extra, dive: bool = True):
        """Candidate triangle pairs, a's triangles posed, and a lower bound each, sorted."""
        ia, ib, found = self._node_pairs(pose, xa, limit, extra, False, dive)
        if found is not None:
            limit = min(limit, max(found[0] - _TIE_MM, 0.0))
        ta, tb = xa[self.a.faces[ia]], self.b.tri[ib]
        na = _mul(self.a.normals[ia], pose[:3, :3])
        lower = _set_bound(ta, tb, np.stack([na, self.b.normals[ib]], axis=1))
        keep = lower <= limit
        order = np.argsort(lower[keep], kind="stable")
        return ia[keep][order], ib[keep][order], ta[keep][order], lower[keep][order], found

    def distance(self, pose: np.ndarray):
        """``(distance, point_a, point_b)``, points in ``b``'s frame, for ``a`` at ``pose``.

        A quick beam search first tightens the bound and finds separating axes (the normals
        of the closest triangles it meets), then the full search proves the minimum.
        """
        a, b = self.a, self.b
        xa = _apply(pose, a.vertices)
        best, pa, pb = self._upper(xa)
        if best == 0.0:
            return best, np.array(pa), np.array(pb)
        extra = self._axes(pose, [self.last], pa, pb)
        ia, ib, _ = self._node_pairs(pose, xa, np.inf, extra, True, False)
        d, qa, qb = _triangle_distance(xa[a.faces[ia]], b.tri[ib])
        order = np.argsort(d)[:_AXES]
        close = [self.last, *zip(ia[order], ib[order], strict=True)]
        if len(d) and d[order[0]] < best:
            best, pa, pb = float(d[order[0]]), qa[order[0]], qb[order[0]]
            self.last = (int(ia[order[0]]), int(ib[order[0]]))
        # pairs closer by more than _TIE_MM, or touching when the best is within it
        limit = max(best - _TIE_MM, 0.0)
        if best > 0.0:
            extra = self._axes(pose, close, pa, pb)
            ia, ib, ta, lower, found = self._face_pairs(pose, xa, limit, extra)
            if found is not None and found[0] < best:
                best, pa, pb = found[0], found[3], found[4]
                self.last = found[1:3]
                limit = max(best - _TIE_MM, 0.0)
            for start in range(0, len(ia), _CHUNK):
                if lower[start] > limit or best == 0.0:
                    break
                sl = slice(start, start + _CHUNK)
                d, qa, qb = _triangle_distance(ta[sl], b.tri[ib[sl]])
                m = int(np.argmin(d))
                if d[m] < best:
                    best, pa, pb = float(d[m]), qa[m], qb[m]
                    self.last = (int(ia[sl][m]), int(ib[sl][m]))
                    limit = max(best - _TIE_MM, 0.0)
        return best, np.array(pa), np.array(pb)

    def faces_within(self, pose: np.ndarray, radius: float):
        """Boolean face masks of ``a`` and ``b`` within ``radius`` of the other surface."""
        xa = _apply(pose, self.a.vertices)
        _, pa, pb = self._upper(xa)
        extra = self._axes(pose, [self.last], pa, pb)
        ia, ib, ta, *_ = self._face_pairs(pose, xa, radius + _TIE_MM, extra, dive=False)
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


def _surface_samples(vertices: np.ndarray, faces: np.ndarray, spacing_mm: float) -> np.ndarray:
    """The vertices, and points on barycentric grids of the triangles longer than
    ``spacing_mm`` so that every surface point is within ``spacing_mm / sqrt(3)`` of one."""
    tri = vertices[faces]
    longest = np.linalg.norm(tri[:, [1, 2, 0]] - tri, axis=2).max(axis=1)
    steps = np.clip(np.ceil(longest / spacing_mm), 1, 64).astype(int)
    out = [vertices]
    for n in np.unique(steps[steps > 1]):
        i, j = np.meshgrid(np.arange(n + 1), np.arange(n + 1))
        keep = (i + j <= n) & ~(((i == 0) | (i == n)) & ((j == 0) | (j == n)))  # no corners
        u, v = (i[keep] / n)[:, None], (j[keep] / n)[:, None]
        t = tri[steps == n]
        out.append(
            (t[:, :1] + u * (t[:, 1:2] - t[:, :1]) + v * (t[:, 2:] - t[:, :1])).reshape(-1, 3)
        )
    return np.vstack(out)


def _overlap(solid_a, pose, solid_b, a: _Surface, b: _Surface, zone: _Surface | None = None):
    """``(volume_mm3, depth_mm)`` of ``solid_a`` at ``pose`` inside ``solid_b`` (b's frame).

    The depth is the largest distance from a point of one surface inside the other piece
    to the other's surface, sampled on the overlap's surface every ``_DEPTH_SPACING_MM``
    (coarser on large overlaps; the depth is 1-Lipschitz along the surface, so it is
    underestimated by at most the spacing / sqrt(3), 0.15 mm). With ``zone`` (a part of
    ``a``), only points of the zone, and points of ``b`` whose nearest point on ``a`` is in
    the zone, count. NaN when a mesh is not a closed volume.
    """
    if solid_a is None or solid_b is None:
        return math.nan, math.nan
    inter = solid_a.transform(np.asarray(pose[:3, :], dtype=float).tolist()) ^ solid_b
    volume = float(inter.volume())
    if inter.is_empty() or volume <= 0:
        return 0.0, 0.0
    mesh = inter.to_mesh()
    verts = np.array(mesh.vert_properties, dtype=float)[:, :3]
    faces = np.array(mesh.tri_verts, dtype=np.int64)
    longest = np.linalg.norm(verts[faces[:, [1, 2, 0]]] - verts[faces], axis=2).max(axis=1)
    spacing = _DEPTH_SPACING_MM
    while (np.ceil(longest / spacing) ** 2).sum() / 2 > _DEPTH_SAMPLES:
        spacing *= 1.5
    pts = _surface_samples(verts, faces, spacing)
    local = _apply(_invert(pose), pts)
    da, db = a.distance_to(local), b.distance_to(pts)
    on_a, on_b = da <= _ON_SURFACE_MM, db <= _ON_SURFACE_MM
    if zone is not None:
        dz = zone.distance_to(local)
        on_a &= dz <= _ON_SURFACE_MM
        on_b &= dz <= da + _ON_SURFACE_MM
    return volume, float(max(db[on_a].max(initial=0.0), da[on_b].max(initial=0.0)))


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
        How far a surface has sunk into the other piece (0 when not penetrating; NaN when
        a mesh is not a closed volume and the surfaces cross).
    overlap_volume_mm3 : float
        Volume shared by the two pieces; NaN when a mesh is not a closed volume.
    static_index : int
        Which of the static meshes is closest.
    """

    distance_mm: float
    point_on_moving_mm: np.ndarray
    point_on_static_mm: np.ndarray
    penetrating: bool = False
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


def _inside(a: _Surface, pose, b: _Surface) -> int:
    """1 if ``a`` at ``pose`` lies inside ``b``, -1 if ``b`` inside ``a``, else 0 (disjoint
    surfaces only: one vertex of each is tested by its winding number)."""
    if abs(_winding_number(_apply(pose, a.vertices[:1]), b.tri)[0]) > 0.5:
        return 1
    if abs(_winding_number(_apply(_invert(pose), b.vertices[:1]), a.tri)[0]) > 0.5:
        return -1
    return 0


def clearance(moving: trimesh.Trimesh, pose, static) -> Clearance:
    """Exact minimum distance between a posed piece and the static piece(s), with overlap.

    Parameters
    ----------
    moving : trimesh.Trimesh
        The moving piece in its start position, LPS mm.
    pose : (4, 4) float
        Rigid transform applied to ``moving`` (``p' = T[:3, :3] @ p + T[:3, 3]``).
    static : trimesh.Trimesh or sequence of trimesh.Trimesh
        The rest of the bone, LPS mm.

    Returns
    -------
    Clearance
        Exact to 1 µm (see the module notes); overlap measures need closed meshes.
    """
    pose = _check_pose(pose, "pose")
    moving = _as_meshes(moving, "moving")[0]
    a = _Surface(moving.vertices, moving.faces)
    best = None
    for index, mesh in enumerate(_as_meshes(static, "static")):
        b = _Surface(mesh.vertices, mesh.faces)
        d, pa, pb = _Pair(a, b).distance(pose)
        penetrating, volume, depth = False, 0.0, 0.0
        if d == 0.0 or _inside(a, pose, b):
            solids = [_manifold(m.vertices, m.faces) for m in (moving, mesh)]
            volume, depth = _overlap(solids[0], pose, solids[1], a, b)
            penetrating = not volume <= 1e-9  # NaN (not closed) counts as overlapping
        key = (not penetrating, d, -np.nan_to_num(depth))
        if best is None or key < best[0]:
            best = (key, Clearance(d, pa, pb, penetrating, depth, volume, index))
    return best[1]


# --------------------------------------------------------------------------- sweep
@dataclass(frozen=True)
class Contact:
    """The first new contact between two pieces during a sweep.

    Attributes
    ----------
    t_days : float
        First sampled time at which the distance is ``<= contact_mm`` (days).
    day : int
        Schedule day of ``t_days`` (``floor(t_days)``: day 0 is ``[0, 1)``).
    t_clear_days : float
        Last sampled time before it at which the pieces were clear: the contact begins in
        ``(t_clear_days, t_days]``.
    motion_mm : float
        Largest displacement of a point of the moving piece (relative to the other) between
        the two times: at most ``precision_mm``, unless the pose jumps there (an activation).
    moving, other : hashable
        The two pieces (``other`` may be another moving piece).
    distance_mm : float
        Distance at ``t_days`` (0 when the surfaces touch or cross).
    point_on_moving_mm, point_on_other_mm : (3,) float
        Where: the closest points at ``t_clear_days``, just before the touch (at ``t_days``
        the surfaces may already cross along a curve), LPS mm.
    """

    t_days: float
    day: int
    t_clear_days: float
    motion_mm: float
    moving: Hashable
    other: Hashable
    distance_mm: float
    point_on_moving_mm: np.ndarray
    point_on_other_mm: np.ndarray


@dataclass(frozen=True)
class InitialContact:
    """Two pieces already within ``contact_mm`` at the start (e.g. teeth in occlusion).

    The *contact zone* is every triangle of the moving piece within ``zone_mm`` of the other
    piece (or inside it) at the start. A contact is *new* when it involves the rest of the
    moving piece; the zone may slide along the other piece, and its signed clearance to it
    (distance, or minus the depth the zone has sunk into the other piece) is tracked: it
    *gets worse* when it falls more than ``precision_mm`` below its starting value (pushed
    in, or the zone meeting another part of the other piece).

    Attributes
    ----------
    moving, other : hashable
        The two pieces.
    distance_mm : float
        Distance at the start.
    point_on_moving_mm, point_on_other_mm : (3,) float
        Closest points at the start, LPS mm.
    penetration_depth_mm, overlap_volume_mm3 : float
        Overlap at the start (0 when they only touch; NaN when not closed volumes).
    zone_clearance_mm : (n,) float
        Signed clearance of the zone at ``CollisionReport.times_days`` (sampled there only;
        the depth is sampled on the overlap's surface, to about 0.15 mm).
    worse_at_days : float or None
        First sampled time at which the zone clearance got worse.
    """

    moving: Hashable
    other: Hashable
    distance_mm: float
    point_on_moving_mm: np.ndarray
    point_on_other_mm: np.ndarray
    penetration_depth_mm: float
    overlap_volume_mm3: float
    zone_clearance_mm: np.ndarray
    worse_at_days: float | None


@dataclass(frozen=True)
class CollisionReport:
    """Clearances between every moving piece and the rest of the bone over time.

    Attributes
    ----------
    times_days : (n,) float
        Sample times: the start and end, every activation, at most ``max_step_days`` apart.
    distance_mm : dict of (moving, other) -> (n,) float
        Distance of each pair at ``times_days``; for a pair in initial contact, the distance
        from the rest of the moving piece (outside its contact zone).
    min_distance_mm, min_distance_t_days : dict of (moving, other) -> float
        Smallest distance over the whole sweep (refined between samples to
        ``precision_mm``) and when.
    contacts : tuple of Contact
        The first new contact of each pair that has one, earliest first.
    initial_contacts : tuple of InitialContact
        Pairs within ``contact_mm`` at the start.
    precision_mm, contact_mm, zone_mm : float
        The settings used.
    evaluations : int
        Exact pair distances computed.
    """

    times_days: np.ndarray
    distance_mm: dict
    min_distance_mm: dict
    min_distance_t_days: dict
    contacts: tuple[Contact, ...]
    initial_contacts: tuple[InitialContact, ...]
    precision_mm: float
    contact_mm: float
    zone_mm: float
    evaluations: int = field(default=0, compare=False)

    @property
    def first_contact(self) -> Contact | None:
        """The earliest new contact, or None."""
        return self.contacts[0] if self.contacts else None

    def segment_distance_mm(self, key: Hashable) -> np.ndarray:
        """Distance ``(n,)`` from piece ``key`` to every other piece, at ``times_days``."""
        rows = [d for pair, d in self.distance_mm.items() if key in pair]
        if not rows:
            raise KeyError(key)
        return np.min(rows, axis=0)

    def summary(self) -> list[str]:
        """The findings, one line each."""
        lines = []
        for c in self.initial_contacts:
            text = (
                f"in contact at day {_day(self.times_days[0])}: {c.moving} and {c.other} at "
                f"{_xyz(c.point_on_other_mm)} (distance {c.distance_mm:.2f} mm"
            )
            if c.penetration_depth_mm > 0:
                text += f", overlapping {c.penetration_depth_mm:.2f} mm deep"
            worst = float(np.min(c.zone_clearance_mm))
            text += (
                f"); pressed together from day {_day(c.worse_at_days)} (zone clearance down to"
                f" {worst:.2f} mm)"
                if c.worse_at_days is not None
                else "); not pressed together further"
            )
            lines.append(text)
        for c in self.contacts:
            lines.append(
                f"new contact on day {c.day} (t = {c.t_days:.3f} d, clear at "
                f"{c.t_clear_days:.3f} d): {c.moving} and {c.other} at {_xyz(c.point_on_other_mm)}"
            )
        if not self.contacts and self.min_distance_mm:
            pair = min(self.min_distance_mm, key=self.min_distance_mm.get)
            t = self.min_distance_t_days[pair]
            lines.append(
                f"no new contact; closest approach {self.min_distance_mm[pair]:.2f} mm between"
                f" {pair[0]} and {pair[1]} on day {_day(t)} (t = {t:.2f} d)"
            )
        return lines


def _day(t: float) -> int:
    return math.floor(t + 1e-9)


def _xyz(p: np.ndarray) -> str:
    return "(" + ", ".join(f"{v:.1f}" for v in p) + ") mm LPS"


class _Poses:
    """``pose_at`` with checks and a cache; static pieces stay at the identity."""

    def __init__(self, pose_at, moving_keys, t_start: float):
        self.pose_at, self.keys, self.t_start, self.cache = pose_at, moving_keys, t_start, {}

    def __call__(self, t: float) -> dict:
        if t not in self.cache:
            got = self.pose_at(t)
            if not isinstance(got, Mapping):
                raise TypeError(f"pose_at({t}) must return a dict, got {type(got).__name__}")
            missing = [k for k in self.keys if k not in got]
            if missing:
                raise ValueError(f"pose_at({t}) gives no pose for moving piece(s) {missing}")
            self.cache[t] = {k: _check_pose(got[k], f"pose_at({t})[{k!r}]") for k in self.keys}
        return self.cache[t]


class _Track:
    """Distances over time between a moving piece and another piece (static or moving)."""

    def __init__(self, moving, other, surfaces, meshes, poses, times, zone_mm, contact_mm):
        self.moving, self.other, self.poses = moving, other, poses
        self.a, self.b = surfaces[moving], surfaces[other]
        self.pairs = [_Pair(self.a, self.b)]
        self.cache: dict[float, tuple] = {}
        self.evaluations, self.initial = 1, None
        rel, to = self.relative(poses.t_start)
        d, pa, pb = self.pairs[0].distance(rel)
        if d > 0.0 and _inside(self.a, rel, self.b):
            raise PlannerError(
                f"pieces {moving!r} and {other!r} lie one inside the other at the start: check "
                "the segments (each piece must be a separate closed surface)"
            )
        if d > contact_mm:
            return
        # initial contact: the part of the moving piece near the other one is its zone
        solids = [_manifold(meshes[k].vertices, meshes[k].faces) for k in (moving, other)]
        volume, depth = _overlap(solids[0], rel, solids[1], self.a, self.b) if d == 0 else (0, 0)
        radius = max(zone_mm, contact_mm)
        in_zone = self.pairs[0].faces_within(rel, radius)[0]
        if volume > 0:  # faces sunk into the other piece belong to the zone too
            m = (solids[0].transform(rel[:3, :].tolist()) ^ solids[1]).to_mesh()
            core = _Surface(np.array(m.vert_properties)[:, :3], np.array(m.tri_verts))
            in_zone |= core.distance_to(_apply(rel, self.a.centroids)) <= _ON_SURFACE_MM
        zone, rest = self.a.subset(in_zone), self.a.subset(~in_zone)
        self.pairs = [_Pair(rest, self.b)] if rest is not None else []
        self.zone_pair = _Pair(zone, self.b)
        # overlaps of the zone are measured on solids cropped around it (and where it goes)
        lo, hi = zone.vertices.min(0) - radius - 2.0, zone.vertices.max(0) + radius + 2.0
        corners = np.array([[(lo, hi)[(c >> k) & 1][k] for k in range(3)] for c in range(8)])
        swept = np.vstack([_apply(self.relative(t)[0], corners) for t in times])
        self.zone_solids = (
            None if solids[0] is None else _crop(solids[0], lo, hi),
            None if solids[1] is None else _crop(solids[1], swept.min(0), swept.max(0)),
        )
        self.initial = (d, _apply(to, pa), _apply(to, pb), depth, volume)

    def relative(self, t: float):
        """Pose of the moving piece in the other's frame, and the other's pose, at ``t``."""
        poses = self.poses(t)
        to = poses.get(self.other, np.eye(4))
        return _invert(to) @ poses[self.moving], to

    def __call__(self, t: float):
        """``(distance, point_on_moving, point_on_other)`` at ``t`` (LPS mm), cached."""
        if t not in self.cache:
            rel, to = self.relative(t)
            best = (math.inf, np.full(3, np.nan), np.full(3, np.nan))
            for pair in self.pairs:
                d, pa, pb = pair.distance(rel)
                self.evaluations += 1
                if d < best[0]:
                    best = (d, _apply(to, pa), _apply(to, pb))
            self.cache[t] = best
        return self.cache[t]

    def zone_clearance(self, t: float) -> float:
        """Signed clearance of the initial contact zone to the other piece (negative: the
        depth it has sunk in)."""
        rel, _ = self.relative(t)
        d = self.zone_pair.distance(rel)[0]
        self.evaluations += 1
        if d > 0.0:
            return d
        solid_a, solid_b = self.zone_solids
        depth = _overlap(solid_a, rel, solid_b, self.a, self.b, self.zone_pair.a)[1]
        return -depth if np.isfinite(depth) else 0.0

    def motion(self, t1: float, t2: float) -> float:
        """Largest displacement of a point of the moving piece, relative to the other."""
        r1, r2 = self.relative(t1)[0], self.relative(t2)[0]
        moved = _apply(r2, self.a.hull) - _apply(r1, self.a.hull)
        return float(np.linalg.norm(moved, axis=1).max())


def _refine(track: _Track, times, values, precision_mm, contact_mm, time_tol_days):
    """Bisect between samples for the first contact and the smallest distance.

    Between two times no point moves farther than ``m`` (the largest displacement between
    them, :meth:`_Track.motion`) from either end, so the distance stays above
    ``max(d1, d2) - m``; intervals are split until that bound clears the contact threshold
    (and the smallest distance so far, less ``precision_mm``) or ``m <= precision_mm``.
    """
    contact = None
    k = int(np.argmin(values))
    best = (float(values[k]), float(times[k]))
    stack = [(times[n], times[n + 1]) for n in range(len(times) - 1)][::-1]
    while stack:
        t1, t2 = stack.pop()
        (d1, p1a, p1b), (d2, *_) = track(t1), track(t2)
        motion = track.motion(t1, t2)
        lower = max(d1, d2, motion) - motion  # distances are never negative
        want_contact = contact is None and d1 > contact_mm and lower <= contact_mm
        if not want_contact and lower >= best[0] - precision_mm:
            continue
        if motion <= precision_mm or t2 - t1 <= time_tol_days:
            if want_contact and d2 <= contact_mm:
                contact = Contact(
                    float(t2),
                    _day(t2),
                    float(t1),
                    motion,
                    track.moving,
                    track.other,
                    float(d2),
                    p1a,
                    p1b,
                )
            continue
        tm = 0.5 * (t1 + t2)
        dm = track(tm)[0]
        if dm < best[0]:
            best = (float(dm), float(tm))
        stack += [(tm, t2), (t1, tm)]
    return contact, best


def _sample_times(t_start, t_end, max_step_days, extra) -> np.ndarray:
    n = max(1, math.ceil((t_end - t_start) / max_step_days - 1e-9))
    times = np.concatenate([np.linspace(t_start, t_end, n + 1), np.asarray(extra, float)])
    times = times[(times >= t_start) & (times <= t_end)]
    return np.unique(np.round(times, 9))


def collision_sweep(
    moving_meshes: Mapping[Hashable, trimesh.Trimesh],
    static_meshes: Mapping[Hashable, trimesh.Trimesh] | Sequence[trimesh.Trimesh],
    pose_at: Callable[[float], Mapping[Hashable, np.ndarray]],
    t_start_days: float,
    t_end_days: float,
    *,
    schedule_times: Sequence[float] = (),
    precision_mm: float = 0.1,
    contact_mm: float = 0.0,
    max_step_days: float = 1.0,
    zone_mm: float = 0.5,
    time_tolerance_days: float = 1e-3,
) -> CollisionReport:
    """Clearances between each moving piece and the rest of the bone along the movement.

    Parameters
    ----------
    moving_meshes : dict of key -> trimesh.Trimesh
        The segments that move, in their start position (LPS mm).
    static_meshes : dict of key -> trimesh.Trimesh, or sequence
        The pieces that stay; a sequence gets keys ``"static 0"``, ``"static 1"``...
    pose_at : callable
        ``pose_at(t_days)`` returns ``{key: (4, 4) rigid transform}`` for every moving key,
        applied to its start position (``p' = T[:3, :3] @ p + T[:3, 3]``), e.g.
        :func:`planner.motion.distraction.segment_poses`.
    t_start_days, t_end_days : float
        The time span (days).
    schedule_times : sequence of float, optional
        Activation times: each becomes a sample of the table.
    precision_mm : float, optional
        Largest motion between the bracketing times of a first contact, and tolerance on the
        smallest distance over the sweep.
    contact_mm : float, optional
        Distance at or below which two pieces are in contact (a clearance margin).
    max_step_days : float, optional
        Longest interval between samples.
    zone_mm : float, optional
        Pieces within ``contact_mm`` at the start are an initial contact; the triangles of
        the moving piece within ``max(zone_mm, contact_mm)`` of the other form its contact
        zone (see :class:`InitialContact`).
    time_tolerance_days : float, optional
        Shortest interval bisected: a pose that jumps at an activation cannot be split
        below the jump (:attr:`Contact.motion_mm` then shows the jump).

    Returns
    -------
    CollisionReport

    Notes
    -----
    Between two samples each point is assumed to stay within the distance it travels
    between them (true for translations, rotations of less than 180° about a fixed axis,
    and poses that hold still between activations). Every pair of a moving piece with a
    static piece or another moving piece is checked.
    """
    if not isinstance(moving_meshes, Mapping) or not moving_meshes:
        raise TypeError("moving_meshes must be a non-empty dict of trimesh.Trimesh")
    if isinstance(static_meshes, Mapping):
        statics = dict(static_meshes)
    else:
        statics = {f"static {i}": m for i, m in enumerate(_as_meshes(static_meshes, "static"))}
    clash = set(statics) & set(moving_meshes)
    if clash:
        raise ValueError(f"keys {sorted(map(str, clash))} are both moving and static")
    meshes = {**dict(moving_meshes), **statics}
    for key, mesh in meshes.items():
        _as_meshes(mesh, f"mesh {key!r}")
    t_start_days, t_end_days = float(t_start_days), float(t_end_days)
    if not t_end_days >= t_start_days:
        raise ValueError(
            f"t_end_days ({t_end_days}) must not precede t_start_days ({t_start_days})"
        )
    for name, value in (
        ("precision_mm", precision_mm),
        ("max_step_days", max_step_days),
        ("time_tolerance_days", time_tolerance_days),
    ):
        if not value > 0:
            raise ValueError(f"{name} must be > 0, got {value}")
    if not (contact_mm >= 0 and zone_mm >= 0):
        raise ValueError(f"contact_mm and zone_mm must be >= 0, got {contact_mm}, {zone_mm}")

    keys = list(moving_meshes)
    poses = _Poses(pose_at, keys, t_start_days)
    surfaces = {k: _Surface(m.vertices, m.faces) for k, m in meshes.items()}
    pairs = [(m, o) for m in keys for o in statics]
    pairs += [(m, o) for n, m in enumerate(keys) for o in keys[n + 1 :]]
    times = _sample_times(t_start_days, t_end_days, max_step_days, schedule_times)
    tracks = [_Track(m, o, surfaces, meshes, poses, times, zone_mm, contact_mm) for m, o in pairs]
    distance, min_d, min_t, contacts, initial = {}, {}, {}, [], []
    for tr in tracks:
        pair = (tr.moving, tr.other)
        distance[pair] = np.array([tr(t)[0] for t in times])
        contact, (min_d[pair], min_t[pair]) = _refine(
            tr, times, distance[pair], precision_mm, contact_mm, time_tolerance_days
        )
        if contact is not None:
            contacts.append(contact)
        if tr.initial is not None:
            zone = np.array([tr.zone_clearance(t) for t in times])
            worse = np.flatnonzero(zone < zone[0] - precision_mm)
            when = float(times[worse[0]]) if len(worse) else None
            initial.append(InitialContact(tr.moving, tr.other, *tr.initial, zone, when))
    contacts.sort(key=lambda c: c.t_days)
    return CollisionReport(
        times,
        distance,
        min_d,
        min_t,
        tuple(contacts),
        tuple(initial),
        precision_mm,
        contact_mm,
        zone_mm,
        sum(tr.evaluations for tr in tracks),
    )

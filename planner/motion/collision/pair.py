"""Exact distance between two surfaces, one posed: a simultaneous descent of their
bounding hierarchies, pruned by the best pair so far (see :mod:`planner.motion.collision`)."""

from __future__ import annotations

import numpy as np

from planner.geometry import apply_affine, unit
from planner.motion.collision.surface import DOP, DOP_LEVEL, Surface, project
from planner.motion.collision.triangles import triangle_distance

__all__ = ["Pair"]

_CHUNK = 8192  # triangle pairs per vectorised batch
_BEAM = 64  # pairs followed per level by the quick search for a close pair
_AXES = 8  # extra separating axes at most
_CROWD = 20_000  # node pairs of a level beyond which a beam search runs first
_LOCAL_MM = 2.0  # triangles this close to the last closest pair are tried first
_TIE_MM = 1e-3  # distances are exact to 1 µm: closer ties (float32 noise) are not split


def _frames(area_n: np.ndarray) -> np.ndarray:
    """Axes ``(n, 3, 3)``: the unit mean normal and two tangents (any for a zero normal)."""
    n = unit(area_n)
    n[~n.any(axis=1)] = (1.0, 0.0, 0.0)
    t1 = unit(np.cross(n, np.eye(3)[np.abs(n).argmin(axis=1)]))
    return np.stack([n, t1, np.cross(n, t1)], axis=1)


def _runs(vertices, faces, area_n, rot, nodes: np.ndarray, size: int):
    """Vertices ``(m, 3 size, 3)`` and axes ``(m, 3, 3)`` of runs ``nodes`` of ``size`` faces.

    ``vertices`` are already posed; ``rot`` turns the local ``area_n`` into their frame.
    """
    idx = np.minimum(nodes[:, None] * size + np.arange(size), len(faces) - 1)
    pts = vertices[faces[idx]].reshape(len(nodes), -1, 3)
    return pts, _frames(project(area_n[idx].sum(axis=1), rot))


def _set_bound(pa: np.ndarray, pb: np.ndarray, axes: np.ndarray) -> np.ndarray:
    """Lower bound on the distance between the hulls of point sets ``(m, k, 3)``.

    The largest gap between the sets' projections on ``axes (m, r, 3)`` and on the line
    through their means (which also covers the bounding spheres).
    """
    u = unit(pb.mean(axis=1) - pa.mean(axis=1))[:, None]
    axes = np.concatenate([axes, u], axis=1).transpose(0, 2, 1)
    xa, xb = pa @ axes, pb @ axes
    gap = np.maximum(xb.min(axis=1) - xa.max(axis=1), xa.min(axis=1) - xb.max(axis=1))
    return gap.max(axis=1)


def _near_faces(s: Surface, face: int) -> np.ndarray:
    """Small faces of ``s`` whose centroid is within ``_LOCAL_MM`` of face ``face``'s."""
    index = s.index
    return index.small[index.small_tree.query_ball_point(s.centroids[face], _LOCAL_MM)]


class Pair:
    """Exact distance between surface ``a`` (posed) and surface ``b`` (in its own frame).

    Keeps the last closest triangle pair: at a nearby pose its distance is a tight upper
    bound that prunes the hierarchy.
    """

    def __init__(self, a: Surface, b: Surface):
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
            near_a = _near_faces(a, fa)
            near_b = _near_faces(b, fb)
            near_a, near_b = np.append(near_a, fa)[:64], np.append(near_b, fb)[:64]
            pairs = np.stack(np.meshgrid(near_a, near_b, indexing="ij"), -1).reshape(-1, 2)
        fa, fb = np.reshape(pairs, (-1, 2)).astype(np.int64).T
        d, qa, qb = np.zeros(0), np.zeros((0, 3)), np.zeros((0, 3))
        if len(fa):
            d, qa, qb = triangle_distance(xa[a.faces[fa]], b.tri[fb])
        step = max(1, len(xa) // 1000)
        tree = b.index.vertex_tree  # over the triangles' corners: corner k is on face k // 3
        dist, k = tree.query(xa[::step], distance_upper_bound=d.min(initial=np.inf))
        m = int(np.argmin(dist))
        if np.isfinite(dist[m]):
            fa, fb = np.append(fa, a.vertex_face[m * step]), np.append(fb, k[m] // 3)
            d2, qa2, qb2 = triangle_distance(xa[a.faces[fa[-1:]]], b.tri[fb[-1:]])
            d, qa, qb = np.append(d, d2), np.vstack([qa, qa2]), np.vstack([qb, qb2])
        m = int(np.argmin(d))
        self.last = (int(fa[m]), int(fb[m]))
        return float(d[m]), qa[m], qb[m]

    def _node_pairs(self, pose, xa, limit: float, extra: np.ndarray, beam: bool, dive: bool):
        """Triangle pairs ``(fa, fb)`` whose distance may be ``<= limit``.

        Both hierarchies are split together from the top. Boxes are compared along the
        26-DOP directions and, exactly, along the ``extra (r, 3)`` axes (the directions of
        the best pair so far: when many pairs tie, as across the parallel faces of a kerf,
        one of them separates whole regions at once); runs of up to ``2**DOP_LEVEL`` faces
        are bounded by their triangles. With ``beam``, only the ``_BEAM`` most promising
        pairs of each level are followed instead (a quick search for a close pair). With
        ``dive``, a level crowded with more than ``_CROWD`` pairs is first explored that way,
        and a closer pair found there tightens ``limit``. Returns ``(fa, fb, found)``, ``found``
        ``(distance, fa, fb, point_a, point_b)`` of the best such pair, or None.
        """
        a, b = self.a, self.b
        ext_a = a.extents(pose, np.vstack([DOP, extra]))
        ext_b = [
            (np.hstack([d[0], e[0]]), np.hstack([d[1], e[1]]))
            for d, e in zip(b.dop, b.extents(np.eye(4), extra), strict=True)
        ]

        def bound(level, i, j):
            lower = np.full(len(i), -np.inf)
            if level >= DOP_LEVEL:
                (alo, ahi), (blo, bhi) = ext_a[level - DOP_LEVEL], ext_b[level - DOP_LEVEL]
                gap = np.maximum(blo[j] - ahi[i], alo[i] - bhi[j])
                lower = np.maximum(np.linalg.norm(np.maximum(gap[:, :3], 0), axis=1), gap.max(1))
            if level <= DOP_LEVEL and len(i):
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

        top = min(len(ext_a), len(ext_b)) - 1 + DOP_LEVEL
        na_top, nb_top = (len(e[top - DOP_LEVEL][0]) for e in (ext_a, ext_b))
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
                d, qa, qb = triangle_distance(xa[a.faces[fi]], b.tri[fj])
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
        axes = np.vstack([pb - pa, self.b.normals[fb], project(self.a.normals[fa], pose[:3, :3])])
        axes = unit(axes[np.linalg.norm(axes, axis=1) > 0])
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
        na = project(self.a.normals[ia], pose[:3, :3])
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
        xa = apply_affine(pose, a.vertices)
        best, pa, pb = self._upper(xa)
        if best == 0.0:
            return best, np.array(pa), np.array(pb)
        extra = self._axes(pose, [self.last], pa, pb)
        ia, ib, _ = self._node_pairs(pose, xa, np.inf, extra, True, False)
        d, qa, qb = triangle_distance(xa[a.faces[ia]], b.tri[ib])
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
                d, qa, qb = triangle_distance(ta[sl], b.tri[ib[sl]])
                m = int(np.argmin(d))
                if d[m] < best:
                    best, pa, pb = float(d[m]), qa[m], qb[m]
                    self.last = (int(ia[sl][m]), int(ib[sl][m]))
                    limit = max(best - _TIE_MM, 0.0)
        return best, np.array(pa), np.array(pb)

    def faces_within(self, pose: np.ndarray, radius: float):
        """Boolean face masks of ``a`` and ``b`` within ``radius`` of the other surface."""
        xa = apply_affine(pose, self.a.vertices)
        _, pa, pb = self._upper(xa)
        extra = self._axes(pose, [self.last], pa, pb)
        ia, ib, ta, *_ = self._face_pairs(pose, xa, radius + _TIE_MM, extra, dive=False)
        in_a, in_b = np.zeros(len(self.a.faces), bool), np.zeros(len(self.b.faces), bool)
        for start in range(0, len(ia), _CHUNK):
            sl = slice(start, start + _CHUNK)
            near = triangle_distance(ta[sl], self.b.tri[ib[sl]])[0] <= radius
            in_a[ia[sl][near]] = True
            in_b[ib[sl][near]] = True
        return in_a, in_b

"""A triangle surface prepared for exact distance queries: faces sorted along a Z-order
curve, runs of faces bounded by 26-DOPs (the bounding hierarchy), and k-d trees."""

from __future__ import annotations

import numpy as np
from scipy.spatial import ConvexHull, QhullError

from planner.geometry import SurfaceIndex, unit

__all__ = ["DOP", "DOP_LEVEL", "Surface", "project"]

DOP_LEVEL = 3  # runs of up to 2**3 faces are bounded by their triangles, larger ones by boxes


def project(points: np.ndarray, axes: np.ndarray) -> np.ndarray:
    """``points (..., 3) @ axes.T`` for ``axes (k, 3)`` (einsum: BLAS is slow on thin arrays)."""
    return np.einsum("...d,kd->...k", points, axes)


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
    """Per-level ``(min, max)`` extents from those of level ``DOP_LEVEL`` ``(n, k)``.

    Item ``l`` is level ``DOP_LEVEL + l`` (node ``i`` holds children ``2i``, ``2i + 1``).
    """
    out = [(lo, hi)]
    while len(lo) > 1:
        if len(lo) % 2:
            lo, hi = np.vstack([lo, lo[-1:]]), np.vstack([hi, hi[-1:]])
        lo, hi = np.minimum(lo[0::2], lo[1::2]), np.maximum(hi[0::2], hi[1::2])
        out.append((lo, hi))
    return out


_AXES_DOP = [(1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 1, 0), (1, -1, 0), (1, 0, 1), (1, 0, -1)]
_AXES_DOP += [(0, 1, 1), (0, 1, -1), (1, 1, 1), (1, 1, -1), (1, -1, 1), (1, -1, -1)]
DOP = unit(np.array(_AXES_DOP, dtype=float))  # the 13 directions of a 26-DOP


class Surface:
    """A triangle surface prepared for distance queries, in its own (local) frame.

    Parameters
    ----------
    vertices : (n, 3) float
    faces : (m, 3) int
        Unused vertices are dropped; faces are reordered along a Z-order curve so that runs
        of ``2**l`` consecutive faces are the nodes of level ``l`` of the hierarchy.
    """

    def __init__(self, vertices: np.ndarray, faces: np.ndarray):
        vertices = np.asarray(vertices, dtype=float)
        faces = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
        used, faces = np.unique(faces, return_inverse=True)
        vertices, faces = vertices[used], faces.reshape(-1, 3)
        faces = faces[_morton_order(vertices[faces].mean(axis=1))]
        self.vertices, self.faces = vertices, faces
        self.tri = tri = vertices[faces]
        self.index = SurfaceIndex(tri)  # closest points; its trees also seed the pair search
        self.centroids, self.radius = self.index.centroids, self.index.radius
        self.area_normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        self.normals = unit(self.area_normals)
        self.vertex_face = np.zeros(len(vertices), dtype=np.int64)
        self.vertex_face[faces.ravel()] = np.repeat(np.arange(len(faces)), 3)
        try:  # the points that move the most under any rigid motion
            self.hull = vertices[ConvexHull(vertices).vertices]
        except QhullError:  # flat or tiny
            self.hull = vertices
        # runs of 2**DOP_LEVEL faces: their vertices (float32, a coordinate per row: fast
        # projections) and their 26-DOPs, rounded outwards
        node = np.repeat(np.arange(len(faces)) >> DOP_LEVEL, 3)
        key = np.unique(node * len(vertices) + faces.ravel())
        self.node_points = np.ascontiguousarray(vertices[key % len(vertices)].T, np.float32)
        self.starts = np.searchsorted(key // len(vertices), np.arange(node[-1] + 1))
        self.slack = 1e-6 * (np.abs(vertices).max() + 1.0)  # float32 rounding of projections
        self.dop = [
            (lo.astype(np.float32), hi.astype(np.float32))
            for lo, hi in self.extents(np.eye(4), DOP)
        ]

    def extents(self, pose: np.ndarray, axes: np.ndarray):
        """Per-level ``(min, max)`` along ``axes (k, 3)`` of the surface moved by ``pose``,
        rounded outwards: item ``l`` is level ``DOP_LEVEL + l``."""
        proj = np.ascontiguousarray(
            ((axes @ pose[:3, :3]).astype(np.float32) @ self.node_points).T
        )
        shift = axes @ pose[:3, 3]
        lo = np.minimum.reduceat(proj, self.starts) + (shift - self.slack)
        hi = np.maximum.reduceat(proj, self.starts) + (shift + self.slack)
        return _extents(lo, hi)

    def subset(self, face_mask: np.ndarray) -> Surface | None:
        return Surface(self.vertices, self.faces[face_mask]) if np.any(face_mask) else None

    def distance_to(self, points: np.ndarray) -> np.ndarray:
        """Exact distances from ``points (n, 3)`` (local frame) to this surface."""
        return self.index.distance(points)

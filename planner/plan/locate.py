"""Which mesh holds a point: footplates, landmarks and picks on bone segments.

A point on a bone (a footplate screwed to the surface, a landmark) may sit a hair
outside it or in a saw's kerf. :func:`nearest_mesh` gives the first mesh that holds the
point (winding number, or exactly on its surface), else the one whose surface is nearest
within a tolerance, and says so in one line when there is none.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import trimesh

from planner.errors import PlannerError
from planner.geometry import (
    closest_point_on_surface,
    closest_point_on_triangles,
    contains,
    triangle_bounds,
    triangle_rows,
)
from planner.geometry.meshcache import cached

__all__ = ["as_point", "format_point", "nearest_mesh", "prepare_lookup"]


def format_point(p) -> str:
    """``(x, y, z)`` to 0.1 mm, for messages."""
    return "(" + ", ".join(f"{v:.1f}" for v in np.asarray(p, dtype=float)) + ")"


def _box_distance(mesh: trimesh.Trimesh, point: np.ndarray) -> float:
    """Distance from ``point`` to the mesh's bounding box (0 inside it), mm."""
    lo, hi = mesh.bounds
    return float(np.linalg.norm(np.maximum(lo - point, 0) + np.maximum(point - hi, 0)))


def _inside_or_on(mesh: trimesh.Trimesh, point: np.ndarray) -> bool:
    """Is ``point`` inside the mesh (winding number), or exactly on its surface?"""
    if contains([point], mesh.triangles, rows=_rows(mesh))[0]:
        return True
    (lo, hi), _ = _bounds(mesh)
    gap = np.maximum(lo - point, 0.0) + np.maximum(point - hi, 0.0)
    near = np.flatnonzero(np.einsum("ij,ij->i", gap, gap) <= 1e-18)
    if not len(near):  # no triangle's box holds the point: it is off the surface
        return False
    q = closest_point_on_triangles(np.broadcast_to(point, (len(near), 3)), mesh.triangles[near])
    return bool(np.any(np.linalg.norm(q - point, axis=1) == 0.0))


def _surface_distance(mesh: trimesh.Trimesh, point: np.ndarray) -> float:
    """Exact distance from ``point`` to the mesh's surface, mm."""
    bounds, corners = _bounds(mesh)
    d = closest_point_on_surface([point], mesh.triangles, bounds=bounds, vertices=corners)[1]
    return float(d[0])


def _rows(mesh: trimesh.Trimesh) -> np.ndarray:
    """``triangle_rows`` of the mesh, kept with it."""
    return cached(mesh, "triangle_rows", lambda: triangle_rows(mesh.triangles))


def _bounds(mesh: trimesh.Trimesh):
    """Per-triangle bounds ``(lo, hi)`` and the vertices the faces use, kept with the
    mesh."""

    def build():
        used = np.zeros(len(mesh.vertices), dtype=bool)
        used[mesh.faces.ravel()] = True
        corners = mesh.vertices if used.all() else mesh.vertices[used]
        return triangle_bounds(mesh.triangles), corners

    return cached(mesh, "surface_bounds", build)


def nearest_mesh(meshes: Sequence[trimesh.Trimesh], point, tol_mm: float, label: str) -> int:
    """Index of the mesh holding ``point (3,)``, or else nearest it within ``tol_mm``.

    The first mesh (in order) that holds the point, or has it exactly on its surface,
    wins; only when there is none are distances to the surfaces measured (a mesh whose
    bounding box is further than the best so far is skipped).

    Raises
    ------
    PlannerError
        No mesh within ``tol_mm``; the message names the point as ``label``.
    """
    p = np.asarray(point, dtype=float)
    boxes = [_box_distance(mesh, p) for mesh in meshes]
    best, best_d = -1, np.inf
    for i, mesh in enumerate(meshes):
        if boxes[i] == 0 and _inside_or_on(mesh, p):
            best, best_d = i, 0.0
            break
    else:
        cap = 1e3 * max(tol_mm, 1.0)
        for i, mesh in enumerate(meshes):
            if boxes[i] <= min(best_d, cap):
                d = _surface_distance(mesh, p)
                if d < best_d:
                    best, best_d = i, d
    if best_d > tol_mm:
        far = "far" if not np.isfinite(best_d) else f"{best_d:.1f} mm"
        raise PlannerError(
            f"{label} {format_point(point)} is {far} from the nearest bone; place it on the bone"
            " surface"
        )
    return best


def as_point(point, what: str) -> np.ndarray:
    """``point`` as a finite ``(3,)`` float array; ValueError naming ``what`` otherwise."""
    p = np.asarray(point, dtype=float)
    if p.shape != (3,) or not np.all(np.isfinite(p)):
        raise ValueError(f"{what} must be 3 finite coordinates, got {point!r}")
    return p


def prepare_lookup(mesh: trimesh.Trimesh) -> None:
    """Make and keep with ``mesh`` the tables :func:`nearest_mesh` uses."""
    _rows(mesh)
    _bounds(mesh)

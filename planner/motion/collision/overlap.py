"""Overlapping pieces: the shared volume and its depth (manifold3d), and containment."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from planner.errors import PlannerError
from planner.geometry import apply_affine, invert_pose, to_manifold, to_trimesh, winding_number
from planner.motion.collision.surface import Surface

if TYPE_CHECKING:
    import manifold3d
    import trimesh

__all__ = ["ON_SURFACE_MM", "crop", "inside", "overlap", "solid_of"]

ON_SURFACE_MM = 1e-3  # a point of an overlap this close to a surface lies on it
_DEPTH_SPACING_MM = 0.25  # sampling of an overlap's surface for its depth...
_DEPTH_SAMPLES = 5_000  # ...made coarser beyond this many points


def solid_of(mesh: trimesh.Trimesh) -> manifold3d.Manifold | None:
    """The manifold3d solid of a piece, or None when it is not a closed volume (its overlap
    measures are then NaN)."""
    try:
        return to_manifold(mesh, "piece")
    except PlannerError:
        return None


def crop(solid: manifold3d.Manifold, lo: np.ndarray, hi: np.ndarray) -> manifold3d.Manifold:
    """The part of ``solid`` inside the box ``lo``-``hi`` ``(3,)`` mm."""
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


def overlap(
    solid_a: manifold3d.Manifold | None,
    pose: np.ndarray,
    solid_b: manifold3d.Manifold | None,
    a: Surface,
    b: Surface,
    zone: Surface | None = None,
) -> tuple[float, float]:
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
    mesh = to_trimesh(inter)
    verts, faces = mesh.vertices.view(np.ndarray), mesh.faces.view(np.ndarray)
    longest = np.linalg.norm(verts[faces[:, [1, 2, 0]]] - verts[faces], axis=2).max(axis=1)
    spacing = _DEPTH_SPACING_MM
    while (np.ceil(longest / spacing) ** 2).sum() / 2 > _DEPTH_SAMPLES:
        spacing *= 1.5
    pts = _surface_samples(verts, faces, spacing)
    local = apply_affine(invert_pose(pose), pts)
    da, db = a.distance_to(local), b.distance_to(pts)
    on_a, on_b = da <= ON_SURFACE_MM, db <= ON_SURFACE_MM
    if zone is not None:
        dz = zone.distance_to(local)
        on_a &= dz <= ON_SURFACE_MM
        on_b &= dz <= da + ON_SURFACE_MM
    return volume, float(max(db[on_a].max(initial=0.0), da[on_b].max(initial=0.0)))


def inside(a: Surface, pose, b: Surface) -> int:
    """1 if ``a`` at ``pose`` lies inside ``b``, -1 if ``b`` inside ``a``, else 0 (disjoint
    surfaces only: one vertex of each is tested by its winding number)."""
    if abs(winding_number(apply_affine(pose, a.vertices[:1]), b.tri)[0]) > 0.5:
        return 1
    if abs(winding_number(apply_affine(invert_pose(pose), b.vertices[:1]), a.tri)[0]) > 0.5:
        return -1
    return 0

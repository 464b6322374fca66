"""The one geometry kernel: every piece of shared geometry, written once.

Closest points (:mod:`planner.geometry.closest`)
    ``closest_point_on_triangles(points, triangles)`` (fast, row by row) and its
    reference ``closest_point_on_triangles_naive``; ``closest_points_on_segments``;
    for a whole surface (closest point, exact distance, triangle):
    ``closest_point_on_surface(points, triangles)`` for a few points (no index; pass
    ``bounds=triangle_bounds(triangles)`` kept from an earlier call), and
    ``SurfaceIndex(triangles).query(points)`` for many (two k-d trees, built once).
Inside (:mod:`planner.geometry.inside`)
    ``winding_number(points, triangles)``; ``contains(points, triangles)``; both take
    ``rows=triangle_rows(triangles)`` kept from an earlier call.
Transforms (:mod:`planner.geometry.transforms`)
    ``apply_affine(affine, points)`` (poses too: ``p' = T[:3, :3] @ p + T[:3, 3]``),
    ``check_pose``, ``invert_pose``, ``rigid_pose``, ``rotation_about_axis``.
Vectors (:mod:`planner.geometry.vectors`)
    ``unit(vectors, name=None)``.
manifold3d (:mod:`planner.geometry.manifold`)
    ``to_manifold(mesh, what)`` and ``to_trimesh(solid)`` (manifold3d loaded on first use).

Arrays are float64, LPS mm; triangles are ``(m, 3, 3)`` (``mesh.triangles``). Only numpy
is imported with this package.
"""

from planner.geometry.closest import (
    SurfaceIndex,
    closest_point_on_surface,
    closest_point_on_triangles,
    closest_point_on_triangles_naive,
    closest_points_on_segments,
    triangle_bounds,
)
from planner.geometry.inside import contains, triangle_rows, winding_number
from planner.geometry.manifold import to_manifold, to_trimesh
from planner.geometry.transforms import (
    apply_affine,
    check_pose,
    invert_pose,
    rigid_pose,
    rotation_about_axis,
)
from planner.geometry.vectors import unit

__all__ = [
    "SurfaceIndex",
    "apply_affine",
    "check_pose",
    "closest_point_on_surface",
    "closest_point_on_triangles",
    "closest_point_on_triangles_naive",
    "closest_points_on_segments",
    "contains",
    "invert_pose",
    "rigid_pose",
    "rotation_about_axis",
    "to_manifold",
    "to_trimesh",
    "triangle_bounds",
    "triangle_rows",
    "unit",
    "winding_number",
]

"""manifold3d <-> trimesh: the one converter each way.

Both sides use float64 vertices (``manifold3d.Mesh64``) and int64 faces on the trimesh
side, so nothing is rounded in passing. manifold3d is imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from planner.errors import PlannerError
from planner.geometry.meshcache import cached

if TYPE_CHECKING:
    import manifold3d
    import trimesh

__all__ = ["to_manifold", "to_trimesh"]


def to_manifold(mesh: trimesh.Trimesh, what: str, *, fix: str = "") -> manifold3d.Manifold:
    """A manifold3d solid of a closed, outward-oriented triangle mesh.

    Vertices at the same position are merged when the mesh is not a manifold as given
    (as after an STL round trip).

    Parameters
    ----------
    mesh : trimesh.Trimesh
        LPS mm.
    what : str
        What the mesh is, for the message (e.g. ``"bone model 'skull'"``).
    fix : str, optional
        How to fix a refused mesh, for the message; a generic hint by default.

    Raises
    ------
    TypeError
        ``mesh`` is not a trimesh.Trimesh.
    PlannerError
        The mesh is not a closed, outward-oriented volume (empty, open, self-crossing
        edges, or negative volume): ``"<what> is not a closed, outward-oriented surface
        (<manifold3d status>); <fix>"``.

    Notes
    -----
    The solid is kept in the mesh's cache (:func:`planner.geometry.meshcache.cached`), so
    converting the same, unedited mesh again costs nothing; an edited mesh is converted
    anew. manifold3d solids are immutable, so sharing one is safe.
    """
    import trimesh

    if not isinstance(mesh, trimesh.Trimesh):
        raise TypeError(f"{what} must be a trimesh.Trimesh, got {type(mesh).__name__}")
    return cached(mesh, "manifold", lambda: _convert(mesh, what, fix))


def _convert(mesh: trimesh.Trimesh, what: str, fix: str) -> manifold3d.Manifold:
    """:func:`to_manifold` without the cache."""
    import manifold3d

    data = manifold3d.Mesh64(  # copies: manifold3d refuses read-only arrays
        vert_properties=np.array(mesh.vertices, dtype=np.float64, order="C"),
        tri_verts=np.array(mesh.faces, dtype=np.uint64, order="C").reshape(-1, 3),
    )
    solid = manifold3d.Manifold(data)
    if solid.status() != manifold3d.Error.NoError and data.merge():
        solid = manifold3d.Manifold(data)
    if solid.status() != manifold3d.Error.NoError:
        reason = solid.status().name
    elif solid.is_empty():
        reason = "empty"
    elif solid.volume() <= 0:
        reason = "inward-facing"
    else:
        return solid
    raise PlannerError(
        f"{what} is not a closed, outward-oriented surface ({reason}); "
        + (fix or "rebuild the model or repair it")
    )


def to_trimesh(solid: manifold3d.Manifold) -> trimesh.Trimesh:
    """The triangle mesh of a manifold3d solid: float64 vertices, int64 faces, copied
    (manifold3d hands out views into its own buffers), not processed."""
    import trimesh

    mesh = solid.to_mesh64()
    vertices = np.array(mesh.vert_properties[:, :3], dtype=np.float64)
    faces = np.array(mesh.tri_verts, dtype=np.int64).reshape(-1, 3)
    return trimesh.Trimesh(vertices, faces, process=False)

"""Values derived from a trimesh mesh, kept in the mesh's own cache.

trimesh keeps derived values (``mesh.triangles``, ``mesh.bounds``...) in ``mesh._cache``
and drops them all when the vertices or faces change (assignment or in-place edit), so a
value stored there is never stale. :func:`cached` stores ours there too, under keys
prefixed ``planner.``; this is the one place that reaches into that cache.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    import trimesh

__all__ = ["cached"]

T = TypeVar("T")


def cached(mesh: trimesh.Trimesh, key: str, build: Callable[[], T]) -> T:
    """``build()``, computed once per version of ``mesh``'s vertices and faces.

    Parameters
    ----------
    mesh : trimesh.Trimesh
    key : str
        Names the value; stored as ``"planner." + key``.
    build : callable
        Computes the value from the mesh as it is now; it is not called again until the
        mesh is edited. Values must not be modified by their users.
    """
    cache = getattr(mesh, "_cache", None)
    if cache is None:  # not a trimesh with a cache: nothing to keep
        return build()
    name = "planner." + key
    if name in cache:  # `in` checks the mesh is unchanged (and clears the cache if not)
        kept = getattr(cache[name], "value", _MISSING)
        if kept is not _MISSING:
            return kept
    value = build()
    cache[name] = _Kept(value)
    return value


_MISSING = object()


class _Kept:
    """A cached value that copies and pickles as nothing (a mesh pickled or copied with
    its cache carries no manifold3d solid, which cannot be pickled; it is rebuilt)."""

    __slots__ = ("value",)

    def __init__(self, value=_MISSING):
        if value is not _MISSING:
            self.value = value

    def __reduce__(self):
        return (_Kept, ())

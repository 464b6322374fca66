"""Light stand-ins for heavy bone meshes while something is being dragged.

Software OpenGL draws a 200,000-triangle skull at a few frames per second. While a handle,
a slider or the camera moves, :class:`Proxies` swaps each heavy mesh for a decimated copy
(``fast_simplification``, made once per mesh and kept while the mesh is unchanged), and
puts the full mesh back on release, so the picture the surgeon stops on is exact.
"""

from __future__ import annotations

import numpy as np

__all__ = ["PROXY_TRIANGLES", "Proxies", "polydata"]

PROXY_TRIANGLES = 5_000  # a mesh above twice this is drawn decimated to it while dragging


def polydata(vertices, faces):
    """pyvista PolyData of ``vertices (n, 3)`` and triangles ``faces (m, 3)`` (copied)."""
    import pyvista as pv

    faces = np.asarray(faces, dtype=np.int64)
    cells = np.hstack([np.full((len(faces), 1), 3, dtype=np.int64), faces])
    return pv.PolyData(np.asarray(vertices, dtype=float), cells.ravel())


def _key(mesh) -> tuple:
    return (len(mesh.vertices), len(mesh.faces), np.asarray(mesh.bounds).round(6).tobytes())


class Proxies:
    """Decimated copies of the heavy meshes of a window's scene, and the swap."""

    def __init__(self, triangles: int = PROXY_TRIANGLES):
        self.triangles = int(triangles)
        self._cache: dict[tuple, object] = {}
        self.low = False

    def proxy(self, mesh):
        """PolyData of ``mesh`` decimated to about ``triangles`` (None if it is light)."""
        if len(mesh.faces) <= 2 * self.triangles:
            return None
        key = _key(mesh)
        if key not in self._cache:
            import fast_simplification

            points, faces = fast_simplification.simplify(
                np.asarray(mesh.vertices, dtype=np.float32),
                np.asarray(mesh.faces),
                target_reduction=1.0 - self.triangles / len(mesh.faces),
            )
            self._cache[key] = polydata(points, faces)
        return self._cache[key]

    def prepare(self, items) -> None:
        """Make the proxies of the items' heavy bone meshes (and forget stale ones)."""
        keep = {_key(it.mesh) for it in items if it.role in ("fixed", "moving")}
        for key in [k for k in self._cache if k not in keep]:
            del self._cache[key]
        for it in items:
            if it.role in ("fixed", "moving"):
                self.proxy(it.mesh)

    def set_low(self, low: bool, items, actors, full) -> None:
        """Draw the heavy meshes as proxies (``low``) or in full.

        ``actors`` and ``full`` map item names to actors and their full PolyData.
        """
        if low == self.low:
            return
        self.low = low
        for it in items:
            actor = actors.get(it.name)
            if actor is None or it.role not in ("fixed", "moving"):
                continue
            proxy = self._cache.get(_key(it.mesh)) if low else None
            if low and proxy is None:
                continue
            actor.GetMapper().SetInputData(proxy if low else full[it.name])

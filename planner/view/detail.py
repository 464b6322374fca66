"""What the planning window simplifies while something moves, and how it puts it back.

Software OpenGL (llvmpipe, no GPU, 2 cores) draws the full demo scene at about 7 frames
per second in a 1400 x 900 window (a 200,000-triangle skull, two guides of 30,000
triangles, three CT planes with transparent air, translucent surfaces drawn
order-independently), and 30 to 35 light with both cores free (an empty window alone
costs 15 ms of CPU there). While a handle, a slider or the camera moves,
:func:`set_light` draws a lighter picture:

- every bone segment and every guide heavier than twice :data:`PROXY_TRIANGLES` is drawn
  as a decimated copy (``fast_simplification``, made once per mesh and kept while the
  mesh is unchanged; the bone's copies shaded smooth like the full bone);
- the bone segments and the guides are drawn with back faces culled (closed surfaces:
  the same picture unless the camera is inside them);
- the guides are drawn opaque (0.9 opacity otherwise);
- the CT planes are drawn opaque with their air cut out (alpha test instead of blending:
  the air is still transparent, the rim of the tissue is hard instead of faded), their
  pixels not interpolated (square voxels instead of a smooth picture);
- translucent surfaces (the cut planes) are blended in drawing order instead of with
  order-independent transparency (a full-window pass per frame);
- the outlines on the CT planes of whatever moves across them (a segment with the day
  slider, every mesh with a CT slider) are traced on the decimated copies
  (:mod:`planner.view.slicer`); while a cut's handle is dragged the outlines are not
  retraced at all (the cut is re-made on release).

On release, ``set_light(window, False)`` puts everything back and retraces the outlines
on the full meshes: the picture the surgeon stops on is the exact, full one.
"""

from __future__ import annotations

import numpy as np

__all__ = ["PROXY_TRIANGLES", "Proxies", "polydata", "set_light"]

PROXY_TRIANGLES = 5_000  # a mesh above twice this is drawn decimated to it while moving


def polydata(vertices, faces):
    """pyvista PolyData of ``vertices (n, 3)`` and triangles ``faces (m, 3)`` (copied)."""
    import pyvista as pv

    faces = np.asarray(faces, dtype=np.int64)
    cells = np.hstack([np.full((len(faces), 1), 3, dtype=np.int64), faces])
    return pv.PolyData(np.asarray(vertices, dtype=float), cells.ravel())


def _key(mesh) -> tuple:
    return (len(mesh.vertices), len(mesh.faces), np.asarray(mesh.bounds).round(6).tobytes())


class Proxies:
    """Decimated copies of the heavy meshes of a window's scene, and the swap.

    Parameters
    ----------
    triangles : int
        About how many triangles a copy has.
    smooth : bool
        Give the copies point normals, so they are shaded smooth like the full bone
        (the guides are drawn faceted).
    """

    def __init__(self, triangles: int = PROXY_TRIANGLES, *, smooth: bool = True):
        self.triangles = int(triangles)
        self.smooth = smooth
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
            poly = polydata(points, faces)
            if self.smooth:
                poly = poly.compute_normals(cell_normals=False, split_vertices=False)
            self._cache[key] = poly
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
        """Draw the bone as proxies with back faces culled (``low``), or in full.

        ``actors`` and ``full`` map item names to actors and their full PolyData.
        """
        if low == self.low:
            return
        self.low = low
        for it in items:
            actor = actors.get(it.name)
            if actor is None or it.role not in ("fixed", "moving"):
                continue
            actor.GetProperty().SetBackfaceCulling(low)
            proxy = self._cache.get(_key(it.mesh)) if low else None
            if low and proxy is None:
                continue
            actor.GetMapper().SetInputData(proxy if low else full[it.name])


def set_light(window, light: bool) -> None:
    """Draw ``window`` (a :class:`~planner.view.window.PlanWindow`) light while something
    moves, or exact and full (see the module notes for what changes)."""
    window.proxies.set_low(light, window.items, window.actors, window.full)
    window.guides.set_light(light)
    window.plotter.renderer.SetUseOIT(not light)
    if window.slices is not None:
        window.slices.set_light(light)

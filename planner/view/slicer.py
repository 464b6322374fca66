"""The CT slice planes in the planning window, with the bone and the cuts traced on them.

Three textured quads (axial, coronal, sagittal: see :mod:`planner.view.slices`) moved by
three sliders; on each plane the outline of every bone segment at the current day (bone
colour) and of every cut (cut colour). While something moves, heavy meshes are traced on
their decimated copies and the planes drawn with the air cut out (:mod:`planner.view.detail`).
"""

from __future__ import annotations

import operator

import numpy as np

from planner.view.detail import polydata
from planner.view.slices import (
    outline,
    plane_axes,
    plane_point_normal,
    slice_quad,
    slice_rgb,
)

__all__ = ["SliceLayer"]

BONE_LINE_RGB = (1.0, 0.95, 0.55)
CUT_LINE_RGB = (1.0, 0.3, 0.9)
# line actors per plane: "<plane>:bone" (fixed segments), "<plane>:moving", "<plane>:cut"
LINE_KINDS = {"bone": ("fixed",), "moving": ("moving",), "cut": ("cut",)}
LINE_RGB = {"bone": BONE_LINE_RGB, "moving": BONE_LINE_RGB, "cut": CUT_LINE_RGB}
SLIDERS = {  # plane -> slider end points (normalised display), a column at the lower right
    "axial": ((0.82, 0.33), (0.98, 0.33)),
    "coronal": ((0.82, 0.21), (0.98, 0.21)),
    "sagittal": ((0.82, 0.09), (0.98, 0.09)),
}


def _texture(rgba, smooth: bool = True):
    """A texture of an RGBA picture, linearly interpolated when ``smooth``."""
    import pyvista as pv

    texture = pv.Texture(rgba)
    texture.interpolate = smooth
    return texture


class SliceLayer:
    """Slice planes, sliders and outlines on a :class:`~planner.view.window.PlanWindow`."""

    def __init__(self, window, volume):
        import pyvista as pv

        self.window = window
        self.plotter = window.plotter
        self.volume = volume
        self.planes = plane_axes(volume)
        self.index = self._start_indices()
        self.visible = True
        self.quads, self.quad_actors, self.lines, self.sliders = {}, {}, {}, {}
        self._drawn: dict[str, tuple] = {}  # line actor key -> the pieces it shows
        self._traced_light = False  # outlines traced on decimated copies
        for name, plane in self.planes.items():
            quad = pv.Quadrilateral(slice_quad(volume, plane, self.index[name]))
            quad.active_texture_coordinates = np.array(
                [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]
            )
            self.quads[name] = quad
            self.quad_actors[name] = self.plotter.add_mesh(
                quad,
                texture=_texture(slice_rgb(volume, plane, self.index[name])),
                lighting=False,
                pickable=False,
                reset_camera=False,
                name=f"slice:{name}",
                render=False,
            )
            slider = self.plotter.add_slider_widget(
                lambda value, n=name: self.set_index(n, round(value)),
                [0, plane.count - 1],
                value=self.index[name],
                title=name,
                pointa=SLIDERS[name][0],
                pointb=SLIDERS[name][1],
                interaction_event="always",
                style="modern",
                fmt="%.0f",
                title_height=0.018,
                slider_width=0.02,
                tube_width=0.006,
            )
            window.controls.light_while_moving(slider)
            self.sliders[name] = slider

    def through(self, point) -> None:
        """Move the three planes through ``point`` (LPS mm), e.g. the selected cut."""
        ijk = self.volume.lps_to_index(np.asarray(point, dtype=float))
        for name, plane in self.planes.items():
            self.set_index(name, round(float(ijk[plane.axis])))
            self.sliders[name].GetRepresentation().SetValue(self.index[name])

    def _start_indices(self) -> dict[str, int]:
        """Through the selected cut or footplate (where the surgeon looks), else the middle."""
        point = self.window.editor.selection_point()
        out = {}
        ijk = None if point is None else self.volume.lps_to_index(np.asarray(point, dtype=float))
        for name, plane in self.planes.items():
            index = plane.count // 2 if ijk is None else round(float(ijk[plane.axis]))
            out[name] = int(np.clip(index, 0, plane.count - 1))
        return out

    def set_index(self, name: str, index: int) -> None:
        """Move plane ``name`` to slice ``index`` (clamped)."""

        plane = self.planes[name]
        index = int(np.clip(index, 0, plane.count - 1))
        if index == self.index[name]:
            return
        self.index[name] = index
        self.quads[name].points = slice_quad(self.volume, plane, index)
        rgba = slice_rgb(self.volume, plane, index)
        self.quad_actors[name].texture = _texture(rgba, smooth=not self.window.light)
        self._outline_plane(name)

    def toggle(self) -> str:
        self.visible = not self.visible
        for actor in (*self.quad_actors.values(), *self.lines.values()):
            actor.SetVisibility(self.visible)
        return f"CT slices {'on' if self.visible else 'off'}"

    def set_light(self, light: bool) -> None:
        """While something moves: the planes opaque with the air cut out (alpha test, no
        blending) and their pixels not interpolated; after: as before, and the outlines
        retraced on the full meshes."""
        for actor in self.quad_actors.values():
            actor.SetForceOpaque(light)
            actor.texture.interpolate = not light
        if not light and self._traced_light:
            self.update_outlines()

    def update_outlines(self) -> None:
        """Retrace the bone and the cuts on every plane (after an edit or a day change).

        While the window is light (:mod:`planner.view.detail`) heavy meshes are traced on
        their decimated copies; :meth:`set_light` retraces them in full on release.
        """
        live = {id(it.mesh) for it in self.window.items}
        cache = self.__dict__.setdefault("_cache", {})
        for key in [k for k in cache if k not in live]:
            del cache[key]
        lines = self.__dict__.setdefault("_line_cache", {})
        for key in [k for k in lines if k[0] not in live]:
            del lines[key]
        for name in self.planes:
            self._outline_plane(name)
        self._traced_light = self.window.light

    def _outline_plane(self, name: str) -> None:
        import pyvista as pv

        self._traced_light |= self.window.light  # retraced in full on release
        origin, normal = plane_point_normal(self.volume, self.planes[name], self.index[name])
        for kind, roles in LINE_KINDS.items():
            key = f"{name}:{kind}"
            pieces = []
            for it in self.window.items:
                if it.role in roles:
                    lines = self._lines(it, name, origin, normal)
                    if lines.n_points:
                        pieces.append(lines)
            if not pieces:
                old = self.lines.pop(key, None)
                self._drawn.pop(key, None)
                if old is not None:
                    self.plotter.remove_actor(old, render=False)
                continue
            drawn = self._drawn.get(key, ())
            if len(drawn) == len(pieces) and all(map(operator.is_, drawn, pieces)):
                continue  # the same lines as drawn: nothing moved across this plane
            self._drawn[key] = tuple(pieces)
            merged = pv.merge(pieces) if len(pieces) > 1 else pieces[0]
            if key in self.lines:  # same actor, new lines
                self.lines[key].GetMapper().SetInputData(merged)
                continue
            actor = self.plotter.add_mesh(
                merged,
                color=LINE_RGB[kind],
                line_width=2,
                lighting=False,
                pickable=False,
                reset_camera=False,
                render=False,
            )
            actor.SetVisibility(self.visible)
            self.lines[key] = actor

    def _lines(self, it, name: str, origin, normal):
        """The item's outline on plane ``name`` where it is drawn (cached: a day step
        retraces only what moved)."""
        pose = np.asarray(it.pose, dtype=float)
        light = self.window.light and len(it.mesh.faces) > 2 * self.window.proxies.triangles
        key = (id(it.mesh), name, self.index[name], pose.round(9).tobytes(), light)
        cache = self.__dict__.setdefault("_line_cache", {})
        if key not in cache or cache[key][0] is not it.mesh:  # ids of dead meshes recur
            if len(cache) > 500:
                cache.clear()
            poly = self.window.proxies.proxy(it.mesh) if light else self._poly(it)
            lines = outline(poly, origin, normal, pose)
            cache[key] = (it.mesh, lines)
        return cache[key][1]

    def _poly(self, it):
        """The item's mesh as PolyData, cached per mesh object."""
        cache = self.__dict__.setdefault("_cache", {})
        key = id(it.mesh)
        if key not in cache or cache[key][0] is not it.mesh:
            cache[key] = (it.mesh, polydata(it.mesh.vertices, it.mesh.faces))
        return cache[key][1]

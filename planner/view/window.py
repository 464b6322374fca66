"""The planning window: a pyvista/VTK layer over :class:`~planner.view.editor.PlanEditor`.

:class:`PlanWindow` draws what :func:`planner.render.scene.scene_at` gives for the plan
that :func:`planner.view.live.analyse` makes (the plan ``planner build`` makes), the CT
slice planes, the live warnings, and binds widgets and keys to editor methods: a box
handle on the selected cut (drag, tilt with a face, resize with the face handles), sphere
handles on the selected distractor's footplates (snapped to the bone on release) and on
its vector's end. Every release is one edit: the case is re-validated, re-cut and
re-checked, and can be undone. Nothing here decides anything about the plan. While
something moves (a handle, a slider, the camera) the scene is drawn light, and exact
again on release (:mod:`planner.view.detail` lists what is simplified).

It works the same on a window and on an off-screen plotter (the tests drive it so).
"""

from __future__ import annotations

import math

import numpy as np

from planner.errors import PlannerError
from planner.render.offscreen import VIEW_CAMERAS
from planner.view import overlay
from planner.view.controls import Controls
from planner.view.days import DayScenes, case_items
from planner.view.detail import Proxies, set_light
from planner.view.detail import polydata as arrays_polydata
from planner.view.editor import PlanEditor
from planner.view.guides import GuideLayer
from planner.view.live import PlanState, Replanner, analyse, collision_preview

__all__ = ["VIEWS", "PlanWindow"]

BACKGROUND = (38, 42, 50)
# camera direction (scene -> camera) and screen-up, LPS: the still views of the pictures
VIEWS = {name: camera for name, camera in VIEW_CAMERAS.items() if name != "orbit"}
BRIDGE_RGB = (1.0, 0.1, 0.1)
CONTACT_RGB = (0.2, 0.95, 0.4)
OUTLINE_RGB = (1.0, 0.95, 0.7)
FOCUS_PAD_MM = 40.0  # room around the plan when the camera frames it


def polydata(mesh):
    """A trimesh as pyvista PolyData (points and triangles copied)."""
    return arrays_polydata(mesh.vertices, mesh.faces)


class PlanWindow:
    """The planning scene on a pyvista plotter, bound to a :class:`PlanEditor`.

    Parameters
    ----------
    editor : PlanEditor
    plotter : pyvista.Plotter
        A window or an off-screen plotter.
    volume : planner.scan.volume.Volume, optional
        The CT, for the slice planes.
    note : str
        A line shown at start (e.g. why there are no slices).
    """

    def __init__(
        self, editor: PlanEditor, plotter, *, volume=None, note: str = "", defer: bool = False
    ):
        self.editor = editor
        self.plotter = plotter
        self.day = 0.0
        self.view = _side_view(editor)
        self.focus = "plan"
        self.status = note
        self.preview_lines: list[str] = []
        self.actors: dict[str, object] = {}  # scene item name -> actor
        self.full: dict[str, object] = {}  # scene item name -> its full PolyData
        self.items: list = []
        self.markers: list = []
        self.show_help = True
        self.proxies = Proxies()
        self.light = False  # drawn light while something moves (planner.view.detail)
        self._scenes: DayScenes | None = None  # the items of each day, for this plan
        self.timings: dict[str, float] = {}
        self.overlays: dict[str, tuple] = {}  # text name -> (text, position, colour, actor)
        self.replanner = None  # a planner.view.live.Replanner: plan in the background
        if defer:  # the bone first; the plan when :meth:`finish` is called
            self.state = PlanState(editor.case)
            self.status = "planning: cutting the bone and checking the segments ..."
        else:
            self.state = analyse(editor.case, editor.models)
        plotter.set_background([c / 255 for c in BACKGROUND])
        plotter.disable_anti_aliasing()
        _headlight(plotter)
        self.slices = None
        self.controls = Controls(self)
        if volume is not None:
            self.add_slices(volume)
        self._draw_scene()
        self.guides = GuideLayer(editor.case_dir, plotter)  # as built, at day 0
        self.set_camera(self.view)
        if not defer:
            self.proxies.prepare(self.items)
            self.guides.prepare()
            self.controls.place()
        self.update_texts()
        editor.listeners.append(self._on_edit)

    def finish(self, volume=None, note: str = "", *, background: bool = False) -> None:
        """Make the plan (and the CT planes) of a window opened with ``defer``; then, with
        ``background``, make later plans on a worker thread (see :meth:`poll`)."""
        self.status = note
        if volume is not None and self.slices is None:
            self.add_slices(volume)
        self.apply(analyse(self.editor.case, self.editor.models))
        self.guides.prepare()
        self.controls.sync_day()
        if background:
            self.replanner = Replanner(self.editor.models)

    def add_slices(self, volume) -> None:
        """Show the CT of ``volume`` as three slice planes with their sliders."""
        from planner.view.slicer import SliceLayer

        self.slices = SliceLayer(self, volume)
        self.slices.update_outlines()

    # ------------------------------------------------------------------ plan
    def _on_edit(self, what: str) -> None:
        if what in ("select",):
            self.controls.place()
            self.update_texts()
            return
        if what == "save":
            self.update_texts()
            return
        self.replan()

    def replan(self) -> None:
        """Re-analyse the current case and redraw (after every edit).

        With a :attr:`replanner` (the real window) the plan is made on a worker thread
        and shown by :meth:`poll`; otherwise here and now.
        """
        if self.replanner is not None:
            self.replanner.request(self.editor.case)
            self.update_texts()
            return
        self.apply(analyse(self.editor.case, self.editor.models))

    def poll(self) -> bool:
        """Show the plan made in the background, if it is ready; True when shown."""
        state = self.replanner.poll() if self.replanner is not None else None
        if state is None:
            return False
        self.apply(state)
        self.plotter.render()
        return True

    def apply(self, state) -> None:
        """Show ``state`` (a :class:`~planner.view.live.PlanState`)."""
        light = self.light
        self.low_detail(False)
        self.state = state
        self.preview_lines = []
        self.day = min(self.day, self.state.end_day)
        self._draw_scene()
        self.proxies.prepare(self.items)
        self.low_detail(light)
        self.controls.place()
        self.update_texts()

    def scene_items(self) -> list:
        """The items drawn at the current day (SceneItem list)."""
        if self.state.plan is None:
            return case_items(self.editor.case, self.editor.models)
        if self._scenes is None or self._scenes.plan is not self.state.plan:
            self._scenes = DayScenes(self.state.plan)
        return self._scenes.at(self.day)

    def _add_item(self, it) -> None:
        import pyvista as pv

        rgba = it.color_rgba
        poly = polydata(it.mesh)
        actor = self.plotter.add_mesh(
            poly,
            color=[c / 255 for c in rgba[:3]],
            opacity=rgba[3] / 255,
            smooth_shading=it.role in ("fixed", "moving"),
            specular=0.2 if it.role in ("device", "vector") else 0.05,
            name=it.name,
            pickable=it.role in ("fixed", "moving"),
            reset_camera=False,
            render=False,
        )
        actor.user_matrix = np.asarray(it.pose, dtype=float)
        self.actors[it.name] = actor
        # what the actor draws: with smooth shading pyvista draws a copy with normals
        self.full[it.name] = pv.wrap(actor.GetMapper().GetInput())

    def _draw_scene(self) -> None:
        self.proxies.low = False
        for name in list(self.actors):
            self.plotter.remove_actor(self.actors.pop(name), render=False)
        self.full = {}
        self.items = self.scene_items()
        for it in self.items:
            self._add_item(it)
        self._draw_markers()
        if self.slices is not None:
            self.slices.update_outlines()

    def _draw_markers(self) -> None:
        import pyvista as pv

        for actor in self.markers:
            self.plotter.remove_actor(actor, render=False)
        self.markers = []
        for _, b in self.state.bridges:
            r = max(2.5, math.sqrt(max(b.area_mm2, 0.0) / math.pi))
            self.markers.append(
                self.plotter.add_mesh(
                    pv.Sphere(radius=r, center=b.center_mm),
                    color=BRIDGE_RGB,
                    opacity=0.85,
                    pickable=False,
                    reset_camera=False,
                    render=False,
                )
            )
        if self.state.bridges:
            self.markers.append(
                self.plotter.add_point_labels(
                    np.array([b.center_mm for _, b in self.state.bridges]),
                    [f"bridge {b.area_mm2:.0f} mm2" for _, b in self.state.bridges],
                    font_size=12,
                    text_color="white",
                    shape_color=BRIDGE_RGB,
                    shape_opacity=0.7,
                    always_visible=True,
                    show_points=False,
                    pickable=False,
                    render=False,
                )
            )

    def set_day(self, day: float) -> None:
        """Move the segments and devices to ``day`` (clamped to 0..end of distraction).

        Only what changed is touched: the items of a day are cached per plan state
        (:class:`~planner.view.days.DayScenes`), segments move by their actor's matrix,
        devices get their new points; outlines are retraced only where something moved.
        """
        day = float(np.clip(day, 0.0, self.state.end_day))
        was_zero, self.day = self.day == 0.0, day
        before = {it.name: it for it in self.items}
        self.items = self.scene_items()
        for it in self.items:
            if before.get(it.name) is it:
                continue  # the same state of the plan: nothing moved
            actor = self.actors.get(it.name)
            if actor is None:
                self._add_item(it)
                continue
            actor.user_matrix = np.asarray(it.pose, dtype=float)
            if it.role == "device":  # its rod has the day's length: new points
                poly = self.full[it.name]
                if poly.n_points == len(it.mesh.vertices):
                    poly.points = np.asarray(it.mesh.vertices, dtype=float)
                else:
                    self.plotter.remove_actor(actor, render=False)
                    self._add_item(it)
        if self.slices is not None:
            self.slices.update_outlines()
        if was_zero != (day == 0.0):  # handles and guides live at day 0 only
            self.controls.place()
            self.guides.show(day == 0.0)
        self.controls.sync_day()
        self.update_texts()

    def low_detail(self, low: bool) -> None:
        """Draw light while something moves, or exact and full (on release); what the
        light picture leaves out is listed in :mod:`planner.view.detail`."""
        if low == self.light:
            return
        self.light = low
        set_light(self, low)

    def pose_of(self, actor) -> np.ndarray:
        """The (4, 4) pose an actor is drawn with."""
        m = actor.user_matrix
        return np.eye(4) if m is None else np.asarray(m, dtype=float)

    # ------------------------------------------------------------------ actions
    def preview_collisions(self) -> list[str]:
        """Clearance of each moving segment at the end of distraction; marks the spot."""
        import pyvista as pv

        if self.state.plan is None:
            self.preview_lines = [f"no collision preview: {self.state.error}"]
            return self.preview_lines
        prev = collision_preview(self.state.plan)
        self.preview_lines = [*prev.lines(), f"(collision preview took {prev.seconds:.1f} s)"]
        for c in prev.clearances.values():
            a, b = np.asarray(c.point_on_moving_mm), np.asarray(c.point_on_static_mm)
            self.markers.append(
                self.plotter.add_mesh(
                    pv.Line(a, b) if np.linalg.norm(a - b) > 1e-6 else pv.Sphere(1.0, a),
                    color=CONTACT_RGB,
                    line_width=4,
                    pickable=False,
                    reset_camera=False,
                    render=False,
                )
            )
            self.markers.append(
                self.plotter.add_mesh(
                    pv.Sphere(radius=1.2, center=b),
                    color=CONTACT_RGB,
                    pickable=False,
                    reset_camera=False,
                    render=False,
                )
            )
        self.set_day(self.state.end_day)
        return self.preview_lines

    def set_camera(self, view: str | None = None, focus: str | None = None) -> None:
        """Look from ``front``, ``left``, ``right``, ``below`` or ``top`` at the ``focus``:
        ``"plan"`` (the cuts and distractors), ``"selection"`` or ``"bone"``.

        Either left None keeps the current one.
        """
        view = view or self.view
        if view not in VIEWS:
            raise PlannerError(f"unknown view {view!r}: choose one of {', '.join(VIEWS)}")
        self.view, self.focus = view, focus or self.focus
        lo, hi = self.focus_bounds(self.focus)
        center, extent = (lo + hi) / 2, hi - lo
        direction, up = (np.asarray(v) for v in VIEWS[view])
        right = np.cross(up, direction)
        w, h = self.plotter.window_size
        half = max(float(extent @ np.abs(up)), float(extent @ np.abs(right)) * h / w) / 2
        depth = float(extent @ np.abs(direction)) / 2
        cam = self.plotter.camera
        cam.view_angle = 30.0
        cam.focal_point = center
        cam.position = center + direction * (depth + half / math.tan(math.radians(15.0)))
        cam.up = up
        lo_b, hi_b = self.bone_bounds()  # clip nothing of the bone
        self.plotter.renderer.ResetCameraClippingRange(
            _flat(np.minimum(lo, lo_b), np.maximum(hi, hi_b))
        )

    def next_view(self) -> str:
        """Turn to the next of :data:`VIEWS` (same focus); returns its name."""
        names = list(VIEWS)
        self.set_camera(names[(names.index(self.view) + 1) % len(names)])
        return self.view

    def focus_bounds(self, focus: str) -> tuple[np.ndarray, np.ndarray]:
        """(lo, hi) LPS mm of what ``focus`` names, with room around it."""
        case, sel = self.editor.case, self.editor.selection
        points = []
        if focus == "selection" and sel is not None:
            if sel[0] == "osteotomy":
                o = case.osteotomy(sel[1])
                points = [np.asarray(o.center_mm) + r * max(o.size_mm) / 2 for r in (-1, 1)]
            else:
                d = case.distractor(sel[1])
                points = [d.fixed_point_mm, d.moving_point_mm, self.editor.vector_end(sel[1])]
        elif focus in ("plan", "selection"):
            points = [o.center_mm for o in case.osteotomies]
            for d in case.distractors:
                points += [d.fixed_point_mm, d.moving_point_mm, self.editor.vector_end(d.name)]
        if not points:
            return self.bone_bounds()
        pts = np.asarray(points, dtype=float)
        pad = FOCUS_PAD_MM if focus == "plan" else FOCUS_PAD_MM / 2
        return pts.min(axis=0) - pad, pts.max(axis=0) + pad

    def bone_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        meshes = list(self.editor.models.values())
        if not meshes:
            return np.full(3, -50.0), np.full(3, 50.0)
        lo = np.min([m.bounds[0] for m in meshes], axis=0)
        hi = np.max([m.bounds[1] for m in meshes], axis=0)
        return lo, hi

    def pick_at(self, x: int, y: int) -> np.ndarray | None:
        """The day-0 LPS point of the bone under display pixel (x, y), or None."""
        from vtkmodules.vtkRenderingCore import vtkCellPicker

        picker = vtkCellPicker()
        picker.SetTolerance(0.0005)
        picker.PickFromListOn()
        bones = {
            id(self.actors[it.name]): self.actors[it.name]
            for it in self.items
            if it.role in ("fixed", "moving")
        }
        for actor in bones.values():
            picker.AddPickList(actor)
        if not picker.Pick(x, y, 0, self.plotter.renderer):
            return None
        p = np.asarray(picker.GetPickPosition(), dtype=float)
        actor = picker.GetActor()
        if actor is not None:
            inv = np.linalg.inv(self.pose_of(actor))
            p = inv[:3, :3] @ p + inv[:3, 3]
        return p

    def to_display(self, point) -> tuple[int, int]:
        """Display pixel (x, y) of an LPS point (for tests and benchmarks)."""
        ren = self.plotter.renderer
        ren.SetWorldPoint(*np.asarray(point, dtype=float), 1.0)
        ren.WorldToDisplay()
        x, y, _ = ren.GetDisplayPoint()
        return round(x), round(y)

    # ------------------------------------------------------------------ text
    def update_texts(self) -> None:
        """Redraw the overlays: keys, selection, warnings, status (only what changed)."""
        overlay.update_texts(self)

    def selection_lines(self) -> list[str]:
        """The selected item's numbers (upper right)."""
        return overlay.selection_lines(self)

    def warning_lines(self) -> list[str]:
        """The command being typed, the status, the refusal and every warning."""
        return overlay.warning_lines(self)

    def screenshot(self, path) -> None:
        """Save what the window shows as a PNG."""
        self.plotter.render()
        self.plotter.screenshot(str(path))


def _headlight(plotter) -> None:
    """One light at the camera: a third less drawing time than the five-light kit in
    software OpenGL, and the bone facing the surgeon is always lit."""
    import pyvista as pv

    plotter.remove_all_lights()
    plotter.add_light(pv.Light(light_type="headlight"))


def _side_view(editor: PlanEditor) -> str:
    """The view that shows the selected cut or footplate best: its side, else the front."""
    if editor.selection is None or not editor.models:
        return "front"
    kind, name = editor.selection
    if kind == "osteotomy":
        x = editor.case.osteotomy(name).center_mm[0]
    else:
        x = editor.case.distractor(name).moving_point_mm[0]
    lo = np.min([m.bounds[0] for m in editor.models.values()], axis=0)
    hi = np.max([m.bounds[1] for m in editor.models.values()], axis=0)
    off = (x - (lo[0] + hi[0]) / 2) / max(hi[0] - lo[0], 1e-9)
    return "left" if off > 0.2 else "right" if off < -0.2 else "front"


def _flat(lo, hi) -> list[float]:
    return [float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1]), float(lo[2]), float(hi[2])]

"""Handles, sliders and keys of the planning window, each bound to one editor method.

The selected cut gets a box handle (VTK ``vtkBoxWidget``): drag its centre to move the
cut, drag a face to tilt it, drag a face handle to resize it; the box follows the mouse
and the cut is re-made on release. The selected distractor gets three sphere handles: its
fixed and moving footplate points (snapped to the bone on release) and its vector's end.
Handles are shown at day 0 only (the plan is made at day 0).
"""

from __future__ import annotations

import numpy as np

from planner.errors import PlannerError
from planner.view.commands import run_command

__all__ = ["HELP", "Controls"]

HELP = (
    "Tab / Shift+Tab  select the next cut or distractor",
    "drag the box     move / tilt (faces) / resize (face handles) the cut",
    "drag the balls   footplates (blue fixed, orange moving), red: vector end",
    "a / A            add a cut / a distractor at the bone under the mouse",
    "f / m            put the fixed / moving footplate under the mouse",
    "n                turn the cut perpendicular to the vector",
    "d / D            next / previous device      + / -  target +/- 1 mm",
    "x                remove the selected item",
    ":                type a command (size 30 25, name ramus_left, target 18 ...)",
    "Left / Right     day -1 / +1     Home / End  day 0 / end of distraction",
    "o                collision preview at the end of distraction",
    "v                next view (front, left, right, below, top)",
    "g                look at the selection, CT slices through it",
    "G / b            look at the whole plan / the whole bone",
    "c                CT slices on / off",
    "z / y            undo / redo     s  save case.json     q  quit     h  hide keys",
)
BOX_THICKNESS_MM = 4.0  # how thick the cut's handle box is drawn (the kerf stays as set)
HANDLE_MM = 3.0  # footplate handles: clear of the drawn footplate (1.5 mm thick)
END_HANDLE_MM = 3.5  # the vector's end sits in the arrow's head: show the handle around it
FIXED_RGB, MOVING_RGB, END_RGB = (0.25, 0.55, 1.0), (1.0, 0.55, 0.15), (0.9, 0.15, 0.2)


def _matrix(vtk_transform) -> np.ndarray:
    m = vtk_transform.GetMatrix()
    return np.array([[m.GetElement(i, j) for j in range(4)] for i in range(4)])


def _vtk_transform(matrix: np.ndarray):
    from vtkmodules.vtkCommonTransforms import vtkTransform

    t = vtkTransform()
    t.SetMatrix([float(v) for v in np.asarray(matrix, dtype=float).ravel()])
    return t


class Controls:
    """The widgets and keys of a :class:`~planner.view.window.PlanWindow`."""

    def __init__(self, window):
        self.window = window
        self.editor = window.editor
        self.plotter = window.plotter
        self.typing: str | None = None  # the command being typed after ':'
        self.box = None
        self.spheres: dict[str, object] = {}
        self._box_start = None  # (cut name, frame, size) when the box was placed
        self._quit_armed = False
        self._retired: list = []
        iren = self.plotter.iren
        if iren is not None:
            self.plotter.enable_trackball_style()
            iren.clear_key_event_callbacks()
            # swallow VTK's own one-letter keys (w, s, e, q, f, 3 ...): ours are below
            iren.style.AddObserver("CharEvent", lambda *_: None)
            iren.add_observer("KeyPressEvent", self._key_event)
            self.light_while_moving(iren.style)
        self.day_slider = self.plotter.add_slider_widget(
            self._day_moved,
            [0.0, max(window.state.end_day, 1e-3)],
            value=0.0,
            title="day",
            pointa=(0.82, 0.45),
            pointb=(0.98, 0.45),
            interaction_event="always",
            style="modern",
            fmt="%.1f",
            title_height=0.018,
            slider_width=0.02,
            tube_width=0.006,
        )
        self.light_while_moving(self.day_slider)

    def light_while_moving(self, widget) -> None:
        """Draw heavy bone light while ``widget`` (a handle, a slider, the camera) moves."""
        widget.AddObserver("StartInteractionEvent", lambda *_: self.window.low_detail(True))
        widget.AddObserver("EndInteractionEvent", self._full_detail)

    def _full_detail(self, *_) -> None:
        if self.window.light:
            self.window.low_detail(False)
            self.plotter.render()

    # ------------------------------------------------------------------ handles
    def clear(self) -> None:
        """Turn the handles off. They stay referenced until the next clear: a handle is
        often cleared from inside its own release callback, and VTK still uses it then."""
        old = [w for w in (self.box, *self.spheres.values()) if w is not None]
        for w in old:
            w.Off()
        self._retired = old
        self.box = None
        self.spheres = {}

    def place(self) -> None:
        """Put the handles on the selected item (none unless the day is 0).

        A VTK widget turned on or off renders the whole scene; here they do not (the
        caller draws the frame once, with the handles where they now are).
        """
        iren = self.plotter.iren
        if iren is not None:
            iren.interactor.EnableRenderOff()
        try:
            self.clear()
            sel = self.editor.selection
            if sel is None or self.window.day > 0 or iren is None:
                return
            if sel[0] == "osteotomy":
                self._place_box(sel[1])
            else:
                self._place_spheres(sel[1])
        finally:
            if iren is not None:
                iren.interactor.EnableRenderOn()

    def _place_box(self, name: str) -> None:
        from vtkmodules.vtkInteractionWidgets import vtkBoxWidget

        from planner.plan.cuts import osteotomy_frame

        ost = self.editor.case.osteotomy(name)
        frame = osteotomy_frame(ost)
        w = vtkBoxWidget()
        w.SetInteractor(self.plotter.iren.interactor)
        w.SetCurrentRenderer(self.plotter.renderer)
        w.SetPlaceFactor(1.0)
        w.PlaceWidget(-0.5, 0.5, -0.5, 0.5, -0.5, 0.5)
        w.SetTransform(_vtk_transform(frame @ np.diag([*ost.size_mm, BOX_THICKNESS_MM, 1.0])))
        w.KeyPressActivationOff()
        w.GetOutlineProperty().SetColor(1.0, 0.85, 0.2)
        w.GetOutlineProperty().SetLineWidth(2)
        w.On()
        w.AddObserver("StartInteractionEvent", lambda *_: self.window.low_detail(True))
        w.AddObserver("InteractionEvent", self._box_moving)
        w.AddObserver("EndInteractionEvent", self._box_released)
        self.box = w
        self._box_start = (name, frame, tuple(ost.size_mm))

    def box_frame(self) -> tuple[np.ndarray, tuple[float, float]]:
        """The box handle's cut frame (columns u, v, n, centre) and size (mm)."""
        from vtkmodules.vtkCommonTransforms import vtkTransform

        t = vtkTransform()
        self.box.GetTransform(t)
        m = _matrix(t)
        size = (float(np.linalg.norm(m[:3, 0])), float(np.linalg.norm(m[:3, 1])))
        n = m[:3, 2] / np.linalg.norm(m[:3, 2])
        u = m[:3, 0] - n * float(m[:3, 0] @ n)
        u /= np.linalg.norm(u)
        frame = np.eye(4)
        frame[:3, 0], frame[:3, 1], frame[:3, 2], frame[:3, 3] = u, np.cross(n, u), n, m[:3, 3]
        return frame, size

    def _box_moving(self, *_) -> None:
        """While dragging: the cut plane follows the box (no re-cut yet)."""
        name, frame0, size0 = self._box_start
        actor = self.window.actors.get(f"cut:{name}")
        if actor is None:
            return
        frame, size = self.box_frame()
        scale = np.diag([size[0] / size0[0], size[1] / size0[1], 1.0, 1.0])
        actor.user_matrix = frame @ scale @ np.linalg.inv(frame0)

    def _box_released(self, *_) -> None:
        self.window.low_detail(False)
        name = self._box_start[0]
        frame, size = self.box_frame()
        self.act(lambda: self.editor.set_osteotomy_frame(frame, size, name))

    def _sphere(self, key: str, center, rgb, callback, radius: float = HANDLE_MM) -> None:
        from vtkmodules.vtkInteractionWidgets import vtkSphereWidget

        w = vtkSphereWidget()
        w.SetInteractor(self.plotter.iren.interactor)
        w.SetCurrentRenderer(self.plotter.renderer)
        w.SetRepresentationToSurface()
        w.SetRadius(radius)
        w.SetCenter(*np.asarray(center, dtype=float))
        w.ScaleOff()
        w.KeyPressActivationOff()
        w.GetSphereProperty().SetColor(*rgb)
        w.GetSelectedSphereProperty().SetColor(1.0, 1.0, 1.0)
        w.On()
        w.AddObserver("StartInteractionEvent", lambda *_: self.window.low_detail(True))
        w.AddObserver("EndInteractionEvent", lambda obj, _e: self._sphere_released(obj, callback))
        self.spheres[key] = w

    def _sphere_released(self, widget, callback) -> None:
        self.window.low_detail(False)
        callback(np.array(widget.GetCenter()))

    def _place_spheres(self, name: str) -> None:
        d = self.editor.case.distractor(name)
        self._sphere(
            "fixed",
            d.fixed_point_mm,
            FIXED_RGB,
            lambda p: self.act(lambda: self.editor.pick_point("fixed", p, name)),
        )
        self._sphere(
            "moving",
            d.moving_point_mm,
            MOVING_RGB,
            lambda p: self.act(lambda: self.editor.pick_point("moving", p, name)),
        )
        self._sphere(
            "end",
            self.editor.vector_end(name),
            END_RGB,
            lambda p: self.act(lambda: self.editor.drag_vector_end(p, name)),
            END_HANDLE_MM,
        )

    # ------------------------------------------------------------------ actions
    def act(self, edit) -> None:
        """Run one edit; a refusal goes to the status line and the case stays as it was."""
        try:
            result = edit()
            self.window.status = result if isinstance(result, str) else ""
        except PlannerError as exc:
            self.window.status = f"refused: {exc}"
            self.place()  # put the handles back where the case has them
        self.window.update_texts()
        self.plotter.render()

    def _day_moved(self, value: float) -> None:
        if abs(value - self.window.day) > 1e-9:
            self.window.set_day(value)

    def sync_day(self) -> None:
        """Put the day slider at the window's day (untouched when it is there already:
        a slider rebuilds its picture at every change)."""
        rep = self.day_slider.GetRepresentation()
        end = max(self.window.state.end_day, 1e-3)
        if rep.GetMaximumValue() != end:
            rep.SetMaximumValue(end)
        if rep.GetValue() != self.window.day:
            rep.SetValue(self.window.day)

    def mouse_point(self):
        """Day-0 point of the bone under the mouse, or a PlannerError."""
        x, y = self.plotter.iren.get_event_position()
        p = self.window.pick_at(x, y)
        if p is None:
            raise PlannerError("no bone under the mouse: point at the bone and press again")
        return p

    # ------------------------------------------------------------------ keys
    def _key_event(self, *_) -> None:
        iren = self.plotter.iren.interactor
        self.key(iren.GetKeySym() or "", iren.GetKeyCode() or "")

    def key(self, keysym: str, char: str = "") -> None:
        """Handle one key press (``keysym`` as VTK names it, ``char`` the character)."""
        if self.typing is not None:
            self._type(keysym, char)
            return
        if keysym != "q":
            self._quit_armed = False
        action = self._keymap().get(keysym)
        if action is not None:
            self.act(action)

    def _keymap(self) -> dict:
        ed, win = self.editor, self.window
        return {
            "Tab": lambda: ed.select_next(1) and None,
            "ISO_Left_Tab": lambda: ed.select_next(-1) and None,
            "a": lambda: (
                "added osteotomy "
                + ed.add_osteotomy(self.mouse_point(), normal=self._view_normal())
            ),
            "A": lambda: (
                "added distractor "
                + ed.add_distractor(ed.snap(self.mouse_point()))
                + ": now put its fixed footplate (f) and its moving one (m)"
            ),
            "f": lambda: self._footplate("fixed"),
            "m": lambda: self._footplate("moving"),
            "n": lambda: f"osteotomy {ed.perpendicular()!r} turned perpendicular to the vector",
            "d": lambda: f"device {ed.cycle_device(1)}",
            "D": lambda: f"device {ed.cycle_device(-1)}",
            "plus": lambda: ed.set_target(self._target() + 1.0),
            "minus": lambda: ed.set_target(self._target() - 1.0),
            "x": lambda: ed.remove(ed.selection[0]) if ed.selection else None,
            "Delete": lambda: ed.remove(ed.selection[0]) if ed.selection else None,
            "colon": self._start_typing,
            "Right": lambda: win.set_day(np.floor(win.day + 1e-9) + 1.0),
            "Left": lambda: win.set_day(np.ceil(win.day - 1e-9) - 1.0),
            "Home": lambda: win.set_day(0.0),
            "End": lambda: win.set_day(win.state.end_day),
            "o": lambda: win.preview_collisions() and None,
            "v": self._next_view,
            "g": self._go_to_selection,
            "G": lambda: self.window.set_camera(focus="plan"),
            "b": lambda: self.window.set_camera(focus="bone"),
            "c": self._toggle_slices,
            "z": lambda: None if ed.undo() else "nothing to undo",
            "y": lambda: None if ed.redo() else "nothing to redo",
            "s": lambda: f"saved {ed.save()}",
            "h": self._toggle_help,
            "q": self._quit,
        }

    def _footplate(self, which: str) -> str:
        p = self.editor.pick_point(which, self.mouse_point())
        return f"{which} footplate at ({p[0]:.1f}, {p[1]:.1f}, {p[2]:.1f}) mm"

    def _target(self) -> float:
        sel = self.editor.selection
        if sel is None or sel[0] != "distractor":
            raise PlannerError("select a distractor first (Tab cycles through the plan)")
        return self.editor.case.distractor(sel[1]).target_mm

    def _view_normal(self):
        cam = self.plotter.camera
        return np.asarray(cam.position) - np.asarray(cam.focal_point)

    def _next_view(self) -> str:
        return f"view from {self.window.next_view()}"

    def _go_to_selection(self) -> None:
        self.window.set_camera(focus="selection")
        point = self.editor.selection_point()
        if self.window.slices is not None and point is not None:
            self.window.slices.through(point)

    def _toggle_slices(self) -> str:
        if self.window.slices is None:
            return "no CT slices: the scan was not found"
        return self.window.slices.toggle()

    def _toggle_help(self) -> None:
        self.window.show_help = not self.window.show_help

    def _quit(self) -> str | None:
        if self.editor.dirty and not self._quit_armed:
            self._quit_armed = True
            return "unsaved edits: s saves them, q again quits without saving"
        self.plotter.close()
        return None

    def _start_typing(self) -> None:
        self.typing = ""

    def _type(self, keysym: str, char: str) -> None:
        if keysym in ("Return", "KP_Enter"):
            line, self.typing = self.typing, None
            self.act(lambda: run_command(self.editor, line, here=self._last_point()))
            return
        if keysym == "Escape":
            self.typing = None
        elif keysym == "BackSpace":
            self.typing = self.typing[:-1]
        elif char and char.isprintable():
            self.typing += char
        self.window.update_texts()
        self.plotter.render()

    def _last_point(self):
        try:
            return self.mouse_point()
        except PlannerError:
            return None

"""Offscreen frames of a scene with pyvista/VTK (EGL, no display needed).

A :class:`Renderer` uploads each item's mesh once and then only moves it
(``actor.user_matrix``) from frame to frame; the framing is fixed when it is made, from
bounds the caller gives (the whole clip), so nothing jumps during a clip.

Views (LPS: x to the patient's left, y posterior, z up), orthographic:
``front`` from the face, ``left`` / ``right`` from the patient's left / right side,
``below`` from under the chin (anterior at the top), ``top`` from above (anterior at the
top), ``orbit`` from the front turning about the vertical axis (one turn per clip).

A server needs an OpenGL library VTK can load without a display: on Debian
``apt-get install libegl1 libegl-mesa0 libgl1-mesa-dri`` (Mesa's software renderer).
When no ``DISPLAY`` is set, VTK is told to use EGL directly
(``VTK_DEFAULT_OPENGL_WINDOW=vtkEGLRenderWindow``). VTK crashes the process instead of
raising when OpenGL is missing: :func:`rendering_available` tries it in a subprocess.
"""

from __future__ import annotations

import functools
import math
import os
import subprocess
import sys
import weakref
from collections.abc import Sequence

import numpy as np

from planner.errors import PlannerError

__all__ = [
    "VIEWS",
    "VIEW_CAMERAS",
    "Renderer",
    "camera_frame",
    "check_view",
    "display_mesh",
    "rendering_available",
    "require_rendering",
    "scene_bounds",
    "world_to_pixels",
]

VIEWS = ("front", "left", "right", "below", "top", "orbit")
# camera direction (from the scene toward the camera) and screen-up, LPS
VIEW_CAMERAS = {
    "front": ((0.0, -1.0, 0.0), (0.0, 0.0, 1.0)),
    "left": ((1.0, 0.0, 0.0), (0.0, 0.0, 1.0)),
    "right": ((-1.0, 0.0, 0.0), (0.0, 0.0, 1.0)),
    "below": ((0.0, 0.0, -1.0), (0.0, -1.0, 0.0)),
    "top": ((0.0, 0.0, 1.0), (0.0, -1.0, 0.0)),
    "orbit": ((0.0, -1.0, 0.0), (0.0, 0.0, 1.0)),
}
BACKGROUND = (38, 42, 50)
MARGIN = 1.12  # frame this much wider than the scene's bounding box
CAPTION_PT = 14
# shares of the frame height kept free for the caption (top) and the notes (bottom)
CAPTION_BAND = 0.13
NOTE_BAND = 0.05


def check_view(view: str) -> str:
    """``view`` if it is one of :data:`VIEWS`, else a PlannerError naming them."""
    if view not in VIEWS:
        raise PlannerError(f"unknown view {view!r}: choose one of {', '.join(VIEWS)}")
    return view


def _use_egl_without_display() -> None:
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")


_PROBE = """
import os, sys
if not os.environ.get("DISPLAY"):
    os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
import pyvista as pv
p = pv.Plotter(off_screen=True, window_size=(64, 48))
p.add_mesh(pv.Sphere(), color="white")
img = p.screenshot(return_img=True)
p.close()
sys.exit(0 if img.shape[:2] == (48, 64) and img.max() > 100 else 3)
"""


@functools.cache
def rendering_available() -> tuple[bool, str]:
    """Can this machine render offscreen? Returns (ok, reason when not).

    Runs a tiny render in a subprocess (VTK aborts the process when no OpenGL library
    can be loaded), once per process.
    """
    try:
        r = subprocess.run(
            [sys.executable, "-c", _PROBE], capture_output=True, timeout=120, text=True
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"offscreen rendering could not be tried: {exc}"
    if r.returncode == 0:
        return True, ""
    tail = (r.stderr.strip().splitlines() or ["no message"])[-1][:200]
    return False, (
        f"offscreen rendering failed (exit {r.returncode}: {tail}); on Debian install "
        "libegl1 libegl-mesa0 libgl1-mesa-dri"
    )


def require_rendering() -> None:
    """Raise a PlannerError saying what to install when offscreen rendering fails."""
    ok, reason = rendering_available()
    if not ok:
        raise PlannerError(reason)


def camera_frame(bounds, view: str, size: Sequence[int], turn: float = 0.0):
    """Where the camera of ``view`` looks for a scene within ``bounds``.

    Returns
    -------
    center : (3,) float
        Point at the middle of the frame, mm.
    direction : (3,) float
        Unit vector from the scene toward the camera.
    up : (3,) float
        Unit vector pointing up on screen.
    scale : float
        Half the frame's height, mm (orthographic).
    """
    bounds = np.asarray(bounds, dtype=float)
    direction, up = (np.asarray(v, dtype=float) for v in VIEW_CAMERAS[check_view(view)])
    if view == "orbit":
        a = 2 * math.pi * turn
        direction = np.array([math.sin(a), -math.cos(a), 0.0])  # from the front to the left
    center = bounds.mean(axis=0)
    extent = bounds[1] - bounds[0]
    if view == "orbit":
        half_w = float(np.linalg.norm(extent[:2])) / 2  # fits every angle about z
        half_h = float(extent[2]) / 2
    else:
        right = np.cross(-direction, up)
        half_w = float(np.abs(extent @ np.abs(right))) / 2
        half_h = float(np.abs(extent @ np.abs(up))) / 2
    aspect = size[0] / size[1]
    # the scene fills the height between a band for the caption at the top and one for
    # the notes at the bottom
    usable = 1.0 - CAPTION_BAND - NOTE_BAND
    scale = MARGIN * max(half_h, half_w / aspect) / usable
    return center + up * scale * (CAPTION_BAND - NOTE_BAND), direction, up, scale


def world_to_pixels(points, bounds, view: str, size: Sequence[int], turn: float = 0.0):
    """(n, 2) pixel (column, row) of (n, 3) points, mm, in a frame of ``view``."""
    center, direction, up, scale = camera_frame(bounds, view, size, turn)
    right = np.cross(-direction, up)
    rel = np.asarray(points, dtype=float) - center
    px_per_mm = size[1] / (2 * scale)
    col = size[0] / 2 + (rel @ right) * px_per_mm
    row = size[1] / 2 - (rel @ up) * px_per_mm
    return np.column_stack([col, row])


def scene_bounds(item_lists) -> np.ndarray:
    """(2, 3) bounds, mm, of posed items over several frames (lists of SceneItem)."""
    lo, hi = np.full(3, np.inf), np.full(3, -np.inf)
    for items in item_lists:
        for it in items:
            corners = np.array(
                [
                    [x, y, z]
                    for x in it.mesh.bounds[:, 0]
                    for y in it.mesh.bounds[:, 1]
                    for z in it.mesh.bounds[:, 2]
                ]
            )
            pts = corners @ it.pose[:3, :3].T + it.pose[:3, 3]
            lo, hi = np.minimum(lo, pts.min(0)), np.maximum(hi, pts.max(0))
    if not np.all(np.isfinite(lo)):
        raise PlannerError("nothing to draw: the scene is empty")
    return np.array([lo, hi])


# Meshes above this many triangles are drawn from a decimated copy (made once per mesh):
# at 1280x720 a 200 k-triangle skull and its 60 k copy look the same, and render faster.
DISPLAY_MAX_TRIANGLES = 50_000
_DISPLAY: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def display_mesh(mesh):
    """``mesh``, or a decimated copy of it for drawing when it is very large."""
    if len(mesh.faces) <= DISPLAY_MAX_TRIANGLES:
        return mesh
    cached = _DISPLAY.get(mesh)
    if cached is None:
        import fast_simplification
        import trimesh

        keep = DISPLAY_MAX_TRIANGLES / len(mesh.faces)
        v, f = fast_simplification.simplify(
            np.asarray(mesh.vertices, dtype=np.float32), mesh.faces, target_reduction=1 - keep
        )
        cached = trimesh.Trimesh(v, f, process=False)
        _DISPLAY[mesh] = cached
    return cached


def _polydata(mesh):
    import pyvista as pv

    mesh = display_mesh(mesh)
    faces = np.hstack([np.full((len(mesh.faces), 1), 3), mesh.faces]).astype(np.int64)
    return pv.PolyData(np.asarray(mesh.vertices, dtype=float), faces.ravel())


class Renderer:
    """An offscreen plotter holding one scene; move items and take frames.

    Parameters
    ----------
    items : list of SceneItem
        The scene at its first frame (see :func:`planner.render.scene.scene_at`).
    bounds : (2, 3) float
        Region to frame, mm (use :func:`scene_bounds` over the whole clip).
    view : str
        One of :data:`VIEWS`.
    size : (2,) int
        Width, height in pixels.
    """

    def __init__(self, items, bounds, *, view: str = "front", size: Sequence[int] = (1280, 720)):
        _use_egl_without_display()
        import pyvista as pv

        check_view(view)
        self.size = (int(size[0]), int(size[1]))
        if min(self.size) < 16:
            raise PlannerError(f"image size {self.size} is too small: use at least 16x16")
        self.view = view
        self.plotter = pv.Plotter(off_screen=True, window_size=list(self.size))
        self.plotter.disable_anti_aliasing()
        self.plotter.set_background([c / 255 for c in BACKGROUND])
        self.actors, self.data, self.texts = {}, {}, {}
        self._rendered_once = False
        for it in items:
            self._add(it)
        self.bounds = np.asarray(bounds, dtype=float)
        self.set_camera(0.0)

    def _add(self, it) -> None:
        poly = _polydata(it.mesh)
        rgba = it.color_rgba
        actor = self.plotter.add_mesh(
            poly,
            color=[c / 255 for c in rgba[:3]],
            opacity=rgba[3] / 255,
            smooth_shading=it.role in ("fixed", "moving", "skin"),
            specular=0.2 if it.role in ("device", "vector") else 0.05,
            name=it.name,
            render=False,
        )
        actor.user_matrix = np.asarray(it.pose, dtype=float)
        self.actors[it.name] = actor
        self.data[it.name] = poly

    def update(self, items) -> None:
        """Move items to their new poses; items whose mesh changed get new points."""
        for it in items:
            actor = self.actors.get(it.name)
            if actor is None:
                self._add(it)
                continue
            actor.user_matrix = np.asarray(it.pose, dtype=float)
            if it.role in ("device", "skin"):
                poly = self.data[it.name]
                if poly.n_points == len(it.mesh.vertices):
                    poly.points = np.asarray(it.mesh.vertices, dtype=float)
                else:
                    self.plotter.remove_actor(actor, render=False)
                    self._add(it)

    def set_camera(self, turn: float) -> None:
        """Place the camera for the view; ``turn`` (0-1) is the orbit's fraction of a turn."""
        center, direction, up, scale = camera_frame(self.bounds, self.view, self.size, turn)
        radius = float(np.linalg.norm(self.bounds[1] - self.bounds[0])) / 2
        cam = self.plotter.camera
        cam.focal_point = center
        cam.position = center + direction * (radius * 4 + 100)
        cam.up = up
        cam.SetParallelProjection(True)
        cam.parallel_scale = scale
        cam.clipping_range = (1.0, radius * 10 + 200)

    def text(self, key: str, text: str, position: str = "upper_left", *, size: int = CAPTION_PT):
        """Set (or change) a caption in a corner of the frame."""
        actor = self.texts.get(key)
        if actor is None:
            points = max(8, round(size * self.size[1] / 720))  # sizes are for 720 px high
            actor = self.plotter.add_text(
                text, position=position, font_size=points, color="white", name=key, render=False
            )
            prop = actor.GetTextProperty()  # a dark backdrop keeps text legible over bone
            prop.SetBackgroundColor(*(c / 255 for c in BACKGROUND))
            prop.SetBackgroundOpacity(0.7)
            self.texts[key] = actor
        else:
            if hasattr(actor, "SetText"):  # a corner annotation
                actor.SetText(_corner(position), text)
            else:
                actor.SetInput(text)

    def legend(self, entries: Sequence[tuple[str, tuple[int, int, int, int]]]) -> None:
        """A legend of names and colours at the upper right."""
        self.plotter.add_legend(
            [[name, [c / 255 for c in rgba[:3]]] for name, rgba in entries],
            bcolor=[c / 255 for c in BACKGROUND],
            face="rectangle",
            loc="upper right",
            size=(0.2, 0.035 * len(entries) + 0.01),
        )

    def frame(self) -> np.ndarray:
        """Render and return the frame, (height, width, 3) uint8."""
        if self._rendered_once:
            self.plotter.render()  # screenshot() renders by itself only the first time
        self._rendered_once = True
        return np.asarray(self.plotter.screenshot(return_img=True))[..., :3].copy()

    def close(self) -> None:
        self.plotter.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _corner(position: str) -> int:
    return {"lower_left": 0, "lower_right": 1, "upper_left": 2, "upper_right": 3}.get(position, 2)

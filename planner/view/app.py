"""Opening the planning window on a screen: the display check, the CT, the event loop.

:func:`display_problem` says, without touching VTK, why no window can open (no X display
reachable), so ``planner view`` can answer in one line instead of crashing inside OpenGL.
:func:`open_window` loads the case, its models and its scan, and runs the window until
the surgeon closes it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from planner.errors import PlannerError

__all__ = ["NO_DISPLAY_HINT", "display_problem", "load_scan", "open_window"]

POLL_MS = 100  # how often the window looks for a plan made in the background
NO_DISPLAY_HINT = (
    "run it on a desktop, or under a virtual display ('xvfb-run -a planner view CASE_DIR', "
    "Debian package xvfb), or take a picture instead with "
    "'planner view CASE_DIR --screenshot FILE.png'"
)


def display_problem() -> str | None:
    """Why a window cannot open here (one line), or None when it can.

    On Linux a window needs an X display: ``DISPLAY`` set and a server answering there
    (tried with libX11's ``XOpenDisplay``). Other systems always have a screen.
    """
    if not sys.platform.startswith("linux"):
        return None
    name = os.environ.get("DISPLAY", "")
    if not name:
        return f"no display (DISPLAY is not set): {NO_DISPLAY_HINT}"
    lib = ctypes.util.find_library("X11")
    if lib is None:
        return f"no X11 library to open display {name!r}: {NO_DISPLAY_HINT}"
    x11 = ctypes.cdll.LoadLibrary(lib)
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
    handle = x11.XOpenDisplay(name.encode())
    if not handle:
        return f"cannot open display {name!r}: {NO_DISPLAY_HINT}"
    x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
    x11.XCloseDisplay(handle)
    return None


def load_scan(case_dir: str | Path, case):
    """The case's CT as a Volume, or (None, why not) when it cannot be read."""
    from planner.scan.dicom import load_volume

    if not case.source.path:
        return None, "no CT slices: case.json names no scan (source.path)"
    scan = Path(case_dir) / case.source.path
    if not scan.exists():
        return None, f"no CT slices: the scan {case.source.path!r} is not there"
    try:
        return load_volume(scan, series_uid=case.source.series_uid or None), ""
    except PlannerError as exc:
        return None, f"no CT slices: {exc}"


def open_window(
    case_dir: str | Path,
    *,
    size: tuple[int, int] = (1400, 900),
    on_ready: Callable[[object, float], None] | None = None,
):
    """Open the planning window on ``CASE_DIR`` and run it until it is closed.

    Parameters
    ----------
    case_dir : path
    size : (2,) int
        Window size in pixels.
    on_ready : callable(window, seconds), optional
        Called once the plan and the CT are shown, with the
        :class:`~planner.view.window.PlanWindow` and the seconds from the call to the
        first frame (tests and benchmarks use it; it may close the window). The window
        shows the bone first and makes the plan right after its first frame;
        ``window.timings`` has both times.

    Returns
    -------
    PlanEditor
        The editor as it was when the window closed (``dirty`` if edits were not saved).

    Raises
    ------
    PlannerError
        No display, no case, no models.
    """
    t0 = time.perf_counter()
    problem = display_problem()
    if problem:
        raise PlannerError(problem)
    from planner.view.editor import PlanEditor

    editor = PlanEditor.open(case_dir)
    if os.environ.get("VTK_DEFAULT_OPENGL_WINDOW") == "vtkEGLRenderWindow":
        del os.environ["VTK_DEFAULT_OPENGL_WINDOW"]  # set for off-screen work: not a window
    import pyvista as pv

    from planner.view.window import PlanWindow

    plotter = pv.Plotter(window_size=list(size), title="planner view")
    window = PlanWindow(editor, plotter, defer=True)  # the bone first, the plan next

    def rendered(*_):  # the first frame is on the screen: now the plan and the CT
        if "first_frame_s" not in window.timings:
            window.timings["first_frame_s"] = time.perf_counter() - t0
            plotter.iren.create_timer(1, repeating=False)

    def finish(*_):
        if "ready_s" in window.timings:
            window.poll()
            return
        window.timings["ready_s"] = 0.0
        volume, note = load_scan(case_dir, editor.case)
        window.finish(volume, note, background=True)
        plotter.iren.create_timer(POLL_MS, repeating=True)  # shows plans made meanwhile
        plotter.render()
        window.timings["ready_s"] = time.perf_counter() - t0
        if on_ready is not None:
            on_ready(window, window.timings["first_frame_s"])

    plotter.render_window.AddObserver("EndEvent", rendered)
    plotter.iren.add_observer("TimerEvent", finish)
    plotter.show()
    return editor

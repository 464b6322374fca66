"""Still pictures of a plan: a screenshot at a day, before/after, the displacement map.

Every still is framed like the clip (the moving bone, devices and cuts over the whole
distraction, see :func:`planner.render.clip.clip_bounds`), so a still and a clip frame of
the same day and view match pixel for pixel, and the two halves of a before/after picture
differ only where something moves. PNGs are written atomically.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from planner.errors import PlannerError

__all__ = [
    "before_after_frames",
    "displacement_frame",
    "render_screenshot",
    "side_by_side",
    "still_bounds",
    "write_before_after",
    "write_displacement_map",
    "write_png",
]

DIVIDER_PX = 4
DISPLACEMENT_CMAP = "YlOrRd"  # unmoved bone pale, the most moved dark red


def write_png(image: np.ndarray, path: str | Path) -> Path:
    """Write an (h, w, 3) uint8 image as PNG, atomically."""
    from PIL import Image

    from planner.fileio import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp:
        Image.fromarray(np.asarray(image, dtype=np.uint8)).save(tmp, format="PNG")
    return path


def still_bounds(plan):
    """(2, 3) framing of the stills (the clip's framing; the scene's without motion)."""
    from planner.render.clip import clip_bounds, focus_bounds
    from planner.render.offscreen import scene_bounds
    from planner.render.scene import scene_at

    if plan.motion is None:
        items = scene_at(plan, 0.0)
        return focus_bounds([items], scene_bounds([items]))
    return clip_bounds(plan)


def _frames_at(plan, days: Sequence[float], *, view: str, size, captions, note=""):
    """Frames of the plan's scene at each day (step lengths: turns done by then)."""
    from planner.render.clip import DISCLAIMER_LINE, legend_entries
    from planner.render.offscreen import Renderer, check_view, require_rendering
    from planner.render.scene import scene_at

    check_view(view)
    require_rendering()
    bounds = still_bounds(plan)
    frames = []
    with Renderer(scene_at(plan, days[0]), bounds, view=view, size=size) as r:
        r.legend(legend_entries(plan))
        r.text("note", (note + "\n" if note else "") + DISCLAIMER_LINE, "lower_left", size=10)
        for i, (day, text) in enumerate(zip(days, captions, strict=True)):
            if i:
                r.update(scene_at(plan, day))
            r.text("caption", text, "upper_left")
            frames.append(r.frame())
    return frames


def render_screenshot(
    plan,
    path: str | Path,
    *,
    day: float = 0.0,
    view: str = "front",
    size: tuple[int, int] = (1280, 720),
) -> Path:
    """Write a PNG of the plan at ``day`` (days since surgery) seen from ``view``.

    Raises
    ------
    PlannerError
        A day outside the treatment, an unknown view, no offscreen rendering.
    """
    from planner.render.clip import caption, check_day

    if plan.schedule is not None:
        check_day(plan, day)
        text = caption(plan, day, continuous=False)
    elif day != 0:
        raise PlannerError("this case has no distraction planned: only day 0 can be shown")
    else:
        text = "Day 0 (no distraction planned)"
    (frame,) = _frames_at(plan, [day], view=view, size=size, captions=[text])
    return write_png(frame, path)


def before_after_frames(plan, *, view: str = "front", size=(960, 720)) -> list[np.ndarray]:
    """Two frames with one framing: day 0 and the end of distraction."""
    from planner.render.clip import caption, treatment_end

    end = treatment_end(plan)
    captions = ["BEFORE: day 0", "AFTER: " + caption(plan, end, continuous=False)]
    return _frames_at(plan, [0.0, end], view=view, size=size, captions=captions)


def side_by_side(frames: Sequence[np.ndarray]) -> np.ndarray:
    """Frames joined left to right with a thin white divider."""
    h = frames[0].shape[0]
    bar = np.full((h, DIVIDER_PX, 3), 255, dtype=np.uint8)
    parts = []
    for i, f in enumerate(frames):
        if i:
            parts.append(bar)
        parts.append(f)
    return np.concatenate(parts, axis=1)


def write_before_after(plan, path: str | Path, *, view: str = "front", size=(960, 720)) -> Path:
    """Before (day 0) and after (end of distraction) side by side, as a PNG."""
    return write_png(side_by_side(before_after_frames(plan, view=view, size=size)), path)


def displacement_frame(plan, *, view: str = "front", size=(1280, 720)) -> np.ndarray:
    """The bone at the end of distraction coloured by how far each point moved, mm."""
    import pyvista as pv

    from planner.render.clip import DISCLAIMER_LINE, treatment_end
    from planner.render.offscreen import (
        Renderer,
        check_view,
        display_mesh,
        require_rendering,
    )
    from planner.render.scene import scene_at

    check_view(view)
    require_rendering()
    end = treatment_end(plan)
    bones = [it for it in scene_at(plan, end) if it.role in ("fixed", "moving")]
    peak = 0.0
    with Renderer([], still_bounds(plan), view=view, size=size) as r:
        meshes = []
        for it in bones:
            m = display_mesh(it.mesh)
            moved = m.vertices @ it.pose[:3, :3].T + it.pose[:3, 3]
            mm = np.linalg.norm(moved - m.vertices, axis=1)
            peak = max(peak, float(mm.max()))
            faces = np.hstack([np.full((len(m.faces), 1), 3), m.faces]).astype(np.int64)
            poly = pv.PolyData(moved, faces.ravel())
            poly.point_data["displacement (mm)"] = mm
            meshes.append(poly)
        clim = (0.0, max(peak, 1.0))
        for i, poly in enumerate(meshes):
            r.plotter.add_mesh(
                poly,
                scalars="displacement (mm)",
                cmap=DISPLACEMENT_CMAP,
                clim=clim,
                smooth_shading=True,
                show_scalar_bar=i == 0,
                scalar_bar_args={
                    "title": "moved (mm)",
                    "vertical": True,
                    "position_x": 0.88,
                    "position_y": 0.2,
                    "height": 0.6,
                    "width": 0.06,
                    "color": "white",
                    "fmt": "%.0f",
                    "n_labels": 5,
                    "title_font_size": 14,
                    "label_font_size": 14,
                },
                render=False,
            )
        r.text(
            "caption", f"How far each point of the bone moves: 0 to {peak:.1f} mm", "upper_left"
        )
        r.text("note", DISCLAIMER_LINE, "lower_left", size=10)
        return r.frame()


def write_displacement_map(plan, path: str | Path, *, view: str = "front", size=(1280, 720)):
    """PNG of :func:`displacement_frame`."""
    return write_png(displacement_frame(plan, view=view, size=size), path)

"""The render stage's share of ``out/``: scene, cut and device STLs, the clip and stills.

:func:`write_render_outputs` is what ``planner build`` calls (through
:func:`planner.pipeline.outputs.write_plan`); it returns manifest entries. The pictures
are made in the view that shows the movement best (:func:`best_view`). Without offscreen
rendering on the machine, the pictures are skipped and ``pictures_skipped.txt`` says why
(the scene and the STL files are still written).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["DEFAULT_CLIP", "best_view", "write_pictures", "write_render_outputs"]

# The clip planner build makes: 3 s at 20 frames per second, 1280x720.
DEFAULT_CLIP = {"fps": 20, "seconds": 3.0, "size": (1280, 720)}
SKIPPED_NOTE = "pictures_skipped.txt"


def best_view(plan) -> str:
    """The view (front, left or below) in which the moving bone's travel looks longest."""
    from planner.render.offscreen import VIEW_CAMERAS

    if plan.motion is None or plan.schedule is None:
        return "front"
    end = plan.poses_at(plan.schedule.end_of_distraction_days)
    travel = np.zeros(3)
    for d in plan.case.distractors:
        pose = end[plan.motion.segment_of[d.name]]
        p = np.asarray(d.moving_point_mm, dtype=float)
        travel += np.abs(pose[:3, :3] @ p + pose[:3, 3] - p)  # |per axis|: sides add up

    def seen(view):
        d = np.asarray(VIEW_CAMERAS[view][0])
        return float(np.linalg.norm(travel - d * (travel @ d)))

    return max(("left", "front", "below"), key=seen)


def write_pictures(plan, out_dir: str | Path, *, view: str | None = None) -> list[dict]:
    """The default clip (MP4, GIF), before/after and displacement stills; manifest entries."""
    from planner.render.clip import ClipSettings, render_clip
    from planner.render.stills import write_before_after, write_displacement_map

    out_dir = Path(out_dir)
    view = view or best_view(plan)
    settings = ClipSettings(view=view, **DEFAULT_CLIP)
    entries = []
    for path in render_clip(plan, out_dir, settings=settings):
        entries.append(
            {
                "path": path.name,
                "kind": "animation",
                "view": view,
                "frames": settings.n_frames,
                "fps": settings.fps,
                "days": [0.0, round(plan.schedule.end_of_distraction_days, 6)],
            }
        )
    still = write_before_after(plan, out_dir / f"before_after_{view}.png", view=view)
    entries.append({"path": still.name, "kind": "image", "view": view, "shows": "before/after"})
    dmap = write_displacement_map(plan, out_dir / f"displacement_{view}.png", view=view)
    entries.append({"path": dmap.name, "kind": "image", "view": view, "shows": "displacement, mm"})
    return entries


def write_render_outputs(plan, out_dir: str | Path, *, pictures: bool = True) -> list[dict]:
    """Write ``scene.glb``, ``cuts/``, ``devices/`` and (with ``pictures``) the clip and stills.

    Returns the manifest entries (paths relative to ``out_dir``).
    """
    from planner.render.export import GLB_NAME, write_cut_and_device_stls, write_scene_glb
    from planner.render.offscreen import rendering_available

    out_dir = Path(out_dir)
    write_scene_glb(plan, out_dir / GLB_NAME)
    entries = [
        {
            "path": GLB_NAME,
            "kind": "scene",
            "format": "glTF 2.0 binary",
            "units": "glTF metres, +Y superior, +Z anterior; meshes in LPS mm under node patient_LPS_mm",
        }
    ]
    for rel, kind, mesh in write_cut_and_device_stls(plan, out_dir):
        entries.append({"path": rel, "kind": kind, "triangles": len(mesh.faces)})
    if not pictures or plan.schedule is None:
        return entries
    ok, reason = rendering_available()
    if not ok:
        (out_dir / SKIPPED_NOTE).write_text(
            f"no clip or stills were made: {reason}\n", encoding="utf-8"
        )
        return [*entries, {"path": SKIPPED_NOTE, "kind": "note"}]
    return entries + write_pictures(plan, out_dir)

"""The distraction clip: day 0 to the end of distraction, as MP4 and GIF.

Frames sample the treatment evenly in time with lengths ramping smoothly between
activations (``continuous`` poses), so the movement reads as steady; the caption gives
the calendar day, its date when the protocol has one, and the millimetres reached by each
distractor at that moment. The framing is fixed for the whole clip (see
:func:`clip_bounds`).

The GIF is written at half the MP4's size when the MP4 is wider than
:data:`GIF_MAX_WIDTH` (a full-HD GIF is tens of megabytes and slow to encode).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from planner.errors import PlannerError

__all__ = [
    "DISCLAIMER_LINE",
    "GIF_MAX_WIDTH",
    "ClipSettings",
    "caption",
    "check_day",
    "clip_bounds",
    "clip_days",
    "focus_bounds",
    "legend_entries",
    "parse_size",
    "render_clip",
    "render_frames",
    "treatment_end",
    "write_gif",
]

GIF_MAX_WIDTH = 800
DISCLAIMER_LINE = "planned movement, research software, not a certified medical device"
# Framing: the moving bone, devices and cuts over the clip, grown by this share of their
# size on every side, within the whole scene.
FOCUS_PAD = 0.45


@dataclass(frozen=True)
class ClipSettings:
    """How to film the clip: view, frames per second, length, size (width, height) px."""

    view: str = "front"
    fps: int = 20
    seconds: float = 3.0
    size: tuple[int, int] = (1280, 720)

    @property
    def n_frames(self) -> int:
        return max(2, round(self.fps * self.seconds))


def parse_size(text: str) -> tuple[int, int]:
    """``"1280x720"`` -> (1280, 720); a PlannerError for anything else."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise PlannerError(f"size {text!r} is not WIDTHxHEIGHT (e.g. 1280x720)") from None
    if not (16 <= w <= 7680 and 16 <= h <= 4320):
        raise PlannerError(f"size {text!r} is out of range: 16x16 to 7680x4320 pixels")
    return w, h


def treatment_end(plan) -> float:
    """End of distraction (days since surgery); a PlannerError for a plan with no motion."""
    if plan.schedule is None or plan.motion is None:
        raise PlannerError(
            "this case has no distraction to show: add a distractor with "
            "'planner distractor add', then run 'planner build'"
        )
    return float(plan.schedule.end_of_distraction_days)


def check_day(plan, day: float) -> float:
    """``day`` if it lies within 0 .. end of distraction, else a PlannerError."""
    end = treatment_end(plan)
    if not (math.isfinite(day) and -1e-9 <= day <= end + 1e-9):
        raise PlannerError(
            f"day {day:g} is outside the treatment: choose a day from 0 to {end:.1f} "
            "(the end of distraction)"
        )
    return float(day)


def clip_days(plan, n_frames: int) -> np.ndarray:
    """(n_frames,) times, days since surgery, from 0 to the end of distraction."""
    return np.linspace(0.0, treatment_end(plan), n_frames)


def caption(plan, t_days: float, *, continuous: bool = True) -> str:
    """Two lines: day (and date) of ``t_days``; mm reached by each distractor."""
    from planner.motion.schedule import length_at

    day = math.floor(t_days + 1e-9)
    head = f"Day {day}"
    when = plan.schedule.when(t_days) if plan.schedule is not None else None
    if when is not None:
        head += f"  ·  {when:%a %d %b %Y}"
    parts = []
    for name, p in plan.schedule.plans.items():
        mm = length_at(plan.schedule, name, t_days, continuous=continuous)
        parts.append(f"{name} {mm:4.1f} / {p.planned_mm:g} mm")
    return head + "\n" + "   ".join(parts)


def focus_bounds(item_lists, scene) -> np.ndarray:
    """Bounds of the moving bone, devices, vectors and cuts, padded, within ``scene``."""
    from planner.render.offscreen import scene_bounds

    keep = [
        [it for it in items if it.role != "fixed" and it.role != "skin"] for items in item_lists
    ]
    if not any(keep):
        return scene
    b = scene_bounds(keep)
    pad = (b[1] - b[0]).max() * FOCUS_PAD
    return np.array([np.maximum(b[0] - pad, scene[0]), np.minimum(b[1] + pad, scene[1])])


def clip_bounds(plan) -> np.ndarray:
    """(2, 3) framing for a whole clip: the focus over day 0 and the end of distraction."""
    from planner.render.offscreen import scene_bounds
    from planner.render.scene import scene_at

    end = treatment_end(plan)
    lists = [scene_at(plan, 0.0), scene_at(plan, end)]
    return focus_bounds(lists, scene_bounds(lists))


def legend_entries(plan) -> list[tuple[str, tuple[int, int, int, int]]]:
    """(label, colour) for each moving segment, the fixed bone, vectors and devices."""
    from planner.render.scene import ROLE_COLORS, moving_segments, segment_colors

    colors = segment_colors(plan)
    out = [(name.replace("_", " "), colors[name]) for name in moving_segments(plan)]
    out.append(("bone that stays", ROLE_COLORS["fixed"]))
    if plan.case.distractors:
        out += [("vector", ROLE_COLORS["vector"]), ("device (schematic)", ROLE_COLORS["device"])]
    return out


def render_frames(
    plan,
    days: Sequence[float],
    *,
    view: str,
    size: tuple[int, int],
    sink: Callable[[int, np.ndarray], None],
    items_at: Callable[[float], list] | None = None,
    note: str = "",
) -> None:
    """Render the scene at each of ``days`` and pass ``(index, frame)`` to ``sink``.

    ``items_at(t)`` replaces the plan's scene (e.g. by the skin alone; then the framing
    is the whole of it and there is no legend); ``note`` is a line at the bottom of every
    frame, above the disclaimer.
    """
    from planner.render.offscreen import Renderer, check_view, require_rendering, scene_bounds
    from planner.render.scene import scene_at

    check_view(view)
    require_rendering()
    own = items_at is None
    if own:

        def items_at(t):
            return scene_at(plan, t, continuous=True)

    first, last = items_at(days[0]), items_at(days[-1])
    lists = [first, last]
    bounds = focus_bounds(lists, scene_bounds(lists)) if own else scene_bounds(lists)
    with Renderer(first, bounds, view=view, size=size) as r:
        if own:
            r.legend(legend_entries(plan))
        r.text("note", (note + "\n" if note else "") + DISCLAIMER_LINE, "lower_left", size=10)
        for i, t in enumerate(days):
            if i:
                r.update(items_at(t))
            if view == "orbit":
                r.set_camera(i / max(1, len(days)))
            r.text("caption", caption(plan, t), "upper_left")
            sink(i, r.frame())


def render_clip(
    plan,
    out_dir: str | Path,
    *,
    settings: ClipSettings = ClipSettings(),
    stem: str = "distraction",
    gif: bool = True,
    items_at: Callable[[float], list] | None = None,
    note: str = "",
) -> list[Path]:
    """Write ``<stem>_<view>.mp4`` (and ``.gif``) into ``out_dir``; returns the paths."""
    from planner.fileio import atomic_path

    out_dir = Path(out_dir)
    days = clip_days(plan, settings.n_frames)
    mp4 = out_dir / f"{stem}_{settings.view}.mp4"
    gif_path = out_dir / f"{stem}_{settings.view}.gif"
    half = settings.size[0] > GIF_MAX_WIDTH
    frames_gif: list[np.ndarray] = []
    with atomic_path(mp4) as tmp_mp4:
        video = None

        def sink(i, frame):
            nonlocal video
            frame = _even(frame)
            if video is None:
                video = _mp4_writer(tmp_mp4, frame.shape, settings.fps)
            video.send(np.ascontiguousarray(frame))
            if gif:
                frames_gif.append(frame[::2, ::2] if half else frame)

        try:
            render_frames(
                plan,
                days,
                view=settings.view,
                size=settings.size,
                sink=sink,
                items_at=items_at,
                note=note,
            )
        finally:
            if video is not None:
                video.close()
    if not gif:
        return [mp4]
    write_gif(frames_gif, gif_path, fps=settings.fps)
    return [mp4, gif_path]


def _mp4_writer(path: Path, shape, fps: int):
    """An imageio-ffmpeg H.264 writer (a generator: ``send`` frames, then ``close``)."""
    import imageio_ffmpeg

    writer = imageio_ffmpeg.write_frames(
        str(path),
        (shape[1], shape[0]),
        fps=fps,
        codec="libx264",
        quality=7,
        macro_block_size=1,
        ffmpeg_log_level="error",
        output_params=["-f", "mp4"],
    )
    writer.send(None)  # start ffmpeg
    return writer


def write_gif(frames: Sequence[np.ndarray], path: str | Path, *, fps: int) -> Path:
    """Write RGB frames as a looping GIF (atomically)."""
    from PIL import Image

    from planner.fileio import atomic_path

    images = [
        Image.fromarray(f).quantize(colors=128, method=Image.Quantize.FASTOCTREE) for f in frames
    ]
    with atomic_path(path) as tmp:
        images[0].save(
            tmp,
            format="GIF",
            save_all=True,
            append_images=images[1:],
            duration=round(1000 / fps),
            loop=0,
        )
    return Path(path)


def _even(frame: np.ndarray) -> np.ndarray:
    """Crop to even width and height (H.264 with yuv420p needs them)."""
    h, w = frame.shape[:2]
    return frame[: h - h % 2, : w - w % 2]

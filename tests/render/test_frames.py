"""Frames are checked, not only produced: count, size, movement, caption, before/after."""

import gc
import warnings

import matplotlib.colors
import numpy as np
import pytest

from planner.render.clip import ClipSettings, caption, clip_days, render_clip, render_frames
from planner.render.offscreen import world_to_pixels
from planner.render.stills import before_after_frames, still_bounds
from tests.render.cases import TARGET_MM, VECTOR, make_plan, needs_rendering

SIZE = (320, 240)


@pytest.fixture(scope="module")
def plan():
    return make_plan()


def orange_mask(frame):
    """Pixels of the moving segment's colour (orange, any shade), legend corner excluded."""
    hsv = matplotlib.colors.rgb_to_hsv(frame / 255.0)
    hue = hsv[..., 0] * 360
    mask = (hue > 15) & (hue < 35) & (hsv[..., 1] > 0.5) & (hsv[..., 2] > 0.25)
    h, w = mask.shape
    mask[: int(0.25 * h), int(0.7 * w) :] = False  # the legend
    return mask


def centroid(mask):
    rows, cols = np.nonzero(mask)
    return np.array([cols.mean(), rows.mean()])


@pytest.mark.parametrize("view", ["front", "left"])
def test_moving_segment_shifts_along_the_vector(plan, view):
    needs_rendering()
    frames = []
    days = clip_days(plan, 5)
    render_frames(plan, days, view=view, size=SIZE, sink=lambda i, f: frames.append(f))
    assert len(frames) == 5 and frames[0].shape == (SIZE[1], SIZE[0], 3)
    first, last = orange_mask(frames[0]), orange_mask(frames[-1])
    assert first.sum() > 200 and last.sum() > 200
    shift = centroid(last) - centroid(first)
    # where the vector's tip lands on screen, with the clip's own framing
    from planner.render.clip import focus_bounds
    from planner.render.offscreen import scene_bounds
    from planner.render.scene import scene_at

    lists = [scene_at(plan, days[0], continuous=True), scene_at(plan, days[-1], continuous=True)]
    bounds = focus_bounds(lists, scene_bounds(lists))
    ends = world_to_pixels([np.zeros(3), TARGET_MM * VECTOR], bounds, view, SIZE)
    expected = ends[1] - ends[0]
    assert np.linalg.norm(expected) > 10  # pixels: the test can see the movement
    cos = shift @ expected / (np.linalg.norm(shift) * np.linalg.norm(expected))
    assert cos > 0.95
    assert np.linalg.norm(shift) == pytest.approx(np.linalg.norm(expected), rel=0.25)


def test_clip_files_have_the_frames_and_size(plan, tmp_path):
    needs_rendering()
    import imageio.v3 as iio
    import imageio_ffmpeg

    settings = ClipSettings(view="front", fps=10, seconds=1.2, size=SIZE)
    mp4, gif = render_clip(plan, tmp_path, settings=settings)
    assert (mp4.name, gif.name) == ("distraction_front.mp4", "distraction_front.gif")
    with warnings.catch_warnings():  # imageio-ffmpeg's reader leaves ffmpeg's stdin open
        warnings.simplefilter("ignore", ResourceWarning)
        reader = imageio_ffmpeg.read_frames(str(mp4))
        meta = next(reader)
        frames = list(reader)
        del reader
        gc.collect()
    assert meta["size"] == SIZE and len(frames) == settings.n_frames == 12
    gif_frames = iio.imread(gif, index=None)
    assert gif_frames.shape[:3] == (12, SIZE[1], SIZE[0])
    assert sorted(p.name for p in tmp_path.iterdir()) == [gif.name, mp4.name]  # no leftovers


def test_caption_changes_with_the_day(plan):
    needs_rendering()
    end = plan.schedule.end_of_distraction_days
    assert caption(plan, 0.0).splitlines() == ["Day 0  ·  Tue 01 Dec 2026", "d  0.0 / 10 mm"]
    assert caption(plan, end).splitlines()[1] == "d 10.0 / 10 mm"
    frames = []
    render_frames(plan, [0.0, end], view="front", size=SIZE, sink=lambda i, f: frames.append(f))
    band = slice(0, int(0.12 * SIZE[1])), slice(0, int(0.5 * SIZE[0]))
    assert np.any(frames[0][band] != frames[1][band])


def test_before_after_differs_only_where_bone_moves(plan):
    needs_rendering()
    before, after = before_after_frames(plan, view="front", size=SIZE)
    bounds = still_bounds(plan)
    changed = np.any(before != after, axis=2)
    # the static skull block: its projected rectangle (inset 3 px) is the same in both
    skull = plan.segments["skull"]
    (c0, r0), (c1, r1) = np.sort(world_to_pixels(skull.bounds, bounds, "front", SIZE), axis=0)
    rows = slice(max(int(r0) + 3, int(0.15 * SIZE[1])), int(r1) - 3)
    cols = slice(int(c0) + 3, int(c1) - 3)
    assert changed[rows, cols].size > 500
    assert not changed[rows, cols].any()
    # ...while the moving bar's region does change
    bar = plan.segments["mandible_moving_d"]
    (c0, r0), (c1, r1) = np.sort(world_to_pixels(bar.bounds, bounds, "front", SIZE), axis=0)
    assert changed[int(r0) : int(r1), int(c0) : int(c1)].mean() > 0.2


def test_screenshot_of_a_day(plan, tmp_path):
    needs_rendering()
    from PIL import Image

    from planner.errors import PlannerError
    from planner.render.stills import render_screenshot

    path = render_screenshot(plan, tmp_path / "shot.png", day=5, view="top", size=SIZE)
    image = np.asarray(Image.open(path).convert("RGB"))
    assert image.shape == (SIZE[1], SIZE[0], 3)
    assert orange_mask(image).sum() > 100  # the moving segment is in the picture
    with pytest.raises(PlannerError, match="outside the treatment"):
        render_screenshot(plan, tmp_path / "late.png", day=99)
    with pytest.raises(PlannerError, match="unknown view"):
        render_screenshot(plan, tmp_path / "odd.png", view="inside")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shot.png"]

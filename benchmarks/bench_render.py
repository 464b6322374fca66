"""Offscreen rendering speed on the demo case: 60 frames at 1280x720 (target <= 10 s).

Usage: python benchmarks/bench_render.py CASE_DIR   (e.g. after planner demo /tmp/demo: /tmp/demo/case)
Prints the wall time (and CPU time, less sensitive to a busy machine) to plan, to render 60
frames, and to write the whole MP4, then MP4 + GIF.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path


def _cpu() -> float:
    """CPU seconds of this process and its finished children (ffmpeg): a figure that a
    busy machine inflates less than the wall clock."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def main(argv: list[str]) -> int:
    from planner.pipeline.load import load_plan
    from planner.render.clip import ClipSettings, render_clip, render_frames

    if not argv:
        print(
            "usage: python benchmarks/bench_render.py CASE_DIR  (make one: planner demo /tmp/demo)"
        )
        return 2
    case_dir = Path(argv[0])
    t = time.perf_counter()
    plan = load_plan(case_dir)
    print(f"plan (no collision sweep): {time.perf_counter() - t:.2f} s")
    n = 0

    def count(i, frame):
        nonlocal n
        n += 1

    from planner.render.clip import clip_days

    t, cpu = time.perf_counter(), _cpu()
    render_frames(plan, clip_days(plan, 60), view="front", size=(1280, 720), sink=count)
    dt = time.perf_counter() - t
    print(
        f"60 frames 1280x720, front, render only: {dt:.2f} s ({n / dt:.1f} fps), "
        f"CPU {_cpu() - cpu:.2f} s"
    )
    with tempfile.TemporaryDirectory() as out:
        for gif in (False, True):
            t, cpu = time.perf_counter(), _cpu()
            render_clip(plan, out, settings=ClipSettings(fps=20, seconds=3.0), gif=gif)
            what = "MP4 + GIF" if gif else "MP4"
            print(
                f"60 frames 1280x720 to {what}: {time.perf_counter() - t:.2f} s "
                f"(target <= 10 s), CPU {_cpu() - cpu:.2f} s with ffmpeg"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The window's scene per day: cached by the poses of the day, equal to ``scene_at``."""

from __future__ import annotations

import numpy as np
import pytest

from planner.pipeline.build import plan_case
from planner.render.scene import scene_at
from planner.view.days import DayScenes
from planner.view.editor import PlanEditor
from tests.view.boxcase import box_case, box_models, write_box_case
from tests.view.scene import box_volume, require_offscreen


@pytest.fixture(scope="module")
def plan():
    return plan_case(box_case(), box_models(), collisions=False, guides=False)


def _same_items(a, b) -> None:
    assert [(it.name, it.role, it.color_rgba) for it in a] == [
        (it.name, it.role, it.color_rgba) for it in b
    ]
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.pose, y.pose)
        np.testing.assert_array_equal(x.mesh.vertices, y.mesh.vertices)
        np.testing.assert_array_equal(x.mesh.faces, y.mesh.faces)


def test_the_cached_items_are_the_items_scene_at_makes(plan):
    scenes = DayScenes(plan)
    end = plan.schedule.end_of_distraction_days
    for day in (0.0, 1.0, 2.6, end / 2, end, 3.1, 0.0):  # back and forth
        _same_items(scenes.at(day), scene_at(plan, day))


def test_a_day_already_seen_and_a_day_in_the_same_state_cost_nothing(plan):
    scenes = DayScenes(plan)
    turns = [a.time_days for a in plan.schedule.activations]
    first = scenes.at(turns[3])
    assert scenes.at(turns[3]) is first
    between = (turns[3] + turns[4]) / 2  # no activation in between: the same poses
    assert scenes.at(between) is first
    assert scenes.at(turns[4]) is not first


def test_the_window_moves_to_the_poses_and_devices_of_the_day(tmp_path, plan):
    require_offscreen()
    import pyvista as pv

    from planner.view.window import PlanWindow

    write_box_case(tmp_path, models=False)
    editor = PlanEditor(box_case(), tmp_path, box_models())
    plotter = pv.Plotter(off_screen=True, window_size=(300, 200))
    win = PlanWindow(editor, plotter, volume=box_volume())
    try:
        end = win.state.end_day
        for day in (end, 2.0, end / 2, 2.0, 0.0, end):
            win.set_day(day)
            for it in scene_at(plan, day):
                actor = win.actors[it.name]
                np.testing.assert_allclose(win.pose_of(actor), it.pose, atol=1e-12)
                drawn = np.asarray(actor.GetMapper().GetInput().GetPoints().GetData())
                np.testing.assert_allclose(drawn, it.mesh.vertices, atol=1e-9)
    finally:
        plotter.close()

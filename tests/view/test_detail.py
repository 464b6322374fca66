"""The light picture while something moves, and the exact, full one back on release."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from planner.view.detail import Proxies
from planner.view.editor import PlanEditor
from tests.view.boxcase import box_case, box_models, write_box_case
from tests.view.scene import box_volume, require_offscreen

PROXY = 60  # triangles of a decimated copy in these tests (the boxes have ~800)


def _heavy(mesh: trimesh.Trimesh) -> trimesh.Trimesh:
    """The same box with ~64 times the triangles (so that it gets a decimated copy)."""
    return mesh.subdivide().subdivide().subdivide()


@pytest.fixture
def window(tmp_path):
    require_offscreen()
    import pyvista as pv

    from planner.view.window import PlanWindow

    write_box_case(tmp_path, models=False)
    guide = _heavy(trimesh.creation.box(extents=(8.0, 8.0, 4.0)))
    guide.apply_translation((-15.0, 0.0, 12.0))  # on the top face, at the fixed footplate
    (tmp_path / "out" / "guides").mkdir(parents=True)
    guide.export(tmp_path / "out" / "guides" / "g.stl")
    models = {n: _heavy(m) for n, m in box_models().items()}
    editor = PlanEditor(box_case(), tmp_path, models)
    plotter = pv.Plotter(off_screen=True, window_size=(400, 300))
    win = PlanWindow(editor, plotter, volume=box_volume())
    win.proxies = Proxies(PROXY)
    win.proxies.prepare(win.items)
    win.guides.proxies = Proxies(PROXY, smooth=False)
    win.guides.prepare()
    plotter.iren.initialize()
    win.set_camera("front")
    plotter.render()
    yield win
    plotter.close()


def _picture(win) -> np.ndarray:
    """A frame drawn now (an off-screen plotter's ``render()`` waits for ``show()``)."""
    win.plotter.render_window.Render()
    return win.plotter.screenshot(return_img=True)


def _bone(win) -> dict[str, object]:
    return {it.name: win.actors[it.name] for it in win.items if it.role in ("fixed", "moving")}


def _cells(actor) -> int:
    return actor.GetMapper().GetInput().GetNumberOfCells()


def _moving_outline(win, plane: str = "axial") -> np.ndarray:
    lines = win.slices.lines[f"{plane}:moving"].GetMapper().GetInput()
    points = np.asarray(lines.GetPoints().GetData())
    return points[np.lexsort(points.T)]


def test_light_while_moving_and_the_same_picture_back_on_release(window):
    win, renderer = window, window.plotter.renderer
    before = _picture(win)
    full_cells = {name: _cells(actor) for name, actor in _bone(win).items()}
    assert min(full_cells.values()) > 4 * PROXY
    guide = win.guides.actors[0]
    guide_cells = _cells(guide)

    win.low_detail(True)
    for name, actor in _bone(win).items():
        assert _cells(actor) <= 2 * PROXY < full_cells[name]  # the decimated copy
        assert actor.GetProperty().GetBackfaceCulling()
    assert _cells(guide) <= 2 * PROXY < guide_cells and guide.GetForceOpaque()
    assert not renderer.GetUseOIT()
    for quad in win.slices.quad_actors.values():
        assert quad.GetForceOpaque() and not quad.texture.interpolate
    light = _picture(win)
    assert not np.array_equal(light, before)

    win.low_detail(False)
    for name, actor in _bone(win).items():
        assert actor.GetMapper().GetInput() is win.full[name]
        assert not actor.GetProperty().GetBackfaceCulling()
    assert _cells(guide) == guide_cells and not guide.GetForceOpaque()
    assert renderer.GetUseOIT()
    for quad in win.slices.quad_actors.values():
        assert not quad.GetForceOpaque() and quad.texture.interpolate
    after = _picture(win)
    np.testing.assert_array_equal(after, before)  # the exact picture, pixel for pixel


def test_releasing_the_day_slider_traces_the_full_meshes_again(window):
    win = window
    slider = win.controls.day_slider
    end = win.state.end_day
    win.set_day(end)  # the exact outlines at the end, for comparison
    exact = _moving_outline(win)
    win.set_day(0.0)

    slider.InvokeEvent("StartInteractionEvent")  # the surgeon grabs the slider
    assert win.light
    win.set_day(end)  # as the slider's callback does
    moving = win.actors["segment:mandible_moving_d"]
    assert _cells(moving) <= 2 * PROXY
    traced = _moving_outline(win)
    assert not (traced.shape == exact.shape and np.allclose(traced, exact))  # the copy's
    # ... but it lies on the plane, where the moved segment is
    assert np.allclose(traced[:, 2], 0.0, atol=1e-9)
    assert traced[:, 0].min() == pytest.approx(exact[:, 0].min(), abs=2.0)

    slider.InvokeEvent("EndInteractionEvent")  # released
    assert not win.light
    for name, actor in _bone(win).items():
        assert actor.GetMapper().GetInput() is win.full[name]
    np.testing.assert_allclose(_moving_outline(win), exact)
    np.testing.assert_allclose(
        moving.user_matrix, win.state.plan.poses_at(end)["mandible_moving_d"]
    )


def test_releasing_a_ct_slider_traces_the_full_meshes_again(window):
    from planner.view.slices import outline, plane_point_normal

    win, slices = window, window.slices
    slider = slices.sliders["axial"]
    slider.InvokeEvent("StartInteractionEvent")
    slices.set_index("axial", slices.index["axial"] + 3)  # as the slider's callback does
    assert _cells(win.actors["segment:mandible_moving_d"]) <= 2 * PROXY
    slider.InvokeEvent("EndInteractionEvent")
    assert not win.light
    origin, normal = plane_point_normal(
        slices.volume, slices.planes["axial"], slices.index["axial"]
    )
    exact = outline(win.full["segment:mandible_moving_d"], origin, normal)
    points = np.asarray(exact.points)
    np.testing.assert_allclose(_moving_outline(win), points[np.lexsort(points.T)])


def test_a_plan_arriving_while_light_stays_light_until_release(window):
    win = window
    win.low_detail(True)
    win.replan()  # no worker thread here: the new plan is drawn now
    assert win.light and not win.plotter.renderer.GetUseOIT()
    win.low_detail(False)
    for name, actor in _bone(win).items():
        assert actor.GetMapper().GetInput() is win.full[name]
        assert not actor.GetProperty().GetBackfaceCulling()


def test_handles_are_placed_without_drawing_a_frame(window):
    win = window
    win.editor.select("osteotomy", "mid")
    frames = []
    win.plotter.render_window.AddObserver("EndEvent", lambda *_: frames.append(1))
    win.controls.place()
    win.controls.place()
    assert win.controls.box is not None and frames == []


def test_a_day_step_rewrites_only_the_day(window):
    win = window
    win.update_texts()
    day = win.overlays["day"][3]
    corners = {name: win.overlays[name] for name in ("help", "selection", "warnings")}
    win.set_day(1.0)
    assert win.overlays["day"][3] is day  # the same actor, new words
    assert day.GetInput() == f"day 1.0 of {win.state.end_day:.1f}"
    for name, shown in corners.items():  # corner texts are slow to lay out: untouched
        assert win.overlays[name] is shown

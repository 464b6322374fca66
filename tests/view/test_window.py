"""The planning window driven on an off-screen plotter: handles, keys, picking, the day."""

from __future__ import annotations

import json

import numpy as np
import pytest

from planner.view.editor import PlanEditor
from tests.view.boxcase import box_case, box_models, write_box_case
from tests.view.scene import box_volume, require_offscreen


@pytest.fixture
def window(tmp_path):
    require_offscreen()
    import pyvista as pv

    from planner.view.window import PlanWindow

    write_box_case(tmp_path, models=False)
    editor = PlanEditor(box_case(), tmp_path, box_models())
    plotter = pv.Plotter(off_screen=True, window_size=(800, 600))
    win = PlanWindow(editor, plotter, volume=box_volume())
    plotter.iren.initialize()
    win.set_camera("top")
    plotter.render()
    yield win
    plotter.close()


def _drag(win, start, end, steps: int = 6) -> None:
    """Press the left button at LPS point ``start``, move to ``end``, release."""
    iren = win.plotter.iren.interactor
    (x0, y0), (x1, y1) = win.to_display(start), win.to_display(end)
    iren.SetEventInformation(x0, y0, 0, 0)
    iren.MouseMoveEvent()
    iren.LeftButtonPressEvent()
    for k in range(1, steps + 1):
        iren.SetEventInformation(x0 + (x1 - x0) * k // steps, y0 + (y1 - y0) * k // steps, 0, 0)
        iren.MouseMoveEvent()
    iren.LeftButtonReleaseEvent()


def test_the_window_draws_the_plan_build_makes(window):
    names = {it.name for it in window.items}
    assert {"cut:mid", "vector:d", "device:d", "segment:skull"} <= names
    assert "segment:mandible_moving_d" in names and "segment:mandible_fixed_d" in names
    assert window.state.error == ""
    # the same segments, meshes and poses as the plan 'planner build' makes
    from planner.pipeline.build import plan_case

    plan = plan_case(box_case(), box_models(), collisions=False)
    end = plan.schedule.end_of_distraction_days
    assert window.state.end_day == end
    for name, mesh in plan.segments.items():
        item = next(it for it in window.items if it.name == f"segment:{name}")
        assert len(item.mesh.faces) == len(mesh.faces)
        assert item.mesh.volume == pytest.approx(mesh.volume, rel=1e-9)
    window.set_day(end)
    for name, pose in plan.poses_at(end).items():
        np.testing.assert_allclose(window.actors[f"segment:{name}"].user_matrix, pose)
    window.set_day(0.0)
    assert set(window.slices.lines) >= {"axial:bone", "axial:cut", "coronal:bone"}
    assert "sagittal:bone" not in window.slices.lines  # the plane x = 0 lies in the kerf
    # the cut crosses the axial plane through its centre as a line along y, at x = 0
    cut = window.slices.lines["axial:cut"].GetMapper().GetInput()
    assert np.all(np.abs(np.asarray(cut.points)[:, 0]) <= 0.2 + 1e-6)


def test_dragging_the_vector_end_with_the_mouse_changes_case_json(window):
    editor = window.editor
    editor.select("distractor", "d")
    start = editor.vector_end()  # (25, 0, 10)
    _drag(window, start, np.add(start, [0.0, 5.0, 0.0]))
    d = editor.case.distractor("d")
    end = np.asarray(d.moving_point_mm) + np.asarray(d.vector) * d.target_mm
    np.testing.assert_allclose(end, [25.0, 5.0, 10.0], atol=0.6)
    assert d.vector[2] == pytest.approx(0.0, abs=1e-6)
    window.controls.key("s")
    saved = json.loads((editor.case_dir / "case.json").read_text())["distractors"][0]
    np.testing.assert_allclose(saved["vector"], d.vector, atol=1e-6)
    assert saved["target_mm"] == d.target_mm
    window.controls.key("z")  # undo the drag
    assert editor.case.distractor("d").vector == (1.0, 0.0, 0.0)


def test_the_box_handle_moves_tilts_and_resizes_the_cut(window):
    editor = window.editor
    editor.select("osteotomy", "mid")
    frame, size = window.controls.box_frame()
    np.testing.assert_allclose(frame[:3, 2], [1.0, 0.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(size, (30.0, 30.0), atol=1e-9)
    # what a drag leaves on the widget: moved 4 mm along x, tilted 10 deg, 36 x 30 mm
    from vtkmodules.vtkCommonTransforms import vtkTransform

    from planner.geometry.transforms import rotation_about_axis

    rot = np.eye(4)
    rot[:3, :3] = rotation_about_axis([0.0, 0.0, 1.0], np.radians(10.0))
    moved = frame.copy()
    moved[:3, :3] = rot[:3, :3] @ frame[:3, :3]
    moved[:3, 3] = [4.0, 0.0, 0.0]
    t = vtkTransform()
    t.SetMatrix([float(v) for v in (moved @ np.diag([36.0, 30.0, 4.0, 1.0])).ravel()])
    window.controls.box.SetTransform(t)
    window.controls.box.InvokeEvent("InteractionEvent")  # the cut follows, no re-cut
    assert editor.case.osteotomy("mid").center_mm == (0.0, 0.0, 0.0)
    window.controls.box.InvokeEvent("EndInteractionEvent")  # released: one edit
    o = editor.case.osteotomy("mid")
    np.testing.assert_allclose(o.center_mm, [4.0, 0.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(
        o.normal, [np.cos(np.radians(10)), np.sin(np.radians(10)), 0], atol=1e-6
    )
    assert o.size_mm == (36.0, 30.0)
    assert window.state.error == "" and window.editor.dirty


def test_a_footplate_picked_under_the_mouse_lands_on_the_bone(window):
    editor = window.editor
    editor.select("distractor", "d")
    target = np.array([-20.0, 3.0, 10.0])  # on the top face of the fixed half
    x, y = window.to_display(target)
    picked = window.pick_at(x, y)
    np.testing.assert_allclose(picked, target, atol=0.3)
    window.plotter.iren.interactor.SetEventPosition(x, y)
    window.controls.key("f")
    np.testing.assert_allclose(editor.case.distractor("d").fixed_point_mm, target, atol=0.3)
    assert editor.case.distractor("d").fixed_point_mm[2] == pytest.approx(10.0, abs=1e-9)
    assert window.pick_at(2, 2) is None  # the corner shows no bone


def test_day_keys_move_the_segments_as_planned(window):
    plan = window.state.plan
    for _ in range(3):
        window.controls.key("Right")
    assert window.day == 3.0
    actor = window.actors["segment:mandible_moving_d"]
    np.testing.assert_allclose(actor.user_matrix, plan.poses_at(3.0)["mandible_moving_d"])
    assert np.asarray(actor.user_matrix)[0, 3] == pytest.approx(2.0)  # 4 half-mm turns
    window.controls.key("End")
    assert window.day == pytest.approx(window.state.end_day)
    assert np.asarray(window.actors["segment:mandible_moving_d"].user_matrix)[0, 3] == (
        pytest.approx(10.0)
    )
    assert window.controls.spheres == {} and window.controls.box is None  # day 0 only
    window.controls.key("Home")
    assert window.day == 0.0 and window.controls.box is not None


def test_typed_numbers_perpendicular_warnings_and_collision_preview(window):
    c = window.controls
    c.key("Tab")  # from the cut to the distractor
    assert window.editor.selection == ("distractor", "d")
    c.key("g")  # the CT planes go through the moving footplate (15, 0, 10)
    assert window.slices.index == {"axial": 30, "coronal": 20, "sagittal": 55}
    for ch in ":target 12":
        c.key({":": "colon", " ": "space"}.get(ch, ch), ch)
    assert "target 12_" in "\n".join(window.warning_lines())
    c.key("Return")
    assert window.editor.case.distractor("d").target_mm == 12.0
    c.key("x")
    assert window.editor.case.distractors == ()
    c.key("z")
    c.key("Tab")
    c.key("Tab")
    assert window.editor.selection == ("osteotomy", "mid")
    window.editor.tilt_osteotomy(30.0)
    assert window.state.angles_deg["d"][1] == pytest.approx(30.0, abs=1e-3)
    c.key("n")
    assert window.state.angles_deg["d"][1] == pytest.approx(0.0, abs=1e-3)
    window.editor.resize_osteotomy([30.0, 12.0])
    assert "PLAN REFUSED" in "\n".join(window.warning_lines())
    assert len(window.markers) == 3  # the two bridges and their labels
    c.key("z")
    c.key("o")
    assert window.preview_lines[0].startswith("mandible_moving_d: 3.0 mm clear")  # 12 mm
    c.key("9")  # an unbound key does nothing
    c.key("q")  # unsaved edits: the first q only warns
    assert "unsaved edits" in window.status


def test_the_screenshot_shows_bone(window, tmp_path):
    from PIL import Image

    window.set_camera("front")
    window.screenshot(tmp_path / "w.png")
    img = np.asarray(Image.open(tmp_path / "w.png").convert("RGB")).astype(int)
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    ivory = (r > 120) & (r - b > 8) & (r - b < 60) & (abs(r - g) < 20)
    orange = (r > 120) & (r - b > 90) & (g < r - 40)
    assert ivory.mean() > 0.01 and orange.mean() > 0.005


def test_plans_made_in_the_background_show_the_latest_edit(window):
    from planner.view.live import Replanner

    window.replanner = Replanner(window.editor.models)
    editor = window.editor
    editor.resize_osteotomy([30.0, 12.0], "mid")  # attached: refused plan...
    editor.resize_osteotomy([30.0, 28.0], "mid")  # ...superseded at once: free again
    assert window.state.case.osteotomy("mid").size_mm == (30.0, 30.0)  # not yet shown
    assert "re-planning" in "\n".join(window.warning_lines())
    state = window.replanner.wait()
    assert state is not None and state.case == editor.case
    window.apply(state)
    assert window.state.error == "" and window.state.case.osteotomy("mid").size_mm == (30, 28)
    assert "re-planning" not in "\n".join(window.warning_lines())


def test_the_ct_plane_is_drawn_where_the_voxels_are(window, tmp_path):
    """An asymmetric block of bone in the CT shows up on screen where its LPS position
    projects: the texture is neither flipped nor turned."""
    from PIL import Image

    from planner.scan.volume import Volume

    hu = np.full((30, 30, 5), -1000, dtype=np.int16)
    hu[20:26, 18:24, :] = 1000  # x 10..15, y 8..13 mm (origin -10, 1 mm voxels)
    affine = np.eye(4)
    affine[:3, 3] = [-10.0, -10.0, -2.0]
    window.slices = None
    for actor in window.plotter.renderer.actors.values():
        actor.SetVisibility(False)
    window.add_slices(Volume(hu=hu, affine=affine))
    for name, actor in window.slices.quad_actors.items():
        actor.SetVisibility(name == "axial")
    for actor in window.slices.lines.values():
        actor.SetVisibility(False)
    window.slices.set_index("axial", 2)
    window.plotter.camera.focal_point = (2.5, 2.5, 0.0)
    window.plotter.camera.position = (2.5, 2.5, 80.0)
    window.plotter.camera.up = (0.0, -1.0, 0.0)
    window.screenshot(tmp_path / "ct.png")
    img = np.asarray(Image.open(tmp_path / "ct.png").convert("L")).astype(int)

    def grey(point):
        x, y = window.to_display(point)
        return img[img.shape[0] - 1 - y, x]

    assert grey((12.5, 10.5, 0.0)) > 150  # the block
    for elsewhere in ((-7.5, 10.5, 0.0), (12.5, -7.5, 0.0), (-7.5, -7.5, 0.0)):
        assert grey(elsewhere) < 90  # its mirror images are air


def test_keys_add_a_cut_and_a_distractor_under_the_mouse(window):
    c, editor = window.controls, window.editor
    point = np.array([-22.0, -4.0, 10.0])  # top face, seen from above
    window.plotter.iren.interactor.SetEventPosition(*window.to_display(point))
    c.key("a")
    assert window.status == "added osteotomy cut1"
    o = editor.case.osteotomy("cut1")
    np.testing.assert_allclose(o.center_mm, point, atol=0.3)
    np.testing.assert_allclose(np.abs(o.normal), [0.0, 0.0, 1.0], atol=1e-6)  # faces the eye
    c.key("A")
    name = editor.selection[1]
    np.testing.assert_allclose(editor.case.distractor(name).moving_point_mm, point, atol=0.3)
    c.key("plus")
    assert editor.case.distractor(name).target_mm == 16.0
    c.key("d")
    assert editor.case.distractor(name).device == "linear-25"
    assert window.state.error  # both footplates on one point: refused, and said so
    window.plotter.iren.interactor.SetEventPosition(2, 2)
    c.key("f")
    assert window.status.startswith("refused: no bone under the mouse")


def test_built_guides_are_drawn_at_day_0_and_said_to_be_stale_after_an_edit(tmp_path):
    require_offscreen()
    import dataclasses

    import pyvista as pv
    import trimesh

    from planner.plan.case import Guide
    from planner.view import overlay
    from planner.view.window import PlanWindow

    write_box_case(tmp_path, models=False)
    case = box_case()
    case = dataclasses.replace(case, guides=(Guide(name="g", osteotomy="mid", distractor="d"),))
    guide = trimesh.creation.box(extents=(5, 5, 5))
    (tmp_path / "out" / "guides").mkdir(parents=True)
    guide.export(tmp_path / "out" / "guides" / "g.stl")
    editor = PlanEditor(case, tmp_path, box_models())
    plotter = pv.Plotter(off_screen=True, window_size=(400, 300))
    try:
        win = PlanWindow(editor, plotter)
        (actor,) = win.guides.actors
        assert actor.GetVisibility()
        assert any(
            "as 'planner build' last wrote them" in line for line in overlay.warning_lines(win)
        )
        win.set_day(win.state.end_day)
        assert not actor.GetVisibility()  # the bone has moved: the guide is for day 0
        win.set_day(0.0)
        assert actor.GetVisibility()
        (tmp_path / "case.json").touch()  # the plan changed after the guides were written
        import os

        later = (tmp_path / "out" / "guides" / "g.stl").stat().st_mtime + 10
        os.utime(tmp_path / "case.json", (later, later))
        assert any("changed since" in line for line in overlay.warning_lines(win))
    finally:
        plotter.close()

"""The plan editor, its typed commands and the live checks (no window, no VTK)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from planner.cli.main import main
from planner.errors import PlannerError
from planner.plan.case import load_case
from planner.view.commands import run_command
from planner.view.editor import PlanEditor, crossed_osteotomy
from planner.view.live import analyse, collision_preview
from tests.view.boxcase import GAP_AT_END_MM, box_case, box_models, write_box_case


@pytest.fixture
def editor(tmp_path):
    write_box_case(tmp_path, models=False)
    return PlanEditor(box_case(), tmp_path, box_models())


def test_add_move_tilt_resize_a_cut(editor):
    name = editor.add_osteotomy([5.0, 0.0, 0.0], normal=[0.0, 0.0, 2.0], size_mm=[12, 8])
    assert name == "cut1" and editor.selection == ("osteotomy", "cut1")
    o = editor.case.osteotomy("cut1")
    assert o.normal == (0.0, 0.0, 1.0) and o.size_mm == (12.0, 8.0)
    # the in-plane axis of a horizontal cut defaults to anterior (-y)
    np.testing.assert_allclose(o.in_plane_axis, [0.0, -1.0, 0.0], atol=1e-12)
    editor.move_osteotomy([1.0, 2.0, -3.0])
    np.testing.assert_allclose(editor.case.osteotomy("cut1").center_mm, [6.0, 2.0, -3.0])
    # 90 degrees about u = -y turns the normal z into (-y) x z = -x
    editor.tilt_osteotomy(90.0, "u")
    o = editor.case.osteotomy("cut1")
    np.testing.assert_allclose(o.normal, [-1.0, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(o.in_plane_axis, [0.0, -1.0, 0.0], atol=1e-12)
    editor.resize_osteotomy([30, 25])
    assert editor.case.osteotomy("cut1").size_mm == (30.0, 25.0)


def test_a_box_handle_frame_places_the_cut(editor):
    frame = np.eye(4)
    frame[:3, 0], frame[:3, 1], frame[:3, 2] = [0, 0, 3.0], [0, -2.0, 0], [5.0, 0, 0]
    frame[:3, 3] = [1.5, 0.0, 0.0]
    editor.set_osteotomy_frame(frame, (22.04, 18.0), "mid")
    o = editor.case.osteotomy("mid")
    assert o.center_mm == (1.5, 0.0, 0.0) and o.size_mm == (22.0, 18.0)
    assert o.normal == (1.0, 0.0, 0.0) and o.in_plane_axis == (0.0, 0.0, 1.0)


def test_picked_points_snap_to_the_bone_surface(editor):
    # 3 mm above the top face (z = 10) of the mandible box: lands on the face below
    p = editor.pick_point("fixed", [-12.0, 4.0, 13.0], "d")
    np.testing.assert_allclose(p, [-12.0, 4.0, 10.0], atol=1e-9)
    np.testing.assert_allclose(editor.case.distractor("d").fixed_point_mm, p)
    # inside the bone, nearer the front face (y = -10): lands on the front face
    p = editor.pick_point("moving", [20.0, -8.0, 0.0], "d")
    np.testing.assert_allclose(p, [20.0, -10.0, 0.0], atol=1e-9)


def test_dragging_the_vector_end_sets_direction_and_length(editor):
    editor.select("distractor", "d")
    np.testing.assert_allclose(editor.vector_end(), [25.0, 0.0, 10.0])
    editor.drag_vector_end([15.0 + 6.0, 8.0, 10.0])  # 6-8-10 triangle: 10 mm long
    d = editor.case.distractor("d")
    np.testing.assert_allclose(d.vector, [0.6, 0.8, 0.0], atol=1e-12)
    assert d.target_mm == 10.0
    editor.drag_vector_end([15.0, 0.0, 30.0], keep_length=True)
    d = editor.case.distractor("d")
    assert d.vector == (0.0, 0.0, 1.0) and d.target_mm == 10.0
    with pytest.raises(PlannerError, match="on the moving point"):
        editor.drag_vector_end(d.moving_point_mm)


def test_devices_target_add_remove_rename(editor):
    editor.select("distractor", "d")
    editor.set_device("curvilinear-20-r40")  # needs a side to curve to: one is chosen
    d = editor.case.distractor("d")
    assert d.device == "curvilinear-20-r40"
    assert abs(np.dot(d.curve_toward, d.vector)) < 1e-12
    editor.set_target(12.5)
    assert editor.case.distractor("d").target_mm == 12.5
    assert editor.cycle_device() != "curvilinear-20-r40"
    name = editor.add_distractor([15.0, 0.0, -10.0], [-15.0, 0.0, -10.0], [1, 0, 0])
    assert name == "distractor1" and len(editor.case.distractors) == 2
    editor.rename("distractor", "lower")
    assert [d.name for d in editor.case.distractors] == ["d", "lower"]
    assert editor.selection == ("distractor", "lower")
    editor.remove("distractor")
    assert [d.name for d in editor.case.distractors] == ["d"]
    editor.remove("osteotomy", "mid")
    assert editor.case.osteotomies == ()
    with pytest.raises(PlannerError, match="used twice"):
        editor.add_distractor([0, 0, 10], name="x") and editor.rename("distractor", "d", "x")


def test_perpendicular_sets_the_normal_to_the_vector(editor):
    editor.select("distractor", "d")
    editor.drag_vector_end([15.0 + 8.0, 0.0, 16.0], keep_length=True)
    assert crossed_osteotomy(editor.case, "d") == "mid"
    assert editor.perpendicular() == "mid"
    np.testing.assert_allclose(
        editor.case.osteotomy("mid").normal, editor.case.distractor("d").vector, atol=1e-12
    )
    editor.select("osteotomy", "mid")  # from the cut's side: its distractor is found
    editor.tilt_osteotomy(20.0)
    assert editor.perpendicular() == "mid"
    np.testing.assert_allclose(editor.case.osteotomy("mid").normal, [0.8, 0.0, 0.6], atol=1e-12)


def test_undo_redo(editor):
    start = editor.case
    assert not editor.can_undo and not editor.dirty
    editor.resize_osteotomy([10, 10], "mid")
    editor.move_osteotomy([1, 0, 0], "mid")
    assert editor.dirty and editor.case.osteotomy("mid").center_mm == (1.0, 0.0, 0.0)
    assert editor.undo() and editor.case.osteotomy("mid").center_mm == (0.0, 0.0, 0.0)
    assert editor.undo() and editor.case == start and not editor.dirty
    assert not editor.undo()
    assert editor.redo() and editor.case.osteotomy("mid").size_mm == (10.0, 10.0)
    editor.set_osteotomy("mid", kerf_mm=2.0)  # a new edit drops what could be redone
    assert not editor.can_redo
    assert editor.undo() and editor.case.osteotomy("mid").kerf_mm == 1.0
    # a refused edit leaves the case and the history as they were
    before = editor.case
    with pytest.raises(PlannerError):
        editor.set_osteotomy("mid", kerf_mm=9.0)
    assert editor.case is before and editor.can_redo


def test_save_writes_case_json_and_refuses_bad_values_like_the_cli(editor, capsys):
    case_dir = editor.case_dir
    editor.move_osteotomy([2.0, 0.0, 0.0], "mid")
    editor.save()
    assert not editor.dirty
    on_disk = json.loads((case_dir / "case.json").read_text())
    assert on_disk["osteotomies"][0]["center_mm"] == [2.0, 0.0, 0.0]
    assert load_case(case_dir) == editor.case
    with pytest.raises(PlannerError) as refused:
        editor.set_osteotomy("mid", kerf_mm=9.0)
    assert main(["osteotomy", "set", str(case_dir), "--name", "mid", "--kerf", "9"]) == 2
    cli = capsys.readouterr().err
    ours = str(refused.value).replace("osteotomies[0].kerf_mm", "--kerf")
    assert ours.split(" (and")[0] in " ".join(cli.split())
    assert "kerf_mm is 9 mm; it must be <= 5 mm" in str(refused.value)
    with pytest.raises(PlannerError, match="size_mm must be two positive lengths"):
        editor.resize_osteotomy([-3, 4], "mid")


def test_save_refuses_to_overwrite_a_case_changed_elsewhere(editor):
    case_dir = editor.case_dir
    assert main(["osteotomy", "set", str(case_dir), "--name", "mid", "--kerf", "2"]) == 0
    editor.move_osteotomy([1.0, 0.0, 0.0], "mid")
    with pytest.raises(PlannerError, match="changed by another command"):
        editor.save()
    assert load_case(case_dir).osteotomy("mid").kerf_mm == 2.0  # left alone
    editor.save(force=True)
    assert load_case(case_dir).osteotomy("mid").center_mm == (1.0, 0.0, 0.0)


@pytest.mark.parametrize(
    ("line", "check"),
    [
        ("size 30 25", lambda c: c.osteotomy("mid").size_mm == (30.0, 25.0)),
        ("center 1 2 3", lambda c: c.osteotomy("mid").center_mm == (1.0, 2.0, 3.0)),
        ("kerf 1.5", lambda c: c.osteotomy("mid").kerf_mm == 1.5),
        ("normal (0, 0, 2)", lambda c: c.osteotomy("mid").normal == (0.0, 0.0, 1.0)),
        ("name ramus_left", lambda c: c.osteotomies[0].name == "ramus_left"),
        ("remove", lambda c: c.osteotomies == ()),
    ],
)
def test_typed_commands_on_a_cut(editor, line, check):
    editor.select("osteotomy", "mid")
    run_command(editor, line)
    assert check(editor.case)


def test_typed_commands_on_a_distractor_and_their_refusals(editor):
    run_command(editor, "select d")
    run_command(editor, "target 12")
    run_command(editor, "device linear-20")
    run_command(editor, "moving 20 0 13")  # snapped onto the top face
    d = editor.case.distractor("d")
    assert (d.target_mm, d.device, d.moving_point_mm) == (12.0, "linear-20", (20.0, 0.0, 10.0))
    assert "perpendicular" in run_command(editor, "perp")
    assert run_command(editor, "undo") == "undo"
    with pytest.raises(PlannerError, match="known devices"):
        run_command(editor, "device linear-99")
    with pytest.raises(PlannerError, match="target needs 1 numbers"):
        run_command(editor, "target twelve")
    with pytest.raises(PlannerError, match="unknown command 'fly'"):
        run_command(editor, "fly 3")
    with pytest.raises(PlannerError, match="pick a point on the bone first"):
        run_command(editor, "add cut")
    assert "cut1" in run_command(editor, "add cut", here=(0.0, 0.0, 10.0))
    assert run_command(editor, "save").startswith("saved")


def test_live_checks_have_known_answers():
    models = box_models()
    state = analyse(box_case(), models)
    assert state.error == "" and state.plan is not None
    assert state.angles_deg == {"d": ("mid", 0.0)}
    assert state.end_day > 10
    preview = collision_preview(state.plan)
    (clear,) = preview.clearances.values()
    assert clear.distance_mm == pytest.approx(GAP_AT_END_MM, abs=1e-6)
    assert not clear.penetrating


def test_live_checks_mark_the_bridge_of_a_short_cut(tmp_path):
    editor = PlanEditor(box_case(), None, box_models())
    editor.resize_osteotomy([30.0, 12.0], "mid")  # leaves 4 mm of bone at y = +-8..10 uncut
    state = analyse(editor.case, editor.models)
    assert state.plan is None and "still attached" in state.error
    assert len(state.bridges) == 2
    centres = sorted(float(b.center_mm[1]) for _, b in state.bridges)
    np.testing.assert_allclose(centres, [-8.0, 8.0], atol=0.01)
    assert all(b.area_mm2 == pytest.approx(4.0 * 20.0, rel=1e-6) for _, b in state.bridges)


def test_stroke_exceeded_is_refused_and_reported():
    editor = PlanEditor(box_case(), None, box_models())
    with pytest.raises(PlannerError, match="beyond the stroke of device 'linear-15'"):
        editor.set_target(20.0, "d")
    d = dataclasses.replace(editor.case.distractor("d"), target_mm=20.0)
    case = dataclasses.replace(editor.case, distractors=(d,))  # as an older file might hold
    state = analyse(case, editor.models)
    assert state.plan is None
    assert any("stroke exceeded: target 20 mm" in w for w in state.warnings)

"""Bad input: one clear line each, exit status 2 from the CLI, nothing half-written."""

from __future__ import annotations

import json

import pytest

from planner.cli.main import main
from planner.errors import PlannerError
from planner.guides.make import build_guide
from planner.plan.case import case_from_dict, case_to_dict, save_case
from tests.guides.bars import bar_case, bar_models


def _build(case):
    return build_guide(case.guides[0], case, bar_models())


def _moved(case, **distractor):
    data = case_to_dict(case)
    data["distractors"][0].update(distractor)
    return case_from_dict(data)


@pytest.mark.parametrize(
    ("case", "message"),
    [
        # the guide on the medial face, but the footplates are on the lateral one
        (lambda: bar_case(side="medial"), "no bone under drill hole"),
        # no bone within the margin on that side: a cut moved off the bar's end
        (lambda: _off_bone(), "crosses no bone"),
        (lambda: bar_case(slot_ends="open"), "into 2 pieces"),
        (lambda: _moved(bar_case(), fixed_point_mm=[44.0, 0.0, 1.5]), "into the saw slot"),
        (lambda: _crowded(), "apart"),
        (lambda: bar_case(insertion=[0.342, 0.94, 0.0]), "locks"),
        (lambda: bar_case(insertion=[0.3, 0.0, 0.954]), "out of the cut plane"),
    ],
)
def test_bad_guides_are_refused_in_one_line(case, message):
    with pytest.raises(PlannerError, match=message) as info:
        _build(case())
    assert "\n" not in str(info.value)


def _off_bone():
    data = case_to_dict(bar_case(positioning="none", distractor=""))
    data["osteotomies"][0]["center_mm"] = [40.0, 60.0, 0.0]
    return case_from_dict(data)


def _crowded():
    data = case_to_dict(bar_case())
    data["devices"] = [
        {
            "name": "crowded",
            "kind": "linear",
            "stroke_mm": 20,
            "mm_per_turn": 0.5,
            "screw_diameter_mm": 1.5,
            "footplate_holes_mm": [[0, 0], [1.5, 0]],
        }
    ]
    data["distractors"][0]["device"] = "crowded"
    return case_from_dict(data)


def test_a_wall_below_what_prints_is_refused_when_read():
    data = case_to_dict(bar_case())
    data["guides"][0]["wall_mm"] = 1.0
    with pytest.raises(PlannerError, match=r"guides\[0\]\.wall_mm is 1 mm, below what prints"):
        case_from_dict(data)


def test_cli_edits_and_refuses_without_touching_the_case(tmp_path, capsys):
    case = bar_case()
    data = case_to_dict(case)
    data["guides"] = []
    save_case(case_from_dict(data), tmp_path)
    assert (
        main(["guide", "add", str(tmp_path), "--osteotomy", "cut", "--printer", "filament"]) == 0
    )
    saved = json.loads((tmp_path / "case.json").read_text())
    (guide,) = saved["guides"]
    assert guide["name"] == "cut" and guide["distractor"] == "left"
    assert guide["clearance_mm"] == 0.4
    before = (tmp_path / "case.json").read_bytes()
    assert main(["guide", "set", str(tmp_path), "--name", "cut", "--wall", "0.8"]) == 2
    assert main(["guide", "set", str(tmp_path), "--name", "nope", "--wall", "3"]) == 2
    err = capsys.readouterr().err
    assert "below what prints" in err and "no guide called 'nope'" in err
    assert (tmp_path / "case.json").read_bytes() == before
    # nothing half-written: only the case and the lock its edits share
    assert sorted(p.name for p in tmp_path.iterdir()) == [".case.json.lock", "case.json"]
    assert main(["guide", "list", str(tmp_path)]) == 0
    assert main(["guide", "remove", str(tmp_path), "--name", "cut"]) == 0
    assert json.loads((tmp_path / "case.json").read_text())["guides"] == []

"""check, build and schedule on a small synthetic case (a bar cut in two, a block ahead)."""

import json

import pytest
import trimesh

from planner.cli.main import main
from tests import barcase
from tests.barcase import bar_case_data


@pytest.fixture
def bar_case(tmp_path):
    case = tmp_path / "case"
    (case / "models").mkdir(parents=True)
    bar = barcase.bar()
    block = trimesh.creation.box(extents=(30, 10, 30))
    block.apply_translation((0, -48, 0))
    bar.export(case / "models" / "mandible.stl")
    block.export(case / "models" / "skull.stl")
    models = {"models": [{"name": "mandible"}, {"name": "skull"}]}
    (case / "models" / "models.json").write_text(json.dumps(models))
    data = bar_case_data()
    del data["protocol"]["start_date"]
    (case / "case.json").write_text(json.dumps(data))
    return case


def test_check_shows_progress_in_true_units_when_piped(bar_case, capsys):
    assert main(["check", str(bar_case)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "collision sweep ..." in lines
    done = [line for line in lines if line.startswith("collision sweep ") and "done" in line]
    assert len(done) == 1
    count = done[0].split()[2]  # "62/62": pairs x sampled times, not "1/1"
    n, total = map(int, count.split("/"))
    assert n == total > 1
    assert any("meets skull" in line for line in lines)  # the block is in the way


def test_schedule_prints_and_exports(bar_case, capsys):
    assert main(["schedule", str(bar_case), "--csv", str(bar_case / "turns.csv")]) == 0
    out = capsys.readouterr().out
    assert "distractor d: 10 mm in 20 activations of 0.5 mm" in out
    assert (bar_case / "turns.csv").read_text().count("\n") == 21

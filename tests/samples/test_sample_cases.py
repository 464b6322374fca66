"""The ready example cases in the top-level ``samples/`` folder: current, valid, plannable."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from planner.bone.models import read_models
from planner.pipeline.build import plan_case
from planner.pipeline.demo import sample_case
from planner.plan.case import load_case

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def _maker():
    spec = importlib.util.spec_from_file_location("make_samples", SAMPLES / "make_samples.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["bilateral-mandible", "hfm-curvilinear"])
def test_sample_case_file_is_what_its_recipe_writes(name):
    maker = _maker()
    text = (SAMPLES / name / "case.json").read_text(encoding="utf-8")
    assert text == maker.render(maker.CASES[name]()), (
        f"run python samples/make_samples.py ({name})"
    )
    assert (SAMPLES / name / "README.md").is_file()


def test_bilateral_sample_is_the_demo_plan():
    data = json.loads((SAMPLES / "bilateral-mandible" / "case.json").read_text())
    assert [d["device"] for d in data["distractors"]] == ["linear-20", "linear-20"]
    assert {o["name"] for o in data["osteotomies"]} == {"ramus_left", "ramus_right"}
    assert data["protocol"]["start_date"] == "2027-01-11"  # fixed: the ICS does not drift


def _planned(name, models_dir, tmp_path):
    case = sample_case(SAMPLES / name / "case.json", series_uid="")
    case_dir = tmp_path / "case"
    shutil.copytree(models_dir, case_dir)
    return plan_case(case, read_models(case_dir), collisions=False)


def test_bilateral_sample_moves_the_body_with_both_devices(sample_models_dir, tmp_path):
    plan = _planned("bilateral-mandible", sample_models_dir, tmp_path)
    moving = [n for n, role in plan.roles.items() if role.startswith("moving")]
    assert moving == ["mandible_moving_left_right"]
    assert plan.schedule.distraction_days == pytest.approx(18.0)


def test_hfm_sample_is_one_sided_and_curvilinear(sample_models_dir, tmp_path):
    plan = _planned("hfm-curvilinear", sample_models_dir, tmp_path)
    moving = [n for n, role in plan.roles.items() if role.startswith("moving")]
    assert moving == ["mandible_moving_right"]
    assert plan.case.distractors[0].device == "curvilinear-20-r40"
    assert plan.schedule.distraction_days == pytest.approx(15.0)
    # the far condyle is held in its joint; the chin swings to the other side (+x, left)
    assert any("condyle_left lies on the moving segment" in w for w in plan.warnings)
    end = plan.poses_at(plan.schedule.end_of_distraction_days)["mandible_moving_right"]
    condyle, chin = (np.asarray(plan.case.landmarks_mm[k]) for k in ("condyle_left", "chin"))
    assert np.allclose(end[:3, :3] @ condyle + end[:3, 3], condyle, atol=1e-6)
    assert (end[:3, :3] @ chin + end[:3, 3])[0] - chin[0] > 2.0


def test_sample_case_refuses_a_file_that_is_not_a_case(tmp_path):
    bad = tmp_path / "case.json"
    bad.write_text("{not json")
    from planner.errors import PlannerError

    with pytest.raises(PlannerError, match="--case"):
        sample_case(bad, series_uid="")


def test_load_case_reads_the_samples_as_written(tmp_path):
    for name in ("bilateral-mandible", "hfm-curvilinear"):
        folder = tmp_path / name
        folder.mkdir()
        shutil.copy(SAMPLES / name / "case.json", folder / "case.json")
        assert load_case(folder).label.startswith("synthetic sample")

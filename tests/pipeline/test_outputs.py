"""poses.json: computed at the exact activation times, rounded only when written."""

import json

import numpy as np
import pytest

from planner.pipeline.outputs import write_plan
from tests.render.cases import VECTOR, make_plan


def test_poses_at_each_turn_include_that_turn(tmp_path):
    plan = make_plan()
    write_plan(plan, tmp_path / "out")
    data = json.loads((tmp_path / "out" / "poses.json").read_text())
    rows = {row["t_days"]: np.array(row["matrix"]) for row in data["poses"]["mandible_moving_d"]}
    assert len(plan.schedule.activations) == 20
    for a in plan.schedule.activations:  # first at day 1 + 8/24: not a round number
        matrix = rows[round(a.time_days, 6)]
        assert matrix[:3, 3] == pytest.approx(a.cumulative_mm * VECTOR, abs=1e-5)
    assert rows[0.0][:3, 3] == pytest.approx(np.zeros(3))

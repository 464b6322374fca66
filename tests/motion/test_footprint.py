"""The regenerate's footprint on a bar cut square across: known areas for known angles."""

import math

import numpy as np
import pytest

from planner.motion.footprint import (
    ANGLE_WARN_DEG,
    footprint_warnings,
    regenerate_footprints,
)
from tests.render.cases import make_plan


def tilted(angle_deg):
    """A vector ``angle_deg`` from the cut normal (-y), tilted downward (-z)."""
    a = math.radians(angle_deg)
    return np.array([0.0, -math.cos(a), -math.sin(a)])


@pytest.mark.parametrize("angle_deg", [0.0, 20.0, 30.0, 40.0])
def test_share_of_the_face_still_facing_bone(angle_deg):
    plan = make_plan(vector=tilted(angle_deg))
    (f,) = regenerate_footprints(plan.case.osteotomies, plan.segments, plan.motion, plan.schedule)
    s = 10.0  # target, mm
    assert f.angle_deg == pytest.approx(angle_deg, abs=1e-3)  # case.json rounds vectors
    assert f.opening_mm == pytest.approx(s * math.cos(math.radians(angle_deg)), abs=1e-4)
    assert f.shear_mm == pytest.approx(s * math.sin(math.radians(angle_deg)), abs=1e-4)
    # the bar's 10 x 10 mm face slides down by the shear: the overlap is (10 - shear) x 10
    assert f.face_mm2 == pytest.approx(100.0, rel=1e-6)
    assert f.share == pytest.approx((10.0 - f.shear_mm) / 10.0, abs=1e-6)
    warned = footprint_warnings([f])
    assert bool(warned) == (angle_deg > ANGLE_WARN_DEG or f.share < 0.5)


def test_the_warning_says_what_to_do():
    plan = make_plan(vector=tilted(40.0))
    assert any("--perpendicular-to d" in w and "40°" in w for w in plan.warnings)
    assert not any("regenerate" in w for w in make_plan(vector=tilted(20.0)).warnings)


def test_the_demo_plan_is_warned(demo_plan):
    """The issue's figures: 49° from the normals, 13.6 mm shear, 11.8 mm opening."""
    plan = demo_plan
    prints = regenerate_footprints(
        plan.case.osteotomies, plan.segments, plan.motion, plan.schedule
    )
    assert [f.distractor for f in prints] == ["left", "right"]
    for f in prints:
        assert f.angle_deg == pytest.approx(48.7, abs=0.1)
        assert f.shear_mm == pytest.approx(13.6, abs=0.05)
        assert f.opening_mm == pytest.approx(11.8, abs=0.05)
        assert 50 < f.face_mm2 < 200 and f.share < 0.1  # slid wholly past the fixed face
    assert sum("regenerate footprint" in w for w in plan.warnings) == 2

"""The guides of the demo's bilateral plan, built, checked, written and sliced."""

from __future__ import annotations

import pytest

from tests.guides.slicer import extruding_moves, needs_prusa


@pytest.fixture(scope="module")
def demo_out(demo_plan, tmp_path_factory):
    from planner.pipeline.outputs import write_plan

    out = tmp_path_factory.mktemp("demo-guides") / "out"
    manifest = write_plan(demo_plan, out)
    return demo_plan, manifest, out


def test_every_demo_guide_passes_its_checks(demo_out):
    plan, manifest, _ = demo_out
    assert [g.name for g in plan.guides] == ["ramus_left", "ramus_right"]
    for g in plan.guides:
        assert g.checks["passed"], (g.name, g.checks["failures"])
        assert g.checks["clearance_mm"][0] >= 0.2 and g.checks["clearance_mm"][1] <= 0.3
        assert len(g.part.screws) == 6
    guides = [e for e in manifest["outputs"] if e["kind"] == "guide"]
    assert [e["path"] for e in guides] == ["guides/ramus_left.stl", "guides/ramus_right.stl"]
    assert all(e["checks"]["passed"] and e["watertight"] for e in guides)


def test_or_models_before_and_after_are_watertight(demo_out):
    _, manifest, out = demo_out
    models = [e for e in manifest["outputs"] if e["kind"] == "or_model"]
    stls = [e for e in models if e["path"].endswith(".stl")]
    assert {e["path"] for e in models} >= {"or_models/before.3mf", "or_models/after.3mf"}
    assert stls and all(e["watertight"] and e["volume_mm3"] > 0 for e in stls)
    assert any(e["day"] > 0 for e in stls)
    for e in models:
        assert (out / e["path"]).is_file()


@needs_prusa
def test_demo_guides_and_an_or_model_slice_into_toolpaths(demo_out, tmp_path):
    _, manifest, out = demo_out
    paths = [e["path"] for e in manifest["outputs"] if e["kind"] == "guide"]
    paths.append(
        next(
            e["path"]
            for e in manifest["outputs"]
            if e["kind"] == "or_model" and "moving" in e["path"] and e["path"].endswith(".stl")
        )
    )
    for path in paths:
        assert extruding_moves(out / path, tmp_path) > 1000, path

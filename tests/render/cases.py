"""A small synthetic case for the render tests: a bar "mandible" cut across, a static block.

The bar (10 x 80 x 10 mm along y) is cut at y = 0; its anterior half (y < 0) moves
``TARGET_MM`` along ``VECTOR``; a static "skull" block sits above it, clear of it in the
front and left views. No CT: the plan is made directly from the meshes.
"""

import json

import numpy as np
import pytest
import trimesh

from planner.pipeline.build import plan_case
from planner.plan.case import case_from_dict, case_to_dict
from tests.barcase import bar_case_data

TARGET_MM = 10.0
VECTOR = np.array([0.3, -1.0, -0.3]) / np.linalg.norm([0.3, -1.0, -0.3])


def models():
    skull = trimesh.creation.box(extents=(60, 40, 20))
    skull.apply_translation((0, 20, 40))
    return {"skull": skull, "mandible": trimesh.creation.box(extents=(10, 80, 10))}


def case_data(*, distractors=True, vector=VECTOR):
    return bar_case_data(vector=vector, target_mm=TARGET_MM, distractors=distractors)


def make_plan(**kw):
    return plan_case(case_from_dict(case_data(**kw)), models(), collisions=False)


def write_case_dir(folder, **kw):
    """A case folder on disk (case.json, models/) for the CLI tests."""
    from planner.bone.stl import write_stl

    folder.mkdir(parents=True, exist_ok=True)
    case = case_from_dict(case_data(**kw))
    (folder / "case.json").write_text(json.dumps(case_to_dict(case)))
    (folder / "models").mkdir(exist_ok=True)
    meshes = models()
    for name, mesh in meshes.items():
        write_stl(mesh, folder / "models" / f"{name}.stl")
    report = {"models": [{"name": n} for n in meshes]}
    (folder / "models" / "models.json").write_text(json.dumps(report))
    return folder


def needs_rendering():
    """Skip the test (with the reason) when this machine cannot render offscreen."""
    from planner.render.offscreen import rendering_available

    ok, reason = rendering_available()
    if not ok:
        pytest.skip(reason)

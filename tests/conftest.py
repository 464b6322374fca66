"""Fixtures shared across the suite, built once per session (the suite must stay fast)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def sample_dicom(tmp_path_factory) -> Path:
    """The built-in synthetic head written once as a DICOM series (read-only for tests)."""
    from planner.samples import make_head, write_ct_series

    folder = tmp_path_factory.mktemp("sample") / "dicom"
    write_ct_series(make_head().volume, folder)
    return folder


@pytest.fixture(scope="session")
def sample_models_dir(sample_dicom, tmp_path_factory) -> Path:
    """A case folder holding only ``models/`` of the sample (copy it before changing it)."""
    from planner.bone.models import build_models, write_models

    case_dir = tmp_path_factory.mktemp("sample-models") / "case"
    write_models(build_models(sample_dicom), case_dir)
    return case_dir


@pytest.fixture(scope="session")
def demo_plan(sample_models_dir):
    """The demo's bilateral plan on the sample's models, without the collision sweep."""
    from planner.bone.models import read_models, read_models_report
    from planner.pipeline.build import plan_case
    from planner.pipeline.demo import demo_case
    from planner.samples import head_truth

    made = read_models_report(sample_models_dir)
    case = demo_case(
        head_truth(),
        source_path="../dicom",
        series_uid=made.get("series_uid", ""),
        threshold_hu=made.get("threshold_hu", 300.5),
    )
    return plan_case(case, read_models(sample_models_dir), collisions=False)

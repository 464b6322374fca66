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

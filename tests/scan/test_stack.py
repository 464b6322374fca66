"""Slice geometry: tilt and variable spacing resampled; a missing slice refused unless allowed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from planner.errors import PlannerError
from planner.scan.dicom import choose_series, list_series, load_volume
from tests.scan.dicomfactory import (
    TILT_DEG,
    TILTED,
    edit,
    normal_of,
    sample_field,
    stack_positions,
    write_series,
)


def _field(p):
    return 20.0 * p[..., 2] + 3.0 * p[..., 0] - 900.0


def _write(folder, depths, *, shape=(12, 12)):
    positions = stack_positions(len(depths), origin=(-6.0, -6.0, 40.0), depths=depths)
    hu = sample_field(_field, positions, shape=shape)
    return write_series(folder, hu, positions=positions)


def _ge_depths():
    """A GE head acquisition: 14 slices 4 mm apart, then 14 slices 7 mm apart."""
    return np.concatenate([4.0 * np.arange(14), 52.0 + 7.0 * np.arange(1, 15)])


def test_ge_head_pattern_4mm_then_7mm_is_resampled_not_refused(tmp_path):
    _write(tmp_path, _ge_depths())

    (info,) = list_series(tmp_path)
    vol = load_volume(tmp_path)

    assert info.usable and info.reason == ""
    span = 52.0 + 98.0
    n_out = round(span / 4.0) + 1  # the finest spacing kept
    assert vol.shape == (12, 12, n_out)
    np.testing.assert_allclose(vol.spacing_mm[2], span / (n_out - 1))
    note = vol.notes[-1]
    assert note.startswith("resampled: uneven slice spacing 4.00-7.00 mm")
    assert "(13 gaps of 4.00 mm, then 14 gaps of 7.00 mm)" in note
    assert "linear interpolation" in note
    pts = vol.index_to_lps(np.indices(vol.shape).reshape(3, -1).T).reshape(*vol.shape, 3)
    np.testing.assert_allclose(vol.hu, _field(pts), atol=1.0)  # linear: exact but rounding


def test_slices_50_mm_apart_are_refused(tmp_path):
    # a model of them is no model (it was made, without a word)
    _write(tmp_path, 50.0 * np.arange(8))
    with pytest.raises(PlannerError, match="an invalid slice spacing: the slices lie 50 mm"):
        load_volume(tmp_path)


def test_a_slice_1000_km_away_is_refused_naming_it(tmp_path):
    # the grids are made in mm: such a position ran out of memory
    paths = _write(tmp_path, 2.0 * np.arange(8))
    edit(paths[5], ImagePositionPatient=[-6.0, -6.0, 1e9])
    with pytest.raises(PlannerError, match=r"ImagePositionPatient: over 100 m .* in CT0005"):
        load_volume(tmp_path)


def test_a_missing_slice_is_refused_naming_the_files_either_side(tmp_path):
    depths = np.delete(2.0 * np.arange(12), 6)  # a 4 mm gap in a 2 mm series
    _write(tmp_path, depths)

    (info,) = list_series(tmp_path)
    with pytest.raises(PlannerError) as err:
        load_volume(tmp_path)

    phrase = "missing slices: a 4.00 mm gap between CT0005.dcm and CT0006.dcm"
    assert phrase in info.reason and "where the spacing is 2.00 mm" in info.reason
    assert phrase in str(err.value) and "--allow-gaps" in str(err.value)


def test_allow_gaps_fills_a_missing_slice_by_interpolation_with_a_note(tmp_path):
    depths = np.delete(2.0 * np.arange(12), 6)
    _write(tmp_path, depths)

    (info,) = list_series(tmp_path, allow_gaps=True)
    vol = load_volume(tmp_path, allow_gaps=True)

    assert info.usable and choose_series([info]) is info
    assert vol.shape == (12, 12, 12) and vol.spacing_mm[2] == pytest.approx(2.0)
    assert any(
        n.startswith("missing slices allowed: a 4.00 mm gap between CT0005.dcm and CT0006.dcm")
        and n.endswith("filled by linear interpolation")
        for n in vol.notes
    )
    pts = vol.index_to_lps(np.indices(vol.shape).reshape(3, -1).T).reshape(*vol.shape, 3)
    np.testing.assert_allclose(vol.hu, _field(pts), atol=1.0)


def test_a_missing_slice_inside_the_7mm_part_is_still_found(tmp_path):
    depths = np.delete(_ge_depths(), 20)  # one slice of the 7 mm run gone: a 14 mm gap
    _write(tmp_path, depths)
    (info,) = list_series(tmp_path)
    assert info.reason.startswith("missing slices: a 14.00 mm gap between CT0019.dcm and CT0020")
    assert "where the spacing is 7.00 mm" in info.reason


def test_a_gap_after_the_first_slice_is_found(tmp_path):
    _write(tmp_path, np.r_[0.0, 3.0 + np.arange(8)])
    (info,) = list_series(tmp_path)
    assert info.reason.startswith("missing slices: a 3.00 mm gap between CT0000.dcm and CT0001")


def test_two_missing_slices_are_both_counted(tmp_path):
    _write(tmp_path, np.delete(np.arange(16.0), [4, 11]))
    (info,) = list_series(tmp_path)
    assert info.reason.startswith("missing slices: a 2.00 mm gap between CT0003.dcm and CT0004")
    assert info.reason.endswith("(and 1 more)")


def test_listing_says_variable_spacing_will_be_resampled(tmp_path):
    _write(tmp_path, _ge_depths())
    (info,) = list_series(tmp_path)
    vol = load_volume(tmp_path)
    assert info.notes == (
        "uneven slice spacing 4.00-7.00 mm (13 gaps of 4.00 mm, then 14 gaps of 7.00 mm): "
        "resampled to 3.947 mm when loaded (linear interpolation)",
    )
    assert sum("uneven slice spacing" in n for n in vol.notes) == 1


# ---------------------------------------------------------------- resampling


def _tilted_series(folder: Path, field, *, n=20, shape=(40, 36), step_mm=2.0, depths=None):
    """A gantry-tilted stack: slices oblique, positions moving along the table (z)."""
    positions = stack_positions(
        n, origin=(-18.0, -20.0, 0.0), step=(0.0, 0.0, step_mm), depths=depths
    )
    hu = sample_field(field, positions, orientation=TILTED, shape=shape)
    write_series(folder, hu, positions=positions, orientation=TILTED, gantry_tilt_deg=TILT_DEG)
    return positions


def _covered(vol, positions, orientation, shape, spacing=(1.0, 1.0)):
    """Mask of voxels whose projections lie inside both acquired slices that bracket them."""
    pts = vol.index_to_lps(np.indices(vol.shape).reshape(3, -1).T)
    o = np.asarray(orientation)
    depth = positions @ normal_of(o)
    order = np.argsort(depth)
    below = np.searchsorted(depth[order], pts @ normal_of(o) + 1e-6, side="right") - 1
    inside = np.ones(len(pts), bool)
    for k in (np.clip(below, 0, len(depth) - 2), np.clip(below, 0, len(depth) - 2) + 1):
        rel = pts - positions[order[k]]
        ci, cj = rel @ o[:3] / spacing[1], rel @ o[3:] / spacing[0]
        inside &= (ci > -1e-6) & (ci < shape[1] - 1 + 1e-6)
        inside &= (cj > -1e-6) & (cj < shape[0] - 1 + 1e-6)
    return inside.reshape(vol.shape), pts.reshape(*vol.shape, 3)


def test_gantry_tilt_is_resampled_exactly_onto_an_orthogonal_grid(tmp_path):
    def linear(p):
        return 3.0 * p[..., 0] - 2.0 * p[..., 1] + 4.0 * p[..., 2] + 100.0

    positions = _tilted_series(tmp_path, linear)
    (info,) = list_series(tmp_path)
    vol = load_volume(tmp_path)

    assert info.usable and info.gantry_tilt_deg == pytest.approx(TILT_DEG, abs=0.01)
    assert any("gantry tilt -18.5 deg corrected" in note for note in vol.notes)
    np.testing.assert_allclose(vol.direction.T @ vol.direction, np.eye(3), atol=1e-6)
    np.testing.assert_allclose(vol.direction[:, 2], normal_of(TILTED), atol=1e-6)
    depth_step = 2.0 * np.cos(np.radians(TILT_DEG))
    np.testing.assert_allclose(vol.spacing_mm, [1.0, 1.0, depth_step], atol=1e-6)
    assert vol.shape[1] > 40  # the grid grew so that no acquired pixel is cut off
    inside, pts = _covered(vol, positions, TILTED, (40, 36))
    assert inside.sum() >= 0.94 * 20 * 40 * 36
    # linear interpolation reproduces a linear field: stored-value rounding only
    np.testing.assert_allclose(vol.hu[inside], linear(pts[inside]), atol=1.0)


def test_gantry_tilt_keeps_a_sphere_where_it_is(tmp_path):
    centre = np.array([0.5, -1.0, 17.0])

    def blob(p):
        return 1000.0 * np.exp(-np.sum((p - centre) ** 2, axis=-1) / (2 * 3.0**2)) - 1000.0

    _tilted_series(tmp_path, blob)
    vol = load_volume(tmp_path)

    weight = vol.hu.astype(float) + 1000.0
    ijk = np.indices(vol.shape).reshape(3, -1).T
    found = (vol.index_to_lps(ijk) * weight.reshape(-1, 1)).sum(axis=0) / weight.sum()
    # read as if stacked along the normal, the centre would move ~5 mm in y (shear)
    np.testing.assert_allclose(found, centre, atol=0.15)


def test_uneven_spacing_is_resampled_onto_a_regular_grid(tmp_path):
    def linear(p):
        return 50.0 * p[..., 2] + 3.0 * p[..., 0] - 500.0

    gaps = np.tile([1.0, 1.3], 6)
    depths = np.concatenate([[0.0], np.cumsum(gaps)])
    positions = stack_positions(len(depths), origin=(-8, -8, 0), step=1.0, depths=depths)
    hu = sample_field(linear, positions, shape=(16, 16))
    write_series(tmp_path, hu, positions=positions)

    vol = load_volume(tmp_path)

    assert any("uneven slice spacing 1.00-1.30 mm" in note for note in vol.notes)
    # resampled at (about) the finest spacing, 1.0 mm: 13.8 mm in 14 steps
    assert vol.shape == (16, 16, 15)
    np.testing.assert_allclose(vol.spacing_mm[2], depths[-1] / 14)
    pts = vol.index_to_lps(np.indices(vol.shape).reshape(3, -1).T).reshape(*vol.shape, 3)
    np.testing.assert_allclose(vol.hu, linear(pts), atol=1.0)


def test_tilt_and_uneven_spacing_together(tmp_path):
    def linear(p):
        return -2.0 * p[..., 1] + 30.0 * p[..., 2]

    depths = np.concatenate([[0.0], np.cumsum(np.tile([1.0, 1.4], 5))])
    positions = _tilted_series(tmp_path, linear, n=len(depths), depths=depths)
    vol = load_volume(tmp_path)

    assert "gantry tilt" in vol.notes[-1] and "uneven" in vol.notes[-1]
    inside, pts = _covered(vol, positions, TILTED, (40, 36))
    # near a slice of the uneven input, both bracketing slices cover the voxel
    np.testing.assert_allclose(vol.hu[inside], linear(pts[inside]), atol=1.0)


def test_slightly_uneven_positions_are_not_resampled(tmp_path):
    jitter = np.array([0, 0.004, -0.003, 0.005, 0, -0.004, 0.002, 0])
    positions = stack_positions(8, step=0.5, depths=np.arange(8) + jitter / 0.5)
    positions[:, 0] += jitter[::-1]  # in-plane rounding noise
    hu = np.arange(8 * 12 * 10, dtype=float).reshape(8, 12, 10) % 2000 - 1000
    paths = write_series(tmp_path, hu, positions=positions)

    vol = load_volume(paths)

    assert vol.notes == ()
    assert vol.shape == (10, 12, 8)
    np.testing.assert_allclose(vol.spacing_mm[2], 0.5, atol=1e-3)

"""Every slice agrees with the others, and the volume reads as HU (planner.scan.checks)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import JPEG2000Lossless

from planner.errors import PlannerError
from planner.scan import checks
from planner.scan.dicom import list_series, load_volume
from tests.scan.dicomfactory import (
    copy_series,
    corrupt_pixel_data,
    edit,
    phantom_hu,
    stack_positions,
    write_series,
)
from tests.shared import SHARED_DATA

SKULL = SHARED_DATA / "dicom" / "skull-ct-0051"
needs_skull = pytest.mark.skipif(not SKULL.is_dir(), reason=f"real CT scan not found at {SKULL}")
HU = phantom_hu(12, (48, 48))


def _refused(folder, *phrases: str) -> str:
    with pytest.raises(PlannerError) as err:
        load_volume(folder)
    message = str(err.value)
    assert "\n" not in message and all(p in message for p in phrases), message
    return message


# ---------------------------------------------------------------- headers that disagree


DISAGREEMENTS = {
    "signedness": (
        lambda p: edit(p[5], PixelRepresentation=0),
        "mixed signedness: CT0005.dcm has PixelRepresentation 0 (unsigned) where the other "
        "11 slices have PixelRepresentation 1 (signed)",
    ),
    "bits stored": (
        lambda p: edit(p[5], BitsStored=12, HighBit=11),
        "mixed bit depths: CT0005.dcm has BitsAllocated 16, BitsStored 12 where the other 11",
    ),
    "size": (
        lambda p: edit(p[7], Rows=24, PixelData=bytes(48 * 24 * 2)),
        "mixed image sizes (48x24, 48x48): CT0007.dcm has 48x24 where the other 11 slices",
    ),
    "spacing": (
        lambda p: edit(p[2], PixelSpacing=[0.9, 0.9]),
        "mixed pixel spacing (0.900-1.000 mm): CT0002.dcm has PixelSpacing 0.9\\0.9",
    ),
    "orientation": (
        lambda p: edit(p[2], ImageOrientationPatient=[0, 1, 0, 1, 0, 0]),
        "mixed orientations: CT0002.dcm has ImageOrientationPatient 0\\1\\0\\1\\0\\0",
    ),
}


@pytest.mark.parametrize(("fault", "phrase"), DISAGREEMENTS.values(), ids=DISAGREEMENTS.keys())
def test_a_slice_that_disagrees_is_named(tmp_path, fault, phrase):
    fault(write_series(tmp_path, HU, intercept=0.0))

    (info,) = list_series(tmp_path)

    assert not info.usable and info.broken and phrase in info.reason
    _refused(tmp_path, phrase)


@needs_skull
def test_real_series_with_one_unsigned_slice_is_refused_not_a_65535_hu_slab(tmp_path):
    paths = copy_series(SKULL, tmp_path)
    edit(paths[50], PixelRepresentation=0)
    _refused(tmp_path, f"{paths[50].name} has PixelRepresentation 0 (unsigned)")


@needs_skull
def test_real_series_read_unsigned_throughout_is_refused_as_not_hu(tmp_path):
    for p in copy_series(SKULL, tmp_path):
        edit(p, PixelRepresentation=0)
    _refused(tmp_path, "of the voxels read above 4000 HU", "not Hounsfield units")


# ---------------------------------------------------------------- rescale per slice


def test_each_slice_rescaled_with_its_own_values_and_noted(tmp_path):
    # as some converters write: every slice with its own intercept, the same HU
    paths = [write_series(tmp_path, HU[k : k + 1], intercept=-1024.0 - 10 * k,
                          positions=stack_positions(12)[k : k + 1], names=[f"S{k:02d}"],
                          series_uid="1.2.3.4.7")[0] for k in range(12)]  # fmt: skip
    assert len({float(pydicom.dcmread(p).RescaleIntercept) for p in paths}) == 12

    vol = load_volume(tmp_path)

    np.testing.assert_array_equal(vol.hu.transpose(2, 1, 0), HU)
    assert any("12 different slope/intercept pairs" in n for n in vol.notes)


def test_one_slice_with_a_wrong_intercept_is_refused_naming_it(tmp_path):
    paths = write_series(tmp_path, HU)
    edit(paths[6], RescaleIntercept=0)  # its air now reads +24 HU: a slab

    (info,) = list_series(tmp_path)
    assert "CT0006.dcm has slope 1, intercept 0 where the other 11" in info.notes[0]
    _refused(tmp_path, "CT0006.dcm: pixel values implausible", "from both neighbouring slices")


# ---------------------------------------------------------------- corrupt pixel data


@pytest.mark.parametrize("at", [0.1, 0.3, 0.5])
def test_a_corrupt_jpeg2000_slice_decoded_as_noise_is_never_silent(tmp_path, at):
    paths = write_series(tmp_path, HU, transfer_syntax=JPEG2000Lossless)
    corrupt_pixel_data(paths[6], at=at, n_bytes=200)
    try:
        notes = load_volume(tmp_path).notes
    except PlannerError as err:  # the decoder fails, or the noise is caught
        message = str(err)
        assert "pixel values implausible" in message or "cannot read the pixel data" in message
        assert "CT0006.dcm" in message
    else:  # low-frequency damage in part of the slice: loaded, and the slice named
        assert any(n.startswith("CT0006.dcm: ") and "look at this slice" in n for n in notes)


@needs_skull
@pytest.mark.parametrize(("k", "at"), [(50, 0.02), (50, 0.2), (0, 0.05), (107, 0.3)])
def test_real_series_with_a_corrupt_jpeg2000_slice_is_refused(tmp_path, k, at):
    paths = copy_series(SKULL, tmp_path)
    ds = pydicom.dcmread(paths[k])
    ds.compress(JPEG2000Lossless)
    ds.save_as(paths[k])
    corrupt_pixel_data(paths[k], at=at)
    _refused(tmp_path, f"{paths[k].name}: pixel values implausible")


def _outliers(stack, refused=True):
    odd = checks.slice_outliers(checks.sample(stack), checks.roughness(stack))
    return [k for k, _, _, refuse in odd if refuse == refused]


def test_slice_outliers_finds_slabs_and_noise_and_spares_anatomy():
    rng = np.random.default_rng(0)
    noise = rng.integers(-1000, 2000, size=(8, 40, 40)).astype(np.float32)
    smooth = np.repeat(HU[:1], 8, axis=0).astype(np.float32)
    slab = smooth.copy()
    slab[3] += 1024.0
    noisy = smooth.copy()
    noisy[5, :, :20] = rng.normal(0.0, 800.0, size=(48, 20))  # a part decoded as noise
    layer = smooth.copy()
    layer[4, 10:20, 10:40] = 400.0  # a thin horizontal layer of anatomy: 13% of the slice

    assert _outliers(noise) == []  # iid noise everywhere: no slice stands out
    assert _outliers(smooth) == []
    assert _outliers(slab) == [3]
    assert _outliers(noisy) == [5]
    assert _outliers(layer) == [] and _outliers(layer, refused=False) == [4]  # noted only


# ---------------------------------------------------------------- HU plausibility


def test_values_above_4000_hu_in_bulk_are_refused(tmp_path):
    write_series(tmp_path, HU + 6000.0)
    _refused(tmp_path, "100% of the voxels read above 4000 HU", "check that the series is a CT")


def test_a_little_metal_is_fine_and_more_is_noted(tmp_path):
    metal = HU.copy()
    metal[:, 20:22, 20:22] = 8000.0  # 0.2% of the voxels
    write_series(tmp_path / "a", metal)
    metal[:, 20:26, 20:26] = 8000.0  # 1.6%
    write_series(tmp_path / "b", metal)

    assert not any("4000 HU" in n for n in load_volume(tmp_path / "a").notes)
    assert any(
        "1.6% of the voxels read above 4000 HU" in n for n in load_volume(tmp_path / "b").notes
    )


def test_a_scan_without_air_is_noted(tmp_path):
    write_series(tmp_path, np.clip(HU, 0.0, None))
    vol = load_volume(tmp_path)
    assert any(n.startswith("no air in the scan (nothing below -500 HU") for n in vol.notes)


@pytest.mark.parametrize("name", ["skull-ct-0051", "headneck-ct/pt_17"])
def test_real_scans_pass_every_check(name):
    folder = SHARED_DATA / "dicom" / name
    if not folder.is_dir():
        pytest.skip(f"real CT scan not found at {folder}")
    vol = load_volume(folder)
    assert vol.notes == ()
    stack = vol.hu.transpose(2, 1, 0)
    assert _outliers(stack) == []
    assert checks.hu_problems(checks.sample(stack)) == ("", [])


def test_header_disagreement_is_empty_for_a_clean_series(tmp_path):
    from planner.scan.header import read_header
    from planner.scan.sources import FileRef

    images = [read_header(FileRef.on_disk(p))[2] for p in write_series(tmp_path, HU)]
    assert checks.header_disagreement(images) == ""
    assert checks.rescale_note(images) == ""
    assert isinstance(images[0].ref.path, Path)

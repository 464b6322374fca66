"""Damaged and implausible headers: refused naming the file, or read leniently with a note.

Each case injects one fault into a copy of a synthetic series (or a real one) and checks the
reader no longer builds a silently wrong volume (mirrored, shifted, inverted) nor crashes
with MemoryError, ValueError or ZeroDivisionError.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataelem import RawDataElement
from pydicom.tag import Tag

from planner.errors import PlannerError
from planner.scan.dicom import list_series, load_volume
from planner.scan.header import ImageHeader, Unreadable, read_header
from planner.scan.sources import FileRef
from tests.scan.dicomfactory import (
    copy_series,
    edit,
    patch_element,
    phantom_hu,
    write_series,
)
from tests.shared import SHARED_DATA

SKULL = SHARED_DATA / "dicom" / "skull-ct-0051"
needs_skull = pytest.mark.skipif(not SKULL.is_dir(), reason=f"real CT scan not found at {SKULL}")


def _series(folder: Path, **kw) -> list[Path]:
    return write_series(folder, phantom_hu(10, (32, 32)), **kw)


def _refused(folder, *phrases: str) -> str:
    with pytest.raises(PlannerError) as err:
        load_volume(folder)
    message = str(err.value)
    assert "\n" not in message
    for phrase in phrases:
        assert phrase in message
    return message


# faults that stop the series, each naming the file at fault
HEADER_FAULTS = {
    "negative spacing": (
        lambda p: patch_element(p[3], 0x00280030, b"-1\\1"),
        "CT0003.dcm: PixelSpacing -1\\1 is negative (the model would be mirrored)",
    ),
    "zero spacing": (
        lambda p: patch_element(p[3], 0x00280030, b"0\\0"),
        "CT0003.dcm: PixelSpacing 0\\0 is zero",
    ),
    "intercept not a number": (
        lambda p: patch_element(p[5], 0x00281052, b"abc"),
        "CT0005.dcm: RescaleIntercept 'abc' is not a number",
    ),
    "negative slope": (
        lambda p: patch_element(p[5], 0x00281053, b"-1"),
        "CT0005.dcm: RescaleSlope -1 is negative (it would turn air into bone)",
    ),
    "zero slope": (lambda p: edit(p[5], RescaleSlope=0), "CT0005.dcm: RescaleSlope 0 is zero"),
    "rows 65535": (
        lambda p: edit(p[5], Rows=65535, Columns=65535),
        "CT0005.dcm: pixel data unreadable: the header declares 65535x65535 pixels",
    ),
    "rows 0": (lambda p: edit(p[5], Rows=0), "CT0005.dcm: pixel data unreadable (Rows 0"),
    "rows missing": (lambda p: edit(p[4], Rows=None), "CT0004.dcm: pixel data unreadable"),
    "half the rows": (
        lambda p: edit(p[4], Rows=16),
        "CT0004.dcm: pixel data unreadable: the header declares 32x16 pixels",
    ),
    "no pixels at the edge": (
        lambda p: edit(p[0], PixelData=None),
        "CT0000.dcm: pixel data unreadable (no pixel data after the header)",
    ),
    "no pixels at the top": (
        lambda p: edit(p[-1], PixelData=None),
        "CT0009.dcm: pixel data unreadable",
    ),
    "spacing of a kilometre": (
        # a planner run went out of memory on it (the grids are made in mm)
        lambda p: patch_element(p[3], 0x00280030, b"1e6\\1e6"),
        "CT0003.dcm: PixelSpacing 1e+06\\1e+06 mm is not a CT's (0.01-20 mm)",
    ),
    "spacing of a micrometre": (
        lambda p: patch_element(p[3], 0x00280030, b"1e-6\\1e-6"),
        "CT0003.dcm: PixelSpacing 1e-06\\1e-06 mm is not a CT's",
    ),
    "bits stored > allocated": (
        lambda p: edit(p[2], BitsStored=20),
        "CT0002.dcm: pixel data unreadable (BitsAllocated 16, BitsStored 20)",
    ),
    # one slice of a series damaged to declare frames it does not hold: it was taken for a
    # multi-frame file and the whole series refused as unsupported, naming no file
    "two frames declared, one held": (
        lambda p: edit(p[5], NumberOfFrames=2),
        "CT0005.dcm: pixel data unreadable: the header declares 2 frames of 32x32 pixels "
        "of 16 bits (4,096 bytes) but the file holds 2,048 bytes",
    ),
    "negative frames": (
        lambda p: edit(p[5], NumberOfFrames=-1),
        "CT0005.dcm: NumberOfFrames -1 is not a number of frames: the header is damaged",
    ),
}


@pytest.mark.parametrize(("fault", "phrase"), HEADER_FAULTS.values(), ids=HEADER_FAULTS.keys())
def test_a_damaged_header_is_refused_naming_the_file(tmp_path, fault, phrase):
    fault(_series(tmp_path))

    (info,) = list_series(tmp_path)
    assert not info.usable and info.broken and phrase in info.reason
    message = _refused(tmp_path, phrase, "cannot be loaded as a volume")
    assert str(tmp_path) not in message


def test_every_file_with_rows_65535_refused_before_allocating(tmp_path):
    for p in _series(tmp_path):
        edit(p, Rows=65535, Columns=65535)
    _refused(tmp_path, "CT0000.dcm: pixel data unreadable", "(and 9 more damaged files)")


def test_a_unit_after_the_intercept_is_read_with_a_note_never_as_zero(tmp_path):
    hu = phantom_hu(10, (32, 32))
    for p in write_series(tmp_path, hu):
        patch_element(p, 0x00281052, b"-1024HU")

    vol = load_volume(tmp_path)

    np.testing.assert_array_equal(vol.hu.transpose(2, 1, 0), hu)  # air stays -1000
    assert (
        "RescaleIntercept '-1024HU' is not a valid DICOM number: read as -1024 "
        "(in CT0000.dcm and 9 more files)"
    ) in vol.notes


def test_header_record_names_its_problem(tmp_path):
    paths = _series(tmp_path)
    patch_element(paths[1], 0x00280030, b"-0.5\\0.5")
    good = read_header(FileRef.on_disk(paths[0]))
    bad = read_header(FileRef.on_disk(paths[1]))

    assert isinstance(good[2], ImageHeader) and good[2].problem == ""
    assert good[2].pixel_length == 32 * 32 * 2 and good[2].spacing == (1.0, 1.0)
    assert bad[2].spacing == (-0.5, 0.5)
    assert bad[2].problem.startswith("PixelSpacing -0.5\\0.5 is negative")


def test_an_element_length_damaged_leaves_the_pixels_unreadable_and_named(tmp_path):
    paths = _series(tmp_path)
    data = bytearray(paths[6].read_bytes())
    at = data.find(b"\x28\x00\x10\x00US")  # Rows: its length made to run past the end
    data[at + 6 : at + 8] = (0xFFF0).to_bytes(2, "little")
    paths[6].write_bytes(bytes(data))

    (info,) = list_series(tmp_path)

    assert info.n_images == 10  # counted, not dropped
    assert info.reason == "CT0006.dcm: pixel data unreadable (no pixel data after the header)"
    _refused(tmp_path, "CT0006.dcm: pixel data unreadable")


def test_a_header_cut_short_is_unreadable_not_a_series(tmp_path):
    paths = _series(tmp_path)
    paths[6].write_bytes(paths[6].read_bytes()[:400])  # before its SeriesInstanceUID

    found = read_header(FileRef.on_disk(paths[6]))

    assert isinstance(found, Unreadable) and "no SeriesInstanceUID" in found.reason
    assert len(list_series(tmp_path)) == 1


def test_a_damaged_file_of_no_known_series_is_named_in_the_notes(tmp_path):
    _series(tmp_path / "ct")
    other = _series(tmp_path / "other")[0]
    data = bytearray(other.read_bytes())
    at = data.find(b"\x20\x00\x0e\x00UI")  # its SeriesInstanceUID is lost too
    data[at : at + 6] = b"\x20\x00\x0e\x00XX"
    data[at + 6 : at + 8] = (0xFFF0).to_bytes(2, "little")
    (tmp_path / "ct" / "STRAY").write_bytes(bytes(data))

    vol = load_volume(tmp_path / "ct")

    assert any(n.startswith("STRAY looks like DICOM but cannot be read") for n in vol.notes)


@needs_skull
def test_real_series_with_a_negative_spacing_slice_is_refused(tmp_path):
    paths = copy_series(SKULL, tmp_path)
    patch_element(paths[40], 0x00280030, b"-0.957031\\0.957031")
    _refused(tmp_path, f"{paths[40].name}: PixelSpacing -0.957031\\0.957031 is negative")


@needs_skull
def test_real_series_with_a_negative_slope_is_refused(tmp_path):
    paths = copy_series(SKULL, tmp_path)
    for p in paths:
        patch_element(p, 0x00281053, b"-1")
    _refused(tmp_path, "RescaleSlope -1 is negative", "(and 107 more damaged files)")


@needs_skull
def test_real_series_with_a_unit_in_the_intercept_reads_true_air(tmp_path):
    paths = copy_series(SKULL, tmp_path)
    for p in paths:
        patch_element(p, 0x00281052, b"0HU")
    vol = load_volume(tmp_path)
    assert -1010 < np.median(vol.hu[:20, :20, :]) < -980
    assert any("RescaleIntercept '0HU'" in n for n in vol.notes)


def test_a_nan_frame_count_is_unreadable_not_a_crash(tmp_path):
    paths = _series(tmp_path)
    ds = pydicom.dcmread(paths[2])
    tag = Tag(0x00280008)  # NumberOfFrames, written raw: pydicom refuses to write NaN
    ds._dict[tag] = RawDataElement(tag, "IS", 4, b"NaN ", 0, False, True)
    ds.save_as(paths[2])
    found = read_header(FileRef.on_disk(paths[2]))
    assert isinstance(found, Unreadable) and "a header value cannot be read" in found.reason
    assert found.series_uid == ds.SeriesInstanceUID
    _refused(tmp_path, "CT0002.dcm: header damaged, pixel data unreadable (a header value")


def test_a_stack_beyond_the_machines_memory_is_refused_before_allocating(tmp_path, monkeypatch):
    from planner.scan import pixels

    _series(tmp_path)
    monkeypatch.setattr(pixels, "_physical_memory", lambda: 10_000)
    _refused(tmp_path, "10 slices of 32x32 pixels need", "more than this machine's memory")

"""Tests for planner.scan.dicom: synthetic series with known geometry, bad inputs, real scans."""

from __future__ import annotations

import random
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import JPEG2000Lossless, MRImageStorage, RLELossless

from planner.errors import PlannerError
from planner.scan.dicom import choose_series, list_series, load_volume
from planner.scan.volume import Volume
from tests.scan.dicomfactory import (
    TILTED,
    edit,
    normal_of,
    phantom_hu,
    series_from_template,
    stack_positions,
    write_dicomdir,
    write_enhanced_ct,
    write_localizer,
    write_non_image,
    write_secondary_capture,
    write_series,
    zip_folder,
)
from tests.shared import SHARED_DATA

DATA = SHARED_DATA / "dicom"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason=f"real CT scans not found at {DATA}")


def _oblique_orientation() -> tuple[float, ...]:
    """Row and column cosines of a slice rotated about two axes."""
    a, b = np.radians(25.0), np.radians(-10.0)
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    r = rx @ rz
    return (*r[:, 0], *r[:, 1])


def _simple_series(folder: Path, n: int = 8, shape=(12, 10), **kw) -> list[Path]:
    hu = np.arange(n * shape[0] * shape[1], dtype=float).reshape(n, *shape) % 2000 - 1000
    return write_series(folder, hu, **kw)


# ---------------------------------------------------------------- geometry, known answers


def test_known_voxel_lands_at_its_lps_position_and_affine_round_trips(tmp_path):
    orientation = _oblique_orientation()
    spacing = (0.8, 0.6)  # row spacing != column spacing catches i/j swaps
    origin = np.array([10.0, -20.0, 30.0])
    positions = stack_positions(6, origin=origin, step=1.5, orientation=orientation)
    hu = np.full((6, 12, 20), -1000.0)
    hu[4, 3, 7] = 1000.0  # slice k=4, row j=3, column i=7
    write_series(tmp_path, hu, positions=positions, orientation=orientation, pixel_spacing=spacing)

    vol = load_volume(tmp_path)

    assert vol.shape == (20, 12, 6)
    assert vol.hu.dtype == np.int16
    assert vol.hu.T.flags.c_contiguous  # a view of the (nk, nj, ni) slice stack
    assert np.argwhere(vol.hu == 1000).tolist() == [[7, 3, 4]]
    row, col = np.array(orientation[:3]), np.array(orientation[3:])
    expected = origin + 4 * 1.5 * normal_of(orientation) + 7 * 0.6 * row + 3 * 0.8 * col
    np.testing.assert_allclose(vol.index_to_lps([7, 3, 4]), expected, atol=1e-4)
    np.testing.assert_allclose(vol.spacing_mm, [0.6, 0.8, 1.5], atol=1e-5)
    np.testing.assert_allclose(vol.direction.T @ vol.direction, np.eye(3), atol=1e-6)
    ijk = np.random.default_rng(0).uniform(-5, 25, size=(50, 3))
    np.testing.assert_allclose(vol.lps_to_index(vol.index_to_lps(ijk)), ijk, atol=1e-9)
    assert vol.notes == ()


def test_slices_sorted_by_position_not_file_name_or_instance_number(tmp_path):
    n = 9
    depths = np.array([3, 7, 0, 5, 1, 8, 2, 6, 4], dtype=float)  # file order != position
    positions = stack_positions(n, origin=(0, 0, 50), step=-2.0, depths=depths)  # feet-first
    hu = np.stack([np.full((8, 8), 10.0 * d) for d in depths])
    names = [f"{random.Random(k).getrandbits(40):x}" for k in range(n)]  # no extensions
    write_series(tmp_path / "a" / "b", hu, positions=positions, names=names,
                 instance_numbers=[int(d) + 1 for d in depths])  # fmt: skip

    vol = load_volume(tmp_path)

    # ascending along the normal (+z): depth 8 (z=34) first, depth 0 (z=50) last
    np.testing.assert_array_equal(vol.hu[0, 0, :], 10 * np.arange(8, -1, -1))
    np.testing.assert_allclose(vol.origin_mm, [0, 0, 34])
    np.testing.assert_allclose(vol.affine[:3, 2], [0, 0, 2])


@pytest.mark.parametrize(
    ("slope", "intercept", "unsigned", "dtype"),
    [
        (1.0, -1024.0, True, np.int16),  # the usual unsigned CT storage
        (1.0, 0.0, False, np.int16),
        (2.0, -1000.0, False, np.int16),
        (0.5, -1024.0, False, np.float32),
        (1.0, -1024.5, False, np.float32),
        (3.0, 0.0, False, np.float32),  # integers, but HU up to 90000 do not fit int16
    ],
)
def test_hu_conversion(tmp_path, slope, intercept, unsigned, dtype):
    hu = np.linspace(-1000, 3000, 4 * 10 * 10).reshape(4, 10, 10)
    if slope == 3.0:
        hu[2, 5, 5] = 90000.0  # one metal voxel beyond int16 (a small share is plausible)
    hu = np.rint((hu - intercept) / slope) * slope + intercept  # representable values
    write_series(tmp_path, hu, slope=slope, intercept=intercept, unsigned=unsigned)

    vol = load_volume(tmp_path)

    assert vol.hu.dtype == dtype
    np.testing.assert_allclose(vol.hu.transpose(2, 1, 0), hu, atol=1e-3)


@pytest.mark.parametrize("syntax", [RLELossless, JPEG2000Lossless], ids=["rle", "jpeg2000"])
def test_compressed_series_decode_to_the_same_volume(tmp_path, syntax):
    rng = np.random.default_rng(1)
    hu = rng.integers(-1024, 2000, size=(5, 32, 40)).astype(float)
    write_series(tmp_path / "plain", hu)
    write_series(tmp_path / "packed", hu, transfer_syntax=syntax)

    plain, packed = load_volume(tmp_path / "plain"), load_volume(tmp_path / "packed")

    np.testing.assert_array_equal(packed.hu, plain.hu)
    np.testing.assert_array_equal(packed.hu.transpose(2, 1, 0), hu)
    np.testing.assert_allclose(packed.affine, plain.affine)


def test_jpeg_compressed_files_decode_through_pydicom(tmp_path):
    from pydicom.data import get_testdata_file

    template = get_testdata_file("JPGExtended.dcm")  # 12-bit JPEG (libjpeg), in pydicom
    if template is None:
        pytest.skip("pydicom's JPEG test file is not installed")
    series_from_template(template, tmp_path, n=3)
    expected = pydicom.dcmread(template).pixel_array.astype(int) - 1024

    vol = load_volume(tmp_path)

    assert vol.shape == (256, 1024, 3)
    for k in range(3):
        np.testing.assert_array_equal(vol.hu[:, :, k].T, expected)


# ---------------------------------------------------------------- refusals and bad input


def _refuse_missing_slice(folder):
    positions = stack_positions(10, step=2.0)
    return _simple_series(folder, n=9, positions=np.delete(positions, 5, axis=0))


def _refuse_mixed_sizes(folder):
    ids = _simple_series(folder, n=5, series_uid="1.2.3.4.5.6.7", description="MIXED")
    write_series(folder, np.zeros((1, 14, 10)), positions=stack_positions(6)[5:],
                 series_uid="1.2.3.4.5.6.7", description="MIXED", names=["extra"])  # fmt: skip
    return ids


def _refuse_two_orientations(folder):
    _simple_series(folder, n=4, shape=(10, 10), series_uid="1.2.3.9", description="TWO")
    pos = stack_positions(4, origin=(0, 0, 20), orientation=TILTED)
    _simple_series(folder, n=4, shape=(10, 10), series_uid="1.2.3.9", description="TWO",
                   orientation=TILTED, positions=pos, names=[f"t{k}" for k in range(4)])  # fmt: skip


def _refuse_duplicates(folder):
    positions = stack_positions(6)
    positions[3] = positions[2]
    _simple_series(folder, n=6, positions=positions)


def _refuse_mixed_spacing(folder):
    _simple_series(folder, n=4, series_uid="1.2.3.8", description="SPACING")
    _simple_series(folder, n=1, series_uid="1.2.3.8", description="SPACING",
                   positions=stack_positions(5)[4:], pixel_spacing=(0.7, 0.7), names=["x"])  # fmt: skip


@pytest.mark.parametrize(
    ("make", "phrase"),
    [
        (_refuse_missing_slice, "a 4.00 mm gap between CT0004.dcm and CT0005.dcm (after"),
        (_refuse_mixed_sizes, "mixed image sizes (10x12, 10x14)"),
        (_refuse_two_orientations, "several stacks in one series (2 slice orientations)"),
        (_refuse_duplicates, "several stacks in one series (2 slices at repeated positions)"),
        (_refuse_mixed_spacing, "mixed pixel spacing"),
    ],
    ids=["missing", "sizes", "orientations", "duplicates", "spacing"],
)
def test_a_series_that_is_not_one_complete_stack_is_refused(tmp_path, make, phrase):
    make(tmp_path)
    (info,) = list_series(tmp_path)
    assert not info.usable and phrase in info.reason

    with pytest.raises(PlannerError) as err:
        load_volume(tmp_path)
    message = str(err.value)
    assert phrase in message and "\n" not in message
    assert f"'{info.description}' (...{info.uid[-6:]})" in message


def _truncate_one(folder, syntax=None):
    paths = _simple_series(folder / "series", n=4, shape=(32, 32), transfer_syntax=syntax)
    data = paths[2].read_bytes()
    paths[2].write_bytes(data[: len(data) - 300])
    return paths[2].name


def _zip_bomb(archive):
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("IM0001", bytes(16 * 1024**2))
    return archive


BAD_INPUTS = {
    "missing": (lambda d: d / "nowhere", "does not exist"),
    "empty": (lambda d: d, "is empty"),
    "not dicom": (
        lambda d: [(d / "a.txt").write_text("hello"), (d / "b").write_bytes(bytes(400))] and d,
        "no DICOM file in",
    ),
    "truncated": (lambda d: _truncate_one(d) and d, "file CT0002.dcm is truncated"),
    "truncated rle": (
        lambda d: _truncate_one(d, RLELossless) and d,
        "cannot read the pixel data of file CT0002.dcm",
    ),
    "single slice": (lambda d: _simple_series(d, n=1) and d, "only a single CT slice was found"),
    "rtstruct": (lambda d: write_non_image(d) and d, "only a non-image RTSTRUCT object"),
    "sr only": (lambda d: write_non_image(d, modality="SR") and d, "non-image SR object"),
    "localizer": (lambda d: write_localizer(d) and d, "only a localizer (1 image) was found"),
    "secondary capture": (
        lambda d: write_secondary_capture(d) and d,
        "only a secondary capture (3 images) was found",
    ),
    "localizer and report": (
        lambda d: [write_localizer(d), write_secondary_capture(d)] and d,
        "only a localizer (1 image) and a secondary capture (3 images) were found",
    ),
    "empty zip": (lambda d: zip_folder(d, d.parent / "e.zip"), "is an empty zip archive"),
    "rows 65535": (
        lambda d: edit(_simple_series(d / "series", n=4)[2], Rows=65535, Columns=65535) and d,
        "CT0002.dcm: pixel data unreadable: the header declares 65535x65535 pixels",
    ),
    "rows 0": (
        lambda d: edit(_simple_series(d / "series", n=4)[1], Rows=0) and d,
        "CT0001.dcm: pixel data unreadable (Rows 0",
    ),
    "spacing 0": (
        lambda d: edit(_simple_series(d / "series", n=4)[3], PixelSpacing=[0, 0]) and d,
        "CT0003.dcm: PixelSpacing 0\\0 is zero",
    ),
    "negative slope": (
        lambda d: edit(_simple_series(d / "series", n=4)[0], RescaleSlope=-1) and d,
        "CT0000.dcm: RescaleSlope -1 is negative",
    ),
    "edge slice unreadable": (
        lambda d: edit(_simple_series(d / "series", n=4)[0], PixelData=None) and d,
        "CT0000.dcm: pixel data unreadable",
    ),
    "zip bomb": (
        lambda d: _zip_bomb(d.parent / "bomb.zip"),
        "would expand",
    ),
    "mr only": (
        lambda d: _simple_series(d, modality="MR", sop_class=MRImageStorage) and d,
        "images: not CT (MR)) was found",
    ),
    "mr in a ct's storage class": (  # was read as a CT, without a word
        lambda d: _simple_series(d, modality="MR") and d,
        "images: not CT (MR)) was found",
    ),
}


@pytest.mark.parametrize(("make", "phrase"), BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_bad_input_gives_one_helpful_line(tmp_path, make, phrase):
    folder = tmp_path / "in"
    folder.mkdir()
    target = make(folder)

    with pytest.raises(PlannerError) as err:
        load_volume(target)
    message = str(err.value)
    assert phrase in message
    assert "\n" not in message
    assert str(tmp_path / "in" / "series") not in message  # broken files by name only


# ---------------------------------------------------------------- inputs and choosing


@pytest.fixture
def study(tmp_path):
    """A study folder: localizer, report pages, RTSTRUCT, a 2 mm and two 1 mm CT series."""
    root = tmp_path / "study"
    write_localizer(root / "S1")
    write_secondary_capture(root / "S9")
    write_non_image(root / "RT")
    rng = np.random.default_rng(5)
    uids = {}
    for name, n, step in [("THICK", 8, 2.0), ("THIN", 14, 1.0), ("THIN SHORT", 10, 1.0)]:
        hu = rng.integers(-1000, 1500, size=(n, 16, 12)).astype(float)
        paths = write_series(root / name, hu, positions=stack_positions(n, step=step),
                             description=name, names=[f"I{10 * k}" for k in range(n)])  # fmt: skip
        uids[name] = str(pydicom.dcmread(paths[0]).SeriesInstanceUID)
    (root / "notes.txt").write_text("not DICOM")
    return root, uids


def test_list_and_choose_series(study):
    root, uids = study
    calls = []
    infos = list_series(root, progress=lambda done, total: calls.append((done, total)))

    assert len(infos) == 6
    by_desc = {s.description: s for s in infos}
    assert by_desc["SCOUT"].is_localizer and not by_desc["SCOUT"].usable
    assert by_desc["Exam Summary"].is_secondary_capture and not by_desc["Exam Summary"].usable
    assert by_desc["contours"].n_images == 0 and not by_desc["contours"].usable
    thin = by_desc["THIN"]
    assert thin.usable and thin.n_images == 14 and thin.image_size == (16, 12)
    assert thin.slice_spacing_mm == pytest.approx(1.0) and thin.kernel == "FC30"
    assert thin.plane == "axial" and by_desc["THICK"].slice_spacing_mm == pytest.approx(2.0)
    assert choose_series(infos).uid == uids["THIN"]  # thinnest, then more slices
    assert calls[-1][0] == calls[-1][1] == len(calls)


def test_load_volume_chooses_or_takes_the_named_series(study):
    root, uids = study
    calls = []
    chosen = load_volume(root, progress=lambda done, total: calls.append((done, total)))
    thick = load_volume(root, series_uid=uids["THICK"])
    by_suffix = load_volume(root, series_uid=uids["THICK"][-10:])

    assert chosen.series_uid == uids["THIN"] and chosen.description == "THIN"
    assert chosen.modality == "CT" and chosen.shape == (12, 16, 14)
    assert "skipped 1 non-DICOM file" in chosen.notes
    assert any("chose series 'THIN'" in note for note in chosen.notes)
    assert thick.shape == (12, 16, 8) and thick.spacing_mm[2] == pytest.approx(2.0)
    np.testing.assert_array_equal(by_suffix.hu, thick.hu)
    fractions = [d / t for d, t in calls]
    assert calls[-1][0] == calls[-1][1] and fractions == sorted(fractions)
    with pytest.raises(PlannerError, match=r"series '9\.9\.9' is not in"):
        load_volume(root, series_uid="9.9.9")
    loc = next(s for s in list_series(root) if s.is_localizer)
    with pytest.raises(PlannerError, match="localizer"):
        load_volume(root, series_uid=loc.uid)


def test_axial_preferred_to_a_thinner_coronal_reformat(tmp_path):
    coronal = (1.0, 0.0, 0.0, 0.0, 0.0, -1.0)
    _simple_series(tmp_path / "cor", n=6, orientation=coronal,
                   positions=stack_positions(6, step=0.5, orientation=coronal))  # fmt: skip
    _simple_series(tmp_path / "ax", n=6, description="AXIAL CT")
    assert sorted(s.plane for s in list_series(tmp_path)) == ["axial", "coronal"]
    assert choose_series(list_series(tmp_path)).description == "AXIAL CT"


def test_folder_zip_dicomdir_and_file_list_give_the_same_volume(tmp_path, monkeypatch):
    staging = tmp_path / "staging"  # pydicom's FileSet stages files in a temporary folder
    staging.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(staging))
    rng = np.random.default_rng(2)
    hu = rng.integers(-1000, 1000, size=(6, 16, 16)).astype(float)
    names = [f"I{k}" for k in (30, 10, 50, 20, 60, 40)]
    files = write_series(tmp_path / "disk" / "DATA" / "S1", hu, names=names, patient_id="SYNTH01")
    (tmp_path / "disk" / "readme.txt").write_text("junk")
    archive = zip_folder(tmp_path / "disk", tmp_path / "export.zip")
    dicomdir = write_dicomdir(tmp_path / "media", files)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))

    reference = load_volume(tmp_path / "disk")
    for source in [archive, dicomdir, dicomdir.parent, files[::-1]]:
        vol = load_volume(source)
        np.testing.assert_array_equal(vol.hu, reference.hu)
        np.testing.assert_allclose(vol.affine, reference.affine)
    assert list(scratch.iterdir()) == []  # the zip's temporary folder is gone
    assert "skipped 1 non-DICOM file" in reference.notes
    everything = repr(list_series(dicomdir)) + repr(reference.notes) + reference.description
    assert "SYNTH01" not in everything


# ---------------------------------------------------------------- real scans


@needs_data
def test_skull_ct_loads_with_known_size_spacing_and_air():
    vol = load_volume(DATA / "skull-ct-0051")

    assert vol.shape == (256, 256, 108) and vol.hu.dtype == np.int16
    np.testing.assert_allclose(vol.spacing_mm, [0.957031, 0.957031, 1.5], atol=1e-6)
    corners = vol.hu[:20, :20, :]  # outside the head
    assert -1010 < np.median(corners) < -980
    assert 800 < np.percentile(vol.hu, 99.9) < 2500  # cortical bone
    assert "INV0051" not in repr(vol.notes) + vol.description  # the header's patient name


@needs_data
@pytest.mark.parametrize("patient", ["pt_6", "pt_9", "pt_12", "pt_17"])
def test_headneck_series_load_128_cubed(patient):
    vol = load_volume(DATA / "headneck-ct" / patient)
    assert vol.shape == (128, 128, 128)
    assert -1100 < np.median(vol.hu[:8, :8, :]) < -900


@needs_data
@pytest.mark.slow
def test_phantom_study_picks_the_thin_bone_kernel_series():
    study = DATA / "head-phantom-study"
    infos = {s.number: s for s in list_series(study)}

    assert sorted(infos) == [100, 201, 203, 401]
    assert infos[100].is_localizer and not infos[100].usable  # S1000
    assert infos[401].is_secondary_capture and not infos[401].usable  # S4010
    assert infos[201].usable and infos[201].slice_spacing_mm == pytest.approx(5.0)
    s2030 = choose_series(list(infos.values()))
    assert s2030 is infos[203]
    assert (s2030.description, s2030.kernel) == ("BONE BRAIN 1MM", "YA")
    assert (s2030.n_images, s2030.image_size) == (140, (512, 512))  # 141 files with DIRFILE
    vol = load_volume(study / "DIRFILE")  # the scanner's own directory file
    assert vol.series_uid == s2030.uid and vol.shape == (512, 512, 140)
    np.testing.assert_allclose(vol.spacing_mm, [0.451172, 0.451172, 1.0], atol=1e-6)


@needs_data
@pytest.mark.slow
def test_tilted_phantom_lands_on_the_untilted_scan():
    """Same phantom, same frame of reference, 7 minutes apart: bone must meet bone.

    Read naively (slices stacked along their normal) only about a third of the tilted
    scan's bone voxels fall on bone in the untilted 1 mm scan; corrected, over 90% do.
    """
    from scipy import ndimage

    (info,) = list_series(DATA / "head-phantom-tilted")
    tilted = load_volume(DATA / "head-phantom-tilted")
    straight = load_volume(DATA / "head-phantom-study")

    assert info.gantry_tilt_deg == pytest.approx(-18.5, abs=0.05) and info.n_images == 54
    assert any("gantry tilt -18.5 deg corrected" in note for note in tilted.notes)
    np.testing.assert_allclose(tilted.direction.T @ tilted.direction, np.eye(3), atol=1e-6)
    bone = tilted.index_to_lps(np.argwhere(tilted.hu > 400))
    idx = straight.lps_to_index(bone)
    inside = np.all((idx >= 0) & (idx <= np.array(straight.shape) - 1), axis=1)
    assert inside.sum() > 300_000
    there = ndimage.map_coordinates(straight.hu, idx[inside].T, order=1)
    assert np.mean(there > 300) > 0.9


def test_missing_rescale_is_noted(tmp_path):
    paths = _simple_series(tmp_path, n=3, intercept=0.0)
    for p in paths:
        ds = pydicom.dcmread(p)
        del ds.RescaleSlope, ds.RescaleIntercept
        ds.save_as(p)

    vol = load_volume(tmp_path)

    assert vol.hu.min() == -1000 and vol.hu.dtype == np.int16
    assert any("no RescaleSlope/RescaleIntercept" in note for note in vol.notes)


def test_a_series_copied_twice_is_read_once(tmp_path):
    files = _simple_series(tmp_path / "a", n=5)
    for f in files:
        (tmp_path / "copy").mkdir(exist_ok=True)
        (tmp_path / "copy" / f.name).write_bytes(f.read_bytes())

    vol = load_volume(tmp_path)

    assert vol.shape == (10, 12, 5)
    assert "ignored 5 duplicate copies of images" in vol.notes


# --- every syntax the sample writer makes, read back; damaged compressed slices named -------


def _small_volume() -> Volume:
    stack = (np.arange(6 * 32 * 40, dtype=np.int16).reshape(6, 32, 40) % 997) * 3 - 1000
    return Volume(hu=stack.transpose(2, 1, 0), affine=np.diag([0.5, 0.5, 2.0, 1.0]))


@pytest.mark.parametrize("compress", [None, "rle", "jpeg2000", "deflate"])
def test_every_syntax_the_writer_makes_is_read_back(tmp_path, compress):
    # a deflated series was refused: "pixel data unreadable (no pixel data after the
    # header)" for every file (its data set, pixel data included, is compressed)
    from planner.samples import write_ct_series

    volume = _small_volume()
    write_ct_series(volume, tmp_path / "s", compress=compress)
    back = load_volume(tmp_path / "s")
    np.testing.assert_array_equal(back.hu, volume.hu)
    np.testing.assert_allclose(back.affine, volume.affine)


def test_a_damaged_rle_slice_is_named_not_a_crash(tmp_path):
    # the RLE decoder (Rust) panics on a damaged segment: a PanicException, which is no
    # Exception, went through as a traceback
    from planner.samples import write_ct_series

    paths = write_ct_series(_small_volume(), tmp_path / "s", compress="rle", uid_seed="x")
    data = bytearray(paths[3].read_bytes())
    start = data.rindex(b"\xe0\x7f\x10\x00") + 40  # in the first fragment, past its header
    rng = random.Random(7)  # these 50 bytes made it panic (index out of bounds)
    for _ in range(50):
        data[rng.randrange(start, len(data))] ^= 0xFF
    paths[3].write_bytes(bytes(data))
    with pytest.raises(PlannerError, match=rf"pixel data of file {paths[3].name}"):
        load_volume(tmp_path / "s")


# --- Enhanced CT: one file of many frames, its geometry in functional groups ------------------


@pytest.mark.parametrize("syntax", [None, RLELossless], ids=["native", "rle"])
@pytest.mark.parametrize("per_frame_rescale", [False, True], ids=["shared", "per-frame"])
def test_an_enhanced_ct_file_is_read_frame_by_frame(tmp_path, syntax, per_frame_rescale):
    # newer scanners export one multi-frame file; it was refused ("multi-frame or colour
    # images are not supported")
    hu = phantom_hu(7, (24, 28))
    positions = np.array([[-5.0, 3.0, 2.5 * k] for k in range(7)])[::-1]  # stored top down
    write_enhanced_ct(
        tmp_path / "in" / "ENH.dcm",
        hu,
        positions=positions,
        per_frame_rescale=per_frame_rescale,
        transfer_syntax=syntax,
    )
    vol = load_volume(tmp_path / "in")
    # sorted inferior to superior: the frames come back in reverse
    np.testing.assert_array_equal(vol.hu, hu[::-1].transpose(2, 1, 0))
    np.testing.assert_allclose(vol.spacing_mm, [0.7, 0.8, 2.5])
    np.testing.assert_allclose(vol.affine[:3, 3], [-5.0, 3.0, 0.0])


def test_an_enhanced_ct_frame_without_a_position_is_named(tmp_path):
    path = write_enhanced_ct(tmp_path / "in" / "ENH.dcm", phantom_hu(5, (16, 16)))
    ds = pydicom.dcmread(path)
    del ds.PerFrameFunctionalGroupsSequence[2].PlanePositionSequence
    ds.save_as(path)
    with pytest.raises(PlannerError, match=r"no position.*ENH\.dcm \(frame 3\)"):
        load_volume(tmp_path / "in")

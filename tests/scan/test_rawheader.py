"""The fast header reader gives pydicom's answer on every file, or hands the file to pydicom.

:func:`planner.scan.header.read_header` reads a well-formed file from one bulk read of its
first bytes (:mod:`planner.scan.rawheader`) and anything else with pydicom. The two must
agree on every file: well-formed ones of every kind written here and in the shared data,
and thousands of damaged ones (bytes changed, cut, removed or inserted in the header).
"""

from __future__ import annotations

import dataclasses
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import ImplicitVRLittleEndian, JPEG2000Lossless, RLELossless

from planner.scan.dicom import load_volume
from planner.scan.header import HEADER_BYTES, read_header
from planner.scan.rawheader import NEED_MORE, RawFields, parse
from planner.scan.sources import FileRef
from tests.scan.dicomfactory import edit, phantom_hu, write_dicomdir, write_series
from tests.shared import SHARED_DATA

HU = phantom_hu(4, (32, 32))


def _answer(path: Path, *, fast: bool):
    """What read_header says about ``path``, comparable between the two readers."""
    found = read_header(FileRef.on_disk(path), fast=fast)
    if isinstance(found, tuple):
        uid, meta, im = found
        fields = {f.name: getattr(im, f.name) for f in dataclasses.fields(im) if f.name != "ref"}
        return uid, meta, fields
    if hasattr(found, "reason"):
        return type(found).__name__, found.reason, found.series_uid
    return found


def _read_fast(path: Path) -> bool:
    data = path.read_bytes()
    return isinstance(parse(data, whole=True), RawFields)


def _implicit(folder: Path) -> list[Path]:
    paths = write_series(folder, HU)
    for p in paths:
        ds = pydicom.dcmread(p)
        ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
        ds.save_as(p, enforce_file_format=True)
    return paths


KINDS = {
    "explicit": lambda f: write_series(f, HU),
    "implicit": _implicit,
    "unsigned": lambda f: write_series(f, HU, unsigned=True, intercept=-1100),
    "rle": lambda f: write_series(f, HU, transfer_syntax=RLELossless),
    "jpeg2000": lambda f: write_series(f, HU, transfer_syntax=JPEG2000Lossless),
    "dicomdir": lambda f: [write_dicomdir(f / "dd", write_series(f, HU, patient_id="SYN1"))],
}


@pytest.mark.parametrize("kind", KINDS)
def test_well_formed_files_are_read_fast_and_as_pydicom_reads_them(tmp_path, kind):
    paths = KINDS[kind](tmp_path)

    for p in paths:
        assert _read_fast(p), p.name
        assert _answer(p, fast=True) == _answer(p, fast=False)


def _mutate(data: bytes, rng: random.Random, header_end: int) -> bytes:
    out = bytearray(data)
    end = min(len(out), header_end + 16)
    op = rng.randrange(4)
    at = rng.randrange(128, end)
    if op == 0:  # change a few bytes
        for _ in range(rng.randint(1, 4)):
            out[rng.randrange(128, end)] = rng.randrange(256)
    elif op == 1:  # cut the file short
        del out[at:]
    elif op == 2:  # drop bytes
        del out[at : at + rng.randint(1, 8)]
    else:  # insert bytes
        out[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    return bytes(out)


@pytest.mark.parametrize("kind", ["explicit", "implicit", "rle", "dicomdir"])
def test_damaged_headers_get_pydicoms_answer(tmp_path, kind):
    source = KINDS[kind](tmp_path / "src")[0]
    data = source.read_bytes()
    found = read_header(FileRef.on_disk(source))
    header_end = found[2].offset if isinstance(found, tuple) else len(data)
    rng = random.Random(7)
    target = tmp_path / "damaged.dcm"
    fast = 0
    for _ in range(150):
        target.write_bytes(_mutate(data, rng, header_end))
        fast += _read_fast(target)
        assert _answer(target, fast=True) == _answer(target, fast=False)
    assert 0 < fast < 150  # both readers were exercised


def test_a_file_cut_inside_the_pixel_data_element_header_is_read_as_pydicom_does(tmp_path):
    path = KINDS["explicit"](tmp_path / "src")[0]
    data = path.read_bytes()
    offset = read_header(FileRef.on_disk(path))[2].offset
    target = tmp_path / "cut.dcm"
    for cut in range(offset - 4, offset + 16):
        target.write_bytes(data[:cut])
        assert _answer(target, fast=True) == _answer(target, fast=False), cut


def test_a_header_longer_than_the_first_read_is_read_whole(tmp_path):
    path = write_series(tmp_path, HU)[0]
    ds = pydicom.dcmread(path)
    ds.add_new(0x00291010, "OB", b"\x00" * (HEADER_BYTES + 1000))  # a large private element
    ds.save_as(path)
    data = path.read_bytes()

    assert parse(data[:HEADER_BYTES], whole=False) == NEED_MORE
    assert _read_fast(path)
    answer = _answer(path, fast=True)
    assert answer == _answer(path, fast=False)
    assert answer[2]["offset"] > HEADER_BYTES


@pytest.mark.parametrize(
    ("charset", "description", "fast"),
    [
        (None, "HEAD 1MM", True),
        ("ISO_IR 100", "HEAD 1MM", True),
        ("ISO_IR 100", "Schädel 1mm", False),  # latin-1: pydicom decodes it
        ("ISO_IR 192", "頭部 1mm", False),  # UTF-8
    ],
)
def test_series_descriptions_are_decoded_by_their_character_set(
    tmp_path, charset, description, fast
):
    path = write_series(tmp_path, HU)[0]
    if charset:
        edit(path, SpecificCharacterSet=charset)
    edit(path, SeriesDescription=description)

    assert _read_fast(path) == fast
    answer = _answer(path, fast=True)
    assert answer == _answer(path, fast=False)
    assert answer[1]["description"] == description


def _shared_sample() -> list[Path]:
    folder = SHARED_DATA / "dicom"
    if not folder.is_dir():
        return []
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.suffix == ".txt")
    return files[::7] + [p for p in files if p.name == "DIRFILE"]


@pytest.mark.skipif(not _shared_sample(), reason=f"real scans not found at {SHARED_DATA}")
def test_real_files_are_read_fast_and_as_pydicom_reads_them():
    for path in _shared_sample():
        assert _read_fast(path), path
        assert _answer(path, fast=True) == _answer(path, fast=False), path


def test_a_native_series_loads_without_importing_pydicom(tmp_path):
    write_series(tmp_path, HU)
    code = (
        "import sys; from planner.scan.dicom import load_volume; "
        f"v = load_volume({str(tmp_path)!r}); print(v.shape, 'pydicom' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["(32,", "32,", "4)", "False"]


def test_stored_bits_narrower_than_16_are_sign_extended_in_place(tmp_path):
    hu = np.array([-2048.0, -1000.0, -1.0, 0.0, 40.0, 2047.0] * 16).reshape(1, 6, 16)
    paths = write_series(tmp_path, np.repeat(hu, 3, axis=0), intercept=0)
    for p in paths:
        edit(p, BitsStored=12, HighBit=11)
        data = bytearray(p.read_bytes())  # set the 4 unused high bits, as some scanners do
        raw = np.frombuffer(data[-6 * 16 * 2 :], "<u2") | 0xF000
        data[-6 * 16 * 2 :] = raw.tobytes()
        p.write_bytes(bytes(data))

    vol = load_volume(tmp_path)

    np.testing.assert_array_equal(vol.hu.transpose(2, 1, 0)[0], hu[0])


def test_an_intercept_beyond_int16_still_gives_int16_hu(tmp_path):
    hu = np.rint(phantom_hu(3, (16, 16)))
    write_series(tmp_path, hu, unsigned=True, intercept=-40000)

    vol = load_volume(tmp_path)

    assert vol.hu.dtype == np.int16
    np.testing.assert_array_equal(vol.hu.transpose(2, 1, 0), hu)

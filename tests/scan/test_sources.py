"""Inputs: a zip is read member by member, never unpacked, and refused beyond its limits."""

from __future__ import annotations

import tempfile
import zipfile

import numpy as np
import pytest

from planner.errors import PlannerError
from planner.scan.dicom import list_series, load_volume
from planner.scan.sources import FileRef, open_source
from tests.scan.dicomfactory import phantom_hu, write_series, zip_folder

HU = phantom_hu(6, (32, 32))


@pytest.fixture
def archive(tmp_path):
    write_series(tmp_path / "disk" / "S1", HU)
    (tmp_path / "disk" / "readme.txt").write_text("junk")
    return zip_folder(tmp_path / "disk", tmp_path / "export.zip")


def test_a_zip_is_read_in_memory_without_a_temporary_folder(archive, tmp_path, monkeypatch):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))

    def no_extract(*args, **kwargs):
        raise AssertionError("the archive was unpacked")

    monkeypatch.setattr(zipfile.ZipFile, "extractall", no_extract)
    monkeypatch.setattr(zipfile.ZipFile, "extract", no_extract)

    vol = load_volume(archive)

    np.testing.assert_array_equal(vol.hu.transpose(2, 1, 0), HU)
    assert "skipped 1 non-DICOM file" in vol.notes
    assert list(scratch.iterdir()) == []


def test_members_are_named_by_their_own_file_name(archive):
    with open_source(archive) as (refs, label):
        assert label == str(archive)
        assert sorted(r.name for r in refs) == [f"CT{k:04d}.dcm" for k in range(6)] + [
            "readme.txt"
        ]
        assert all(r.path is None and r.member.startswith("export/") for r in refs)
        assert refs[0].head(4) == refs[0].open().read(4)


def test_a_zip_beyond_the_size_limit_is_refused_before_reading(archive):
    with pytest.raises(PlannerError) as err:
        list_series(archive, max_unzipped_bytes=10_000)
    message = str(err.value)
    assert "would expand to" in message and "more than the" in message and "limit" in message


def test_a_zip_bomb_member_is_refused(tmp_path):
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("export/IM0001", bytes(16 * 1024**2))  # 16 MiB of zeros -> ~16 kB
    with pytest.raises(PlannerError, match=r"member IM0001 would expand [\d,]+-fold .*zip bomb"):
        load_volume(bomb)


def test_a_damaged_member_is_named_not_skipped_as_non_dicom(archive, tmp_path):
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo("export/S1/CT0003.dcm")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start + 200 : start + 260] = bytes(60)  # break its deflate stream
    broken = tmp_path / "broken.zip"
    broken.write_bytes(bytes(data))

    with pytest.raises(PlannerError) as err:
        load_volume(broken)
    message = str(err.value)
    assert "gap between CT0002.dcm and CT0004.dcm" in message
    assert "CT0003.dcm looks like DICOM but could not be read" in message


def test_file_refs_on_disk(tmp_path):
    path = tmp_path / "x.bin"
    path.write_bytes(b"0123456789")
    ref = FileRef.on_disk(path)
    assert ref.name == "x.bin" and ref.head(3) == b"012"
    with ref.open() as f:
        f.seek(5)
        assert f.read() == b"56789"


def test_prefetch_is_only_a_hint_and_never_fails(archive, tmp_path):
    path = tmp_path / "x.bin"
    path.write_bytes(b"0123456789")
    gone = FileRef.on_disk(tmp_path / "gone.bin")
    with open_source(archive) as (refs, _):
        for ref in [FileRef.on_disk(path), gone, refs[0]]:
            assert ref.prefetch(0, 1 << 16) is None
    assert path.read_bytes() == b"0123456789"


def test_a_zip_cut_short_is_named_damaged(archive, tmp_path):
    # its table of contents is at the end: cut in half, it was "no DICOM file (1 checked)"
    cut = tmp_path / "cut.zip"
    cut.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    with pytest.raises(PlannerError, match=r"cut\.zip is a damaged zip archive .* copy it again"):
        load_volume(cut)


def test_a_zip_in_a_zip_is_named(archive, tmp_path):
    # it said "no DICOM file in outer.zip (1 checked)"
    outer = tmp_path / "outer.zip"
    with zipfile.ZipFile(outer, "w") as zf:
        zf.write(archive, "export.zip")
    with pytest.raises(
        PlannerError, match=r"no DICOM file in .*outer\.zip, but it holds export\.zip"
    ):
        load_volume(outer)

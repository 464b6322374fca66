"""Tests for the labels written for 3D Slicer, and read back from it (the round trip).

Slicer's own reader of ``.seg.nrrd`` files (slicerio, by the 3D Slicer developers) reads
what is written; a segmentation Slicer writes with overlapping segments (several layers)
and segments named by the user are read back by ``--labels``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from planner.bone.label_export import SEGMENTATION_FILE, segmentation_file
from planner.bone.label_import import bone_labels_from_file, labels_on_grid, read_label_volume
from planner.cli.main import main
from planner.scan.volume import Volume

slicerio = pytest.importorskip("slicerio")


def oblique_grid(shape=(30, 34, 22)):
    """Labels on a turned, anisotropic grid: skull 1 (a slab), mandible 2 (a bar)."""
    angle = np.radians(25.0)
    turn = np.array(
        [[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]]
    )
    affine = np.eye(4)
    affine[:3, :3] = turn @ np.diag([0.7, 0.9, 1.5])
    affine[:3, 3] = [-12.0, 30.0, -80.0]
    labels = np.zeros(shape, dtype=np.uint8)
    labels[6:20, 5:30, 12:18] = 1
    labels[9:14, 8:25, 3:8] = 2
    return labels, affine


def written(tmp_path, labels, affine, names=None, box=None):
    path = tmp_path / SEGMENTATION_FILE
    path.write_bytes(segmentation_file(labels, affine, names or {1: "skull", 2: "mandible"}, box))
    return path


def test_slicer_reads_the_segments_where_the_bone_is(tmp_path):
    labels, affine = oblique_grid()
    path = written(tmp_path, labels, affine)
    seg = slicerio.read_segmentation(str(path))
    # cropped to the labels' box: (6..19, 5..29, 3..17), its first voxel the new origin
    assert seg["voxels"].shape == (14, 25, 15)
    assert seg["referenceImageExtentOffset"] == [6, 5, 3]
    expected = affine.copy()
    expected[:3, 3] = affine[:3, :3] @ [6, 5, 3] + affine[:3, 3]
    np.testing.assert_allclose(seg["ijkToLPS"], expected, atol=1e-9)
    np.testing.assert_array_equal(seg["voxels"], labels[6:20, 5:30, 3:18])
    segments = {s["name"]: s for s in seg["segments"]}
    assert {n: s["labelValue"] for n, s in segments.items()} == {"skull": 1, "mandible": 2}
    assert all(s["layer"] == 0 for s in segments.values())
    # each segment's voxels, as Slicer extracts them, are the bone's
    skull = slicerio.extract_segments(seg, [("skull", 1)])
    assert np.count_nonzero(skull["voxels"]) == np.count_nonzero(labels == 1)


def test_the_file_read_back_lies_on_the_scan_voxel_for_voxel(tmp_path):
    labels, affine = oblique_grid()
    path = written(tmp_path, labels, affine)
    source = read_label_volume(path)
    assert source.names == {1: "skull", 2: "mandible"}
    volume = Volume(hu=np.zeros(labels.shape, dtype=np.int16), affine=affine)
    np.testing.assert_array_equal(labels_on_grid(source, volume), labels)
    # a box given is the part written; empty labels give the whole grid
    box = (slice(0, 30), slice(0, 34), slice(0, 22))
    whole = read_label_volume(written(tmp_path, labels, affine, box=box))
    assert whole.labels.shape == labels.shape
    empty = slicerio.read_segmentation(
        str(written(tmp_path, np.zeros_like(labels), affine, names={1: "skull"}))
    )
    assert empty["voxels"].shape == labels.shape


def test_a_segmentation_with_overlapping_segments_is_read_by_their_names(tmp_path):
    # as 3D Slicer saves segments that overlap: one layer each, each value 1; the user
    # named them, and listed the mandible first
    labels, affine = oblique_grid()
    overlap = np.zeros(labels.shape, dtype=bool)
    overlap[9:14, 8:25, 8:12] = True  # the two painted over each other between them
    layers = np.stack([(labels == 2) | overlap, (labels == 1) | overlap]).astype(np.uint8)
    segmentation = {
        "voxels": layers,
        "ijkToLPS": affine,
        "containedRepresentationNames": ["Binary labelmap"],
        "segments": [
            {"id": "s1", "name": "Mandible", "labelValue": 1, "layer": 0},
            {"id": "s2", "name": "Skull", "labelValue": 1, "layer": 1},
        ],
    }
    path = tmp_path / "edited.seg.nrrd"
    slicerio.write_segmentation(str(path), segmentation)
    source = read_label_volume(path)
    assert source.names == {1: "Mandible", 2: "Skull"}
    # where they overlap the later segment is kept, as Slicer's own export to a label map
    volume = Volume(hu=np.where(layers.any(axis=0), 1000, -1000).astype(np.int16), affine=affine)
    on_ct = labels_on_grid(source, volume)
    assert np.all(on_ct[overlap] == 2)
    assert np.all(on_ct[labels == 2] == 1) and np.all(on_ct[(labels == 1) & ~overlap] == 2)
    seg = bone_labels_from_file(volume, path)
    assert seg.label_values == {"mandible": 1, "skull": 2}
    assert "(the segments so named)" in seg.notes[0]
    assert np.count_nonzero(seg.labels == 2) == np.count_nonzero(labels == 2)
    # values given win over the names
    given = bone_labels_from_file(volume, path, {"skull": 2})
    assert given.label_values == {"skull": 2}


def test_segment_writes_the_labels_and_takes_them_back(sample_dicom, sample_models_dir, tmp_path):
    """The round trip: the labels planner wrote, given back with --labels, make the same
    models (as a user would after checking them in Slicer)."""
    made = json.loads((sample_models_dir / "models" / "models.json").read_text())
    assert made["segmentation_file"] == SEGMENTATION_FILE
    labels_file = sample_models_dir / "models" / SEGMENTATION_FILE
    seg = slicerio.read_segmentation(str(labels_file))
    assert [s["name"] for s in seg["segments"]] == ["skull", "mandible"]
    case_dir = tmp_path / "again"
    assert (
        main(["segment", str(sample_dicom), "-o", str(case_dir), "--labels", str(labels_file)])
        == 0
    )
    again = json.loads((case_dir / "models" / "models.json").read_text())
    assert again["label_values"] == {"skull": 1, "mandible": 2}
    for before, after in zip(made["models"], again["models"], strict=True):
        assert after["name"] == before["name"]
        assert after["volume_mm3"] == pytest.approx(before["volume_mm3"], rel=1e-3)
    assert (
        main(
            ["segment", str(sample_dicom), "-o", str(tmp_path / "x"), "--label-values", "skull=1"]
        )
        == 2
    )

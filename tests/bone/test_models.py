"""The CT-to-models stage on the synthetic sample, through a real DICOM series."""

import numpy as np
import pytest
from scipy import ndimage as ndi

from planner.bone.models import build_models, read_models, write_models
from planner.bone.surface import extract_surface
from planner.samples import make_head, write_ct_series
from planner.samples.head import volume_at_threshold_mm3


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    head = make_head()
    folder = tmp_path_factory.mktemp("sample") / "dicom"
    write_ct_series(head.volume, folder)
    result = build_models(folder)
    expected = volume_at_threshold_mm3(result.threshold_hu, head.volume.spacing_mm)
    return head, result, expected


def test_models_are_separate_watertight_bodies(sample):
    _, result, _ = sample
    assert [m.name for m in result.models] == ["skull", "mandible"]
    assert result.threshold_hu == 300.5
    for m in result.models:
        assert m.mesh.is_watertight and m.mesh.is_winding_consistent
        assert m.mesh.volume > 0
        assert m.deviation_max_mm <= 0.5
    assert result.model("mandible").mesh.body_count == 1
    assert any("head holder" in n for n in result.notes)


def test_bone_volumes_match_the_known_answers(sample):
    head, result, expected = sample
    # 1. the segmentation: a perfect labelling gives each voxel above the threshold to
    # the true bone nearest it (within 2 voxels: the partial-volume rim); meshed at the
    # same threshold, it gives the volumes the segmentation should reach
    bones = np.where(head.labels <= 2, head.labels, 0)
    dist, idx = ndi.distance_transform_edt(bones == 0, return_indices=True)
    perfect = np.where((head.volume.hu > result.threshold_hu) & (dist <= 2), bones[tuple(idx)], 0)
    for name, label in (("skull", 1), ("mandible", 2)):
        truth = extract_surface(head.volume, perfect, label, threshold_hu=result.threshold_hu)
        assert result.model(name).mesh.volume == pytest.approx(truth.volume, rel=0.02), name
    # 2. the physics: the true bones grown by the partial-volume offset of the sample's
    # scanner model (0.33 mm at 300.5 HU). First order only (it leaves out enamel, bone
    # contacts and plates thinner than a voxel), hence the wider band.
    for name in ("skull", "mandible"):
        got = result.model(name).mesh.volume
        assert got == pytest.approx(expected[name], rel=0.06), name


def test_landmarks_land_on_the_right_model(sample):
    head, result, _ = sample
    mandible = result.model("mandible").mesh
    skull = result.model("skull").mesh
    lm = head.truth.landmarks_mm
    # the chin is the mandible's most anterior point (-y), the menton its lowest
    assert mandible.vertices[:, 1].min() == pytest.approx(lm["chin"][1], abs=1.0)
    assert mandible.vertices[:, 2].min() == pytest.approx(lm["menton"][2], abs=1.0)
    # the upper incisor's tip is on the skull model, the lower one's on the mandible

    def gap(mesh, point):
        return np.linalg.norm(mesh.vertices - point, axis=1).min()

    assert gap(skull, lm["upper_incisor"]) < 1.0 < 5.0 < gap(mandible, lm["upper_incisor"])
    assert gap(mandible, lm["lower_incisor"]) < 1.0


def test_models_round_trip_through_the_case_folder(sample, tmp_path):
    _, result, _ = sample
    write_models(result, tmp_path)
    meshes = read_models(tmp_path)
    for m in result.models:
        assert meshes[m.name].volume == pytest.approx(m.mesh.volume, rel=1e-6)
        header = (tmp_path / "models" / f"{m.name}.stl").read_bytes()[:80]
        assert b"Anonymous" not in header and b"SAMPLE" not in header


def test_condylar_heads_belong_to_the_mandible(sample):
    # the top of each condylar head is a level ridge about 4 mm long: the mandible must
    # reach the landmark's height there (not stop at the neck, 2-3 mm lower)
    head, result, _ = sample
    mandible = result.model("mandible").mesh
    for side in ("left", "right"):
        top = np.asarray(head.truth.landmarks_mm[f"condyle_{side}"])
        near = mandible.vertices[np.linalg.norm(mandible.vertices[:, :2] - top[:2], axis=1) < 4]
        assert len(near) and near[:, 2].max() == pytest.approx(top[2], abs=0.6), side

"""The CT-to-models stage on the synthetic sample, through a real DICOM series."""

import numpy as np
import pytest

from planner.models import build_models, read_models, write_models
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


def test_bone_volumes_match_the_known_answer(sample):
    # the known answer at this threshold: the true bones grown by the partial-volume
    # offset of the sample's scanner model (0.33 mm at 300.5 HU)
    _, result, expected = sample
    mandible = result.model("mandible").mesh.volume
    assert mandible == pytest.approx(expected["mandible"], rel=0.02)
    # the skull has plates thinner than a voxel whose partial volume the first-order
    # answer leaves out: looser
    assert result.model("skull").mesh.volume == pytest.approx(expected["skull"], rel=0.05)


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


@pytest.mark.xfail(
    strict=True,
    reason="known weakness: where a condyle touches its fossa over a wider area than its "
    "neck, the watershed gives the top of the condylar head to the skull",
)
def test_condyles_are_the_mandibles_highest_points(sample):
    head, result, _ = sample
    mandible = result.model("mandible").mesh
    for side, sign in (("left", 1), ("right", -1)):
        half = mandible.vertices[sign * mandible.vertices[:, 0] > 0]
        top = half[np.argmax(half[:, 2])]
        assert np.linalg.norm(top - head.truth.landmarks_mm[f"condyle_{side}"]) < 2.0

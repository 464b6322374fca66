"""Tests of the synthetic head sample (planner.samples): anatomy, ground truth, DICOM."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from scipy import ndimage

from planner.errors import PlannerError
from planner.samples import (
    GAP_MM,
    HU,
    LABELS,
    head_truth,
    make_head,
    sdf,
    signed_distance,
    write_ct_series,
)
from planner.samples import head as head_module
from planner.samples.anatomy import grid_fields
from planner.scan.volume import Volume


@pytest.fixture(scope="module")
def head():
    return make_head()


@pytest.fixture(scope="module")
def truth():
    return head_truth()


def _index(volume: Volume, point) -> tuple[int, int, int]:
    return tuple(int(v) for v in np.rint(volume.lps_to_index(np.asarray(point, float))))


def _centres(volume: Volume, mask: np.ndarray) -> np.ndarray:
    return volume.index_to_lps(np.argwhere(mask).astype(float))


# ----------------------------------------------------------------------------- grid
def test_default_volume_grid_and_layout(head):
    v = head.volume
    assert v.shape == (160, 160, 140) == head.labels.shape
    assert v.hu.dtype == np.int16 and head.labels.dtype == np.uint8
    np.testing.assert_allclose(v.spacing_mm, [1.1, 1.1, 1.1])
    np.testing.assert_allclose(v.direction, np.eye(3))
    # stored as a transposed view of a C-ordered slice stack (ravel(order="F") is free)
    assert v.hu.T.flags["C_CONTIGUOUS"] and head.labels.T.flags["C_CONTIGUOUS"]
    centre = v.bounds_mm().mean(axis=0)
    assert np.all(np.abs(centre) < 5.0)
    assert set(np.unique(head.labels)) == set(LABELS.values())


def test_grid_options_and_errors():
    small = make_head(spacing_mm=(2.0, 2.2, 2.5), noise_hu=0.0)
    np.testing.assert_allclose(small.volume.spacing_mm, [2.0, 2.2, 2.5])
    assert small.volume.shape == (88, 80, 62)
    sized = make_head(spacing_mm=2.0, shape=(80, 82, 72), noise_hu=0.0)
    assert sized.volume.shape == (80, 82, 72)
    with pytest.raises(ValueError, match="does not cover"):
        make_head(spacing_mm=1.0, shape=(100, 100, 100))
    with pytest.raises(ValueError, match="spacing_mm"):
        make_head(spacing_mm=0.0)
    with pytest.raises(ValueError, match="noise_hu"):
        make_head(spacing_mm=3.0, noise_hu=-1.0)


def test_deterministic_and_seeded():
    a = make_head(spacing_mm=2.5, seed=3)
    b = make_head(spacing_mm=2.5, seed=3)
    c = make_head(spacing_mm=2.5, seed=4)
    clean = make_head(spacing_mm=2.5, noise_hu=0.0)
    assert np.array_equal(a.volume.hu, b.volume.hu)
    assert not np.array_equal(a.volume.hu, c.volume.hu)
    assert np.array_equal(a.labels, clean.labels)
    noise = a.volume.hu.astype(float) - clean.volume.hu
    air = clean.volume.hu == HU["air"]
    assert air.sum() > 10_000
    assert abs(noise[air].std() - 20.0) < 1.0 and abs(noise[air].mean()) < 1.0


def test_tissue_values(head):
    hu, lab = head.volume.hu, head.labels
    clean = make_head(noise_hu=0.0).volume.hu
    assert np.median(hu[:3, :3, :]) == pytest.approx(HU["air"], abs=5)
    # cortical bone at its value, thick bone has a cancellous core, teeth are brighter
    bone = clean[lab == LABELS["skull"]]
    assert np.mean(np.abs(bone - HU["cortical"]) < 2) > 0.1  # voxels wholly in cortex
    assert np.any((clean[lab == LABELS["mandible"]] < 700) & (clean[lab == 2] > 350))
    assert clean.max() > 2000
    holder = clean[lab == LABELS["holder"]]
    assert 400 <= np.median(holder) <= 600
    # soft tissue between the chin and the skin
    truth = head.truth
    i, j, k = _index(head.volume, truth.landmarks_mm["chin"] + [0, -3.3, 0])
    assert 20 <= clean[i, j, k] <= 70


# ----------------------------------------------------------------------- anatomy
def test_lps_orientation(head, truth):
    lm = truth.landmarks_mm
    assert lm["chin"][1] < -30 and lm["upper_incisor"][1] < lm["chin"][1]  # face anterior
    assert lm["condyle_left"][0] > 30 and lm["condyle_right"][0] < -30  # left is +x
    assert lm["gonion_left"][0] > 0 and lm["gonion_left"][1] > lm["chin"][1] + 30
    assert lm["nasion"][2] > lm["upper_incisor"][2] > lm["menton"][2]  # z superior
    skull = _centres(head.volume, head.labels == LABELS["skull"])
    assert skull[:, 1].max() > 60 and skull[:, 1].min() < -55  # occiput posterior
    assert skull[:, 2].max() > 60  # vertex up
    holder = _centres(head.volume, head.labels == LABELS["holder"])
    assert holder[:, 1].min() > skull[:, 1].max() - 50  # the holder is behind the head


def test_landmarks_on_their_bone(truth):
    lm = truth.landmarks_mm
    for name in ("chin", "menton", "condyle_left", "condyle_right", "gonion_left"):
        assert abs(signed_distance(lm[name], "mandible")) < 0.02, name
    assert abs(signed_distance(lm["gonion_right"], "mandible")) < 0.02
    assert abs(signed_distance(lm["lower_incisor"], "lower_teeth")) < 0.02
    assert abs(signed_distance(lm["upper_incisor"], "upper_teeth")) < 0.02
    assert abs(signed_distance(lm["nasion"], "skull")) < 0.02
    for name in ("chin", "menton", "gonion_left", "condyle_left", "lower_incisor"):
        assert signed_distance(lm[name], "skull") > GAP_MM - 1e-6, name
    # mirror symmetry
    for a in ("condyle", "gonion"):
        np.testing.assert_allclose(lm[f"{a}_left"], lm[f"{a}_right"] * [-1, 1, 1], atol=0.05)
    assert lm["nasion"][0] == 0.0 and lm["nasion"][1] < -55.0


def test_extreme_landmarks_are_extreme(truth):
    """Pogonion is the most anterior mandible point, menton the lowest, condyles the top."""
    lm = truth.landmarks_mm
    lo = np.array([-45.0, -48.0, -60.0])
    xs, ys, zs = (np.arange(a, b, 0.4) for a, b in zip(lo, [45.0, 15.0, -12.0], strict=True))
    d = grid_fields(xs, ys, zs, names=("mandible",))["mandible"]
    _i, j, k = np.nonzero(d <= 0)
    assert ys[j].min() >= lm["chin"][1] - 0.05
    assert zs[k].min() >= lm["menton"][2] - 0.05
    assert zs[k].max() <= lm["condyle_left"][2] + 0.05


def test_retruded_mandible_and_ramus_height(truth):
    lm = truth.landmarks_mm
    overjet = lm["chin"][1] - lm["upper_incisor"][1]
    assert 8.0 <= overjet <= 12.0
    assert lm["lower_incisor"][1] - lm["upper_incisor"][1] > 8.0
    for side in ("left", "right"):
        ramus = lm[f"condyle_{side}"][2] - lm[f"gonion_{side}"][2]
        assert 25.0 <= ramus <= 40.0


def test_mandible_is_a_separate_bone_in_the_sdfs(truth):
    """The true gap exists everywhere: no point is in both bones or within GAP_MM / 2."""
    lo = np.array([-45.0, -50.0, -60.0])
    xs, ys, zs = (np.arange(a, b, 0.4) for a, b in zip(lo, [45.0, 15.0, -14.0], strict=True))
    f = grid_fields(xs, ys, zs, names=("skull", "mandible"))
    assert not np.any((f["skull"] < 0) & (f["mandible"] < 0))
    both = np.maximum(f["skull"], f["mandible"])  # >= gap / 2 when the bones are gap apart
    assert both.min() > 0.5 * GAP_MM - 0.4 * 0.5  # on a grid, up to half a cell closer
    labels = np.where(f["mandible"] < 0, 2, np.where(f["skull"] < 0, 1, 0))
    for axis in range(3):  # no face neighbours between skull and mandible at 0.4 mm
        a, b = np.moveaxis(labels, axis, 0)[:-1], np.moveaxis(labels, axis, 0)[1:]
        assert not np.any((a == 1) & (b == 2) | (a == 2) & (b == 1))
    # and the bones do meet: the measured gap at each contact is GAP_MM
    for name, p in truth.contacts_mm.items():
        offsets = np.mgrid[-1:1.01:0.05, -1:1.01:0.05, -1:1.01:0.05].reshape(3, -1).T
        pts = p + offsets
        gap = signed_distance(pts, "skull") + signed_distance(pts, "mandible")
        assert gap.min() == pytest.approx(GAP_MM, abs=0.05), name


def test_naive_threshold_joins_mandible_and_skull(head, truth):
    """The point of the sample: at scan resolution, bone above 300 HU is one piece."""
    mask = head.volume.hu > 300
    cc, _ = ndimage.label(mask)  # face connectivity, the strictest
    skull_cc = np.unique(cc[(head.labels == LABELS["skull"]) & mask])
    mand_cc = np.unique(cc[(head.labels == LABELS["mandible"]) & mask])
    assert len(mand_cc) == 1 and mand_cc[0] in skull_cc
    for name, p in truth.contacts_mm.items():  # each contact bridges on its own
        i, j, k = _index(head.volume, p)
        box = (slice(i - 4, i + 5), slice(j - 4, j + 5), slice(k - 4, k + 5))
        local, _ = ndimage.label(mask[box])
        lab = head.labels[box]
        shared = set(local[lab == 1].ravel()) & set(local[lab == 2].ravel()) - {0}
        assert shared, name


def test_head_holder_does_not_touch_bone(head):
    holder = head.labels == LABELS["holder"]
    bone = (head.labels == LABELS["skull"]) | (head.labels == LABELS["mandible"])
    gap = ndimage.distance_transform_edt(~bone, sampling=head.volume.spacing_mm)
    assert gap[holder].min() > 5.0
    pts = _centres(head.volume, holder)
    assert signed_distance(pts, "skin").min() > 0.0  # the holder is outside the head
    cc, _ = ndimage.label(head.volume.hu > 300)
    assert not (set(cc[holder].ravel()) & set(cc[bone].ravel())) - {0}


def test_skin_covers_bone(head):
    bone = (head.labels == LABELS["skull"]) | (head.labels == LABELS["mandible"])
    pts = _centres(head.volume, bone)
    assert signed_distance(pts, "skin").max() < -3.0


# ---------------------------------------------------------------------------- truth
def test_true_volumes_match_labels(head, truth):
    voxel = head.volume.voxel_volume_mm3
    for name in ("skull", "mandible"):
        counted = np.count_nonzero(head.labels == LABELS[name]) * voxel
        assert counted == pytest.approx(truth.volume_mm3[name], rel=0.03), name
    assert 3_000 < truth.volume_mm3["mandible"] < 30_000 < truth.volume_mm3["skull"]


def test_true_volumes_reintegrate(truth):
    """The stored volumes match a fresh integration of the current anatomy."""
    fresh = head_module._integrate_volumes(0.5)
    for name, value in truth.volume_mm3.items():
        assert fresh[name] == pytest.approx(value, rel=2e-3), (
            f"{name}: stored {value}, integrated {fresh[name]:.1f}: update _TRUE_VOLUME_MM3"
        )
    assert truth.volume_precision <= 1e-3


def test_integration_exact_on_a_sphere():
    sphere = sdf.Capsule([0.3, -0.2, 0.1], [0.3, -0.2, 0.1], 10.0)
    xs = np.arange(-12.0, 12.0, 0.5)
    d = sdf.eval_grid(sphere, xs, xs, xs, band=8.0)
    volume = head_module._ramp(d, 0.5).sum() * 0.5**3
    assert volume == pytest.approx(4 / 3 * np.pi * 1000, rel=2e-3)


def test_plan_osteotomies_separate_the_mandible(truth):
    """Both ramus cuts together leave three pieces: body and two condylar segments."""
    step = 0.4
    lo, hi = np.array([-42.0, -46.0, -59.0]), np.array([42.0, 12.0, -14.0])
    xs, ys, zs = (np.arange(a, b, step) for a, b in zip(lo, hi, strict=True))
    inside = grid_fields(xs, ys, zs, names=("mandible",))["mandible"] < 0
    assert ndimage.label(inside)[1] == 1
    grid = np.stack(np.meshgrid(xs, ys, zs, indexing="ij"), axis=-1)
    for cut in truth.plan["osteotomies"]:
        c, n, u = (np.array(cut[k]) for k in ("centre_mm", "normal", "u_axis"))
        assert abs(n @ u) < 1e-9 and np.linalg.norm(n) == pytest.approx(1.0)
        assert abs(signed_distance(c, "mandible")) < 5.0
        r = grid - c
        kerf = (np.abs(r @ n) < 0.6) & (np.abs(r @ u) < cut["size_mm"][0] / 2)
        kerf &= np.abs(r @ np.cross(n, u)) < cut["size_mm"][1] / 2
        inside &= ~kerf
    cc, _count = ndimage.label(inside)
    sizes = np.bincount(cc.ravel())[1:] * step**3
    big = np.sort(sizes[sizes > 10.0])
    assert len(big) == 3
    assert big[0] == pytest.approx(big[1], rel=0.05) and big[2] > 5 * big[1]


def test_plan_distractors(truth):
    cuts = {c["side"]: c for c in truth.plan["osteotomies"]}
    vectors = []
    for dev in truth.plan["distractors"]:
        cut = cuts[dev["side"]]
        c, n = np.array(cut["centre_mm"]), np.array(cut["normal"])
        fixed, moving = np.array(dev["fixed_point_mm"]), np.array(dev["moving_point_mm"])
        for p in (fixed, moving):
            assert abs(signed_distance(p, "mandible")) < 0.01
            assert np.sign(p[0]) == (1 if dev["side"] == "left" else -1)
        assert (fixed - c) @ n > 3.0 and (moving - c) @ n < -3.0
        v = np.array(dev["vector"])
        assert np.linalg.norm(v) == pytest.approx(1.0)
        assert v[1] < -0.9 and -0.5 < v[2] < 0  # forward, slightly downward
        assert 10.0 <= dev["length_mm"] <= 30.0
        vectors.append(v)
    np.testing.assert_allclose(vectors[0], vectors[1])  # parallel bilateral vectors


def test_signed_distance_checks_arguments():
    with pytest.raises(ValueError, match="part"):
        signed_distance([0, 0, 0], "femur")
    with pytest.raises(ValueError, match="shape"):
        signed_distance([0, 0], "skull")
    assert signed_distance(np.zeros((2, 5, 3)), "brain").shape == (2, 5)


# ---------------------------------------------------------------------------- DICOM
def _read_series(paths):
    return [pydicom.dcmread(p) for p in paths]


def _check_series(volume: Volume, datasets, *, sort: bool = True):
    normal = np.cross(volume.direction[:, 0], volume.direction[:, 1])
    if sort:
        datasets = sorted(datasets, key=lambda d: np.dot(d.ImagePositionPatient, normal))
    assert len(datasets) == volume.shape[2]
    positions = np.array([[float(v) for v in d.ImagePositionPatient] for d in datasets])
    expected = volume.index_to_lps(
        np.column_stack([np.zeros((3, volume.shape[2])).T[:, :2], np.arange(volume.shape[2])])
    )
    np.testing.assert_allclose(positions, expected, atol=1e-4)
    for k, d in enumerate(datasets):
        hu = d.pixel_array.astype(float) * float(d.RescaleSlope) + float(d.RescaleIntercept)
        np.testing.assert_array_equal(hu, np.rint(np.asarray(volume.hu[:, :, k], float)).T)
        np.testing.assert_allclose(
            [float(x) for x in d.ImageOrientationPatient],
            np.concatenate([volume.direction[:, 0], volume.direction[:, 1]]),
            atol=1e-6,
        )
        assert [float(x) for x in d.PixelSpacing] == pytest.approx(
            [volume.spacing_mm[1], volume.spacing_mm[0]]
        )
    return datasets


def test_write_sample_series_reads_back(head, tmp_path):
    calls = []
    paths = write_ct_series(
        head.volume, tmp_path / "ct", progress=lambda done, total: calls.append((done, total))
    )
    assert len(paths) == 140 and all(p.exists() for p in paths)
    assert calls[-1] == (140, 140) and len(calls) == 140
    datasets = _check_series(head.volume, _read_series(paths), sort=False)
    d = datasets[0]
    assert d.SOPClassUID == pydicom.uid.CTImageStorage and d.Modality == "CT"
    assert d.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    assert list(d.ImageType) == ["ORIGINAL", "PRIMARY", "AXIAL"]
    assert d.BitsAllocated == 16 and d.PhotometricInterpretation == "MONOCHROME2"
    assert float(d.RescaleIntercept) == -1024 and float(d.RescaleSlope) == 1
    assert float(d.SliceThickness) == pytest.approx(1.1)
    assert float(d.SpacingBetweenSlices) == pytest.approx(1.1)
    assert d.Manufacturer == "planner synthetic" and d.ConvolutionKernel and d.KVP
    for key in ("StudyInstanceUID", "SeriesInstanceUID", "FrameOfReferenceUID"):
        assert len({getattr(x, key) for x in datasets}) == 1
    assert len({x.SOPInstanceUID for x in datasets}) == 140
    assert [x.InstanceNumber for x in datasets] == list(range(1, 141))
    for x in datasets:  # no patient data: the only names are the placeholders
        assert str(x.PatientName) == "Anonymous^Sample" and x.PatientID == "SAMPLE"
        names = [e for e in x.iterall() if e.VR == "PN" and e.value]
        assert [e.keyword for e in names] == ["PatientName"]


def test_write_anisotropic_oblique_float(tmp_path):
    """PixelSpacing is [row, column]; an oblique, tilted affine and float HU survive."""
    rng = np.random.default_rng(1)
    stack = rng.normal(0.0, 400.0, size=(5, 7, 9)).astype(np.float32)  # (nk, nj, ni)
    stack[0, 0, 0] = -1500.0  # below -1024: needs signed storage
    rot = np.array([[0.96, -0.28, 0.0], [0.28, 0.96, 0.0], [0.0, 0.0, 1.0]])
    u, _, vt = np.linalg.svd(rot @ np.array([[1, 0, 0.2], [0, 1, 0.1], [0, 0, 1.0]]))
    rot = u @ vt  # a proper oblique rotation
    affine = np.eye(4)
    affine[:3, :3] = rot @ np.diag([0.7, 0.9, 1.3])
    affine[:3, 2] += rot[:, 1] * 0.4  # tilted: the k axis leans along the columns
    affine[:3, 3] = [-20.0, 15.0, 80.0]
    volume = Volume(hu=stack.transpose(2, 1, 0), affine=affine)
    paths = write_ct_series(volume, tmp_path / "obl", file_names="random", uid_seed="t")
    datasets = _read_series(paths)
    assert datasets[0].PixelRepresentation == 1
    assert [float(x) for x in datasets[0].PixelSpacing] == pytest.approx([0.9, 0.7])
    assert datasets[0].Rows == 7 and datasets[0].Columns == 9
    _check_series(volume, datasets)
    names = [p.name for p in paths]
    assert all(len(n) == 16 and "." not in n for n in names) and names != sorted(names)
    again = write_ct_series(volume, tmp_path / "obl2", file_names="random", uid_seed="t")
    assert [p.name for p in again] == names  # uid_seed makes the files reproducible


@pytest.mark.parametrize("compress", ["rle", "jpeg2000", "deflate"])
def test_write_compressed(compress, tmp_path):
    stack = (np.arange(3 * 32 * 40, dtype=np.int16).reshape(3, 32, 40) % 997) * 3 - 1000
    affine = np.diag([0.5, 0.5, 2.0, 1.0])
    volume = Volume(hu=stack.transpose(2, 1, 0), affine=affine)
    paths = write_ct_series(volume, tmp_path / compress, compress=compress)
    datasets = _check_series(volume, _read_series(paths))
    assert datasets[0].PixelRepresentation == 0
    assert datasets[0].file_meta.TransferSyntaxUID.is_compressed or compress == "deflate"


def test_write_refuses_bad_input(tmp_path):
    volume = Volume(hu=np.zeros((4, 4, 2), np.int16), affine=np.eye(4))
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x.txt").write_text("keep")
    with pytest.raises(PlannerError, match="not empty"):
        write_ct_series(volume, tmp_path / "full")
    assert (tmp_path / "full" / "x.txt").read_text() == "keep"
    write_ct_series(volume, tmp_path / "full", overwrite=True)
    assert not (tmp_path / "full" / "x.txt").exists()
    with pytest.raises(ValueError, match="compress"):
        write_ct_series(volume, tmp_path / "a", compress="jpeg")
    with pytest.raises(ValueError, match="file_names"):
        write_ct_series(volume, tmp_path / "a", file_names="alpha")
    sheared = np.eye(4)
    sheared[0, 1] = 0.5
    with pytest.raises(ValueError, match="orthogonal"):
        write_ct_series(Volume(hu=volume.hu, affine=sheared), tmp_path / "b")
    huge = Volume(hu=np.full((2, 2, 1), 70000.0), affine=np.eye(4))
    with pytest.raises(PlannerError, match="does not fit"):
        write_ct_series(huge, tmp_path / "c")
    with pytest.raises(PlannerError, match="32"):
        write_ct_series(volume, tmp_path / "e", compress="jpeg2000")
    with pytest.raises(TypeError):
        write_ct_series(np.zeros((2, 2, 2)), tmp_path / "d")

"""Tests for planner.bone.surface: isosurfaces in LPS mm, simplification, STL, reports.

Shapes with analytic volume and area (a spherical shell, an ellipsoid) are voxelised with
partial volume (HU ramping across the surface), on grids that are rotated and mirrored.
"""

from __future__ import annotations

import numpy as np
import pytest
import trimesh
from scipy.special import ellipeinc, ellipkinc

from planner.bone.stl import separate_coincident, stl_report
from planner.bone.surface import (
    STL_HEADER,
    Deviation,
    extract_surface,
    mesh_report,
    simplify,
    split_bodies,
    write_stl,
)
from planner.errors import PlannerError
from planner.scan.volume import Volume
from tests.shared import SHARED_DATA

DATA = SHARED_DATA
needs_data = pytest.mark.skipif(
    not (DATA / "dicom").is_dir(), reason=f"real CT data not found at {DATA}"
)


def rotation(axis: str, degrees: float) -> np.ndarray:
    c, s = np.cos(np.radians(degrees)), np.sin(np.radians(degrees))
    i, j = {"x": (1, 2), "y": (2, 0), "z": (0, 1)}[axis]
    r = np.eye(3)
    r[i, i] = r[j, j] = c
    r[i, j], r[j, i] = -s, s
    return r


def grid_affine(shape, spacing, centre_lps, rot=None, flip_i=False) -> np.ndarray:
    """An affine whose voxel grid is centred on ``centre_lps``, rotated and maybe mirrored."""
    affine = np.eye(4)
    affine[:3, :3] = (np.eye(3) if rot is None else rot) @ np.diag(spacing)
    if flip_i:
        affine[:3, 0] *= -1
    affine[:3, 3] = np.asarray(centre_lps) - affine[:3, :3] @ ((np.asarray(shape) - 1) / 2)
    return affine


def voxelise(field, shape, affine, *, width_mm=2.0):
    """A Volume whose HU ramp from +1000 (field < 0) to -1000 across ``width_mm``.

    ``field(x, y, z)`` is an approximate signed distance in mm (negative inside); the 0 HU
    iso level is its zero set.
    """
    ijk = np.indices(shape, dtype=np.float64).reshape(3, -1)
    x, y, z = affine[:3, :3] @ ijk + affine[:3, 3:4]
    d = field(x, y, z).reshape(shape)
    hu = np.rint(-2000.0 * np.clip(d / width_mm, -0.5, 0.5)).astype(np.int16)
    return Volume(hu=np.ascontiguousarray(hu.transpose(2, 1, 0)).transpose(2, 1, 0), affine=affine)


def ball(centre, radius):
    c = np.asarray(centre, dtype=float)
    return lambda x, y, z: np.sqrt((x - c[0]) ** 2 + (y - c[1]) ** 2 + (z - c[2]) ** 2) - radius


def ellipsoid(centre, radii):
    c, r = np.asarray(centre, float), np.asarray(radii, float)

    def field(x, y, z):
        u = np.stack([(x - c[0]) / r[0], (y - c[1]) / r[1], (z - c[2]) / r[2]])
        f = (u**2).sum(axis=0) - 1.0
        grad = 2.0 * np.sqrt(((u / r[:, None]) ** 2).sum(axis=0))
        return f / grad  # first-order signed distance

    return field


def ellipsoid_area(a: float, b: float, c: float) -> float:
    """Exact surface area of an ellipsoid with semi-axes a >= b >= c (Legendre)."""
    a, b, c = sorted((a, b, c), reverse=True)
    phi = np.arccos(c / a)
    m = (a**2 * (b**2 - c**2)) / (b**2 * (a**2 - c**2))
    s = np.sin(phi)
    return 2 * np.pi * c**2 + 2 * np.pi * a * b / s * (
        ellipeinc(phi, m) * s**2 + ellipkinc(phi, m) * np.cos(phi) ** 2
    )


def labels_of(volume: Volume, level: float = 0.5) -> np.ndarray:
    return (volume.hu > level).astype(np.uint8)


CENTRE = (12.0, -30.0, 41.0)
OBLIQUE = {
    "axial": dict(rot=np.eye(3), flip_i=False),
    "rotated 20 deg about z": dict(rot=rotation("z", 20), flip_i=False),
    "rotated and mirrored": dict(rot=rotation("z", 20) @ rotation("x", 15), flip_i=True),
}


@pytest.fixture(scope="module", params=list(OBLIQUE))
def shell(request):
    """A spherical shell, outer radius 18 mm, inner 12 mm (a closed cavity), 0.8 mm voxels."""
    shape = (54, 54, 54)
    affine = grid_affine(shape, (0.8, 0.75, 0.85), CENTRE, **OBLIQUE[request.param])
    outer, inner = ball(CENTRE, 18.0), ball(CENTRE, 12.0)
    volume = voxelise(lambda x, y, z: np.maximum(outer(x, y, z), -inner(x, y, z)), shape, affine)
    return volume, extract_surface(volume, labels_of(volume), 1, threshold_hu=0.5)


def test_shell_volume_and_area(shell):
    _, mesh = shell
    true_volume = 4 / 3 * np.pi * (18.0**3 - 12.0**3)
    true_area = 4 * np.pi * (18.0**2 + 12.0**2)
    assert mesh.volume == pytest.approx(true_volume, rel=0.01)
    assert mesh.area == pytest.approx(true_area, rel=0.01)
    assert mesh.metadata["cavities_kept"] == 1


def test_shell_is_closed_outward_and_where_the_scan_says(shell):
    _, mesh = shell
    assert mesh.is_watertight
    assert mesh.is_winding_consistent
    assert mesh.volume > 0  # normals point out
    assert mesh.center_mass == pytest.approx(CENTRE, abs=0.05)
    r = np.linalg.norm(mesh.vertices - CENTRE, axis=1)
    assert np.all((np.abs(r - 18.0) < 0.1) | (np.abs(r - 12.0) < 0.1))
    report = mesh_report(mesh)
    assert report["bodies"] == 1 and report["cavities"] == 1


@pytest.mark.parametrize("orientation", list(OBLIQUE))
def test_ellipsoid_volume_area_and_axes(orientation):
    radii = (22.0, 16.0, 11.0)
    shape = (62, 62, 62)
    affine = grid_affine(shape, (0.8, 0.8, 0.8), CENTRE, **OBLIQUE[orientation])
    volume = voxelise(ellipsoid(CENTRE, radii), shape, affine)
    mesh = extract_surface(volume, labels_of(volume), 1, threshold_hu=0.5)
    assert mesh.is_watertight and mesh.volume > 0
    assert mesh.volume == pytest.approx(4 / 3 * np.pi * np.prod(radii), rel=0.01)
    assert mesh.area == pytest.approx(ellipsoid_area(*radii), rel=0.01)
    # the long axis along LPS x, the short along z: the grid's rotation is undone
    lo, hi = mesh.bounds
    assert hi - lo == pytest.approx(2 * np.asarray(radii), abs=0.15)
    assert (hi + lo) / 2 == pytest.approx(CENTRE, abs=0.08)


def test_touching_labels_split_cleanly():
    # two balls overlapping by 1 mm, labelled apart along the plane between them
    shape = (70, 44, 44)
    c1, c2 = np.array([-10.0, 0, 0]), np.array([9.0, 0, 0])
    affine = grid_affine(shape, (0.7, 0.7, 0.7), (0, 0, 0), rot=rotation("z", 20))
    b1, b2 = ball(c1, 10.0), ball(c2, 10.0)
    volume = voxelise(lambda x, y, z: np.minimum(b1(x, y, z), b2(x, y, z)), shape, affine)
    labels = labels_of(volume)
    x = volume.index_to_lps(np.argwhere(labels > 0))[:, 0]
    labels[tuple(np.argwhere(labels > 0)[x > -0.5].T)] = 2
    one = extract_surface(volume, labels, 1, threshold_hu=0.5)
    two = extract_surface(volume, labels, 2, threshold_hu=0.5)
    for mesh in (one, two):
        assert mesh.is_watertight and mesh.is_winding_consistent and mesh.volume > 0
        assert mesh_report(mesh)["bodies"] == 1
    # each keeps to its own side of the cut (within a voxel)
    assert one.vertices[:, 0].max() < -0.5 + 0.7
    assert two.vertices[:, 0].min() > -0.5 - 0.7
    # together they make up the two balls (less the lens where they overlap)
    true_volume = 2 * 4 / 3 * np.pi * 10.0**3 - np.pi * (4 * 10.0 + 1.0) * 1.0**2 / 12
    assert one.volume + two.volume == pytest.approx(true_volume, rel=0.02)


def test_bone_cut_by_the_scan_edge_is_closed():
    shape = (40, 40, 30)
    affine = grid_affine(shape, (1.0, 1.0, 1.0), (0, 0, 0))
    volume = voxelise(ball((0, 0, -12.0), 10.0), shape, affine)  # the scan cuts the ball
    mesh = extract_surface(volume, labels_of(volume), 1, threshold_hu=0.5)
    assert mesh.is_watertight and mesh.volume > 0
    assert mesh.vertices[:, 2].min() == pytest.approx(volume.bounds_mm()[0, 2], abs=1.01)


def test_every_piece_kept_as_a_body_small_cavities_filled():
    shape = (60, 60, 60)
    affine = grid_affine(shape, (1.0, 1.0, 1.0), (0, 0, 0))
    big, pebble, bubble = ball((0, 0, 0), 20.0), ball((24, 24, 24), 3.0), ball((5, 0, 0), 4.0)

    def field(x, y, z):
        return np.minimum(np.maximum(big(x, y, z), -bubble(x, y, z)), pebble(x, y, z))

    volume = voxelise(field, shape, affine)
    mesh = extract_surface(volume, labels_of(volume), 1, threshold_hu=0.5, min_cavity_mm3=1000)
    # nothing dropped: the pebble is a second body; the bubble is filled
    big_mm3, pebble_mm3 = 4 / 3 * np.pi * 20.0**3, 4 / 3 * np.pi * 27
    assert mesh.volume == pytest.approx(big_mm3 + pebble_mm3, rel=0.01)
    assert mesh.metadata["dropped_pieces"] == 0 and mesh.metadata["dropped_mm3"] == 0
    assert mesh.metadata["body_mm3"] == pytest.approx([big_mm3, pebble_mm3], rel=0.1)
    assert mesh.metadata["cavities_filled"] == 1
    assert mesh.metadata["cavities_filled_mm3"] == pytest.approx(4 / 3 * np.pi * 64, rel=0.1)
    bodies = split_bodies(mesh)
    assert [len(b.faces) for b in bodies] == mesh.metadata["body_faces"]
    assert all(b.is_watertight for b in bodies)
    assert bodies[0].volume == pytest.approx(big_mm3, rel=0.01)
    assert bodies[1].volume == pytest.approx(pebble_mm3, rel=0.1)
    assert np.linalg.norm(bodies[1].center_mass - [24, 24, 24]) < 0.2
    kept = extract_surface(volume, labels_of(volume), 1, threshold_hu=0.5, min_cavity_mm3=100)
    assert kept.volume == pytest.approx(big_mm3 - 4 / 3 * np.pi * 64 + pebble_mm3, rel=0.01)
    inner = split_bodies(kept)[0]  # the cavity goes with the body around it
    assert inner.volume == pytest.approx(big_mm3 - 4 / 3 * np.pi * 64, rel=0.01)
    assert mesh_report(inner)["cavities"] == 1


def test_empty_label_and_bad_arguments(shell):
    volume, _ = shell
    labels = labels_of(volume)
    with pytest.raises(PlannerError, match="label 2 is empty"):
        extract_surface(volume, labels, 2, threshold_hu=0.5)
    with pytest.raises(ValueError, match="shape"):
        extract_surface(volume, labels[:-1], 1, threshold_hu=0.5)


def test_any_label_dtype_gives_the_same_surface(shell):
    volume, mesh = shell
    labels = labels_of(volume)
    for other in (labels.astype(bool), labels.astype(np.int16), (labels * 3).astype(np.int32)):
        label = int(other.max())
        again = extract_surface(volume, other, label, threshold_hu=0.5)
        assert np.array_equal(again.faces, mesh.faces)
        assert np.allclose(again.vertices, mesh.vertices, rtol=0, atol=1e-9)


def test_surface_of_a_label_in_a_corner_lies_in_its_box():
    # the work is done on the label's bounding box: the surface must land in LPS where the
    # label is, whatever the box's offset in the scan
    shape = (50, 44, 40)
    affine = grid_affine(shape, (0.6, 0.7, 0.8), CENTRE, rot=rotation("z", 30), flip_i=True)
    corner = affine[:3, :3] @ np.array([10.0, 9.0, 8.0]) + affine[:3, 3]
    volume = voxelise(ball(corner, 4.0), shape, affine)
    mesh = extract_surface(volume, labels_of(volume), 1, threshold_hu=0.5)
    assert mesh.is_watertight
    assert np.linalg.norm(mesh.vertices - corner, axis=1).max() < 4.0 + 0.5
    assert mesh.volume == pytest.approx(4 / 3 * np.pi * 4.0**3, rel=0.05)


# --- simplify -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dense():
    shape = (80, 80, 80)
    affine = grid_affine(shape, (0.5, 0.5, 0.5), CENTRE, rot=rotation("z", 20))
    volume = voxelise(ellipsoid(CENTRE, (18.0, 13.0, 9.0)), shape, affine)
    return extract_surface(volume, labels_of(volume), 1, threshold_hu=0.5)


def test_simplify_keeps_a_closed_surface_close_to_the_dense_one(dense):
    assert len(dense.faces) > 20_000
    mesh, dev = simplify(dense, target_faces=4000, max_error_mm=0.25)
    assert isinstance(dev, Deviation)
    assert 3000 <= len(mesh.faces) <= 4000
    assert mesh.is_watertight and mesh.is_winding_consistent and mesh.volume > 0
    assert mesh_report(mesh)["bodies"] == 1
    assert dev.max_mm <= 0.25
    assert 0 < dev.mean_mm <= dev.p99_mm <= dev.max_mm
    assert mesh.volume == pytest.approx(dense.volume, rel=0.005)


def test_reported_deviation_matches_an_independent_measure(dense):
    mesh, dev = simplify(dense, target_faces=3000, max_error_mm=1.0)
    rng = np.random.default_rng(7)
    points = dense.vertices[rng.choice(len(dense.vertices), 4000, replace=False)]
    _, distance, _ = trimesh.proximity.closest_point(mesh, points)
    assert distance.mean() == pytest.approx(dev.mean_mm, rel=0.15)
    assert distance.max() <= dev.max_mm + 1e-9
    # the maximum is exact: some dense vertex lies that far from the simplified surface
    _, everywhere, _ = trimesh.proximity.closest_point(mesh, dense.vertices)
    assert everywhere.max() == pytest.approx(dev.max_mm, rel=1e-6)


def test_deviation_maximum_is_exact_whatever_the_chunk(dense):
    from planner.bone.deviation import deviation

    mesh, dev = simplify(dense, target_faces=2000, max_error_mm=10.0)
    _, everywhere, _ = trimesh.proximity.closest_point(mesh, dense.vertices)
    for chunk in (997, 1_000_000):
        again = deviation(np.asarray(dense.vertices), mesh.vertices, mesh.faces, chunk=chunk)
        assert again.max_mm == pytest.approx(everywhere.max(), rel=1e-6)
        assert again.mean_mm == pytest.approx(dev.mean_mm, rel=1e-9)


def test_deviation_of_an_undecimated_surface_is_zero_and_a_moved_vertex_counts(dense):
    from planner.bone.deviation import deviation

    v, f = np.asarray(dense.vertices), np.asarray(dense.faces)
    order = np.random.default_rng(3).permutation(len(v))  # the same surface, renumbered
    inverse = np.argsort(order)
    same = deviation(v, v[order], inverse[f], far_mm=0.1)
    assert (same.mean_mm, same.max_mm, same.p99_mm) == (0.0, 0.0, 0.0)
    assert same.far is not None and len(same.far) == 0
    # one dense vertex 0.3 mm off the surface (along its normal): measured, not skipped
    moved = v.copy()
    moved[0] += 0.3 * dense.vertex_normals[0]
    off = deviation(moved, v, f)
    assert off.max_mm == pytest.approx(0.3, abs=0.05)


def test_simplify_adds_triangles_until_within_the_bound(dense):
    coarse, dev_coarse = simplify(dense, target_faces=500, max_error_mm=10.0)
    fine, dev_fine = simplify(dense, target_faces=500, max_error_mm=dev_coarse.max_mm / 3)
    assert len(fine.faces) > 1.5 * len(coarse.faces)
    assert dev_fine.max_mm <= dev_coarse.max_mm / 3


def test_simplify_bad_arguments(dense):
    with pytest.raises(ValueError, match="target_faces"):
        simplify(dense, target_faces=2)
    with pytest.raises(ValueError, match="max_error_mm"):
        simplify(dense, max_error_mm=0)


# --- STL and report -------------------------------------------------------------------------


def test_write_stl_round_trip(tmp_path, dense):
    from stl import mesh as stl_mesh

    mesh, _ = simplify(dense, target_faces=2000)
    path = tmp_path / "Doe^Jane 1970.stl"  # even a name like this never reaches the file
    write_stl(mesh, path)
    data = path.read_bytes()
    assert data[:80] == STL_HEADER.ljust(80, b" ")
    assert b"Doe" not in data and b"1970" not in data
    assert len(data) == 84 + 50 * len(mesh.faces)
    back = stl_mesh.Mesh.from_file(str(path))
    assert np.array_equal(back.vectors, mesh.vertices[mesh.faces].astype(np.float32))
    # normals point out, as the winding says
    centroids = back.vectors.mean(axis=1)
    assert np.mean(np.einsum("ij,ij->i", back.normals, centroids - mesh.center_mass) > 0) > 0.99
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary left


def test_write_stl_refuses_a_bad_mesh(tmp_path):
    from types import SimpleNamespace

    bad = SimpleNamespace(vertices=np.zeros((4, 3)), faces=np.zeros((1, 4), dtype=int))
    with pytest.raises(ValueError, match="faces"):
        write_stl(bad, tmp_path / "x.stl")
    assert not list(tmp_path.iterdir())


def read_back(path):
    """The file as trimesh and numpy-stl read it: (trimesh mesh, edge use counts, closed)."""
    from stl import mesh as stl_mesh

    mesh = trimesh.load_mesh(path, process=True)
    _, use = np.unique(mesh.edges_sorted, axis=0, return_counts=True)
    closed = stl_mesh.Mesh.from_file(str(path)).is_closed(exact=True)
    return mesh, use, closed


def assert_manifold_file(path):
    """Read back with trimesh and numpy-stl: watertight, every edge used exactly twice."""
    mesh, use, closed = read_back(path)
    assert mesh.is_watertight and mesh.is_winding_consistent, path
    assert np.all(use == 2), (path, np.bincount(use))
    assert closed, path
    return mesh


def pinched_pair():
    """Two closed cubes sharing an edge by position, kept apart by the topology.

    Closed and manifold in memory (each cube its own vertices); written naively as STL,
    the shared edge is used by 4 triangles.
    """
    a = trimesh.creation.box(extents=(1, 1, 1))
    b = trimesh.creation.box(extents=(1, 1, 1))
    b.apply_translation((1, 1, 0))  # touches the first along the edge x = y = 0.5
    return trimesh.util.concatenate([a, b])


def test_a_pinch_is_kept_apart_in_the_file(tmp_path):
    pair = pinched_pair()
    assert pair.is_watertight  # in memory
    # the failure seen on the real skull: STL stores positions, the edge merges
    naive = tmp_path / "naive.stl"
    pair.export(naive)
    _, use, closed = read_back(naive)
    assert use.max() == 4 and not closed
    assert stl_report(naive)["edges_not_two"] == 1 and not stl_report(naive)["watertight"]
    # written by planner: the coincident vertices move apart by micrometres
    path = tmp_path / "pair.stl"
    write_stl(pair, path)
    back = assert_manifold_file(path)
    assert back.volume == pytest.approx(2.0, abs=0.01)  # a micrometre-thin sliver less
    assert len(back.split(only_watertight=True)) == 2
    report = stl_report(path)
    assert report["watertight"] and report["edges_not_two"] == 0
    assert report["bodies"] == 2 and report["volume_mm3"] == pytest.approx(2.0, abs=0.05)
    # nothing moved but the shared edge's 4 vertices, by at most a few micrometres
    moved, n = separate_coincident(pair.vertices, pair.faces)
    assert n == 4
    shift = np.linalg.norm(moved - pair.vertices, axis=1)
    assert np.count_nonzero(shift) == 4 and shift.max() < 0.01


def test_stl_report_agrees_with_trimesh(tmp_path, dense):
    mesh, _ = simplify(dense, target_faces=3000)
    path = tmp_path / "m.stl"
    write_stl(mesh, path)
    back = assert_manifold_file(path)
    report = stl_report(path)
    assert report["triangles"] == len(back.faces) == len(mesh.faces)
    assert report["vertices"] == len(back.vertices)
    assert report["volume_mm3"] == pytest.approx(back.volume, abs=0.1)
    assert report["bodies"] == 1 and report["cavities"] == 0
    assert report["pieces"][0]["volume_mm3"] == pytest.approx(back.volume, abs=0.1)


def test_mesh_report(dense):
    report = mesh_report(dense)
    assert report["triangles"] == len(dense.faces)
    assert report["volume_mm3"] == pytest.approx(dense.volume, abs=0.1)
    assert report["volume_cm3"] == pytest.approx(dense.volume / 1000, abs=1e-3)
    assert report["watertight"] is True
    assert report["bodies"] == 1 and report["cavities"] == 0
    open_mesh = trimesh.Trimesh(dense.vertices, dense.faces[:-10], process=False)
    assert mesh_report(open_mesh)["watertight"] is False


# --- sample and real scans ------------------------------------------------------------------


def test_sample_mandible_model():
    samples = pytest.importorskip("planner.samples")
    from planner.bone.labels import segment_bone

    head = samples.make_head()
    seg = segment_bone(head.volume)
    dense = extract_surface(head.volume, seg.labels, 2, threshold_hu=seg.threshold_hu)
    mesh, dev = simplify(dense)
    assert mesh.is_watertight and mesh_report(mesh)["bodies"] == 1
    assert dev.max_mm <= 1.5
    # the chin (pogonion, the most anterior point of the chin) is where the truth says
    chin = head.truth.landmarks_mm["chin"]
    front = mesh.vertices[np.argmin(mesh.vertices[:, 1])]
    assert front[1] == pytest.approx(chin[1], abs=1.0)
    assert np.linalg.norm(front[[0, 2]] - chin[[0, 2]]) < 6.0


@needs_data
@pytest.mark.slow
def test_skull_ct_model():
    from planner.bone.labels import segment_bone
    from planner.scan.dicom import load_volume

    volume = load_volume(DATA / "dicom" / "skull-ct-0051")
    seg = segment_bone(volume, separate_mandible=False)
    dense = extract_surface(volume, seg.labels, 1, threshold_hu=seg.threshold_hu)
    assert dense.is_watertight
    # the skull, and two specks of a voxel each (under 0.01 mm³) that touch it at a point
    assert len(dense.metadata["body_mm3"]) == 3 and sum(dense.metadata["body_mm3"][1:]) < 0.01
    mesh, dev = simplify(dense)
    assert mesh.is_watertight and mesh_report(mesh)["bodies"] >= 1
    assert mesh.metadata["body_mm3"][0] > 0.9999 * mesh.volume  # one body holds it all
    assert dev.max_mm <= 1.5 and dev.mean_mm < 0.05
    # the isosurface and the voxel count measure the same bone
    assert mesh.volume == pytest.approx(seg.volume_mm3[1], rel=0.05)
    # in the scan's own coordinates: the model fills the skull's extent in the volume
    bone = volume.index_to_lps(np.argwhere(seg.labels == 1))
    assert mesh.bounds == pytest.approx(np.array([bone.min(0), bone.max(0)]), abs=1.5)

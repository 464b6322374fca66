"""Tests for planner.bone.decimate: block-wise decimation that joins vertex for vertex."""

from __future__ import annotations

import os

import numpy as np
import pytest
import trimesh

import planner.bone.decimate as dec
import planner.bone.decimate_helper as helpers
from planner.bone.decimate import body_points, decimate, triangles_near
from planner.bone.deviation import deviation
from planner.bone.pieces import piece_volumes
from planner.bone.stl import edge_use
from planner.bone.surface import extract_surface, simplify
from tests.bone.test_surface import CENTRE, ball, grid_affine, labels_of, rotation, voxelise


@pytest.fixture(scope="module")
def shell():
    """A closed spherical shell (outer 18 mm, inner 12 mm: two closed sheets), 0.4 mm voxels."""
    shape = (100, 100, 100)
    affine = grid_affine(shape, (0.4, 0.4, 0.4), CENTRE, rot=rotation("z", 20))
    outer, inner = ball(CENTRE, 18.0), ball(CENTRE, 12.0)
    volume = voxelise(lambda x, y, z: np.maximum(outer(x, y, z), -inner(x, y, z)), shape, affine)
    mesh = extract_surface(volume, labels_of(volume), 1, threshold_hu=0.5)
    return np.asarray(mesh.vertices), np.asarray(mesh.faces)


def closed(vertices, faces) -> bool:
    """Every edge used by exactly two triangles, once each way (no merging by position)."""
    counts, consistent = edge_use(faces)
    return bool(consistent and np.all(counts == 2)) and len(np.unique(faces)) == len(vertices)


def test_slabs_join_vertex_for_vertex(shell):
    vertices, faces = shell
    assert len(faces) > 60_000
    v, f = decimate(vertices, faces, 6000, max_block_faces=15_000)  # 5 slabs + the bands
    # the slabs' cut borders were kept exactly: the join is closed with no help
    assert closed(v, f)
    assert 0.9 * 6000 <= len(f) <= 1.1 * 6000
    mesh = trimesh.Trimesh(v, f, process=False)
    whole = trimesh.Trimesh(vertices, faces, process=False)
    assert abs(mesh.volume) == pytest.approx(abs(whole.volume), rel=0.003)
    assert deviation(vertices, v, f).max_mm < 0.3


def test_slabs_and_one_piece_agree(shell):
    vertices, faces = shell
    v1, f1 = decimate(vertices, faces, 6000, max_block_faces=10**9)
    v2, f2 = decimate(vertices, faces, 6000, max_block_faces=15_000)
    d1, d2 = deviation(vertices, v1, f1), deviation(vertices, v2, f2)
    assert d2.mean_mm == pytest.approx(d1.mean_mm, rel=0.25)
    assert d2.max_mm <= 2 * d1.max_mm + 0.05


def test_one_helper_process_serves_a_block(shell, monkeypatch):
    """In a ``helper_process`` block every decimation in slabs sends work to one helper,
    started once and stopped at the end; the result is the same as without it."""
    if (os.cpu_count() or 1) < 2:
        pytest.skip("one core: no helper process")
    vertices, faces = shell
    alone = decimate(vertices, faces, 6000, max_block_faces=15_000)
    started, jobs = [], []
    real_init, real_submit = helpers.Helper.__init__, helpers.Helper.submit
    monkeypatch.setattr(
        helpers.Helper, "__init__", lambda self: (started.append(self), real_init(self))[1]
    )
    monkeypatch.setattr(
        helpers.Helper, "submit", lambda self, *a: (jobs.append(self), real_submit(self, *a))[1]
    )
    with helpers.helper_process():
        assert not started  # started when first needed
        first = decimate(vertices, faces, 6000, max_block_faces=15_000)
        decimate(vertices, faces, 5000, max_block_faces=15_000)
    assert len(started) == 1 and len(jobs) >= 4 and set(jobs) == set(started)
    assert started[0].process.poll() is not None  # stopped at the block's end
    for a, b in zip(alone, first, strict=True):
        np.testing.assert_array_equal(a, b)
    with helpers.helper_process(start_now=True):
        assert len(started) == 2
    assert decimate(vertices, faces, 6000, max_block_faces=15_000) is not None
    assert len(started) == 3  # outside a block: a helper of its own


def test_kept_triangles_stay_as_they_are(shell):
    vertices, faces = shell
    keep = triangles_near(vertices, faces, vertices[:1], 6000)
    assert 0 < keep.sum() < 2000
    v, f = decimate(vertices, faces, 6000, keep=keep, max_block_faces=15_000)
    assert closed(v, f)
    # every kept triangle is in the result, corner for corner
    rows = {tuple(np.sort(t, axis=0).ravel()) for t in v[f]}
    kept = [tuple(np.sort(t, axis=0).ravel()) for t in vertices[faces[keep]]]
    assert all(t in rows for t in kept)
    # the same in one piece
    v, f = decimate(vertices, faces, 6000, keep=keep)
    assert closed(v, f)
    rows = {tuple(np.sort(t, axis=0).ravel()) for t in v[f]}
    assert all(t in rows for t in kept)


def test_untouched_slabs_are_reused(shell, monkeypatch):
    vertices, faces = shell
    memo: dict = {}
    first = decimate(vertices, faces, 6000, max_block_faces=15_000, memo=memo)
    calls = []
    region = dec._region
    monkeypatch.setattr(dec, "_region", lambda *a: calls.append(1) or region(*a))
    again = decimate(vertices, faces, 6000, max_block_faces=15_000, memo=memo)
    assert len(calls) == 1  # only the band pass ran again
    assert np.array_equal(first[0], again[0]) and np.array_equal(first[1], again[1])


def test_body_points():
    v = np.arange(30, dtype=float).reshape(10, 3)
    f = np.array([[0, 1, 2], [1, 2, 3], [4, 5, 6], [7, 8, 9]])
    pts = body_points(v, f, [2, 1, 1], [False, True, False])
    assert np.array_equal(pts, v[[4, 5, 6]])
    assert body_points(v, f, [2, 1, 1], [False] * 3).shape == (0, 3)


def test_simplify_in_slabs_keeps_the_bound(shell):
    vertices, faces = shell
    mesh = trimesh.Trimesh(vertices, faces, process=False)
    mesh.metadata.update(body_faces=[len(faces)], body_mm3=float(abs(mesh.volume)))
    out, dev = simplify(mesh, target_faces=3000, max_error_mm=0.2, block_faces=15_000)
    assert out.is_watertight and out.is_winding_consistent
    assert dev.max_mm <= 0.2
    assert out.volume == pytest.approx(abs(mesh.volume), rel=0.005)


def test_deviation_lists_the_far_points(shell):
    vertices, faces = shell
    v, f = decimate(vertices, faces, 800)
    _, exact, _ = trimesh.proximity.closest_point(trimesh.Trimesh(v, f, process=False), vertices)
    far_mm = float(np.percentile(exact, 99.9))  # a few hundred vertices beyond it
    dev = deviation(vertices, v, f, far_mm=far_mm)
    assert set(dev.far.tolist()) == set(np.nonzero(exact > far_mm)[0].tolist())
    assert deviation(vertices, v, f, far_mm=10.0).far is None


def test_edge_use_fast_and_slow_paths():
    tet = np.array([[0, 2, 1], [0, 1, 3], [1, 2, 3], [0, 3, 2]])
    counts, ok = edge_use(tet)
    assert ok and len(counts) == 6 and np.all(counts == 2)
    flipped = tet.copy()
    flipped[0] = flipped[0, ::-1]
    counts, ok = edge_use(flipped)
    assert not ok and np.all(counts == 2)
    counts, ok = edge_use(np.concatenate([tet, tet[:1]]))
    assert not ok and sorted(counts.tolist()) == [2, 2, 2, 3, 3, 3]
    counts, ok = edge_use(np.array([[0, 0, 1], [0, 1, 2], [0, 2, 1]]))
    assert not ok and 1 in counts.tolist()  # a degenerate triangle's edge (0, 0)


def test_the_helper_process_gives_the_same_result(shell, monkeypatch):
    vertices, faces = shell
    with_helper = decimate(vertices, faces, 6000, max_block_faces=15_000)
    monkeypatch.setattr(dec.os, "cpu_count", lambda: 1)
    alone = decimate(vertices, faces, 6000, max_block_faces=15_000)
    assert np.array_equal(with_helper[0], alone[0]) and np.array_equal(with_helper[1], alone[1])


def test_a_failing_helper_leaves_the_work_here(shell, monkeypatch):
    vertices, faces = shell
    alone = decimate(vertices, faces, 6000, max_block_faces=15_000, memo=None)
    for script in (
        "import sys\nfor line in sys.stdin: print(line.strip() + ' failed', flush=True)",
        "import sys\nsys.exit(3)",
    ):
        monkeypatch.setattr(helpers, "_SERVE", script)
        v, f = decimate(vertices, faces, 6000, max_block_faces=15_000)
        assert np.array_equal(v, alone[0]) and np.array_equal(f, alone[1])


def test_a_pinched_neck_keeps_one_body():
    """Two balls joined by a thin neck: heavy decimation cuts the neck, the retry keeps it."""
    c = np.array(CENTRE)
    shift = np.array([10.0, 0.0, 0.0])
    left, right = ball(c - shift, 7.0), ball(c + shift, 7.0)

    def dumbbell(x, y, z):
        neck = np.maximum(np.hypot(y - c[1], z - c[2]) - 0.9, np.abs(x - c[0]) - 10)
        return np.minimum(np.minimum(left(x, y, z), right(x, y, z)), neck)

    shape = (90, 40, 40)
    volume = voxelise(dumbbell, shape, grid_affine(shape, (0.5, 0.5, 0.5), CENTRE), width_mm=1.0)
    dense = extract_surface(volume, labels_of(volume), 1, threshold_hu=0.5)
    assert len(dense.metadata["body_mm3"]) == 1
    # decimated to 60 triangles in one go, the neck collapses and the balls come apart
    v, f = decimate(np.asarray(dense.vertices), np.asarray(dense.faces), 60)
    volumes, _ = piece_volumes(v, f)  # (trimesh's mass properties divide by a flat one's 0)
    assert np.count_nonzero(np.abs(volumes) > 1.0) >= 2
    out, dev = simplify(dense, target_faces=60, max_error_mm=1.5)
    assert out.is_watertight and len(out.split(only_watertight=False)) == 1
    assert dev.max_mm <= 1.5
    assert out.volume == pytest.approx(dense.volume, rel=0.05)


def test_a_slab_that_loses_a_border_vertex_is_done_again_around_it(shell, monkeypatch):
    """fast-simplification can drop a border vertex whose only triangle in the slab is a
    corner whose opposite edge collapses; the slabs are done again with the triangles
    around it kept as they are, instead of the whole surface in one piece."""
    import fast_simplification

    vertices, faces = shell
    monkeypatch.setattr(dec.os, "cpu_count", lambda: 1)  # every slab here, in order
    monkeypatch.setattr(dec, "_whole", lambda *a: pytest.fail("decimated in one piece"))
    real = fast_simplification.simplify
    dropped = []

    def dropping(points, triangles, **kwargs):
        v, f = real(points, triangles, **kwargs)
        if dropped or not kwargs.get("preserve_border"):
            return v, f
        # a vertex of the slab's open border, as fast-simplification sometimes loses one
        edges = np.sort(np.concatenate([triangles[:, [0, 1]], triangles[:, [1, 2]],
                                        triangles[:, [2, 0]]]), axis=1)  # fmt: skip
        uniq, count = np.unique(edges, axis=0, return_counts=True)
        border = points[uniq[count == 1][0, 0]]
        (gone,) = np.nonzero(np.all(v == border, axis=1))
        dropped.append(border)
        f = f[~np.isin(f, gone).any(axis=1)]
        used = np.unique(f)
        return v[used], np.searchsorted(used, f)

    monkeypatch.setattr(fast_simplification, "simplify", dropping)
    v, f = decimate(vertices, faces, 6000, max_block_faces=15_000)
    assert len(dropped) == 1
    assert closed(v, f)
    assert np.all(v == dropped[0], axis=1).any()  # the vertex is in the result, kept
    assert 0.9 * 6000 <= len(f) <= 1.15 * 6000
    assert deviation(vertices, v, f).max_mm < 0.3

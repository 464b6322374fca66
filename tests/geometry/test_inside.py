import numpy as np
import pytest
import trimesh

from planner.geometry import contains, winding_number


def test_unit_cube():
    cube = trimesh.creation.box(extents=(1, 1, 1))  # [-0.5, 0.5]^3
    inside = [[0, 0, 0], [0.49, 0.49, -0.49], [0.1, -0.2, 0.3]]
    outside = [[0.51, 0, 0], [2, 2, 2], [0, 0, -0.6], [100, 0, 0]]
    w = winding_number(inside + outside, cube.triangles)
    assert w == pytest.approx([1, 1, 1, 0, 0, 0, 0], abs=1e-9)
    assert contains(inside + outside, cube.triangles).tolist() == [True] * 3 + [False] * 4


def test_a_hair_inside_or_outside_a_face():
    cube = trimesh.creation.box(extents=(1, 1, 1))
    w = winding_number([[0.5 - 1e-9, 0.1, 0.2], [0.5 + 1e-9, 0.1, 0.2]], cube.triangles)
    assert w == pytest.approx([1.0, 0.0], abs=1e-6)


def test_sphere_and_inverted_sphere():
    sphere = trimesh.creation.icosphere(subdivisions=3, radius=2.0)
    rng = np.random.default_rng(3)
    pts = rng.uniform(-3, 3, size=(3000, 3))
    r = np.linalg.norm(pts, axis=1)
    clear = np.abs(r - 2.0) > 0.05  # away from the chord error
    assert np.array_equal(contains(pts, sphere.triangles)[clear], (r < 2.0)[clear])
    inverted = sphere.triangles[:, ::-1]
    w = winding_number(pts[clear], inverted)
    assert w == pytest.approx(-(r[clear] < 2.0).astype(float), abs=1e-6)
    assert np.array_equal(contains(pts, inverted)[clear], (r < 2.0)[clear])


def test_many_points_are_blocked_the_same():
    cube = trimesh.creation.box(extents=(2, 2, 2))
    pts = np.random.default_rng(4).uniform(-2, 2, size=(5000, 3))
    w = winding_number(pts, cube.triangles)
    assert np.array_equal(w > 0.5, np.all(np.abs(pts) < 1, axis=1))


def test_no_triangles():
    assert winding_number([[0.0, 0, 0]], np.zeros((0, 3, 3))).tolist() == [0.0]


def test_blocks_of_points_and_single_points_agree():
    sphere = trimesh.creation.icosphere(subdivisions=4, radius=3.0)  # 5120 triangles
    pts = np.random.default_rng(5).uniform(-4, 4, size=(40, 3))  # several blocks
    together = winding_number(pts, sphere.triangles)
    alone = np.array([winding_number(p, sphere.triangles)[0] for p in pts])
    assert np.array_equal(together, alone)
    r = np.linalg.norm(pts, axis=1)
    clear = np.abs(r - 3.0) > 0.05
    assert np.array_equal(contains(pts, sphere.triangles)[clear], (r < 3.0)[clear])

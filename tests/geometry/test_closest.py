import numpy as np
import pytest
import trimesh

from planner.geometry import (
    SurfaceIndex,
    closest_point_on_surface,
    closest_point_on_triangles,
    closest_point_on_triangles_naive,
    closest_points_on_segments,
    triangle_bounds,
)

TRI = np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0]])


@pytest.mark.parametrize(
    "point, expected",
    [
        ((0.2, 0.2, 5.0), (0.2, 0.2, 0.0)),  # above the face
        ((-1.0, -1.0, 0.0), (0.0, 0.0, 0.0)),  # vertex a
        ((3.0, -0.5, 1.0), (1.0, 0.0, 0.0)),  # vertex b
        ((-0.3, 4.0, 0.0), (0.0, 1.0, 0.0)),  # vertex c
        ((0.5, -2.0, 0.0), (0.5, 0.0, 0.0)),  # edge ab
        ((-2.0, 0.5, 1.0), (0.0, 0.5, 0.0)),  # edge ca
        ((1.0, 1.0, -3.0), (0.5, 0.5, 0.0)),  # edge bc
    ],
)
def test_known_regions(point, expected):
    got = closest_point_on_triangles([point], TRI[None])
    assert got[0] == pytest.approx(expected, abs=1e-12)
    assert closest_point_on_triangles_naive([point], TRI[None])[0] == pytest.approx(
        expected, abs=1e-12
    )


def test_fast_matches_naive_on_random_triangles():
    rng = np.random.default_rng(1)
    tri = rng.normal(size=(3000, 3, 3)) * rng.uniform(0.01, 10, size=(3000, 1, 1))
    pts = rng.normal(size=(3000, 3)) * 5
    fast = closest_point_on_triangles(pts, tri)
    slow = closest_point_on_triangles_naive(pts, tri)
    # the same distance (the closest point is unique, so the same point too)
    assert np.linalg.norm(fast - pts, axis=1) == pytest.approx(
        np.linalg.norm(slow - pts, axis=1), abs=1e-9
    )
    assert np.abs(fast - slow).max() < 1e-6


def test_degenerate_triangles_use_their_edges():
    line = np.array([[[0.0, 0, 0], [1, 0, 0], [2, 0, 0]], [[1.0, 1, 1]] * 3])
    pts = np.array([[1.5, 3.0, 0.0], [0.0, 0.0, 0.0]])
    got = closest_point_on_triangles(pts, line)
    assert got == pytest.approx(np.array([[1.5, 0, 0], [1.0, 1, 1]]), abs=1e-12)
    assert np.all(np.isfinite(got))


def test_segments():
    p1, q1 = np.array([[0.0, 0, 0], [0, 0, 0]]), np.array([[2.0, 0, 0], [0, 0, 0]])
    p2, q2 = np.array([[1.0, -1, 1], [3, 0, 0]]), np.array([[1.0, 1, 1], [3, 0, 0]])
    a, b = closest_points_on_segments(p1, q1, p2, q2)
    assert a == pytest.approx(np.array([[1.0, 0, 0], [0, 0, 0]]))
    assert b == pytest.approx(np.array([[1.0, 0, 1], [3, 0, 0]]))


def test_surface_distances_on_a_cube():
    cube = trimesh.creation.box(extents=(2, 2, 2))  # [-1, 1]^3
    pts = np.array([[0, 0, 0], [0, 0, 3], [2, 2, 2], [0.5, 0.9, 0.0], [1, 1, 1]], float)
    closest, dist, tri = closest_point_on_surface(pts, cube.triangles)
    assert dist == pytest.approx([1.0, 2.0, np.sqrt(3), 0.1, 0.0], abs=1e-12)
    assert closest[1] == pytest.approx([0, 0, 1])
    assert closest[2] == pytest.approx([1, 1, 1])
    # the triangle given holds the closest point
    again = closest_point_on_triangles(pts, cube.triangles[tri])
    assert np.linalg.norm(again - pts, axis=1) == pytest.approx(dist, abs=1e-12)


def test_surface_distances_on_a_sphere_match_brute_force():
    sphere = trimesh.creation.icosphere(subdivisions=3, radius=10.0)
    rng = np.random.default_rng(2)
    pts = rng.uniform(-15, 15, size=(400, 3))
    _, dist, _ = SurfaceIndex(sphere.triangles).query(pts)
    m = len(sphere.triangles)
    brute = closest_point_on_triangles(
        np.repeat(pts, m, axis=0), np.tile(sphere.triangles, (400, 1, 1))
    )
    brute = np.linalg.norm(brute - np.repeat(pts, m, axis=0), axis=1).reshape(400, m).min(axis=1)
    assert dist == pytest.approx(brute, abs=1e-9)
    # and the mesh sits within its chord error of the true sphere
    assert np.abs(dist - np.abs(np.linalg.norm(pts, axis=1) - 10.0)).max() < 0.1


def test_surface_with_a_few_large_triangles():
    # two huge triangles beside many small ones: the large ones are searched directly
    small = trimesh.creation.icosphere(subdivisions=2, radius=1.0).triangles
    big = np.array([[[-100.0, -100, 5], [100, -100, 5], [0, 100, 5]]] * 2)
    tri = np.concatenate([small, big])
    _, dist, which = SurfaceIndex(tri).query([[0.0, 0, 4.0], [0.0, 0, 0.5], [50.0, 0, 5]])
    assert dist[0] == pytest.approx(1.0) and which[0] >= len(small)
    assert dist[1] == pytest.approx(0.5, abs=0.05)
    assert dist[2] == pytest.approx(0.0)


def test_empty_queries():
    idx = SurfaceIndex(TRI[None])
    closest, dist, tri = idx.query(np.zeros((0, 3)))
    assert closest.shape == (0, 3) and dist.shape == (0,) and tri.shape == (0,)
    with pytest.raises(ValueError, match="empty"):
        SurfaceIndex(np.zeros((0, 3, 3)))


def test_few_point_search_matches_the_index():
    sphere = trimesh.creation.icosphere(subdivisions=3, radius=10.0)
    pts = np.random.default_rng(6).uniform(-15, 15, size=(50, 3))
    q1, d1, t1 = closest_point_on_surface(pts, sphere.triangles)
    q2, d2, _ = SurfaceIndex(sphere.triangles).query(pts)
    assert d1 == pytest.approx(d2, abs=1e-12)
    assert q1 == pytest.approx(q2, abs=1e-9)
    again = closest_point_on_triangles(pts, sphere.triangles[t1])
    assert np.linalg.norm(again - pts, axis=1) == pytest.approx(d1, abs=1e-12)
    with pytest.raises(ValueError, match="empty"):
        closest_point_on_surface(pts, np.zeros((0, 3, 3)))


def test_kept_bounds_and_vertices_give_the_same_answers():
    sphere = trimesh.creation.icosphere(subdivisions=3, radius=10.0)
    pts = np.random.default_rng(7).uniform(-15, 15, size=(30, 3))
    lo, hi = triangle_bounds(sphere.triangles)
    assert np.array_equal(lo, sphere.triangles.min(axis=1))
    assert np.array_equal(hi, sphere.triangles.max(axis=1))
    plain = closest_point_on_surface(pts, sphere.triangles)
    kept = closest_point_on_surface(
        pts, sphere.triangles, bounds=(lo, hi), vertices=sphere.vertices
    )
    for a, b in zip(plain, kept, strict=True):
        assert np.array_equal(a, b)

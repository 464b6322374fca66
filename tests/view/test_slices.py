"""CT slice planes: which voxel axis each plane follows, and where each pixel lands (LPS)."""

from __future__ import annotations

import numpy as np
import pytest

from planner.scan.volume import Volume
from planner.view.slices import (
    AIR_HU,
    plane_axes,
    plane_point_normal,
    slice_quad,
    slice_rgb,
)


def _permuted_volume() -> Volume:
    """i runs toward +z (2 mm), j toward -x (1 mm), k toward +y (1.5 mm); one bright voxel."""
    affine = np.zeros((4, 4))
    affine[:3, 0], affine[:3, 1], affine[:3, 2] = [0, 0, 2.0], [-1.0, 0, 0], [0, 1.5, 0]
    affine[:3, 3] = [10.0, 20.0, 30.0]
    affine[3, 3] = 1.0
    hu = np.full((6, 9, 11), -1000, dtype=np.int16)
    hu[3, 5, 7] = 1500
    hu[0, 0, 0] = 0  # soft tissue: opaque, dark
    return Volume(hu=hu, affine=affine)


def test_each_plane_follows_the_voxel_axis_nearest_its_normal():
    planes = plane_axes(_permuted_volume())
    assert (planes["axial"].axis, planes["coronal"].axis, planes["sagittal"].axis) == (0, 2, 1)
    assert (planes["axial"].count, planes["coronal"].count, planes["sagittal"].count) == (6, 11, 9)


@pytest.mark.parametrize("name", ["axial", "coronal", "sagittal"])
def test_the_bright_pixel_lands_on_the_bright_voxel(name):
    vol = _permuted_volume()
    plane = plane_axes(vol)[name]
    index = (3, 5, 7)[plane.axis]
    rgba = slice_rgb(vol, plane, index)
    rows, cols = rgba.shape[:2]
    (row,), (col,) = np.nonzero(rgba[..., 0] == 255)
    # texture coordinates of the pixel centre (row 0 is the top, t = 1)
    s, t = (col + 0.5) / cols, 1.0 - (row + 0.5) / rows
    c = slice_quad(vol, plane, index)
    where = c[0] + s * (c[1] - c[0]) + t * (c[3] - c[0])
    np.testing.assert_allclose(where, vol.index_to_lps(np.array([3.0, 5.0, 7.0])), atol=1e-9)
    np.testing.assert_allclose(c[2], c[1] + c[3] - c[0], atol=1e-9)  # a parallelogram
    origin, normal = plane_point_normal(vol, plane, index)
    assert abs(float(np.dot(where - origin, normal))) < 1e-9


def test_air_is_transparent_and_tissue_is_not():
    vol = _permuted_volume()
    plane = plane_axes(vol)["axial"]
    rgba = slice_rgb(vol, plane, 0)
    assert rgba.dtype == np.uint8 and rgba.shape == (11, 9, 4)
    assert (rgba[..., 3] == 255).sum() == 1  # the one soft-tissue voxel (HU 0)
    assert rgba[-1, 0, 3] == 255 and rgba[-1, 0, 0] == 200 * 255 // 1600
    assert np.all(rgba[..., 3][vol.hu[0].T[::-1] < AIR_HU] == 0)


def test_an_outline_is_traced_where_the_pose_puts_the_mesh():
    import trimesh

    from planner.view.detail import polydata
    from planner.view.slices import outline

    cube = trimesh.creation.box(extents=(2.0, 2.0, 2.0))  # day 0: centred at the origin
    pose = trimesh.transformations.rotation_matrix(np.pi / 2, [0, 0, 1])
    pose[:3, 3] = [10.0, 0.0, 0.5]  # turned a quarter about z, moved 10 mm along x, up 0.5
    lines = outline(polydata(cube.vertices, cube.faces), [0.0, 0.0, 1.0], [0.0, 0.0, 1.0], pose)
    points = np.asarray(lines.points)
    assert lines.n_lines > 0
    np.testing.assert_allclose(points[:, 2], 1.0, atol=1e-9)  # on the plane z = 1
    np.testing.assert_allclose(points[:, :2].min(axis=0), [9.0, -1.0], atol=1e-9)
    np.testing.assert_allclose(points[:, :2].max(axis=0), [11.0, 1.0], atol=1e-9)
    cells = np.asarray(lines.lines).reshape(-1, 3)[:, 1:]
    length = np.linalg.norm(points[cells[:, 0]] - points[cells[:, 1]], axis=1).sum()
    assert length == pytest.approx(8.0)  # the square's perimeter
    assert outline(polydata(cube.vertices, cube.faces), [0, 0, 5.0], [0, 0, 1.0]).n_points == 0

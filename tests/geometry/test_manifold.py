import numpy as np
import pytest
import trimesh

from planner.errors import PlannerError
from planner.geometry import to_manifold, to_trimesh


def test_round_trip_keeps_volume_and_precision():
    sphere = trimesh.creation.icosphere(subdivisions=3, radius=7.0)
    sphere.apply_translation([123.456789012, -50.0, 1e3])
    solid = to_manifold(sphere, "sphere")
    assert solid.volume() == pytest.approx(sphere.volume, rel=1e-12)
    back = to_trimesh(solid)
    assert back.vertices.dtype == np.float64 and back.faces.dtype == np.int64
    assert back.is_watertight and back.volume == pytest.approx(sphere.volume, rel=1e-12)
    # float64 all the way: vertices come back unrounded
    dist = np.linalg.norm(back.vertices[:, None] - sphere.vertices[None], axis=2).min(axis=1)
    assert dist.max() < 1e-12


def test_split_vertices_are_merged():
    box = trimesh.creation.box(extents=(1, 2, 3))
    soup = trimesh.Trimesh(
        box.triangles.reshape(-1, 3), np.arange(36).reshape(-1, 3), process=False
    )
    assert to_manifold(soup, "soup").volume() == pytest.approx(6.0)


def test_refusals_name_what_was_converted():
    box = trimesh.creation.box(extents=(1, 1, 1))
    open_box = trimesh.Trimesh(box.vertices, box.faces[1:], process=False)
    with pytest.raises(PlannerError, match=r"^bone model 'x' is not a closed.*; repair it$"):
        to_manifold(open_box, "bone model 'x'", fix="repair it")
    inverted = trimesh.Trimesh(box.vertices, box.faces[:, ::-1], process=False)
    with pytest.raises(PlannerError, match=r"inverted is not a closed.*\(inward-facing\)"):
        to_manifold(inverted, "inverted")
    empty = trimesh.Trimesh(np.zeros((0, 3)), np.zeros((0, 3), int), process=False)
    with pytest.raises(PlannerError, match="empty"):
        to_manifold(empty, "empty mesh")
    with pytest.raises(TypeError, match=r"trimesh\.Trimesh"):
        to_manifold(box.vertices, "vertices")


def test_an_unchanged_mesh_is_converted_once_and_an_edited_one_again():
    box = trimesh.creation.box(extents=(1, 2, 3))
    first = to_manifold(box, "box")
    assert to_manifold(box, "box") is first  # kept in the mesh's cache
    box.vertices[:, 0] *= 2  # an in-place edit clears trimesh's cache
    edited = to_manifold(box, "box")
    assert edited is not first and edited.volume() == pytest.approx(12.0)
    box.vertices = box.vertices * 0.5  # so does assigning new vertices
    assert to_manifold(box, "box").volume() == pytest.approx(1.5)
    box.faces = box.faces[:, ::-1]  # and new faces: now inward-facing, refused
    with pytest.raises(PlannerError, match="inward-facing"):
        to_manifold(box, "box")
    with pytest.raises(PlannerError, match="inward-facing"):  # a refusal is not kept
        to_manifold(box, "box")


def test_a_mesh_with_its_solid_kept_still_pickles():
    import pickle

    box = trimesh.creation.box(extents=(1, 2, 3))
    to_manifold(box, "box")
    back = pickle.loads(pickle.dumps(box))  # the solid is dropped, and rebuilt on demand
    assert to_manifold(back, "box").volume() == pytest.approx(6.0)

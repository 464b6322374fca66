"""scene.glb loads back with its named, coloured nodes; STL of cuts, devices and poses."""

import numpy as np
import pytest
import trimesh

from planner.render.export import (
    GLTF_ROOT,
    LPS_MM_TO_GLTF,
    write_cut_and_device_stls,
    write_scene_glb,
    write_segments_at,
)
from tests.render.cases import TARGET_MM, VECTOR, make_plan


def test_gltf_loads_back_with_named_nodes(tmp_path):
    plan = make_plan()
    path = write_scene_glb(plan, tmp_path / "scene.glb")
    scene = trimesh.load(path)
    assert isinstance(scene, trimesh.Scene)
    names = set(scene.graph.nodes_geometry)
    assert names == {
        "skull",
        "mandible_fixed_d",
        "mandible_moving_d_day0",
        "mandible_moving_d_end",
        "cut_cut",
        "device_d_day0",
        "device_d_end",
        "vector_d",
    }

    def mesh(name):  # back in LPS mm: undo the root node's glTF conversion
        transform, geom = scene.graph[name]
        m = scene.geometry[geom].copy()
        m.apply_transform(np.linalg.inv(LPS_MM_TO_GLTF) @ transform)
        return m

    start, end = mesh("mandible_moving_d_day0"), mesh("mandible_moving_d_end")
    assert np.allclose(end.vertices, start.vertices + TARGET_MM * VECTOR, atol=1e-4)
    assert np.allclose(start.bounds, plan.segments["mandible_moving_d"].bounds, atol=1e-4)
    color = scene.geometry[scene.graph["mandible_moving_d_end"][1]].visual.material
    assert tuple(color.baseColorFactor[:3]) == (235, 125, 40)
    assert mesh("skull").volume == pytest.approx(60 * 40 * 20)


def test_gltf_is_metres_upright_facing_plus_z(tmp_path):
    """glTF viewers see the patient upright (+Y superior), facing +Z, in metres."""
    plan = make_plan()
    scene = trimesh.load(write_scene_glb(plan, tmp_path / "scene.glb"))
    root, _ = scene.graph[GLTF_ROOT]
    assert np.linalg.det(root[:3, :3]) == pytest.approx(1e-9)  # rotation times 0.001
    superior, anterior, left = root[:3, :3] @ [0, 0, 1], root[:3, :3] @ [0, -1, 0], root[:3, 0]
    assert np.allclose(superior, [0, 0.001, 0])
    assert np.allclose(anterior, [0, 0, 0.001])
    assert np.allclose(left, [0.001, 0, 0])
    transform, geom = scene.graph["skull"]
    skull = scene.geometry[geom].copy()
    skull.apply_transform(transform)
    assert np.allclose(skull.extents, plan.segments["skull"].extents[[0, 2, 1]] / 1000)


def test_cut_device_and_pose_stls_in_lps_mm(tmp_path):
    plan = make_plan()
    written = write_cut_and_device_stls(plan, tmp_path)
    rels = sorted(rel for rel, _, _ in written)
    assert rels == ["cuts/cut.stl", "devices/d_day0.stl", "devices/d_end.stl"]
    cut = trimesh.load_mesh(tmp_path / "cuts" / "cut.stl")
    assert np.allclose(cut.bounds, [[-15, -0.5, -15], [15, 0.5, 15]], atol=1e-6)  # kerf 1 mm
    end = plan.schedule.end_of_distraction_days
    paths = write_segments_at(plan, end / 2, tmp_path / "half")
    assert len(paths) == 3
    moving = next(p for p in paths if "moving" in p.name)
    got = trimesh.load_mesh(moving)
    expected = plan.meshes_at(end / 2)["mandible_moving_d"]
    assert np.allclose(got.bounds, expected.bounds, atol=1e-4)


def test_gltf_reads_in_vtk_as_in_trimesh(tmp_path):
    """A second, independent glTF reader (VTK's) places the scene in the same metres."""
    import pyvista as pv
    from vtkmodules.vtkIOGeometry import vtkGLTFReader

    plan = make_plan()
    path = write_scene_glb(plan, tmp_path / "scene.glb")
    reader = vtkGLTFReader()
    reader.SetFileName(str(path))
    reader.Update()
    bounds = np.asarray(pv.wrap(reader.GetOutput()).bounds).reshape(3, 2).T
    assert np.allclose(bounds, trimesh.load(path).bounds, atol=1e-6)

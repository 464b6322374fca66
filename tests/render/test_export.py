"""scene.glb loads back with its named, coloured nodes; STL of cuts, devices and poses."""

import numpy as np
import pytest
import trimesh

from planner.render.export import write_cut_and_device_stls, write_scene_glb, write_segments_at
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

    def mesh(name):
        transform, geom = scene.graph[name]
        m = scene.geometry[geom].copy()
        m.apply_transform(transform)
        return m

    start, end = mesh("mandible_moving_d_day0"), mesh("mandible_moving_d_end")
    assert np.allclose(end.vertices, start.vertices + TARGET_MM * VECTOR, atol=1e-4)
    assert np.allclose(start.bounds, plan.segments["mandible_moving_d"].bounds, atol=1e-4)
    color = scene.geometry[scene.graph["mandible_moving_d_end"][1]].visual.material
    assert tuple(color.baseColorFactor[:3]) == (235, 125, 40)
    assert mesh("skull").volume == pytest.approx(60 * 40 * 20)


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

"""Files other viewers open: ``scene.glb``, the cut planes and devices as STL, poses as STL.

``scene.glb`` (glTF 2.0 binary, written by trimesh) holds one named, coloured node per
thing. glTF is metres with +Y up and the front facing +Z, so every node hangs under one
root node, ``patient_LPS_mm``, whose matrix (:data:`LPS_MM_TO_GLTF`) turns patient LPS
millimetres into glTF: x stays the patient's left, y is superior, z anterior, times 0.001.
Blender and browser viewers show the head upright, facing the viewer, at its true size;
the meshes inside the root node keep LPS millimetres, like every other output, for a tool
that reads node geometry without transforms (undo the root matrix to get LPS mm back):

- ``<segment>`` for each segment that does not move, at day 0;
- ``<segment>_day0`` and ``<segment>_end`` for each moving segment;
- ``cut_<osteotomy>`` (the saw's slab, translucent yellow);
- ``device_<distractor>_day0`` and ``device_<distractor>_end``;
- ``vector_<distractor>``.

The STL files (LPS mm) land on the scan in 3D Slicer: ``cuts/<osteotomy>.stl`` is the
slab of bone the saw removes, ``devices/<distractor>_day0.stl`` and ``_end.stl`` the
schematic device at day 0 and at the end of distraction.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from planner.errors import PlannerError

__all__ = [
    "GLB_NAME",
    "GLTF_ROOT",
    "LPS_MM_TO_GLTF",
    "check_writable",
    "gltf_nodes",
    "write_cut_and_device_stls",
    "write_scene_glb",
    "write_segments_at",
]

GLB_NAME = "scene.glb"
GLTF_ROOT = "patient_LPS_mm"
#: (4, 4) LPS millimetres -> glTF metres (+X left, +Y superior, +Z anterior): a proper
#: rotation (determinant +1) scaled by 0.001.
LPS_MM_TO_GLTF = np.array(
    [
        [0.001, 0.0, 0.0, 0.0],
        [0.0, 0.0, 0.001, 0.0],
        [0.0, -0.001, 0.0, 0.0],
        [0.0, 0.0, 0.0, 1.0],
    ]
)


def _colored(mesh, rgba):
    import trimesh
    from trimesh.visual.material import PBRMaterial

    out = trimesh.Trimesh(mesh.vertices.copy(), mesh.faces.copy(), process=False)
    material = PBRMaterial(
        baseColorFactor=[int(c) for c in rgba],
        metallicFactor=0.0,
        roughnessFactor=0.8,
        alphaMode="BLEND" if rgba[3] < 255 else "OPAQUE",
        doubleSided=True,
    )
    out.visual = trimesh.visual.TextureVisuals(material=material)
    return out


def gltf_nodes(plan) -> dict[str, tuple]:
    """Node name -> (posed trimesh.Trimesh, rgba) for :func:`write_scene_glb`."""
    from planner.render.scene import scene_at

    start = scene_at(plan, 0.0)
    end_day = plan.schedule.end_of_distraction_days if plan.schedule is not None else None
    end = {it.name: it for it in scene_at(plan, end_day)} if end_day is not None else {}
    nodes = {}
    for it in start:
        kind, name = it.name.split(":", 1)
        if it.role == "moving" or (it.role == "device" and end):
            label = name if kind == "segment" else f"{kind}_{name}"
            nodes[f"{label}_day0"] = (it.posed_mesh(), it.color_rgba)
            if it.name in end:
                nodes[f"{label}_end"] = (end[it.name].posed_mesh(), it.color_rgba)
        elif kind == "segment":
            nodes[name] = (it.posed_mesh(), it.color_rgba)
        else:
            nodes[f"{kind}_{name}"] = (it.posed_mesh(), it.color_rgba)
    return nodes


def write_scene_glb(plan, path: str | Path) -> Path:
    """Write ``scene.glb``: every node of :func:`gltf_nodes` (atomically)."""
    import trimesh

    from planner.fileio import atomic_path

    scene = trimesh.Scene()
    scene.graph.update(
        frame_from=scene.graph.base_frame, frame_to=GLTF_ROOT, matrix=LPS_MM_TO_GLTF
    )
    for name, (mesh, rgba) in gltf_nodes(plan).items():
        scene.add_geometry(
            _colored(mesh, rgba), node_name=name, geom_name=name, parent_node_name=GLTF_ROOT
        )
    data = scene.export(file_type="glb")
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path


def write_cut_and_device_stls(plan, out_dir: str | Path) -> list[tuple[str, str, object]]:
    """Write ``cuts/*.stl`` and ``devices/*.stl`` under ``out_dir``.

    Returns
    -------
    list of (relative path, kind, trimesh.Trimesh)
        kind is ``"cut"`` or ``"device"``.
    """
    from planner.bone.surface import write_stl
    from planner.plan.cuts import kerf_mesh
    from planner.render.scene import device_mesh

    out_dir = Path(out_dir)
    written = []
    for ost in plan.case.osteotomies:
        rel = f"cuts/{ost.name}.stl"
        mesh = kerf_mesh(ost)
        (out_dir / "cuts").mkdir(parents=True, exist_ok=True)
        write_stl(mesh, out_dir / rel)
        written.append((rel, "cut", mesh))
    if plan.schedule is None:
        return written
    end = plan.schedule.end_of_distraction_days
    (out_dir / "devices").mkdir(parents=True, exist_ok=True)
    segment_of = plan.motion.segment_of
    for label, day in (("day0", 0.0), ("end", end)):
        poses = plan.poses_at(day)
        for d in plan.case.distractors:
            mesh = device_mesh(plan, d, poses.get(segment_of.get(d.name, ""), np.eye(4)))
            rel = f"devices/{d.name}_{label}.stl"
            write_stl(mesh, out_dir / rel)
            written.append((rel, "device", mesh))
    return written


def check_writable(folder: str | Path) -> Path:
    """Create ``folder`` if needed and check a file can be written there."""
    import os
    import tempfile

    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise PlannerError(
            f"cannot write to {folder} ({exc.strerror or exc}): choose another folder with -o"
        ) from None
    return folder


def write_segments_at(plan, day: float, out_dir: str | Path) -> list[Path]:
    """Write every segment at ``day`` as ``<segment>_day<day>.stl`` (LPS mm); the paths."""
    from planner.bone.surface import write_stl
    from planner.render.clip import check_day

    check_day(plan, day)
    out_dir = check_writable(out_dir)
    tag = f"{day:g}".replace(".", "p")
    paths = []
    for name, mesh in plan.meshes_at(day).items():
        path = out_dir / f"{name}_day{tag}.stl"
        write_stl(mesh, path)
        paths.append(path)
    return paths

"""Printable files: guides and operating-room models as STL (numpy-stl) and 3MF (lib3mf).

Everything stays in the scan's coordinates (LPS mm), so a guide lands on the bone in 3D
Slicer and in a slicer's build plate the parts keep their relative places. 3MF files carry
the unit (millimetre), a name and a colour per part. STL headers carry no patient data.
Files are written atomically (:func:`planner.fileio.atomic_path`).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import trimesh

from planner.fileio import atomic_path

__all__ = ["COLOURS", "stl_bytes", "write_3mf", "write_stl"]

# RGBA per kind of part (guides blue, bone ivory, moved segments orange).
COLOURS = {
    "guide": (60, 110, 180, 255),
    "bone": (235, 225, 200, 255),
    "moved": (230, 150, 60, 255),
}


def stl_bytes(mesh: trimesh.Trimesh, name: str) -> bytes:
    """A binary STL of ``mesh`` written by numpy-stl; ``name`` goes into the header."""
    from stl import Mode
    from stl import mesh as stl_mesh

    data = np.zeros(len(mesh.faces), dtype=stl_mesh.Mesh.dtype)
    data["vectors"] = np.asarray(mesh.triangles, dtype=np.float32)
    solid = stl_mesh.Mesh(data, calculate_normals=True, remove_empty_areas=False)
    buffer = io.BytesIO()
    solid.save(f"planner {name} LPS mm"[:60], fh=buffer, mode=Mode.BINARY, update_normals=False)
    return buffer.getvalue()


def write_stl(mesh: trimesh.Trimesh, path: str | Path, name: str) -> None:
    """Write ``mesh`` as binary STL at ``path`` (atomically)."""
    data = stl_bytes(mesh, name)
    with atomic_path(Path(path)) as tmp:
        Path(tmp).write_bytes(data)


def write_3mf(parts: Sequence[tuple[str, trimesh.Trimesh, tuple]], path: str | Path) -> None:
    """Write named, coloured parts into one 3MF file (unit: millimetre), atomically.

    Parameters
    ----------
    parts : sequence of (name, mesh, (r, g, b, a))
        Colours are 0-255.
    path : path
    """
    import lib3mf

    wrapper = lib3mf.get_wrapper()
    model = wrapper.CreateModel()
    model.SetUnit(lib3mf.ModelUnit.MilliMeter)
    colours = model.AddColorGroup()
    for name, mesh, rgba in parts:
        obj = model.AddMeshObject()
        obj.SetName(name)
        vertices = np.ascontiguousarray(mesh.vertices, dtype=np.float32)
        faces = np.ascontiguousarray(mesh.faces, dtype=np.uint32)
        obj.SetGeometry(
            (lib3mf.Position * len(vertices)).from_buffer(vertices),
            (lib3mf.Triangle * len(faces)).from_buffer(faces),
        )
        colour = colours.AddColor(wrapper.RGBAToColor(*(int(v) for v in rgba)))
        obj.SetObjectLevelProperty(colours.GetResourceID(), colour)
        model.AddBuildItem(obj, wrapper.GetIdentityTransform())
    writer = model.QueryWriter("3mf")
    with atomic_path(Path(path)) as tmp:
        writer.WriteToFile(str(tmp))


def read_3mf_parts(path: str | Path) -> dict[str, trimesh.Trimesh]:
    """The named parts of a 3MF file, as trimesh reads them (for checks and tests)."""
    scene = trimesh.load(str(path), file_type="3mf", force="scene")
    return {name: geom for name, geom in scene.geometry.items()}

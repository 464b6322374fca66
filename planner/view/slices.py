"""CT slice planes for the planning window: axial, coronal and sagittal, in LPS mm.

Each plane is drawn as one textured quad (two triangles) whatever the scan's size, so
moving a plane costs a texture upload, not a new surface. The quad's corners are the
outer edges of the slice's voxels, mapped through the volume's affine, so the picture lies
exactly where the bone models are. :func:`outline` traces a mesh (the bone, a cut) on a
plane.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from planner.scan.volume import Volume

__all__ = ["PLANES", "SlicePlane", "outline", "plane_axes", "slice_quad", "slice_rgb"]

# plane name -> LPS axis it is perpendicular to
PLANES = {"axial": 2, "coronal": 1, "sagittal": 0}
WINDOW_HU = (-200.0, 1400.0)  # grey scale: soft tissue dark, bone bright
AIR_HU = -400.0  # below this a voxel is air (drawn transparent)


@dataclass(frozen=True)
class SlicePlane:
    """Where one slice plane lies in a volume.

    Attributes
    ----------
    name : str
        "axial", "coronal" or "sagittal".
    axis : int
        The volume index axis (0 = i, 1 = j, 2 = k) the plane is perpendicular to.
    count : int
        Number of slices along ``axis``.
    """

    name: str
    axis: int
    count: int


def plane_axes(volume: Volume) -> dict[str, SlicePlane]:
    """For each plane name, the volume index axis nearest its LPS normal."""
    direction = volume.direction
    out = {}
    for name, lps in PLANES.items():
        axis = int(np.argmax(np.abs(direction[lps, :])))
        out[name] = SlicePlane(name, axis, volume.shape[axis])
    return out


def slice_rgb(
    volume: Volume, plane: SlicePlane, index: int, window_hu=WINDOW_HU, *, air_hu=AIR_HU
) -> np.ndarray:
    """The slice as a grey RGBA picture ``(rows, cols, 4)`` uint8; air is transparent.

    Columns run along the lower of the two in-plane index axes (texture s), rows along the
    higher one (texture t) from the last index down, as pictures are stored: row 0 is the
    top of the texture (t = 1), which is how ``pyvista.Texture`` reads an array. Voxels
    below ``air_hu`` get alpha 0, so the planes hide no bone behind the air around the head.
    """
    index = int(np.clip(index, 0, plane.count - 1))
    hu = np.take(volume.hu, index, axis=plane.axis)  # (lower axis, higher axis)
    hu = np.ascontiguousarray(hu.T[::-1])  # rows: higher axis (last first), cols: lower
    lo, hi = window_hu
    grey = np.clip((hu.astype(np.float32) - lo) * (255.0 / (hi - lo)), 0, 255).astype(np.uint8)
    alpha = np.where(hu < air_hu, 0, 255).astype(np.uint8)
    return np.dstack([grey, grey, grey, alpha])


def slice_quad(volume: Volume, plane: SlicePlane, index: int) -> np.ndarray:
    """The four LPS corners ``(4, 3)`` of the slice, counter-clockwise from texture (0, 0).

    Corner order: (0, 0), (1, 0), (1, 1), (0, 1) in texture coordinates, where s runs
    along the lower in-plane index axis and t along the higher one.
    """
    a, b = (ax for ax in range(3) if ax != plane.axis)
    shape = volume.shape
    corners = []
    for s, t in ((0, 0), (1, 0), (1, 1), (0, 1)):
        ijk = np.zeros(3)
        ijk[plane.axis] = float(np.clip(index, 0, plane.count - 1))
        ijk[a] = -0.5 if s == 0 else shape[a] - 0.5
        ijk[b] = -0.5 if t == 0 else shape[b] - 0.5
        corners.append(volume.index_to_lps(ijk))
    return np.asarray(corners)


def plane_point_normal(volume: Volume, plane: SlicePlane, index: int):
    """A point on the slice and its unit normal, LPS mm."""
    ijk = (np.asarray(volume.shape, dtype=float) - 1) / 2
    ijk[plane.axis] = float(np.clip(index, 0, plane.count - 1))
    return volume.index_to_lps(ijk), volume.direction[:, plane.axis].copy()


def outline(poly, origin, normal, pose=None):
    """Where a surface crosses a plane, as lines (pyvista PolyData, maybe empty), LPS mm.

    ``poly`` is in its day-0 position; ``pose`` (4, 4), when given, is where it is drawn:
    the plane is taken into the mesh's frame, cut there, and the lines are moved by
    ``pose``. (``vtkCutter`` called directly: pyvista's ``slice`` gives the same lines
    several times slower, too slow for every frame of the day slider.)
    """
    import pyvista as pv
    from vtkmodules.vtkCommonDataModel import vtkPlane
    from vtkmodules.vtkFiltersCore import vtkCutter

    origin = np.asarray(origin, dtype=float)
    normal = np.asarray(normal, dtype=float)
    pose = np.eye(4) if pose is None else np.asarray(pose, dtype=float)
    inv = np.linalg.inv(pose)
    plane = vtkPlane()
    plane.SetOrigin(*(inv[:3, :3] @ origin + inv[:3, 3]))
    plane.SetNormal(*(inv[:3, :3] @ normal))
    cutter = vtkCutter()
    cutter.SetCutFunction(plane)
    cutter.SetInputData(poly)
    cutter.Update()
    lines = pv.wrap(cutter.GetOutput())
    if lines.n_points:
        lines.points = np.asarray(lines.points) @ pose[:3, :3].T + pose[:3, 3]
    return lines

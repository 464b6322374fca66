"""Distance from a dense isosurface to its simplified mesh, mm (exact maximum).

:func:`deviation` gives the mean and 99th percentile over a sample of the dense vertices
and the exact maximum over all of them (its bounds use
:func:`planner.geometry.closest_point_on_triangles`).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from planner.geometry import closest_point_on_triangles

__all__ = ["Deviation", "deviation"]


@dataclass(frozen=True)
class Deviation:
    """Distance from the dense isosurface to the simplified mesh, mm.

    Parameters
    ----------
    mean_mm : float
        Mean over the dense vertices (estimated from 20,000 of them at most).
    max_mm : float
        Maximum over all dense vertices.
    p99_mm : float
        99th percentile (from the same sample as the mean).
    far : (k,) int array or None
        With ``far_mm`` given and exceeded: every dense vertex farther than ``far_mm``.
    """

    mean_mm: float
    max_mm: float
    p99_mm: float = float("nan")
    far: np.ndarray | None = field(default=None, compare=False, repr=False)


def _polydata(vertices: np.ndarray, faces: np.ndarray):
    """A vtkPolyData of triangles (VTK only: no pyvista import)."""
    from vtkmodules.util.numpy_support import numpy_to_vtk, numpy_to_vtkIdTypeArray
    from vtkmodules.vtkCommonCore import vtkPoints
    from vtkmodules.vtkCommonDataModel import vtkCellArray, vtkPolyData

    points = vtkPoints()
    points.SetData(numpy_to_vtk(np.ascontiguousarray(vertices, dtype=np.float64), deep=True))
    offsets = numpy_to_vtkIdTypeArray(
        np.arange(0, 3 * len(faces) + 1, 3, dtype=np.int64), deep=True
    )
    conn = numpy_to_vtkIdTypeArray(np.ascontiguousarray(faces, dtype=np.int64).ravel(), deep=True)
    cells = vtkCellArray()
    cells.SetData(offsets, conn)
    poly = vtkPolyData()
    poly.SetPoints(points)
    poly.SetPolys(cells)
    return poly


def deviation(
    dense: np.ndarray,
    vertices: np.ndarray,
    faces: np.ndarray,
    *,
    chunk: int = 131_072,
    far_mm: float | None = None,
) -> Deviation:
    """Distance from the dense vertices to the surface (vertices, faces), mm.

    Exact point-to-surface distances (VTK's implicit poly-data distance) give the mean and
    99th percentile over a random sample of 20,000 dense vertices. For the maximum every
    dense vertex gets an upper bound, its distance to the triangle whose centroid lies
    nearest (computed ``chunk`` vertices at a time, so memory stays small); the exact
    distance is then computed in decreasing order of bound until the next bound is no
    larger than the largest exact distance found, so the maximum over all dense vertices
    is exact. With ``far_mm`` given and the maximum above it, every dense vertex whose bound
    exceeds ``far_mm`` is measured exactly, and those farther than ``far_mm`` are returned
    in ``far`` (where decimation went too far).
    """
    if _all_kept(dense, vertices):  # nothing was decimated away: every distance is 0
        return Deviation(0.0, 0.0, 0.0, far=None if far_mm is None else np.zeros(0, int))
    from scipy.spatial import cKDTree
    from vtkmodules.util.numpy_support import numpy_to_vtk, vtk_to_numpy
    from vtkmodules.vtkCommonCore import vtkDoubleArray
    from vtkmodules.vtkFiltersCore import vtkImplicitPolyDataDistance

    distance = vtkImplicitPolyDataDistance()
    distance.SetInput(_polydata(vertices, faces))

    def exact(points: np.ndarray) -> np.ndarray:
        out = vtkDoubleArray()
        distance.FunctionValue(numpy_to_vtk(np.ascontiguousarray(points, dtype=np.float64)), out)
        return np.abs(vtk_to_numpy(out))

    rng = np.random.default_rng(0)
    sample = rng.choice(len(dense), size=min(20_000, len(dense)), replace=False)
    d_sample = exact(dense[sample])
    worst = float(d_sample.max())
    tri = vertices[faces]
    tree = cKDTree(tri.mean(axis=1))
    bound = np.empty(len(dense))
    # numpy and the k-d tree let go of the GIL: a half chunk per core (the same memory)
    workers = min(2, os.cpu_count() or 1)
    piece = max(1, chunk // workers)

    def bound_chunk(start: int) -> None:
        p = dense[start : start + piece]
        _, nearest = tree.query(p, k=1)
        t = tri[nearest]
        bound[start : start + piece] = np.linalg.norm(closest_point_on_triangles(p, t) - p, axis=1)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(bound_chunk, range(0, len(dense), piece)))
    tree = tri = None  # their memory goes before the exact distances
    check = np.nonzero(bound > worst)[0]
    order = check[np.argsort(bound[check])[::-1]]
    step = 2_048  # the largest bounds first: they raise ``worst`` quickly
    start = 0
    while start < len(order) and bound[order[start]] > worst:
        part = order[start : start + step]
        worst = max(worst, float(exact(dense[part]).max()))
        start += step
        step = min(4 * step, 32_768)
    far = None
    if far_mm is not None and worst > far_mm:
        check = np.nonzero(bound > far_mm)[0]
        far = check[exact(dense[check]) > far_mm] if len(check) else check
    return Deviation(
        mean_mm=float(d_sample.mean()),
        max_mm=worst,
        p99_mm=float(np.percentile(d_sample, 99)),
        far=far,
    )


def _all_kept(dense: np.ndarray, vertices: np.ndarray) -> bool:
    """Whether every dense vertex is, to the bit, a vertex of the result."""
    if len(vertices) < len(dense) or len(dense) == 0:
        return False
    rows = np.dtype((np.void, 24))
    mine = np.ascontiguousarray(dense, dtype=np.float64).view(rows).ravel()
    theirs = np.ascontiguousarray(vertices, dtype=np.float64).view(rows).ravel()
    return bool(np.isin(mine, theirs).all())

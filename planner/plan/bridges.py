"""Bone bridges: uncut bone that still joins two points after the osteotomies.

:class:`Bridge` describes one (:func:`planner.plan.free.free_segment_check` reports
them). :func:`voxel_bridges` locates
attachments away from the cut planes: it voxelises the remaining bone (slice by slice with
manifold3d, winding-number rasterisation), and finds the minimum cut between geodesic
balls around the two points on the voxels' face-adjacency graph (scipy max-flow); each
connected group of cut faces is one bridge, its area and size good to about one voxel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import manifold3d

__all__ = ["Bridge", "voxel_bridges"]


@dataclass(frozen=True, eq=False)
class Bridge:
    """Uncut bone joining the moving segment to the fixed one.

    ``osteotomy`` names the cut whose plane the bridge lies on, just outside its rectangle;
    None means the bridge is not next to any cut rectangle (found by a minimum cut on a
    voxel grid: ``area_mm2`` and ``size_mm`` are then approximate, to about one voxel).
    ``size_mm`` is the extent in the bridge's plane (for a cut: along ``in_plane_axis`` and
    across it).
    """

    center_mm: np.ndarray
    area_mm2: float
    size_mm: tuple[float, float]
    osteotomy: str | None


def voxel_bridges(
    part: manifold3d.Manifold,
    move: np.ndarray,
    fix: np.ndarray,
    pitch: float,
    max_voxels: int,
    seed_fraction: float,
) -> list[Bridge]:
    """Narrowest connection between two points through ``part``, on a voxel grid.

    Parameters
    ----------
    part : manifold3d.Manifold
        The bone that joins the points, LPS mm.
    move, fix : (3,) float
        The two points (moving and fixed footplates), LPS mm.
    pitch : float
        Voxel size, mm (made coarser if the grid would exceed ``max_voxels``).
    max_voxels : int
    seed_fraction : float
        The cut is sought between bone within this fraction of the geodesic distance of
        each point (see :func:`planner.plan.free.free_segment_check`).

    Returns
    -------
    list of Bridge
        One per connected group of cut voxel faces (``osteotomy`` None).
    """
    from scipy.sparse import csr_array
    from scipy.sparse.csgraph import (
        breadth_first_order,
        connected_components,
        dijkstra,
        maximum_flow,
    )
    from scipy.spatial import cKDTree

    lo_hi = np.asarray(part.bounding_box(), dtype=float)
    extent = lo_hi[3:] - lo_hi[:3]
    pitch = max(pitch, float(np.cbrt(np.prod(extent + 2 * pitch) / max_voxels)))
    shape = np.maximum(np.ceil(extent / pitch).astype(int), 1)
    origin = lo_hi[:3] + (extent - shape * pitch) / 2  # lower corner of the grid
    idx = np.argwhere(_voxelize(part, origin, pitch, shape))
    centers = origin + (idx + 0.5) * pitch
    n = len(idx)
    seeds = [_seeds(centers, p, pitch) for p in (move, fix)]
    if any(len(s) == 0 for s in seeds):  # bone thinner than a voxel at a point
        return [Bridge((move + fix) / 2, 0.0, (0.0, 0.0), None)]
    pa, pb = _neighbour_pairs(idx, shape)
    ones = np.ones(2 * len(pa))
    adj = csr_array((ones * pitch, (np.r_[pa, pb], np.r_[pb, pa])), shape=(n, n))
    d_move = dijkstra(adj, indices=seeds[0], min_only=True)
    d_fix = dijkstra(adj, indices=seeds[1], min_only=True)
    span = float(d_move[seeds[1]].min())
    if not np.isfinite(span):  # joined only through bone thinner than a voxel
        a, b = np.isfinite(d_move), np.isfinite(d_fix)
        d, j = cKDTree(centers[b]).query(centers[a])
        i = int(np.argmin(d))
        return [Bridge((centers[a][i] + centers[b][j[i]]) / 2, 0.0, (0.0, 0.0), None)]
    # Cut between geodesic balls around each point, so a cut hugging a point never wins.
    source = np.flatnonzero(d_move <= seed_fraction * span)
    sink = np.setdiff1d(np.flatnonzero(d_fix <= seed_fraction * span), source)
    s_node, t_node = n, n + 1
    big = 2 * len(pa) + 1
    rows = np.r_[pa, pb, np.full(len(source), s_node), sink]
    cols = np.r_[pb, pa, source, np.full(len(sink), t_node)]
    caps = np.r_[ones, np.full(len(source) + len(sink), big)].astype(np.int32)
    cap = csr_array((caps, (rows, cols)), shape=(n + 2, n + 2))
    resid = (cap - maximum_flow(cap, s_node, t_node).flow).tocsr()
    resid.data[resid.data < 0] = 0
    resid.eliminate_zeros()
    reached = np.zeros(n + 2, dtype=bool)
    reached[breadth_first_order(resid, s_node, return_predecessors=False)] = True
    cut = reached[pa] != reached[pb]
    mids = (centers[pa[cut]] + centers[pb[cut]]) / 2
    if len(mids) == 0:
        return []
    pairs = cKDTree(mids).query_pairs(1.5 * pitch, output_type="ndarray")
    link = csr_array((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(mids),) * 2)
    _, group = connected_components(link, directed=False)
    out = []
    for g in np.unique(group):
        pts = mids[group == g]
        center = pts.mean(axis=0)
        axes = np.linalg.svd(pts - center, full_matrices=False)[2] if len(pts) > 2 else np.eye(3)
        proj = (pts - center) @ axes[:2].T
        size = tuple(float(v) for v in np.ptp(proj, axis=0) + pitch)
        out.append(Bridge(center, float(len(pts) * pitch**2), size, None))
    return sorted(out, key=lambda br: -br.area_mm2)


def _neighbour_pairs(idx: np.ndarray, shape) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs of face-adjacent voxels among the rows of ``idx`` (n, 3)."""
    look = np.full(tuple(shape), -1, dtype=np.int64)
    look[tuple(idx.T)] = np.arange(len(idx))
    pa, pb = [], []
    for axis in range(3):
        nb = idx.copy()
        nb[:, axis] += 1
        ok = nb[:, axis] < shape[axis]
        other = np.full(len(idx), -1)
        other[ok] = look[tuple(nb[ok].T)]
        pa.append(np.flatnonzero(other >= 0))
        pb.append(other[other >= 0])
    return np.concatenate(pa), np.concatenate(pb)


def _seeds(centers: np.ndarray, point: np.ndarray, pitch: float) -> np.ndarray:
    d = np.linalg.norm(centers - point, axis=1)
    if len(d) == 0:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(d <= max(d.min() + pitch, 1.5 * pitch))


def _voxelize(part, origin, pitch, shape) -> np.ndarray:
    """Voxels (ni, nj, nk) whose centres are inside ``part``, from manifold slices."""
    grid = np.zeros(tuple(shape), dtype=bool)
    for k in range(shape[2]):
        z = origin[2] + (k + 0.5) * pitch
        polys = part.slice(z).to_polygons()
        if polys:
            grid[:, :, k] = _rasterize(polys, origin[:2], pitch, shape[:2])
    return grid


def _rasterize(rings, origin2, pitch, shape2) -> np.ndarray:
    """Cells (nx, ny) whose centres have a non-zero winding number about ``rings``."""
    nx, ny = int(shape2[0]), int(shape2[1])
    acc = np.zeros((ny, nx + 1), dtype=np.int32)
    for ring in rings:
        p = np.asarray(ring, dtype=float)
        q = np.roll(p, -1, axis=0)
        lo = np.ceil((np.minimum(p[:, 1], q[:, 1]) - origin2[1]) / pitch - 0.5)
        hi = np.ceil((np.maximum(p[:, 1], q[:, 1]) - origin2[1]) / pitch - 0.5)
        lo, hi = np.clip(lo, 0, ny).astype(int), np.clip(hi, 0, ny).astype(int)
        count = hi - lo
        edge = np.repeat(np.arange(len(p)), count)
        row = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count) + lo[edge]
        y = origin2[1] + (row + 0.5) * pitch
        p0, p1 = p[edge], q[edge]
        x = p0[:, 0] + (y - p0[:, 1]) / (p1[:, 1] - p0[:, 1]) * (p1[:, 0] - p0[:, 0])
        sign = np.where(p1[:, 1] > p0[:, 1], 1, -1)
        col = np.clip(np.ceil((x - origin2[0]) / pitch - 0.5), 0, nx).astype(int)
        np.add.at(acc, (row, np.zeros_like(row)), sign)
        np.add.at(acc, (row, col), -sign)
    return (np.cumsum(acc, axis=1)[:, :nx] != 0).T

"""Height fields along the insertion direction: the guide's own geometry kernel.

A guide goes onto the bone along one direction ``d``. In a frame whose z axis is ``d``, the
bone surface it sits on is a height field ``z(x, y)`` (no undercut means one height per
column), so the shell, the slot block standing off the bone and the label grooves are all
solids between two height fields, clipped to a 2D outline. This module samples meshes on
a regular grid of columns (exactly: the height of the surface at each grid node) and
builds closed solids between two height fields.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import trimesh

__all__ = [
    "Grid",
    "ball_dilation",
    "face_sag_lift",
    "grid_frame",
    "point_balls",
    "rasterize",
    "solid_between",
    "surface_samples",
]

NO_HEIGHT = -1.0e6  # height of a column with no surface in it


def grid_frame(direction, along) -> np.ndarray:
    """``(3, 3)`` rotation whose rows are the grid's x, y and z (= ``direction``) in LPS.

    ``along`` (projected off ``direction``) gives x, so grid rows run along it.
    """
    d = np.asarray(direction, dtype=float)
    d = d / np.linalg.norm(d)
    x = np.asarray(along, dtype=float)
    x = x - d * (x @ d)
    if np.linalg.norm(x) < 1e-6:  # along is parallel to d: any perpendicular
        x = np.cross(d, [1.0, 0.0, 0.0] if abs(d[0]) < 0.9 else [0.0, 1.0, 0.0])
    x = x / np.linalg.norm(x)
    return np.stack([x, np.cross(d, x), d])


@dataclass(frozen=True, eq=False)
class Grid:
    """Columns at ``origin + (i * step, j * step)`` in the frame ``rotation`` (LPS mm).

    ``local = rotation @ p`` maps an LPS point to grid coordinates (x, y, height).
    """

    rotation: np.ndarray  # (3, 3)
    origin: np.ndarray  # (2,) grid x, y of node (0, 0)
    step: float
    shape: tuple[int, int]  # (nx, ny)

    @classmethod
    def covering(cls, rotation, points_local_xy, step: float, pad_mm: float) -> Grid:
        lo = points_local_xy.min(axis=0) - pad_mm
        hi = points_local_xy.max(axis=0) + pad_mm
        shape = tuple(int(v) for v in np.ceil((hi - lo) / step) + 1)
        return cls(np.asarray(rotation, dtype=float), lo, float(step), shape)

    def sub(self, i0: int, i1: int, j0: int, j1: int) -> Grid:
        """The nodes ``[i0:i1, j0:j1]`` as a grid of their own (slice heights alike)."""
        i0, j0 = max(i0, 0), max(j0, 0)
        i1, j1 = min(i1, self.shape[0]), min(j1, self.shape[1])
        origin = self.origin + self.step * np.array([i0, j0], dtype=float)
        return Grid(self.rotation, origin, self.step, (i1 - i0, j1 - j0))

    def to_local(self, points) -> np.ndarray:
        return np.asarray(points, dtype=float) @ self.rotation.T

    def to_lps(self, local) -> np.ndarray:
        return np.asarray(local, dtype=float) @ self.rotation

    def xy(self) -> tuple[np.ndarray, np.ndarray]:
        """Grid x and y of every node, each ``(nx, ny)``."""
        xs = self.origin[0] + self.step * np.arange(self.shape[0])
        ys = self.origin[1] + self.step * np.arange(self.shape[1])
        return np.meshgrid(xs, ys, indexing="ij")

    def index_of(self, local_xy) -> np.ndarray:
        """Nearest node ``(n, 2)`` int of grid points, clipped to the grid."""
        ij = np.rint((np.asarray(local_xy)[..., :2] - self.origin) / self.step).astype(int)
        return np.clip(ij, 0, np.asarray(self.shape) - 1)

    def lps_points(self, height) -> np.ndarray:
        """``(nx, ny, 3)`` LPS points of the nodes at ``height (nx, ny)``."""
        x, y = self.xy()
        return self.to_lps(np.stack([x, y, height], axis=-1))


def rasterize(
    grid: Grid, triangles_local: np.ndarray, normals_local: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Highest crossing of each grid column with a triangle surface.

    Parameters
    ----------
    grid : Grid
    triangles_local : (m, 3, 3) float
        Triangles in grid coordinates.
    normals_local : (m, 3, 3) float, optional
        Per-corner normals, interpolated at the crossing (smooth normals).

    Returns
    -------
    height : (nx, ny) float
        ``NO_HEIGHT`` where no triangle covers the node.
    normal : (nx, ny, 3) float or None
        Interpolated unit normal at the highest crossing (zero where none).
    """
    nx, ny = grid.shape
    height = np.full(grid.shape, NO_HEIGHT)
    normal = np.zeros((*grid.shape, 3)) if normals_local is not None else None
    if not len(triangles_local):
        return height, normal
    t = (triangles_local[:, :, :2] - grid.origin) / grid.step  # in node units
    lo = np.clip(np.ceil(t.min(axis=1) - 1e-9).astype(np.int64), 0, [nx, ny])
    hi = np.clip(np.floor(t.max(axis=1) + 1e-9).astype(np.int64), -1, [nx - 1, ny - 1])
    count_i = np.maximum(hi[:, 0] - lo[:, 0] + 1, 0)
    count_j = np.maximum(hi[:, 1] - lo[:, 1] + 1, 0)
    counts = count_i * count_j
    tri = np.repeat(np.arange(len(t)), counts)
    if not len(tri):
        return height, normal
    k = np.arange(len(tri)) - np.repeat(np.cumsum(counts) - counts, counts)
    i = lo[tri, 0] + k % count_i[tri]
    j = lo[tri, 1] + k // count_i[tri]
    a, b, c = t[tri, 0], t[tri, 1], t[tri, 2]
    p = np.stack([i, j], axis=1).astype(float)
    v0, v1, v2 = b - a, c - a, p - a
    den = v0[:, 0] * v1[:, 1] - v1[:, 0] * v0[:, 1]
    ok = np.abs(den) > 1e-12
    den = np.where(ok, den, 1.0)
    w1 = (v2[:, 0] * v1[:, 1] - v1[:, 0] * v2[:, 1]) / den
    w2 = (v0[:, 0] * v2[:, 1] - v2[:, 0] * v0[:, 1]) / den
    w0 = 1.0 - w1 - w2
    eps = -1e-9
    inside = ok & (w0 >= eps) & (w1 >= eps) & (w2 >= eps)
    tri, i, j = tri[inside], i[inside], j[inside]
    w = np.stack([w0[inside], w1[inside], w2[inside]], axis=1)
    z = np.einsum("nk,nk->n", w, triangles_local[tri, :, 2])
    flat = i * ny + j
    order = np.lexsort((z, flat))
    last = order[np.r_[flat[order][1:] != flat[order][:-1], True]]
    height.reshape(-1)[flat[last]] = z[last]
    if normal is not None:
        nrm = np.einsum("nk,nkd->nd", w[last], normals_local[tri[last]])
        nrm /= np.maximum(np.linalg.norm(nrm, axis=1, keepdims=True), 1e-12)
        normal.reshape(-1, 3)[flat[last]] = nrm
    return height, normal


def ball_dilation(height: np.ndarray, radius_mm: float, step: float) -> np.ndarray:
    """Upper envelope of balls of ``radius_mm`` centred on the nodes' heights.

    ``out[p] = max over nodes q within radius of height[q] + sqrt(r² - |p - q|²)``: every
    point of the result lies at least ``radius_mm`` from every sampled point.
    """
    from scipy.ndimage import grey_dilation

    k = int(np.floor(radius_mm / step))
    off = np.arange(-k, k + 1) * step
    r2 = radius_mm**2 - off[:, None] ** 2 - off[None, :] ** 2
    footprint = r2 >= 0
    structure = np.where(footprint, np.sqrt(np.maximum(r2, 0.0)), 0.0)
    out = grey_dilation(height, footprint=footprint, structure=structure, mode="nearest")
    return np.where(height > NO_HEIGHT / 2, out, np.maximum(out, NO_HEIGHT))


def surface_samples(triangles: np.ndarray, spacing_mm: float) -> np.ndarray:
    """Points ``(n, 3)`` covering triangles ``(m, 3, 3)`` no more than ``spacing_mm`` apart
    along their edges: each triangle's corners and a regular barycentric lattice on it."""
    edges = np.linalg.norm(triangles - np.roll(triangles, 1, axis=1), axis=2).max(axis=1)
    splits = np.maximum(1, np.ceil(edges / spacing_mm).astype(np.int64))
    out = [triangles.reshape(-1, 3)]  # the corners (shared ones repeat: harmless)
    for k in np.unique(splits[splits > 1]):
        i, j = np.mgrid[0 : k + 1, 0 : k + 1]
        keep = (i + j <= k) & ~(((i == 0) | (i == k)) & ((j == 0) | (j == k)))
        keep[0, k] = False  # the three corners are in already
        w = np.stack([k - i[keep] - j[keep], i[keep], j[keep]], axis=1) / k  # (p, 3)
        tri = triangles[splits == k]
        out.append(np.einsum("pk,tkd->tpd", w, tri).reshape(-1, 3))
    return np.concatenate(out)


def point_balls(grid: Grid, points_local: np.ndarray, radius_mm: float) -> np.ndarray:
    """Upper envelope, at the nodes, of balls of ``radius_mm`` about points (grid
    coordinates): the least height at which a node is ``radius_mm`` from every point."""
    nx, ny = grid.shape
    out = np.full(nx * ny, NO_HEIGHT)
    xy = (points_local[:, :2] - grid.origin) / grid.step  # node units
    base = np.floor(xy).astype(np.int64)
    frac = xy - base
    k = int(np.ceil(radius_mm / grid.step))
    r2 = (radius_mm / grid.step) ** 2  # node units
    for di in range(-k, k + 2):
        dx2 = (di - frac[:, 0]) ** 2
        i = base[:, 0] + di
        rows = np.flatnonzero((dx2 <= r2) & (i >= 0) & (i < nx))
        if not len(rows):
            continue
        dx2, i, fy, bj = dx2[rows], i[rows], frac[rows, 1], base[rows, 1]
        z0 = points_local[rows, 2]
        for dj in range(-k, k + 2):
            d2 = dx2 + (dj - fy) ** 2
            j = bj + dj
            ok = (d2 <= r2) & (j >= 0) & (j < ny)
            z = z0[ok] + grid.step * np.sqrt(np.maximum(r2 - d2[ok], 0.0))
            np.maximum.at(out, i[ok] * ny + j[ok], z)
    return out.reshape(grid.shape)


# The centroids of a cell's two triangles (see :func:`_between`: a-b-c and a-c-d, split
# along the diagonal a-c), in node units from the cell's corner a = (i, j).
FACE_CENTROIDS = ((2 / 3, 1 / 3), (1 / 3, 2 / 3))
_FACE_CORNERS = (((0, 0), (1, 0), (1, 1)), ((0, 0), (1, 1), (0, 1)))


def face_sag_lift(
    grid: Grid,
    height: np.ndarray,
    points_local: np.ndarray,
    radius_mm: float,
    allowance_mm: float,
) -> np.ndarray:
    """How far to lift each node so that no face of ``height`` dips more than
    ``allowance_mm`` below the envelope of balls of ``radius_mm`` about ``points_local``.

    ``height`` (``(nx, ny)``, ``NO_HEIGHT`` off the surface) is the envelope at the
    nodes (:func:`point_balls`). Meshed by :func:`solid_between`, each of its flat
    triangles lies below the envelope wherever the envelope bulges (over a convex bone
    edge it is a cylinder of ``radius_mm``): the sag, measured at the triangle's centroid
    as the envelope there minus the mean of its corners. A node is lifted by the largest
    sag beyond the allowance of the triangles it belongs to, so every centroid rises by at
    least its own excess and no node by more than its neighbours' worst.

    Returns
    -------
    (nx, ny) float
        Lift (mm, >= 0) of each node; zero off the surface.
    """
    nx, ny = grid.shape
    lift = np.zeros(grid.shape)
    if nx < 2 or ny < 2:
        return lift
    has = height > NO_HEIGHT / 2
    for offset, corners in zip(FACE_CENTROIDS, _FACE_CORNERS, strict=True):
        shifted = Grid(
            grid.rotation, grid.origin + grid.step * np.array(offset), grid.step, grid.shape
        )
        env = point_balls(shifted, points_local, radius_mm)[:-1, :-1]
        mean = np.zeros((nx - 1, ny - 1))
        ok = env > NO_HEIGHT / 2
        for di, dj in corners:
            mean += height[di : nx - 1 + di, dj : ny - 1 + dj] / 3
            ok &= has[di : nx - 1 + di, dj : ny - 1 + dj]
        excess = np.where(ok, env - mean - allowance_mm, 0.0)
        excess = np.maximum(excess, 0.0)
        for di, dj in corners:
            view = lift[di : nx - 1 + di, dj : ny - 1 + dj]
            np.maximum(view, excess, out=view)
    return np.where(has, lift, 0.0)


def solid_between(grid: Grid, low, high, *, lps: bool = True) -> trimesh.Trimesh:
    """Closed mesh of the solid between two height fields over the whole grid.

    ``high`` must exceed ``low`` at every node. Either may be a number (a flat side, made
    of two triangles). A varying side is the grid of nodes, two triangles a cell; the sides
    are joined by vertical walls along the grid's border. In LPS, or in grid coordinates
    when ``lps`` is False.
    """
    if np.ndim(high) == 0 and np.ndim(low) == 0:
        raise ValueError("at least one side must be a height field")
    if np.ndim(high) == 0:  # flat top: build it as a flat bottom upside down
        mesh = solid_between(grid, -float(high), -np.asarray(low), lps=False)
        vertices = mesh.vertices * np.array([1.0, 1.0, -1.0])
        faces = mesh.faces[:, ::-1]
    else:
        vertices, faces = _between(grid, low, np.asarray(high, dtype=float))
    if lps:
        vertices = grid.to_lps(vertices)
    return trimesh.Trimesh(vertices, faces, process=False)


def _between(grid, low, high):
    nx, ny = grid.shape
    flat = np.ndim(low) == 0
    if np.any(high <= low):
        raise ValueError("the upper height field must lie above the lower one everywhere")
    x, y = grid.xy()
    top = np.stack([x, y, high], axis=-1).reshape(-1, 3)
    n = nx * ny
    idx = np.arange(n).reshape(nx, ny)
    a, b = idx[:-1, :-1].ravel(), idx[1:, :-1].ravel()
    c, d = idx[1:, 1:].ravel(), idx[:-1, 1:].ravel()
    top_faces = np.concatenate([np.stack([a, b, c], 1), np.stack([a, c, d], 1)])
    sides = [idx[:, 0], idx[-1, :], idx[::-1, -1], idx[0, ::-1]]  # counter-clockwise
    if not flat:
        bottom = np.stack([x, y, low], axis=-1).reshape(-1, 3)
        ring = np.concatenate([s[:-1] for s in sides])
        r0, r1 = ring, np.roll(ring, -1)
        walls = np.concatenate([np.stack([r0, r0 + n, r1], 1), np.stack([r1, r0 + n, r1 + n], 1)])
        return np.concatenate([top, bottom]), np.concatenate(
            [top_faces, top_faces[:, ::-1] + n, walls]
        )
    corners = np.array([s[0] for s in sides])
    bottom = top[corners] * np.array([1.0, 1.0, 0.0]) + np.array([0.0, 0.0, float(low)])
    walls = []
    for k, side in enumerate(sides):  # a fan from each bottom corner of the side
        b0, b1 = n + k, n + (k + 1) % 4
        half = len(side) // 2
        t0, t1 = side[:-1], side[1:]
        base = np.where(np.arange(len(t0)) < half, b0, b1)
        walls.append(np.stack([t0, base, t1], 1))
        walls.append(np.array([[side[half], b0, b1]]))
    floor = np.array([[n, n + 2, n + 1], [n, n + 3, n + 2]])
    return np.concatenate([top, bottom]), np.concatenate([top_faces, *walls, floor])

"""Inside or outside a closed surface: the generalised winding number.

The winding number of a closed, outward-oriented surface about a point is 1 inside and 0
outside (-1 inside an inward-oriented one); on an open surface it varies smoothly, so
``> 0.5`` stays a sensible "inside" (Jacobson et al. 2013). Each triangle adds its signed
solid angle over ``4 pi`` (Van Oosterom and Strackee's formula).
"""

from __future__ import annotations

import numpy as np

__all__ = ["contains", "triangle_rows", "winding_number"]

_BLOCK = 65_536  # point-triangle pairs per vectorised block (small: stays in CPU cache)


def triangle_rows(triangles) -> np.ndarray:
    """The triangles as contiguous coordinate rows, the layout :func:`winding_number`
    works on: ``rows[v, k]`` is coordinate ``k`` of vertex ``v`` of every triangle.

    Parameters
    ----------
    triangles : (m, 3, 3) float

    Returns
    -------
    (3, 3, m) float
    """
    tri = np.asarray(triangles, dtype=float).reshape(-1, 3, 3)
    return np.ascontiguousarray(tri.transpose(1, 2, 0))


def winding_number(points, triangles, *, rows: np.ndarray | None = None) -> np.ndarray:
    """Generalised winding numbers of ``points`` for a triangle surface.

    Parameters
    ----------
    points : (n, 3) float
    triangles : (m, 3, 3) float
        Vertices of each triangle; a closed surface oriented outwards.
    rows : (3, 3, m) float, optional
        ``triangle_rows(triangles)``, when already known (kept with a mesh); then
        ``triangles`` is not read.

    Returns
    -------
    (n,) float
        1 inside, 0 outside; a point exactly on the surface gets 0, 1/2 or 1.
    """
    pts = np.asarray(points, dtype=float).reshape(-1, 3)
    # one contiguous row per vertex coordinate, (3, 3, m): plain float arithmetic on rows
    # is several times faster than norms, cross and einsum on (k, m, 3, 3) blocks
    t = triangle_rows(triangles) if rows is None else rows
    out = np.zeros(len(pts))
    m = t.shape[2]
    if not m:
        return out
    step = max(1, _BLOCK // m)
    for start in range(0, len(pts), step):
        q = pts[start : start + step, :, None]  # (k, 3, 1)
        ax, ay, az = t[0, 0] - q[:, 0], t[0, 1] - q[:, 1], t[0, 2] - q[:, 2]
        bx, by, bz = t[1, 0] - q[:, 0], t[1, 1] - q[:, 1], t[1, 2] - q[:, 2]
        cx, cy, cz = t[2, 0] - q[:, 0], t[2, 1] - q[:, 1], t[2, 2] - q[:, 2]
        la = np.sqrt(ax * ax + ay * ay + az * az)
        lb = np.sqrt(bx * bx + by * by + bz * bz)
        lc = np.sqrt(cx * cx + cy * cy + cz * cz)
        num = ax * (by * cz - bz * cy) + ay * (bz * cx - bx * cz) + az * (bx * cy - by * cx)
        den = (
            la * lb * lc
            + (ax * bx + ay * by + az * bz) * lc
            + (ax * cx + ay * cy + az * cz) * lb
            + (bx * cx + by * cy + bz * cz) * la
        )
        out[start : start + step] = np.arctan2(num, den).sum(axis=1) / (2 * np.pi)
    return out


def contains(points, triangles, *, rows: np.ndarray | None = None) -> np.ndarray:
    """Boolean ``(n,)``: which ``points (n, 3)`` lie inside the closed surface
    ``triangles (m, 3, 3)`` (winding number above 0.5 in absolute value, so an inward
    oriented surface works too); ``rows`` as for :func:`winding_number`."""
    return np.abs(winding_number(points, triangles, rows=rows)) > 0.5

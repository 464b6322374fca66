"""Inside or outside a closed surface: the generalised winding number.

The winding number of a closed, outward-oriented surface about a point is 1 inside and 0
outside (-1 inside an inward-oriented one); on an open surface it varies smoothly, so
``> 0.5`` stays a sensible "inside" (Jacobson et al. 2013). Each triangle adds its signed
solid angle over ``4 pi`` (Van Oosterom and Strackee's formula).
"""

from __future__ import annotations

import numpy as np

__all__ = ["contains", "winding_number"]

_BLOCK = 2_000_000  # point-triangle pairs per vectorised block


def winding_number(points, triangles) -> np.ndarray:
    """Generalised winding numbers of ``points`` for a triangle surface.

    Parameters
    ----------
    points : (n, 3) float
    triangles : (m, 3, 3) float
        Vertices of each triangle; a closed surface oriented outwards.

    Returns
    -------
    (n,) float
        1 inside, 0 outside; a point exactly on the surface gets 0, 1/2 or 1.
    """
    pts = np.asarray(points, dtype=float).reshape(-1, 3)
    tri = np.asarray(triangles, dtype=float).reshape(-1, 3, 3)
    out = np.zeros(len(pts))
    if not len(tri):
        return out
    step = max(1, _BLOCK // len(tri))
    for start in range(0, len(pts), step):
        rel = tri[None] - pts[start : start + step, None, None]  # (k, m, 3, 3)
        a, b, c = rel[:, :, 0], rel[:, :, 1], rel[:, :, 2]
        la, lb, lc = (np.linalg.norm(x, axis=-1) for x in (a, b, c))
        num = np.einsum("...i,...i->...", a, np.cross(b, c))
        den = (
            la * lb * lc
            + np.einsum("...i,...i->...", a, b) * lc
            + np.einsum("...i,...i->...", a, c) * lb
            + np.einsum("...i,...i->...", b, c) * la
        )
        out[start : start + step] = np.arctan2(num, den).sum(axis=1) / (2 * np.pi)
    return out


def contains(points, triangles) -> np.ndarray:
    """Boolean ``(n,)``: which ``points (n, 3)`` lie inside the closed surface
    ``triangles (m, 3, 3)`` (winding number above 0.5 in absolute value, so an inward
    oriented surface works too)."""
    return np.abs(winding_number(points, triangles)) > 0.5

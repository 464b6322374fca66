"""Signed distance functions (SDFs) for synthetic anatomy, evaluated fast on voxel grids.

A shape is a tree of nodes: primitives (ellipsoid, capsule, rounded box, ribbon along a
polyline, plane, ...) and operations (union, smooth union, subtraction, intersection,
shell). Values are in mm, negative inside. Every node knows a box (``lo``, ``hi``) that
holds its inside; on a grid, a node is only evaluated within that box grown by ``band``
and reads ``band`` elsewhere, so a small tooth costs a few thousand evaluations, not
millions. Values are therefore exact (up to each primitive's formula) only in
``[-band, band]``; beyond that only their sign is meaningful.

Exact SDFs: sphere, capsule, rounded box, plane, ribbon (for a horizontal polyline).
Approximate but smooth (gradient close to 1 near the surface): ellipsoid, smooth union.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = [
    "Capsule",
    "Ellipsoid",
    "Function",
    "Intersect",
    "Plane",
    "Ribbon",
    "RoundBox",
    "Shape",
    "Shell",
    "SmoothUnion",
    "Subtract",
    "Union",
    "eval_grid",
    "eval_points",
    "smin",
]

_F = np.float32


class Shape:
    """Base node. Subclasses set ``lo``/``hi`` and implement :meth:`__call__`."""

    lo: np.ndarray
    hi: np.ndarray

    def __call__(self, x, y, z) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def grid(self, xs, ys, zs, band: float) -> np.ndarray:
        """Evaluate on the grid ``xs × ys × zs`` (1D, ascending); returns (nx, ny, nz)."""
        d = self(xs[:, None, None], ys[None, :, None], zs[None, None, :])
        shape = (len(xs), len(ys), len(zs))
        if d.shape != shape:
            d = np.broadcast_to(d, shape).copy()
        return d.astype(_F, copy=False)


def _window(node: Shape, xs, ys, zs, band: float):
    """Index slices of the grid inside ``node``'s box grown by ``band``, or None."""
    out = []
    for c, lo, hi in zip((xs, ys, zs), node.lo, node.hi, strict=True):
        a = int(np.searchsorted(c, lo - band, "left"))
        b = int(np.searchsorted(c, hi + band, "right"))
        if b <= a:
            return None
        out.append(slice(a, b))
    return tuple(out)


def eval_grid(node: Shape, xs, ys, zs, *, band: float) -> np.ndarray:
    """Evaluate ``node`` on a grid, culling by boxes.

    Parameters
    ----------
    node : Shape
    xs, ys, zs : (nx,), (ny,), (nz,) float
        Ascending LPS coordinates of the grid lines in mm.
    band : float
        Distance (mm) within which values must be exact; ``band`` is read elsewhere.

    Returns
    -------
    (nx, ny, nz) float32
    """
    xs, ys, zs = (np.asarray(c, dtype=_F) for c in (xs, ys, zs))
    out = np.full((len(xs), len(ys), len(zs)), band, dtype=_F)
    sl = _window(node, xs, ys, zs, band)
    if sl is not None:
        out[sl] = node.grid(xs[sl[0]], ys[sl[1]], zs[sl[2]], band)
    return out


def eval_points(node: Shape, points) -> np.ndarray:
    """Evaluate ``node`` at ``(..., 3)`` LPS points (no culling); returns ``(...)`` float64."""
    p = np.asarray(points, dtype=float)
    if p.shape[-1] != 3:
        raise ValueError(f"points must have shape (..., 3), got {p.shape}")
    return np.asarray(node(p[..., 0], p[..., 1], p[..., 2]), dtype=float)


def _box(lo, hi) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)


# --------------------------------------------------------------------------- primitives
class Ellipsoid(Shape):
    """Ellipsoid with ``centre`` (3,) and semi-axes ``radii`` (3,) along x, y, z (mm).

    Uses the smooth approximation ``k0 (k0 - 1) / k1`` (exact on the surface, gradient
    close to 1 near it).
    """

    def __init__(self, centre, radii):
        self.c = np.asarray(centre, dtype=float)
        self.r = np.asarray(radii, dtype=float)
        self.lo, self.hi = _box(self.c - self.r, self.c + self.r)

    def __call__(self, x, y, z):
        (cx, cy, cz), (a, b, c) = self.c, self.r
        u, v, w = (x - cx), (y - cy), (z - cz)
        k0 = np.sqrt((u / a) ** 2 + (v / b) ** 2 + (w / c) ** 2)
        k1 = np.sqrt((u / a**2) ** 2 + (v / b**2) ** 2 + (w / c**2) ** 2)
        return k0 * (k0 - 1.0) / np.maximum(k1, 1e-6)


class Capsule(Shape):
    """Segment ``a``–``b`` (3,) swept by a ball of radius ``r`` (a sphere when a == b)."""

    def __init__(self, a, b, r):
        self.a = np.asarray(a, dtype=float)
        self.b = np.asarray(b, dtype=float)
        self.r = float(r)
        self.lo, self.hi = _box(np.minimum(self.a, self.b) - r, np.maximum(self.a, self.b) + r)

    def __call__(self, x, y, z):
        ab = self.b - self.a
        ll = float(ab @ ab)
        px, py, pz = x - self.a[0], y - self.a[1], z - self.a[2]
        if ll == 0.0:
            h = 0.0
        else:
            h = np.clip((px * ab[0] + py * ab[1] + pz * ab[2]) / ll, 0.0, 1.0)
        return (
            np.sqrt((px - h * ab[0]) ** 2 + (py - h * ab[1]) ** 2 + (pz - h * ab[2]) ** 2) - self.r
        )


class RoundBox(Shape):
    """Box with half extents ``half`` (3,) and rounded edges ``r``, centred on ``centre``.

    ``axes`` (3, 3): rows are the box's local unit axes in LPS (default: x, y, z). The
    rounding is inside ``half`` (the outer size stays ``2 * half``).
    """

    def __init__(self, centre, half, r, axes=None):
        self.c = np.asarray(centre, dtype=float)
        self.half = np.asarray(half, dtype=float)
        self.r = float(r)
        ax = np.eye(3) if axes is None else np.asarray(axes, dtype=float)
        self.axes = ax / np.linalg.norm(ax, axis=1, keepdims=True)
        ext = np.abs(self.axes.T) @ self.half
        self.lo, self.hi = _box(self.c - ext, self.c + ext)

    def __call__(self, x, y, z):
        u, v, w = x - self.c[0], y - self.c[1], z - self.c[2]
        q = []
        for row, h in zip(self.axes, self.half, strict=True):
            q.append(np.abs(u * row[0] + v * row[1] + w * row[2]) - (h - self.r))
        outside = np.sqrt(sum(np.maximum(qi, 0.0) ** 2 for qi in q))
        inside = np.minimum(np.maximum(np.maximum(q[0], q[1]), q[2]), 0.0)
        return outside + inside - self.r


class Plane(Shape):
    """Half-space ``dot(n, p) < offset`` (inside), limited to a box for culling."""

    def __init__(self, normal, offset, lo, hi):
        n = np.asarray(normal, dtype=float)
        self.n = n / np.linalg.norm(n)
        self.offset = float(offset)
        self.lo, self.hi = _box(lo, hi)

    def __call__(self, x, y, z):
        return x * self.n[0] + y * self.n[1] + z * self.n[2] - self.offset


class Ribbon(Shape):
    """A vertical band along a polyline, thickened by a ball: a swept stadium profile.

    Parameters
    ----------
    points : (n, 3) float
        Centre line (LPS mm). The band spans ``z ± half_height`` at each point; the
        profile is a stadium ``2 * radius`` wide and ``2 * (half_height + radius)`` tall.
    half_height : float or (n,) float
        In mm, per point (linear in between).
    radius : float
        In mm. Exact for a horizontal centre line and constant height; close otherwise.
    """

    def __init__(self, points, half_height, radius):
        self.p = np.asarray(points, dtype=float)
        self.h = np.broadcast_to(np.asarray(half_height, dtype=float), (len(self.p),))
        self.r = float(radius)
        grow = np.array([self.r, self.r, self.r + self.h.max()])
        self.lo, self.hi = _box(self.p.min(axis=0) - grow, self.p.max(axis=0) + grow)
        self.segs = [
            _RibbonSegment(self.p[i], self.p[i + 1], self.h[i], self.h[i + 1], self.r)
            for i in range(len(self.p) - 1)
        ]

    def __call__(self, x, y, z):
        return np.minimum.reduce([s(x, y, z) for s in self.segs])

    def grid(self, xs, ys, zs, band):
        return Union(*self.segs).grid(xs, ys, zs, band)


class _RibbonSegment(Shape):
    def __init__(self, a, b, ha, hb, r):
        self.a, self.b, self.ha, self.hb, self.r = a, b, float(ha), float(hb), r
        grow = np.array([r, r, r + max(ha, hb)])
        self.lo, self.hi = _box(np.minimum(a, b) - grow, np.maximum(a, b) + grow)
        d = (b - a)[:2]
        self.len = float(np.hypot(*d))
        self.t = d / self.len

    def __call__(self, x, y, z):
        a, t = self.a, self.t
        px, py = x - a[0], y - a[1]
        s = px * t[0] + py * t[1]
        sc = np.clip(s, 0.0, self.len)
        n = px * t[1] - py * t[0]  # horizontal distance across the centre line
        along = s - sc
        f = sc * (1.0 / self.len)
        zc = a[2] + (self.b[2] - a[2]) * f
        dv = np.maximum(np.abs(z - zc) - (self.ha + (self.hb - self.ha) * f), 0.0)
        return np.sqrt(n * n + along * along + dv * dv) - self.r


class Function(Shape):
    """Wrap ``fn(x, y, z) -> d`` with a box (for one-off shapes)."""

    def __init__(self, fn: Callable, lo, hi):
        self.fn = fn
        self.lo, self.hi = _box(lo, hi)

    def __call__(self, x, y, z):
        return self.fn(x, y, z)


# --------------------------------------------------------------------------- operations
def smin(a, b, k: float):
    """Polynomial smooth minimum; blends within ``k`` mm (``k = 0``: plain min)."""
    if k <= 0:
        return np.minimum(a, b)
    h = np.maximum(k - np.abs(a - b), 0.0) / k
    return np.minimum(a, b) - h * h * (k * 0.25)


class Union(Shape):
    """Union of shapes (min), smooth when ``k > 0``."""

    k = 0.0

    def __init__(self, *children: Shape):
        if not children:
            raise ValueError("Union needs at least one child")
        self.children = children
        grow = self.k * 0.25
        self.lo = np.min([c.lo for c in children], axis=0) - grow
        self.hi = np.max([c.hi for c in children], axis=0) + grow

    def __call__(self, x, y, z):
        d = self.children[0](x, y, z)
        for c in self.children[1:]:
            d = smin(d, c(x, y, z), self.k)
        return d

    def grid(self, xs, ys, zs, band):
        out = np.full((len(xs), len(ys), len(zs)), band, dtype=_F)
        for c in self.children:
            sl = _window(c, xs, ys, zs, band)
            if sl is None:
                continue
            sub = c.grid(xs[sl[0]], ys[sl[1]], zs[sl[2]], band)
            view = out[sl]
            view[...] = smin(view, sub, self.k)
        return out


class SmoothUnion(Union):
    """Union blended over ``k`` mm: ``SmoothUnion(k, a, b, ...)``."""

    def __init__(self, k: float, *children: Shape):
        self.k = float(k)
        super().__init__(*children)


class Subtract(Shape):
    """``a`` minus the union of ``cutters`` (hard edges)."""

    def __init__(self, a: Shape, *cutters: Shape):
        self.a, self.cutters = a, cutters
        self.lo, self.hi = a.lo, a.hi

    def __call__(self, x, y, z):
        d = self.a(x, y, z)
        for c in self.cutters:
            d = np.maximum(d, -c(x, y, z))
        return d

    def grid(self, xs, ys, zs, band):
        out = self.a.grid(xs, ys, zs, band)
        for c in self.cutters:
            sl = _window(c, xs, ys, zs, band)
            if sl is not None:
                view = out[sl]
                np.maximum(view, -c.grid(xs[sl[0]], ys[sl[1]], zs[sl[2]], band), out=view)
        return out


class Intersect(Shape):
    """Intersection (max) of shapes."""

    def __init__(self, *children: Shape):
        self.children = children
        self.lo = np.max([c.lo for c in children], axis=0)
        self.hi = np.min([c.hi for c in children], axis=0)

    def __call__(self, x, y, z):
        d = self.children[0](x, y, z)
        for c in self.children[1:]:
            d = np.maximum(d, c(x, y, z))
        return d

    def grid(self, xs, ys, zs, band):
        out = self.children[0].grid(xs, ys, zs, band)
        for c in self.children[1:]:
            sl = _window(c, xs, ys, zs, band)
            new = np.full_like(out, band)
            if sl is not None:
                new[sl] = np.maximum(out[sl], c.grid(xs[sl[0]], ys[sl[1]], zs[sl[2]], band))
            out = new
        return out


class Shell(Shape):
    """The layer of ``child`` within ``thickness`` mm inside its surface."""

    def __init__(self, child: Shape, thickness: float):
        self.child, self.t = child, float(thickness)
        self.lo, self.hi = child.lo, child.hi

    def __call__(self, x, y, z):
        return np.abs(self.child(x, y, z) + 0.5 * self.t) - 0.5 * self.t

    def grid(self, xs, ys, zs, band):
        d = self.child.grid(xs, ys, zs, band)
        return np.abs(d + _F(0.5 * self.t)) - _F(0.5 * self.t)

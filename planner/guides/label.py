"""Where the engraved label goes on a guide, and its grooves as a solid.

The label (case label, side, osteotomy name: never a patient name or ID) is drawn with the
stroke font of :mod:`planner.guides.font`, read from outside the guide (looking down the
insertion direction), on the plain shell: clear of its edges, the slot block and the
drill holes. The largest letters that fit are used; when two lines do not fit, the second
(side and osteotomy) is engraved alone.
"""

from __future__ import annotations

import numpy as np

from planner.guides.font import text_outline, text_width

__all__ = ["EDGE_MM", "engraving_solid", "place_label"]

EDGE_MM = 1.5  # label kept this far inside the shell's outline
HEIGHTS_MM = (3.0, 2.5, 2.0, 1.6, 1.3)
ANGLES_DEG = (0.0, 15.0, -15.0, 30.0, -30.0, 45.0, -45.0, 60.0, -60.0, 75.0, -75.0, 90.0)
STROKE_FRACTION = 0.22  # groove width / letter height (0.4-0.7 mm: prints on resin and FDM)
LINE_GAP = 0.6  # gap between lines / letter height


def _allowed(ctx, mask, keep_out) -> np.ndarray:
    from scipy import ndimage

    grid = ctx.grid
    k = max(1, round(EDGE_MM / grid.step))
    y, x = np.mgrid[-k : k + 1, -k : k + 1]
    allowed = ndimage.binary_erosion(mask, x**2 + y**2 <= k**2)
    gx, gy = grid.xy()
    pts = grid.lps_points(np.zeros(grid.shape))
    for what, radius in keep_out:
        if isinstance(what, str):  # the cut: a band about the cut plane, seen along d
            rel = pts - ctx.c
            # distance across the cut measured in the grid plane
            across = ctx.rotation @ ctx.n
            across2 = across[:2] / max(np.linalg.norm(across[:2]), 1e-9)
            w = (rel @ ctx.rotation.T)[..., :2] @ across2
            allowed &= np.abs(w) > radius
        else:
            allowed &= np.hypot(gx - what[0], gy - what[1]) > radius
    return allowed


def place_label(ctx, mask, lines, keep_out):
    """``(outline, lines used)`` of the label in grid (x, y), or None when nothing fits.

    ``keep_out`` holds ``("cut", half_width_mm)`` and ``((x, y), radius_mm)`` entries.
    Letters run along the grid's x (the cut line) when they fit, else turned by up to 90°.
    """
    import shapely
    from shapely import affinity

    allowed = _allowed(ctx, mask, keep_out)
    if not allowed.any():
        return None
    step = ctx.grid.step
    gx, gy = ctx.grid.xy()
    pts = np.stack([gx[allowed], gy[allowed]], axis=1)
    for use in (lines, lines[-1:]):
        for h in HEIGHTS_MM:
            stroke = STROKE_FRACTION * h
            width = max(text_width(t, h) for t in use) + stroke
            height = len(use) * h + (len(use) - 1) * LINE_GAP * h + stroke
            for angle in ANGLES_DEG:
                a = np.radians(angle)
                rot = np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])
                q = pts @ rot.T  # allowed nodes in the text's frame
                lo = q.min(axis=0)
                ij = np.floor((q - lo) / step).astype(int)
                image = np.zeros(ij.max(axis=0) + 1, bool)
                image[ij[:, 0], ij[:, 1]] = True
                from scipy import ndimage

                image = ndimage.binary_closing(
                    image, np.ones((2, 2), bool)
                ) & ndimage.binary_erosion(ndimage.binary_dilation(image), np.ones((3, 3), bool))
                need = (int(np.ceil(width / step)) + 2, int(np.ceil(height / step)) + 2)
                where = _fit(image, *need)
                if where is None:
                    continue
                x0 = lo[0] + (where[0] + 1) * step + stroke / 2
                y_top = lo[1] + (where[1] + 1) * step + height - stroke / 2
                parts = []
                for k, text in enumerate(use):
                    base = y_top - h - k * (1 + LINE_GAP) * h
                    parts.append(text_outline(text, h, stroke_mm=stroke, origin_mm=(x0, base)))
                outline = affinity.rotate(shapely.union_all(parts), angle, origin=(0, 0))
                return outline, list(use)
    return None


def _fit(allowed, nx, ny):
    """Lower-left node of an ``nx`` × ``ny`` block of allowed nodes nearest the middle of
    all such blocks, or None."""
    sx, sy = allowed.shape
    if nx > sx or ny > sy:
        return None
    s = np.zeros((sx + 1, sy + 1), dtype=np.int64)
    s[1:, 1:] = allowed.cumsum(0).cumsum(1)
    full = s[nx:, ny:] - s[:-nx, ny:] - s[nx:, :-ny] + s[:-nx, :-ny]
    ok = np.argwhere(full == nx * ny)
    if not len(ok):
        return None
    middle = ok.mean(axis=0)
    return ok[np.argmin(np.linalg.norm(ok - middle, axis=1))]


def engraving_solid(grid, outline, low, top):
    """The grooves: the outline extruded between height field ``low`` and ``top``
    (manifold3d, grid coordinates)."""
    import manifold3d as m3

    from planner.geometry import to_manifold
    from planner.guides import heightfield as hf

    polygons = getattr(outline, "geoms", [outline])
    contours = []
    for poly in polygons:
        contours.append(np.asarray(poly.exterior.coords)[:-1])
        contours += [np.asarray(r.coords)[:-1] for r in poly.interiors]
    section = m3.CrossSection([np.ascontiguousarray(c) for c in contours], m3.FillRule.EvenOdd)
    z0 = float(np.min(low)) - 1.0
    prism = section.extrude(top + 1.0 - z0).translate((0.0, 0.0, z0))
    layer = to_manifold(hf.solid_between(grid, low, top + 0.5, lps=False), "label layer")
    return prism ^ layer

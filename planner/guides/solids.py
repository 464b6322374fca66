"""The solids of a guide in grid coordinates (manifold3d): height-field slabs, the outline
prism, the slot block and slot, bores and sleeves, the label on the block.

Functions take the guide's build context (``ctx``: grid, frame, settings).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from planner.guides import heightfield as hf

__all__ = [
    "Slot",
    "between",
    "block_label",
    "box",
    "cylinder",
    "prism",
    "slot_solids",
    "sub_grid",
    "widened",
]

HOLE_SEGMENTS = 48
MIN_LETTER_MM = 1.2  # engraved letters smaller than this do not read once printed


@dataclass(frozen=True)
class Slot:
    """The saw slot: the cut plane (``center_mm``, ``normal``), its width, its extent
    ``s_range_mm`` along ``s_axis`` (the cut line, from the centre), and ``top_mm``, the
    block top's distance from the centre up the slot."""

    center_mm: np.ndarray
    normal: np.ndarray
    s_axis: np.ndarray
    width_mm: float
    s_range_mm: tuple[float, float]
    ends: str
    top_mm: float


def between(grid, low, high):
    from planner.geometry import to_manifold

    return to_manifold(hf.solid_between(grid, low, high, lps=False), "guide part")


def sub_grid(grid, nodes, pad_nodes):
    """The sub-grid around the nodes set in ``nodes``, and the slices that cut it out."""
    ii, jj = np.nonzero(nodes)
    sub = grid.sub(
        ii.min() - pad_nodes,
        ii.max() + pad_nodes + 1,
        jj.min() - pad_nodes,
        jj.max() + pad_nodes + 1,
    )
    i0 = round((sub.origin[0] - grid.origin[0]) / grid.step)
    j0 = round((sub.origin[1] - grid.origin[1]) / grid.step)
    return sub, (slice(i0, i0 + sub.shape[0]), slice(j0, j0 + sub.shape[1]))


def widened(ctx, nodes, height_mm):
    """``nodes`` grown by how far a solid ``height_mm`` tall leans off the vertical."""
    from scipy import ndimage

    from planner.guides.shell import disk

    tilt = math.sqrt(max(0.0, 1 - float(ctx.t @ ctx.d) ** 2))
    pad = int(np.ceil((height_mm * tilt / max(float(ctx.t @ ctx.d), 0.3) + 1.0) / ctx.step))
    return ndimage.binary_dilation(nodes, disk(pad * ctx.step, ctx.step))


def prism(mask, grid, z0, z1):
    """The footprint outline (grid coordinates) extruded from ``z0`` to ``z1``."""
    import manifold3d as m3
    from scipy.ndimage import gaussian_filter
    from skimage.measure import find_contours

    padded = gaussian_filter(np.pad(mask.astype(float), 3), 1.5)  # a smooth outline
    # find_contours puts every vertex on a grid line, where the height fields have theirs:
    # shifted off the lines (by < 0.1 mm) the walls cut no edge at a vertex (no slivers)
    shift = grid.origin + (np.array([0.31, 0.17]) - 3) * grid.step
    contours = [shift + c * grid.step for c in find_contours(padded, 0.5)]
    section = m3.CrossSection([np.ascontiguousarray(c) for c in contours], m3.FillRule.EvenOdd)
    section = section.simplify(0.01)
    return section.extrude(z1 - z0).translate((0.0, 0.0, z0))


def box(ctx, u_range, w_range, t_range):
    """A box in the slot's frame (s along the cut line, n across the cut, t up the slot),
    in grid coordinates."""
    import manifold3d as m3

    size = (u_range[1] - u_range[0], w_range[1] - w_range[0], t_range[1] - t_range[0])
    corner = ctx.c + ctx.s * u_range[0] + ctx.n * w_range[0] + ctx.t * t_range[0]
    axes = np.stack([ctx.s, ctx.n, ctx.t], axis=1)  # columns: unit box axes in LPS
    matrix = np.zeros((3, 4))
    matrix[:, :3] = ctx.rotation @ axes
    matrix[:, 3] = ctx.rotation @ corner
    return m3.Manifold.cube(size, False).transform(matrix)


def slot_solids(ctx, mask, floor, z_in):
    """The slot block, the slot (a cavity) and its record, and the nodes under the block.

    The block's frame is orthonormal: ``s`` along the cut line (``n × t``), ``n`` across the
    cut, ``t`` up the slot (the insertion direction laid in the cut plane).
    """
    g = ctx.guide
    pts_in = ctx.grid.lps_points(np.where(mask, z_in, floor))
    u, _, w = ctx.local_cut_coords(pts_in)
    along = (pts_in - ctx.c) @ ctx.s
    on_line = mask & (np.abs(w) <= ctx.slot_half + ctx.step)
    on_line &= np.abs(u) <= ctx.ost.size_mm[0] / 2
    if on_line.sum() < 3:
        raise ctx.no_bone()
    # ends a third of a grid step beyond the last nodes: off the grid lines (no slivers)
    s0 = float(along[on_line].min()) - ctx.step / 3
    s1 = float(along[on_line].max()) + ctx.step / 3
    block_w = ctx.slot_half + g.slot_wall_mm
    bs = (s0 - g.slot_wall_mm, s1 + g.slot_wall_mm)
    under = (np.abs(w) <= block_w) & (along >= bs[0]) & (along <= bs[1])
    t_top = float(((pts_in[under] - ctx.c) @ ctx.t).max()) + g.slot_depth_mm
    block = box(ctx, bs, (-block_w, block_w), (t_top - 200.0, t_top))
    ss = [s0, s1]
    start, end = (0, 1) if ctx.s @ ctx.u > 0 else (1, 0)  # ends named along in_plane_axis
    if g.slot_ends in ("open_start", "open"):
        ss[start] += -200.0 if start == 0 else 200.0
    if g.slot_ends in ("open_end", "open"):
        ss[end] += -200.0 if end == 0 else 200.0
    cavity = box(ctx, ss, (-ctx.slot_half, ctx.slot_half), (t_top - 300.0, t_top + 10.0))
    slot = Slot(ctx.c, ctx.n, ctx.s, 2 * ctx.slot_half, (s0, s1), g.slot_ends, t_top)
    return block, cavity, slot, under


def block_label(ctx, slot, lines):
    """Grooves of the label lines on the top of the slot block, one line on each side of
    the slot, read from outside; the lines that fit, and the grooves (grid coordinates)."""
    import manifold3d as m3
    import shapely

    from planner.guides.font import text_outline, text_width
    from planner.guides.label import STROKE_FRACTION

    g = ctx.guide
    room = g.slot_wall_mm - 0.8  # strip height left for a line
    length = slot.s_range_mm[1] - slot.s_range_mm[0] + 2 * g.slot_wall_mm - 1.0
    height = min(3.0, room / (1 + STROKE_FRACTION))
    side_line = lines[-1]
    while height > MIN_LETTER_MM and text_width(side_line, height) * 1.1 > length:
        height -= 0.1  # the whole side line, in letters as small as still print
    stroke = STROKE_FRACTION * height
    fitted = []
    for text in lines[::-1][:2]:  # side and osteotomy first
        while text and text_width(text, height) + stroke > length:
            text = text[:-1]
        fitted.append(text.strip())
    parts = []
    for k, text in enumerate(fitted):
        if not text:
            continue
        x0 = slot.s_range_mm[0] - g.slot_wall_mm + 0.5 + stroke / 2
        mid = ctx.slot_half + g.slot_wall_mm / 2
        y0 = (mid if k == 0 else -mid) - height / 2
        parts.append(text_outline(text, height, stroke_mm=stroke, origin_mm=(x0, y0)))
    if not parts:
        return (), None
    outline = shapely.union_all(parts)
    polygons = getattr(outline, "geoms", [outline])
    contours = []
    for poly in polygons:
        contours.append(np.asarray(poly.exterior.coords)[:-1])
        contours += [np.asarray(r.coords)[:-1] for r in poly.interiors]
    section = m3.CrossSection([np.ascontiguousarray(c) for c in contours], m3.FillRule.EvenOdd)
    depth = g.label_depth_mm
    solid = section.extrude(depth + 1.0)
    matrix = np.zeros((3, 4))
    matrix[:, :3] = ctx.rotation @ np.stack([ctx.s, ctx.n, ctx.t], axis=1)
    matrix[:, 3] = ctx.rotation @ (ctx.c + ctx.t * (slot.top_mm - depth))
    return tuple(t for t in fitted[::-1] if t), solid.transform(matrix)


def cylinder(ctx, start, axis, length, radius):
    """A cylinder from ``start`` along ``axis`` (LPS), in grid coordinates."""
    import manifold3d as m3

    a = ctx.rotation @ axis
    z = np.array([0.0, 0.0, 1.0])
    v = np.cross(z, a)
    s, c = np.linalg.norm(v), float(z @ a)
    if s < 1e-12:
        rot = np.eye(3) if c > 0 else np.diag([1.0, -1.0, -1.0])
    else:
        k = v / s
        kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
        rot = np.eye(3) + s * kx + (1 - c) * kx @ kx
    matrix = np.zeros((3, 4))
    matrix[:, :3] = rot
    matrix[:, 3] = ctx.rotation @ start
    cyl = m3.Manifold.cylinder(length, radius, radius, HOLE_SEGMENTS, False)
    return cyl.transform(matrix)

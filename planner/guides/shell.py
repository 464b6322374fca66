"""The shell's footprint on the bone and its heights (see :mod:`planner.guides.make`).

Functions take the guide's build context (``ctx``: grid, bone heights, settings, cut frame).
"""

from __future__ import annotations

import math

import numpy as np

from planner.errors import PlannerError
from planner.guides import heightfield as hf

__all__ = ["MAX_TRIMMED_FRACTION", "MIN_FACING_COS", "disk", "footprint", "heights"]

# Bone steeper than this to the insertion direction (65°) is trimmed off the shell: the
# shell would stand as a tall thin wall there, and beyond 90° it would lock.
MIN_FACING_COS = math.cos(math.radians(65.0))
# More trimmed than this and the insertion direction is refused as locking.
MAX_TRIMMED_FRACTION = 0.5
WALL_MARGIN_MM = 0.02  # the flat faces between vertices sag by up to 0.005 mm
# A face centre may dip this far below the clearance envelope before its nodes are lifted.
# The check allows 0.05 mm either way of the setting, at vertices and face centres alike;
# a lift raises the node's own clearance by as much, so this splits a face's sag between
# its centre (down by <= 0.033 mm, plus < 0.015 mm from the bone's 0.15 mm samples) and its
# corners (up by sag - 0.033 mm): the demo's worst sag, 0.07 mm, lands at 0.211-0.290 mm.
SAG_ALLOWANCE_MM = 0.033


def footprint(ctx, with_slot: bool, with_holes: bool):
    """Nodes where the shell sits on bone, and the fraction trimmed as undercut."""
    from scipy import ndimage

    g, grid = ctx.guide, ctx.grid
    has = ctx.z_bone > hf.NO_HEIGHT / 2
    pts = grid.lps_points(ctx.z_bone)
    u, v, w = ctx.local_cut_coords(pts)
    du = np.maximum(np.abs(u) - ctx.ost.size_mm[0] / 2, 0)
    dv = np.maximum(np.abs(v) - ctx.ost.size_mm[1] / 2, 0)
    wanted = np.zeros(grid.shape, bool)
    if with_slot or not with_holes:
        wanted |= np.sqrt(du**2 + dv**2 + w**2) <= g.margin_mm
    cut_line = has & (np.abs(w) <= ctx.slot_half + ctx.step) & (du <= 0) & (dv <= 0)
    if with_holes:
        wanted |= pad_mask(ctx)
        if not with_slot:  # a positioning guide spans the cut between its footplates
            wanted |= between_mask(ctx)
    wanted &= has
    facing = (ctx.cos >= MIN_FACING_COS) & (ctx.z_top_all <= ctx.z_bone + 1e-6)
    candidates = int(wanted.sum())
    if not candidates or not (cut_line & wanted).any():
        raise ctx.no_bone()
    mask = wanted & facing
    trimmed = 1.0 - mask.sum() / candidates
    if trimmed > MAX_TRIMMED_FRACTION:
        raise locks(ctx, trimmed)
    round_1mm = disk(1.0, ctx.step)
    mask = ndimage.binary_opening(ndimage.binary_closing(mask, round_1mm), round_1mm) & has
    labels, _ = ndimage.label(mask)
    keep = np.unique(labels[cut_line & mask]) if with_slot else np.unique(labels[mask])
    keep = keep[keep > 0]
    if with_holes:
        for s in ctx.screws:
            local = grid.to_local(s.point_mm)
            i, j = grid.index_of(local[:2])
            on_top = abs(local[2] - ctx.z_bone[i, j]) <= 2.5 and s.axis @ ctx.d > 0
            if not mask[i, j] or not on_top:
                raise PlannerError(
                    f"guide {g.name!r}: no bone under drill hole {s.name} on the {g.side} "
                    "side (the footplate is elsewhere, or the bone there faces away from the "
                    "insertion direction); check the side and the footplate points"
                )
            if labels[i, j] not in keep:
                if not with_slot:
                    keep = np.union1d(keep, [labels[i, j]])
                    continue
                raise PlannerError(
                    f"guide {g.name!r}: drill hole {s.name} lies outside the shell around the "
                    f"cut; increase margin_mm (now {g.margin_mm:g})"
                )
    mask = ndimage.binary_fill_holes(np.isin(labels, keep) & (labels > 0))
    if not mask.any():
        raise ctx.no_bone()
    return mask, float(trimmed)


def locks(ctx, trimmed):
    return PlannerError(
        f"guide {ctx.guide.name!r}: insertion {_fmt(ctx.d)} locks: {trimmed:.0%} of the bone "
        "under the guide faces away from it or lies under other bone; choose another "
        "insertion direction (or leave it unset to have it found)"
    )


def disk(radius_mm, step):
    k = max(1, round(radius_mm / step))
    y, x = np.mgrid[-k : k + 1, -k : k + 1]
    return x**2 + y**2 <= k**2


def pad_mask(ctx):
    import shapely
    from shapely.geometry import MultiPoint

    x, y = ctx.grid.xy()
    out = np.zeros(ctx.grid.shape, bool)
    for plate in ("fixed", "moving"):
        screws = [s for s in ctx.screws if s.footplate == plate]
        if not screws:
            continue
        xy = ctx.grid.to_local(np.array([s.point_mm for s in screws]))[:, :2]
        shape = MultiPoint(xy).convex_hull.buffer(max(ctx.pad_of(s) for s in screws))
        out |= shapely.contains_xy(shape, x, y)
    return out


def between_mask(ctx):
    import shapely
    from shapely.geometry import MultiPoint

    x, y = ctx.grid.xy()
    xy = ctx.grid.to_local(np.array([s.point_mm for s in ctx.screws]))[:, :2]
    pad = max(ctx.pad_of(s) for s in ctx.screws)
    return shapely.contains_xy(MultiPoint(xy).convex_hull.buffer(pad), x, y)


def heights(ctx, mask):
    """Inside (clearance) and outside (wall) heights over the grid, and the floor that
    every part stands on (nearest footprint height outside it, lifted clear of bone)."""
    from scipy import ndimage

    g, step = ctx.guide, ctx.step
    cos = np.maximum(ctx.cos, MIN_FACING_COS)
    # the inside: the envelope of balls of the clearance's radius about points sampled
    # densely on the bone: clearance_mm from the bone to within the samples' sag
    samples = ctx.top_samples(mask)
    z_in = hf.point_balls(ctx.grid, samples, g.clearance_mm)
    z_in = np.where(mask & (z_in < ctx.z_bone), ctx.z_bone + g.clearance_mm / cos, z_in)
    z_in = np.where(mask, z_in, hf.NO_HEIGHT)
    # the flat faces between nodes dip below the envelope where it bulges (over bone
    # edges): lift their nodes so no face centre comes nearer the bone than the allowance
    z_in = z_in + hf.face_sag_lift(ctx.grid, z_in, samples, g.clearance_mm, SAG_ALLOWANCE_MM)
    # the envelope of balls of the wall's radius on the inside: smooth, and every point of
    # it at least wall_mm from the inside
    z_out = hf.ball_dilation(z_in, g.wall_mm + WALL_MARGIN_MM, step)
    idx = ndimage.distance_transform_edt(~mask, return_distances=False, return_indices=True)
    z_in_ext = z_in[idx[0], idx[1]]
    z_out_ext = z_out[idx[0], idx[1]]
    floor = np.maximum(z_in_ext, ctx.z_top_all + g.clearance_mm)
    return z_in, floor, np.maximum(z_out_ext, floor + g.wall_mm / 2)


def _fmt(p) -> str:
    return "(" + ", ".join(f"{v:.2f}" for v in np.asarray(p, dtype=float)) + ")"

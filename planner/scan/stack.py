"""Slice geometry of a DICOM series: order, spacing, gantry tilt, gaps, and resampling.

:func:`analyse` sorts a series' slices along the slice normal (never by file name or
InstanceNumber), finds the spacing, detects gantry tilt, variable spacing and missing
slices, and names the first problem that stops the slices loading as one volume (no
position, several orientations or stacks, missing slices). :func:`regularise` resamples a
tilted or unevenly spaced stack onto a regular orthogonal grid (linear interpolation) and
returns its affine. Headers are read by :mod:`planner.scan.header`.

Variable spacing (a GE head series: 14 slices 4 mm apart, then 14 slices 7 mm apart) is a
real acquisition pattern, resampled at the finest spacing. A missing slice is one gap well
above the spacing on *both* sides of it: refused, naming the files either side, unless gaps
are allowed (then interpolated, with a note).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from planner.scan.header import ImageHeader

__all__ = ["GEOMETRY_PROBLEMS", "Geometry", "analyse", "regularise", "spacing_note"]

_POS_TOL_MM = 0.02  # positions this close to a regular grid are not resampled ...
_POS_TOL_FRACTION = 0.01  # ... nor those within 1% of the slice spacing
_MAX_SLICE_MM = 20.0  # slices further apart than this are no volume to model bone from
_MAX_POSITION_MM = 1e5  # positions beyond 100 m are damaged headers (float32 STL vertices
# there are still 0.008 mm apart; at 10^9 mm they would be 64 mm apart)
_MISSING_GAP = 1.5  # a gap above 1.5 x the spacing on both sides of it means missing slices
_NEAR = 3  # gaps either side that give the local spacing
_JITTER = 0.1  # gaps within 10% of the median: resampled at the mean spacing
GEOMETRY_PROBLEMS = ("no position", "mixed", "several stacks", "missing slices", "an invalid")
"""Beginnings of :attr:`Geometry.problem` for a CT volume that is broken (not just absent)."""


@dataclass
class Geometry:
    """Where a series' slices lie.

    Attributes
    ----------
    problem : str
        The first reason the slices cannot load as one volume ("" when they can).
    order : (n,) int
        Image indices in order along the slice normal.
    axes : (3, 3) float
        Unit row, column and normal directions (LPS), one per row.
    spacing : (2,) float
        PixelSpacing (row spacing, column spacing) in mm.
    depth_mm : (n,) float
        Sorted positions along the normal.
    shift_px : (n, 2) float
        In-plane offsets (i, j) of each sorted slice from the first, in pixels.
    median_gap_mm : float
        Median distance between neighbouring slices.
    tilt_deg : float
        Gantry tilt derived from the positions (0 when not tilted).
    uneven, tilted : bool
        Whether the slices need resampling along the normal / in the plane.
    gaps : list of str
        Missing slices accepted because gaps were allowed, one description each.
    """

    problem: str = ""
    order: np.ndarray | None = None
    axes: np.ndarray | None = None
    spacing: tuple[float, float] = (np.nan, np.nan)
    depth_mm: np.ndarray | None = None
    shift_px: np.ndarray | None = None
    median_gap_mm: float = np.nan
    tilt_deg: float = 0.0
    uneven: bool = False
    tilted: bool = False
    gaps: list[str] = field(default_factory=list)


def analyse(images: Sequence[ImageHeader], *, allow_gaps: bool = False) -> Geometry:
    """Slice order, spacing, tilt and the first problem that stops loading as a volume.

    Parameters
    ----------
    images : sequence of ImageHeader
        The series' images (at least 2), with consistent matrix and pixel spacing.
    allow_gaps : bool
        Accept missing slices (recorded in ``gaps``) instead of naming them as the problem.
    """
    geo = Geometry()
    lacking = [im for im in images if im.ipp is None or im.iop is None or im.spacing is None]
    if lacking:
        geo.problem = (
            f"no position, orientation or pixel spacing in some headers ({_names(lacking)})"
        )
        return geo
    iop = np.array([im.iop for im in images])
    if np.ptp(iop, axis=0).max() > 1e-3:
        n_orient = len(np.unique(np.round(iop, 3), axis=0))
        geo.problem = f"several stacks in one series ({n_orient} slice orientations)"
        return geo
    geo.spacing = (float(images[0].spacing[0]), float(images[0].spacing[1]))
    row, col = iop[0, :3], iop[0, 3:]
    if np.linalg.norm(np.cross(row, col)) < 1e-3:
        geo.problem = "an invalid ImageOrientationPatient (row and column are parallel)"
        return geo
    row, col = row / np.linalg.norm(row), col / np.linalg.norm(col)
    normal = np.cross(row, col)
    normal /= np.linalg.norm(normal)
    col = np.cross(normal, row)  # re-orthogonalise against rounding in the header
    geo.axes = np.array([row, col, normal])
    ipp = np.array([im.ipp for im in images])
    far = np.abs(ipp).max(axis=1) > _MAX_POSITION_MM
    if far.any():
        geo.problem = (
            f"an invalid ImagePositionPatient: over {_MAX_POSITION_MM / 1000:g} m from the "
            f"scanner's origin in {_names([im for im, f in zip(images, far, strict=True) if f])}"
        )
        return geo
    depth = ipp @ normal
    order = np.argsort(depth, kind="stable")
    depth, ipp = depth[order], ipp[order]
    geo.order, geo.depth_mm = order, depth
    gaps = np.diff(depth)
    median = float(np.median(gaps))
    geo.median_gap_mm = median
    n_dup = int(np.sum(gaps <= max(1e-3, 0.05 * median)))
    if n_dup:
        geo.problem = f"several stacks in one series ({n_dup + 1} slices at repeated positions)"
        return geo
    if median > _MAX_SLICE_MM:
        geo.problem = (
            f"an invalid slice spacing: the slices lie {median:g} mm apart (a CT's lie "
            f"0.1-{_MAX_SLICE_MM:g} mm apart)"
        )
        return geo
    missing = _missing(gaps, [images[i].name for i in order], depth)
    if missing and not allow_gaps:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        geo.problem = f"missing slices: {missing[0]}{more}"
        return geo
    geo.gaps = missing
    step = (depth[-1] - depth[0]) / (len(depth) - 1)
    tol = max(_POS_TOL_MM, _POS_TOL_FRACTION * step)
    geo.uneven = bool(np.abs(depth - depth[0] - step * np.arange(len(depth))).max() > tol)
    delta = ipp - ipp[0]
    along_row, along_col = delta @ row, delta @ col  # in-plane offsets in mm
    geo.shift_px = np.column_stack([along_row / geo.spacing[1], along_col / geo.spacing[0]])
    geo.tilted = bool(np.hypot(along_row, along_col).max() > tol)
    if geo.tilted:
        rise = depth - depth[0]
        slope_r, slope_c = (float(rise @ a / (rise @ rise)) for a in (along_row, along_col))
        sign = np.sign(slope_c if abs(slope_c) >= abs(slope_r) else slope_r)
        geo.tilt_deg = float(sign * np.degrees(np.arctan(np.hypot(slope_r, slope_c))))
    return geo


def _names(images: Sequence[ImageHeader]) -> str:
    names = [im.name for im in images[:3]]
    return ", ".join(names) + (f" and {len(images) - 3} more" if len(images) > 3 else "")


def _missing(gaps: np.ndarray, names: list[str], depth: np.ndarray) -> list[str]:
    """Gaps well above the local spacing on both sides: one description per gap."""
    # only a gap above 1.5 x the smallest of its neighbours can be above 1.5 x a median of
    # them: test those few one by one (a regular series has none)
    inf = np.full(_NEAR, np.inf)
    window = np.lib.stride_tricks.sliding_window_view(np.r_[inf, gaps, inf], 2 * _NEAR + 1)
    nearest = np.minimum(window[:, :_NEAR].min(axis=1), window[:, _NEAR + 1 :].min(axis=1))
    found = []
    for k in map(int, np.flatnonzero(gaps > _MISSING_GAP * nearest)):
        gap = gaps[k]
        sides = [gaps[max(0, k - _NEAR) : k], gaps[k + 1 : k + 1 + _NEAR]]
        local = [float(np.median(s)) for s in sides if len(s)]
        if local and gap > _MISSING_GAP * max(local):
            found.append(
                f"a {gap:.2f} mm gap between {names[k]} and {names[k + 1]} (after position "
                f"{depth[k]:.2f} mm) where the spacing is {max(local):.2f} mm"
            )
    return found


def spacing_note(geo: Geometry) -> str:
    """What loading will do about uneven spacing ("" when the slices are evenly spaced)."""
    if not geo.uneven:
        return ""
    gaps = np.diff(geo.depth_mm)
    return _spacing_note(gaps, _grid_step(gaps)).replace(" made ", ": resampled to ") + (
        " when loaded (linear interpolation)"
    )


def _grid_step(gaps: np.ndarray) -> float:
    """Output slice spacing: the mean for jitter, the finest spacing when it varies."""
    span, median = float(gaps.sum()), float(np.median(gaps))
    if np.ptp(gaps) <= _JITTER * median:
        return span / len(gaps)
    finest = float(np.percentile(gaps, 10))
    return span / max(1, round(span / finest))


def _spacing_note(gaps: np.ndarray, step: float) -> str:
    """Describe variable spacing: runs of equal gaps when there are few, else the range."""
    runs: list[list[float]] = []
    for g in gaps:
        if runs and abs(g - np.mean(runs[-1])) <= 0.05 * g:
            runs[-1].append(float(g))
        else:
            runs.append([float(g)])
    text = f"uneven slice spacing {gaps.min():.2f}-{gaps.max():.2f} mm"
    if len(runs) <= 4:
        parts = [f"{len(r)} gap{'s' if len(r) > 1 else ''} of {np.mean(r):.2f} mm" for r in runs]
        text += " (" + ", then ".join(parts) + ")"
    return f"{text} made {step:.3f} mm"


def regularise(
    stack: np.ndarray, origin: Sequence[float], geo: Geometry
) -> tuple[np.ndarray, np.ndarray, str]:
    """Return (stack, affine, note): resampled when the slices are tilted or unevenly spaced.

    Parameters
    ----------
    stack : (n, rows, cols) int16 or float32
        The slices in the order of ``geo.order``.
    origin : (3,) float
        ImagePositionPatient of the first sorted slice, LPS mm.
    geo : Geometry
        From :func:`analyse`, without a problem.

    Returns
    -------
    stack : (m, rows', cols') same dtype
        ``stack`` itself, or resampled: output slice ``m`` lies at depth ``d0 + m * step``
        along the normal with the same row and column directions (``step`` the mean
        spacing, or the finest where the spacing varies); each input slice is shifted
        in-plane by its own offset (gantry tilt shears the stack) and the slices bracketing
        an output depth are blended linearly.
    affine : (4, 4) float
        Index (i, j, k) to LPS mm.
    note : str
        What was resampled and how ("" when nothing was).
    """
    rows, cols = geo.spacing
    depth = geo.depth_mm
    n = len(depth)
    gaps = np.diff(depth)
    step = _grid_step(gaps) if geo.uneven else (depth[-1] - depth[0]) / (n - 1)
    n_out = round((depth[-1] - depth[0]) / step) + 1
    affine = np.eye(4)
    affine[:3, :3] = geo.axes.T * [cols, rows, step]
    affine[:3, 3] = origin
    if not (geo.tilted or geo.uneven):
        return stack, affine, ""
    shift = geo.shift_px if geo.tilted else np.zeros((n, 2))
    lo = np.floor(shift.min(axis=0) + 1e-6).astype(int)  # grow the grid so nothing is lost
    hi = np.ceil(shift.max(axis=0) - 1e-6).astype(int)
    shape = (stack.shape[1] + hi[1] - lo[1], stack.shape[2] + hi[0] - lo[0])
    affine[:3, 3] = np.asarray(origin) + affine[:3, :2] @ lo
    fill = float(stack.min())
    out = np.empty((n_out, *shape), stack.dtype)
    plane = np.empty(shape, np.float32)
    for m in range(n_out):
        at = min(depth[0] + step * m, depth[-1])
        k = int(np.clip(np.searchsorted(depth, at, side="right") - 1, 0, n - 2))
        w = (at - depth[k]) / (depth[k + 1] - depth[k])
        acc = np.zeros(shape, np.float32)
        for q, weight in ((k, 1.0 - w), (k + 1, w)):
            if weight > 1e-6:
                _translate(stack[q], lo[1] - shift[q, 1], lo[0] - shift[q, 0], fill, plane)
                acc += np.float32(weight) * plane
        out[m] = np.rint(acc) if out.dtype == np.int16 else acc
    what = []
    if geo.tilted:
        what.append(f"gantry tilt {geo.tilt_deg:+.1f} deg corrected")
    if geo.uneven:
        what.append(_spacing_note(gaps, step))
    return out, affine, "resampled: " + "; ".join(what) + " (linear interpolation)"


def _translate(src: np.ndarray, dj: float, di: float, fill: float, out: np.ndarray) -> None:
    """Bilinear translation: ``out[J, I] = src(J + dj, I + di)``, ``fill`` outside ``src``."""
    j0, i0 = int(np.floor(dj + 1e-6)), int(np.floor(di + 1e-6))
    fj, fi = max(dj - j0, 0.0), max(di - i0, 0.0)
    pad = np.full((out.shape[0] + 1, out.shape[1] + 1), fill, np.float32)
    a0, a1 = max(0, -j0), min(pad.shape[0], src.shape[0] - j0)  # pad[a, b] = src[a+j0, b+i0]
    b0, b1 = max(0, -i0), min(pad.shape[1], src.shape[1] - i0)
    if a0 < a1 and b0 < b1:
        pad[a0:a1, b0:b1] = src[a0 + j0 : a1 + j0, b0 + i0 : b1 + i0]
    rows = pad[:-1] if fj < 1e-6 else pad[:-1] * np.float32(1 - fj) + pad[1:] * np.float32(fj)
    if fi < 1e-6:
        out[:] = rows[:, :-1]
    else:
        np.multiply(rows[:, :-1], np.float32(1 - fi), out=out)
        out += rows[:, 1:] * np.float32(fi)

"""Slice geometry of a DICOM series: order, spacing, gantry tilt, and resampling.

:func:`_analyse` sorts a series' slices along the slice normal (never by file name or
InstanceNumber), finds the spacing, detects gantry tilt and uneven spacing, and names the
first problem that stops the slices loading as one volume (no position, mixed sizes or
orientations, several stacks, missing slices). :func:`_regularise` resamples a tilted or
unevenly spaced stack exactly onto a regular orthogonal grid (linear interpolation) and
returns its affine. Used by :mod:`planner.scan.dicom`; headers are read there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from planner.scan.dicom import _Image

_POS_TOL_MM = 0.02  # positions this close to a regular grid are not resampled ...
_POS_TOL_FRACTION = 0.01  # ... nor those within 1% of the slice spacing
_MISSING_GAP = 1.5  # a gap above 1.5 x the median spacing means missing slices
_GEOMETRY_PROBLEMS = ("no position", "mixed", "several stacks", "missing slices", "an invalid")


@dataclass
class _Geometry:
    problem: str = ""
    order: np.ndarray | None = None  # image indices in order along the normal
    axes: np.ndarray | None = None  # (3, 3) unit row, column, normal directions (LPS)
    spacing: tuple[float, float] = (np.nan, np.nan)  # PixelSpacing (row, column) in mm
    depth_mm: np.ndarray | None = None  # sorted positions along the normal
    shift_px: np.ndarray | None = None  # (n, 2) in-plane offsets (i, j) from the first slice
    median_gap_mm: float = np.nan
    tilt_deg: float = 0.0
    uneven: bool = False
    tilted: bool = False


def _analyse(images: list[_Image]) -> _Geometry:
    """Slice order, spacing, tilt and the first problem that stops loading as a volume."""
    geo = _Geometry()
    if any(im.ipp is None or im.iop is None or im.spacing is None for im in images):
        geo.problem = "no position, orientation or pixel spacing in some headers"
        return geo
    sizes = sorted({(im.cols, im.rows) for im in images})
    if len(sizes) > 1:
        geo.problem = "mixed image sizes (" + ", ".join(f"{c}x{r}" for c, r in sizes) + ")"
        return geo
    iop = np.array([im.iop for im in images])
    if np.ptp(iop, axis=0).max() > 1e-3:
        n_orient = len(np.unique(np.round(iop, 3), axis=0))
        geo.problem = f"several stacks in one series ({n_orient} slice orientations)"
        return geo
    spacing = np.array([im.spacing for im in images])
    geo.spacing = (float(spacing[0, 0]), float(spacing[0, 1]))
    if np.ptp(spacing, axis=0).max() > 1e-3:
        geo.problem = f"mixed pixel spacing ({spacing.min():.3f}-{spacing.max():.3f} mm)"
        return geo
    row, col = iop[0, :3], iop[0, 3:]
    normal = np.cross(row, col)
    norm = np.linalg.norm(normal)
    if norm < 1e-3:
        geo.problem = "an invalid ImageOrientationPatient (row and column are parallel)"
        return geo
    row, col = row / np.linalg.norm(row), col / np.linalg.norm(col)
    normal = np.cross(row, col)
    col = np.cross(normal, row)  # re-orthogonalise against rounding in the header
    geo.axes = np.array([row, col, normal])
    ipp = np.array([im.ipp for im in images])
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
    if gaps.max() > _MISSING_GAP * median:
        k = int(np.argmax(gaps))
        geo.problem = (
            f"missing slices: a {gaps[k]:.2f} mm gap after position {depth[k]:.2f} mm "
            f"where the spacing is {median:.2f} mm"
        )
        return geo
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


def _regularise(
    stack: np.ndarray, origin: tuple[float, ...], geo: _Geometry
) -> tuple[np.ndarray, np.ndarray, str]:
    """Return (stack, affine, note): resampled when the slices are tilted or unevenly spaced.

    Output slice ``m`` lies at depth ``d0 + m * step`` along the normal, with the same row
    and column directions. Each input slice is shifted in-plane by its own offset (gantry
    tilt shears the stack), and slices bracketing an output depth are blended linearly.
    """
    rows, cols = geo.spacing
    n = len(geo.depth_mm)
    step = (geo.depth_mm[-1] - geo.depth_mm[0]) / (n - 1)
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
    out = np.empty((n, *shape), stack.dtype)
    plane = np.empty(shape, np.float32)
    for m, depth in enumerate(geo.depth_mm[0] + step * np.arange(n)):
        k = int(np.clip(np.searchsorted(geo.depth_mm, depth, side="right") - 1, 0, n - 2))
        w = (depth - geo.depth_mm[k]) / (geo.depth_mm[k + 1] - geo.depth_mm[k])
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
        gaps = np.diff(geo.depth_mm)
        what.append(
            f"uneven slice spacing {gaps.min():.2f}-{gaps.max():.2f} mm made {step:.3f} mm"
        )
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

"""A second look for the mandible in a head that lies tilted in the scanner.

The jaw finder (:mod:`planner.bone.mandible`, :mod:`planner.bone.arch`) reads the jaw in
axial slices and in LPS directions: the arch is a U open towards the back (+y) in each
slice from the chin up. A head tilted chin up or down (head extension or flexion: common,
the scanner's head rest and the patient decide it), or turned about its long axis, breaks
that: chin up, the lower slices cut the two arms of the body apart and the U shows in a few
slices only. When the search finds nothing, the caller looks again (:func:`tilted`) in the
bone resampled onto a grid turned about the patient's left-right axis (and then about the
vertical axis), so that the jaw sits in it as in an upright head; each candidate is
verified there as in the first search. :func:`to_scan` brings the mandible found back onto
the scan's own voxels (nearest voxel of the turned grid, within the bone).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage as ndi

from planner.bone.grid import mask_box, voxel_indices
from planner.scan.volume import apply_affine

__all__ = ["TILTS_DEG", "Tilted", "rotation", "tilted", "to_scan"]

TILTS_DEG = (
    ("pitch", 12.0),
    ("pitch", -12.0),
    ("yaw", 15.0),
    ("yaw", -15.0),
    ("pitch", -24.0),
    ("yaw", 25.0),
    ("yaw", -25.0),
)
"""The turns tried, in order, nearest first, degrees: about the left-right axis (pitch: +
brings the chin down), then the vertical axis (yaw). The first search copes with about
±6°, these with about ±6-30° more (chin down by 25° is found at 12°). At 24-25° a phantom's
zygomatic arches and maxilla (a scan starting at the maxillary sinuses) make a U of
136-138 mm: too wide for a jaw (:func:`planner.bone.arch.jaw_sized`), and a split through
them meets the skull over too much (:func:`planner.bone.candidate.contact_ratio`)."""
_MIN_SPACING_MM = 1.0  # the turned grid is no finer than this (a second look, not a model)
_LOW_HU = -1024


@dataclass(frozen=True, eq=False)
class Tilted:
    """The bone and HU resampled onto a turned grid.

    Attributes
    ----------
    bone : (ni, nj, nk) bool
        Kept bone (nearest voxel).
    affine : (4, 4) float
        Index of the turned grid -> the head's frame: LPS turned by ``rotation`` about
        ``centre`` (the jaw finder's LPS, in which the head lies upright).
    rotation : (3, 3) float
        Head frame -> LPS about ``centre``: ``p = centre + rotation @ (q - centre)``.
    centre : (3,) float
        LPS mm.
    name : str
        How the head lies when the jaw is found on this grid, for the notes ("chin down
        by about 12°").
    scan_hu : (Ni, Nj, Nk) array
        The scan's HU, and ``to_source`` (4, 4) the turned grid's index -> the scan's:
        :meth:`hu` samples them when asked (most turned grids hold no jaw, and need none).
    """

    bone: np.ndarray
    affine: np.ndarray
    rotation: np.ndarray
    centre: np.ndarray
    name: str
    scan_hu: np.ndarray = field(repr=False)
    to_source: np.ndarray = field(repr=False)

    def hu(self) -> np.ndarray:
        """The HU on the turned grid, (ni, nj, nk) int16 (linear), sampled now."""
        sampled = ndi.affine_transform(
            self.scan_hu.astype(np.float32, copy=False),
            self.to_source[:3, :3],
            self.to_source[:3, 3],
            output_shape=self.bone.shape,
            order=1,
            cval=float(_LOW_HU),
        )
        return np.rint(sampled).astype(np.int16)


def rotation(kind: str, degrees: float) -> np.ndarray:
    """The (3, 3) rotation of a head tilted by ``degrees`` (``kind`` "pitch", "roll", "yaw").

    Pitch turns about the left-right axis (x): positive brings the chin (front, -y) down;
    roll about the front-back axis (y); yaw about the vertical axis (z).
    """
    axes = {"pitch": 0, "roll": 1, "yaw": 2}
    if kind not in axes:
        raise ValueError(f"kind must be one of {sorted(axes)}, got {kind!r}")
    a = math.radians(degrees)
    c, s = math.cos(a), math.sin(a)
    i, j = [k for k in range(3) if k != axes[kind]]
    r = np.eye(3)
    r[i, i] = r[j, j] = c
    r[i, j], r[j, i] = -s, s
    return r


def tilted(
    bone: np.ndarray, hu: np.ndarray, affine: np.ndarray, kind: str, degrees: float
) -> Tilted:
    """Resample the bone's box onto a grid turned by ``degrees`` about the bone's centre.

    Parameters
    ----------
    bone : (ni, nj, nk) bool
        Kept bone on the scan's grid.
    hu : (ni, nj, nk) integer or float
        HU on the same grid.
    affine : (4, 4) float
        Index -> LPS mm.
    kind, degrees
        The turn (:func:`rotation`).

    Returns
    -------
    Tilted
    """
    box = mask_box(bone)
    if box is None:
        raise ValueError("bone is empty")
    r = rotation(kind, degrees)
    a3 = affine[:3, :3]
    spacing = np.linalg.norm(a3, axis=0)
    corners = np.array([[s.start, s.stop - 1] for s in box], dtype=float)
    ijk = np.array(
        [
            [corners[0, a], corners[1, b], corners[2, c]]
            for a in (0, 1)
            for b in (0, 1)
            for c in (0, 1)
        ]
    )
    p = apply_affine(affine, ijk)
    centre = p.mean(axis=0)
    # the head's frame: q = centre + r.T @ (p - centre); the turned grid is axis-aligned
    # there, with the scan's directions and spacings (no finer than _MIN_SPACING_MM)
    step = np.maximum(spacing, _MIN_SPACING_MM)
    direction = a3 / spacing
    q = centre + (p - centre) @ r
    local = q @ direction  # coordinates along the grid's axes
    lo, hi = local.min(axis=0) - step, local.max(axis=0) + step
    shape = tuple(int(n) for n in np.ceil((hi - lo) / step) + 1)
    head = np.eye(4)
    head[:3, :3] = direction * step
    head[:3, 3] = direction @ lo
    # turned-grid index -> head frame -> LPS -> scan index
    to_lps = np.eye(4)
    to_lps[:3, :3] = r
    to_lps[:3, 3] = centre - r @ centre
    to_source = np.linalg.inv(affine) @ to_lps @ head
    sampled_bone = ndi.affine_transform(
        bone.view(np.uint8), to_source[:3, :3], to_source[:3, 3], output_shape=shape, order=0
    ).view(bool)
    side = {"pitch": ("chin down", "chin up"), "roll": ("right", "left"), "yaw": ("left", "right")}
    way = side[kind][0 if degrees > 0 else 1]
    how = {"pitch": way, "roll": f"rolled to its {way}", "yaw": f"turned to its {way}"}[kind]
    return Tilted(
        bone=sampled_bone,
        affine=head,
        rotation=r,
        centre=centre,
        name=f"{how} by about {abs(degrees):.0f}°",
        scan_hu=hu,
        to_source=to_source,
    )


def to_scan(
    mask: np.ndarray, box: tuple[slice, ...], turned: Tilted, bone: np.ndarray, affine: np.ndarray
) -> np.ndarray:
    """A mask found on the turned grid (``mask`` on ``turned.bone[box]``) on the scan's grid.

    Each bone voxel of the scan takes the value of the turned grid's voxel nearest to it.

    Returns
    -------
    (ni, nj, nk) bool
        On ``bone``'s grid, within ``bone``.
    """
    out = np.zeros(bone.shape, dtype=bool)
    inner = mask_box(mask)
    if inner is None:
        return out
    full = np.zeros(turned.bone.shape, dtype=bool)
    where = tuple(
        slice(b.start + s.start, b.start + s.stop) for b, s in zip(box, inner, strict=True)
    )
    full[where] = mask[inner]
    # the scan's bone voxels that can reach the mask: its box's corners taken back
    lo = np.array([s.start for s in where], dtype=float) - 1
    hi = np.array([s.stop for s in where], dtype=float)
    corners = np.array(
        [[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])]
    )
    p = turned.centre + (apply_affine(turned.affine, corners) - turned.centre) @ turned.rotation.T
    ijk = apply_affine(np.linalg.inv(affine), p)
    start = np.clip(np.floor(ijk.min(axis=0)).astype(int), 0, bone.shape)
    stop = np.clip(np.ceil(ijk.max(axis=0)).astype(int) + 1, 0, bone.shape)
    sub = tuple(slice(a, b) for a, b in zip(start, stop, strict=True))
    vox = voxel_indices(bone[sub]) + start
    lps = apply_affine(affine, vox)
    q = turned.centre + (lps - turned.centre) @ turned.rotation
    index = np.rint(apply_affine(np.linalg.inv(turned.affine), q)).astype(np.intp)
    inside = np.all((index >= 0) & (index < turned.bone.shape), axis=1)
    hit = np.zeros(len(vox), dtype=bool)
    hit[inside] = full[tuple(index[inside].T)]
    out[tuple(vox[hit].T)] = True
    return out

"""Block grids and box morphology shared by the bone steps.

:class:`Grid` views a C-ordered voxel array as blocks of ``factors`` voxels (the coarse
working grid of the patient cleanup and the mandible search); :func:`grow_box` and
:func:`dilate_box` are the small box helpers both use. Nothing here knows about anatomy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Grid", "dilate_box", "grow_box", "mask_box", "voxel_indices"]


def mask_box(mask: np.ndarray) -> tuple[slice, ...] | None:
    """The bounding box of the True voxels of a 3-D mask (as ``ndi.find_objects``), or None.

    Found from projections: several times faster than ``find_objects`` on a large mask.
    """
    plane = mask.any(axis=0)
    j = np.flatnonzero(plane.any(axis=1))
    if j.size == 0:
        return None
    k = np.flatnonzero(plane.any(axis=0))
    rows = mask[:, j[0] : j[-1] + 1, k[0] : k[-1] + 1].any(axis=(1, 2))
    i = np.flatnonzero(rows)
    return (
        slice(int(i[0]), int(i[-1]) + 1),
        slice(int(j[0]), int(j[-1]) + 1),
        slice(int(k[0]), int(k[-1]) + 1),
    )


def voxel_indices(mask: np.ndarray) -> np.ndarray:
    """(n, ndim) intp indices of the True voxels, as ``np.argwhere`` (same order), faster."""
    return (
        np.column_stack(np.unravel_index(np.flatnonzero(mask), mask.shape)).astype(
            np.intp, copy=False
        )
        if mask.size
        else np.zeros((0, mask.ndim), dtype=np.intp)
    )


def grow_box(sl: tuple[slice, ...], by, shape: tuple[int, ...]) -> tuple[slice, ...]:
    """A box of slices grown by ``by[axis]`` voxels each side, clipped to ``shape``.

    Parameters
    ----------
    sl : tuple of slice
        The box (``start``/``stop`` set, step 1).
    by : (3,) int
        Voxels to add on each side, per axis.
    shape : tuple of int
        The array's shape.
    """
    return tuple(
        slice(max(s.start - int(b), 0), min(s.stop + int(b), n))
        for s, b, n in zip(sl, by, shape, strict=True)
    )


def dilate_box(mask: np.ndarray, steps) -> np.ndarray:
    """Binary dilation by ``steps[axis]`` voxels along each axis (a box structuring element).

    Parameters
    ----------
    mask : (ni, nj, nk) bool
    steps : (3,) int
        Half-width of the box along each axis, voxels (0: no growth along that axis).
    """
    out = np.asarray(mask, dtype=bool)
    for axis, n in enumerate(steps):
        if n <= 0:
            continue
        grown = out.copy()
        m = out.shape[axis]
        for shift in range(1, min(int(n), m - 1) + 1):  # shifted copies, ORed in place
            lo = [slice(None)] * out.ndim
            hi = [slice(None)] * out.ndim
            lo[axis], hi[axis] = slice(0, m - shift), slice(shift, m)
            grown[tuple(hi)] |= out[tuple(lo)]
            grown[tuple(lo)] |= out[tuple(hi)]
        out = grown
    return out


@dataclass(frozen=True)
class Grid:
    """A block grid over a C-ordered array: ``factors`` voxels per block along each axis."""

    shape: tuple[int, int, int]  # full-resolution shape
    factors: tuple[int, int, int]
    affine: np.ndarray  # full-resolution index -> LPS

    @property
    def work_affine(self) -> np.ndarray:
        """Block index -> LPS of the block's centre."""
        f = np.array(self.factors, dtype=float)
        a = self.affine.copy()
        a[:3, :3] = self.affine[:3, :3] * f
        a[:3, 3] = self.affine[:3, 3] + self.affine[:3, :3] @ ((f - 1) / 2)
        return a

    @property
    def work_spacing(self) -> np.ndarray:
        return np.linalg.norm(self.work_affine[:3, :3], axis=0)

    def block_count(self, mask: np.ndarray) -> np.ndarray:
        """Number of set voxels in each block, uint8."""
        a = mask.view(np.uint8)
        for axis, f in enumerate(self.factors):
            if f == 1:
                continue
            n = a.shape[axis]
            shape = list(a.shape)
            shape[axis] = -(-n // f)  # the last block may be partly outside the array
            out = np.zeros(shape, dtype=np.uint8)
            for q in range(f):  # every f-th slice from q: the q-th slice of each block
                take = [slice(None)] * a.ndim
                take[axis] = slice(q, n, f)
                part = a[tuple(take)]
                put = [slice(None)] * a.ndim
                put[axis] = slice(0, part.shape[axis])
                out[tuple(put)] += part
            a = out
        return a if a is not mask.view(np.uint8) else a.copy()

    def restrict(self, mask: np.ndarray, blocks: np.ndarray) -> None:
        """``mask &= upsample(blocks)`` in place, a row of blocks at a time (little memory)."""
        f0 = self.factors[0]
        for b in range(blocks.shape[0]):
            rows = mask[b * f0 : (b + 1) * f0]
            if rows.size:
                plane = blocks[b]
                for axis, f in ((0, self.factors[1]), (1, self.factors[2])):
                    if f > 1:
                        plane = np.repeat(plane, f, axis=axis)
                rows &= plane[: mask.shape[1], : mask.shape[2]]

    def upsample(self, blocks: np.ndarray) -> np.ndarray:
        """A block mask at full resolution."""
        out = blocks
        for axis, f in enumerate(self.factors):
            if f > 1:
                out = np.repeat(out, f, axis=axis)
        return out[: self.shape[0], : self.shape[1], : self.shape[2]]

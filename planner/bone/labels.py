"""Bone segmentation: a CT volume -> labelled bone (skull, mandible).

The steps are: a bone threshold (300 HU on CT, found from the histogram where bone reads
low) -> connected components -> keep the patient's bone (drop the head holder, the table
and small islands) -> split the mandible from the skull where the two touch at scan
resolution (teeth in occlusion, condyles in their fossae) with a marker-based watershed on
the distance transform (:mod:`planner.bone.mandible`). The mandible's marker is found
anatomically, in patient LPS coordinates: it is the U-shaped arch, open towards the back,
that the distance transform cuts free of the rest of the bone.

Labels: 0 no bone, 1 skull (with any other bone kept), 2 mandible.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from planner.bone.mandible import _dilate, _grow, _refine_contacts, _separate_mandible
from planner.errors import PlannerError
from planner.scan.volume import Volume, c_frame

__all__ = [
    "LABEL_NAMES",
    "Segmentation",
    "ThresholdResult",
    "bone_threshold",
    "segment_bone",
]

LABEL_NAMES = {1: "skull", 2: "mandible"}

Progress = Callable[[str, int, int], None]

_AIR_HU = -400.0  # below this a voxel is air, foam or lung, not the patient's soft tissue
_OUTSIDE = 0.45  # a piece whose surroundings are more air than this is not the patient
_WORK_MM = 1.0  # voxel size sought for the mandible search (integer block factors)


@dataclass(frozen=True)
class ThresholdResult:
    """The bone threshold and how it was chosen.

    Parameters
    ----------
    threshold_hu : float
        Iso level in HU; a half-integer against integer data, so that no voxel sits on it.
    method : str
        "default" (the CT default), "auto" (found from the histogram) or "given".
    note : str
        One line for the user: the level and the evidence behind it.
    """

    threshold_hu: float
    method: str
    note: str


@dataclass(frozen=True, eq=False)
class Segmentation:
    """Labelled bone on the volume's voxel grid.

    Parameters
    ----------
    labels : (ni, nj, nk) uint8
        0 no bone, 1 skull (and any other bone kept), 2 mandible.
    threshold_hu : float
        The bone threshold used.
    threshold_method : str
        "default", "auto" or "given" (see :class:`ThresholdResult`).
    mandible_found : bool
        Whether label 2 holds a separated mandible.
    notes : tuple of str
        What the segmentation did that a user should know.
    volume_mm3 : dict of int to float
        Volume of each label (voxel count times voxel volume), mm³.
    """

    labels: np.ndarray
    threshold_hu: float
    threshold_method: str
    mandible_found: bool
    notes: tuple[str, ...]
    volume_mm3: dict[int, float]


def _half_level(value: float) -> float:
    """The half-integer level just above ``floor(value)``: integer data never equal it."""
    return math.floor(value) + 0.5


def _sample(a: np.ndarray, n: int) -> np.ndarray:
    """A strided sample of about ``n`` values of ``a`` (a view where possible, then flat)."""
    step = max(1, round((a.size / n) ** (1.0 / 3.0)))
    return a[::step, ::step, ::step].ravel(order="K")


def bone_threshold(volume: Volume, *, default_hu: float = 300.0) -> ThresholdResult:
    """Choose the bone threshold of a CT volume.

    On CT with calibrated HU (soft tissue between -100 and +150 HU and cortical bone above
    1000 HU) the threshold is ``default_hu``. Where bone reads low (cone-beam CT, a plastic
    phantom) or soft tissue is off scale, it is found from the histogram instead: Otsu's
    threshold on the voxels denser than soft tissue. The note says which and why.

    Parameters
    ----------
    volume : Volume
        The CT volume.
    default_hu : float
        The CT default, HU.

    Returns
    -------
    ThresholdResult
        A half-integer level (``300.5`` for 300 HU), so that no integer voxel equals it.
    """
    if not math.isfinite(default_hu):
        raise ValueError(f"default_hu must be finite, got {default_hu}")
    sample = _sample(volume.hu, 2_000_000).astype(np.float32)
    counts, edges = np.histogram(sample, bins=np.arange(-500.0, 510.0, 10.0))
    if counts.sum() < 1000:
        level = _half_level(default_hu)
        return ThresholdResult(level, "default", f"{level:g} HU (default; no soft tissue seen)")
    smooth = np.convolve(counts, np.array([1, 2, 3, 2, 1]) / 9.0, mode="same")
    peak = int(np.argmax(smooth))
    soft_hu = float(edges[peak] + 5.0)
    below = np.nonzero(smooth[:peak] < smooth[peak] / 2)[0]
    above = np.nonzero(smooth[peak:] < smooth[peak] / 2)[0]
    left = below[-1] if below.size else 0
    right = peak + above[0] if above.size else len(smooth) - 1
    sigma_hu = max(10.0 * (right - left) / 2.355, 10.0)
    dense = sample[sample > soft_hu + 150.0]
    if dense.size < 100:
        level = _half_level(default_hu)
        note = (
            f"{level:g} HU (default; almost nothing denser than soft tissue at {soft_hu:.0f} HU)"
        )
        return ThresholdResult(level, "default", note)
    top_hu = float(np.percentile(dense, 99.5))
    if -100.0 <= soft_hu <= 150.0 and top_hu >= 1000.0:
        level = _half_level(default_hu)
        note = (
            f"{level:g} HU (CT default; soft tissue at {soft_hu:.0f} HU, "
            f"dense bone up to {top_hu:.0f} HU)"
        )
        return ThresholdResult(level, "default", note)
    low = soft_hu + max(100.0, 4.0 * sigma_hu)
    values = dense[(dense > low) & (dense <= np.percentile(dense, 99.9))]
    if values.size < 100:
        level = _half_level(max(default_hu, low))
    else:
        from skimage.filters import threshold_otsu

        level = _half_level(threshold_otsu(values))
    note = (
        f"{level:g} HU found from the histogram: bone reads low or soft tissue is off scale "
        f"(soft tissue at {soft_hu:.0f} HU, densest bone {top_hu:.0f} HU), so Otsu's level "
        "above soft tissue was used instead of the CT default; set the threshold to override"
    )
    return ThresholdResult(level, "auto", note)


# --- grids ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Grid:
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
        pad = [(0, (-n) % f) for n, f in zip(mask.shape, self.factors, strict=True)]
        a = np.pad(mask, pad) if any(p[1] for p in pad) else mask
        a = a.view(np.uint8)
        for axis, f in enumerate(self.factors):
            if f == 1:
                continue
            split = a.reshape((*a.shape[:axis], a.shape[axis] // f, f, *a.shape[axis + 1 :]))
            pre = (slice(None),) * (axis + 1)
            out = split[(*pre, 0)].copy()
            for q in range(1, f):
                out += split[(*pre, q)]
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


def _work_factors(spacing: np.ndarray) -> tuple[int, int, int]:
    return tuple(max(1, min(6, round(_WORK_MM / float(s)))) for s in spacing)  # type: ignore[return-value]


def _label(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """Face-connected components, in uint16 where that is enough (half the memory)."""
    try:
        return ndi.label(mask, output=np.uint16)
    except RuntimeError:  # more than 65535 components
        return ndi.label(mask, output=np.int32)


# --- the patient ----------------------------------------------------------------------------


def _keep_patient(
    hu: np.ndarray, counts: np.ndarray, grid: _Grid, min_island_mm3: float, notes: list[str]
) -> np.ndarray | None:
    """Block mask of the patient's bone, or None when every piece is kept.

    Components are found on the block grid (a block with any bone is set): small islands
    and objects lying in air (a head holder, the table) are dropped.
    """
    comps, n = _label(counts > 0)
    if n <= 1:
        return None
    sizes = np.bincount(comps.ravel(), weights=counts.ravel(), minlength=n + 1)
    sizes[0] = 0
    vox = float(abs(np.linalg.det(grid.affine[:3, :3])))
    small = (sizes * vox < min_island_mm3) & (sizes > 0)
    objects = ndi.find_objects(comps)
    order = [int(c) for c in np.argsort(sizes)[::-1] if sizes[c] > 0]
    big = [c for c in order if not small[c]] or order[:1]
    small[big] = False
    largest = big[0]
    sampled = hu[:: grid.factors[0], :: grid.factors[1], :: grid.factors[2]]
    steps = np.maximum(np.round(2.5 / grid.work_spacing), 1).astype(int)

    def air_fraction(c: int) -> float:
        box = _grow(objects[c - 1], steps, comps.shape)
        # every other block of a large box is plenty for a fraction
        stride = 2 if np.prod([s.stop - s.start for s in box]) > 4_000_000 else 1
        box = tuple(slice(s.start, s.stop, stride) for s in box)
        inside = comps[box] == c
        shell = _dilate(inside, np.maximum(steps // stride, 1)) & ~inside
        n_shell = np.count_nonzero(shell)
        return np.count_nonzero(sampled[box][shell] < _AIR_HU) / n_shell if n_shell else 0.0

    outside = []
    if air_fraction(largest) > 0.75:
        # a dry skull or a phantom: everything lies in air; keep what lies within its box
        box = objects[largest - 1]
        for c in big[1:]:
            inner = np.count_nonzero(comps[box] == c)
            if inner < 0.5 * np.count_nonzero(comps[objects[c - 1]] == c):
                outside.append(c)
        notes.append("the bone lies in air (a dry skull or a phantom?)")
    else:
        outside = [c for c in big[1:] if air_fraction(c) > _OUTSIDE]
    if outside:
        cm3 = float(sizes[outside].sum()) * vox / 1000.0
        noun = "object" if len(outside) == 1 else "objects"
        notes.append(
            f"removed {len(outside)} {noun} not part of the patient (head holder or table?), "
            f"{cm3:.1f} cm³"
        )
    if small.any():
        k = int(small.sum())
        notes.append(
            f"removed {k} small {'island' if k == 1 else 'islands'} under {min_island_mm3:g} mm³ "
            f"({float(sizes[small].sum()) * vox / 1000.0:.2f} cm³ in all)"
        )
    if not outside and not small.any():
        return None
    keep = np.zeros(n + 1, dtype=bool)
    keep[big] = True
    keep[outside] = False
    return keep[comps]


# --- the whole step -------------------------------------------------------------------------


def segment_bone(
    volume: Volume,
    *,
    threshold_hu: float | None = None,
    separate_mandible: bool = True,
    min_island_mm3: float = 100.0,
    progress: Progress | None = None,
) -> Segmentation:
    """Label the bone of a head CT: skull and, where it can be separated, mandible.

    Parameters
    ----------
    volume : Volume
        The CT volume.
    threshold_hu : float, optional
        Bone threshold; by default :func:`bone_threshold` chooses it. Against integer data
        ``t`` and ``floor(t) + 0.5`` select the same voxels; the latter is used.
    separate_mandible : bool
        Try to give the mandible its own label.
    min_island_mm3 : float
        Pieces of bone smaller than this are dropped as noise, mm³.
    progress : callable(task: str, done: int, total: int), optional
        Called as the steps complete.

    Returns
    -------
    Segmentation
        Labels on the volume's grid: 0 none, 1 skull, 2 mandible.

    Raises
    ------
    PlannerError
        If no bone lies above the threshold.
    """
    if not isinstance(volume, Volume):
        raise TypeError(
            f"volume must be a planner.scan.volume.Volume, got {type(volume).__name__}"
        )
    if not min_island_mm3 >= 0:
        raise ValueError(f"min_island_mm3 must be >= 0, got {min_island_mm3}")
    steps = 4 if separate_mandible else 3

    def tick(done: int) -> None:
        if progress is not None:
            progress("segmenting bone", done, steps)

    notes: list[str] = []
    tick(0)
    if threshold_hu is None:
        choice = bone_threshold(volume)
        level, method = choice.threshold_hu, choice.method
        notes.append(f"bone threshold {choice.note}")
    else:
        if not math.isfinite(threshold_hu):
            raise PlannerError(f"the bone threshold must be a number of HU, got {threshold_hu}")
        level, method = float(threshold_hu), "given"
    hu, perm = c_frame(volume.hu)
    if np.issubdtype(hu.dtype, np.integer):
        level = _half_level(level)
        bone = hu > math.floor(level)
    else:
        bone = hu > level
    if not bone.any():
        raise PlannerError(
            f"no voxel is above the bone threshold of {level:g} HU; check that the series is "
            "a CT of the head, or set a lower threshold"
        )
    affine = volume.affine.copy()
    affine[:, :3] = volume.affine[:, list(perm)]
    grid = _Grid(hu.shape, _work_factors(np.linalg.norm(affine[:3, :3], axis=0)), affine)
    tick(1)

    counts = grid.block_count(bone)
    keep = _keep_patient(hu, counts, grid, min_island_mm3, notes)
    if keep is not None:
        grid.restrict(bone, keep)
        counts[~keep] = 0
    tick(2)

    n_bone = np.count_nonzero(bone)
    labels = bone.view(np.uint8)  # 0/1 already: the labels take over the mask's memory
    n_mandible = 0
    found = False
    if separate_mandible:
        blocks, box, how = _separate_mandible(counts, grid)
        tick(3)
        if blocks is not None:
            full_box = tuple(
                slice(s.start * f, min(s.stop * f, n))
                for s, f, n in zip(box, grid.factors, hu.shape, strict=True)
            )
            sub = _Grid(tuple(s.stop - s.start for s in full_box), grid.factors, affine).upsample(
                blocks
            )
            sub &= bone[full_box]
            sub = _refine_contacts(sub, bone, hu, affine, full_box)
            n_sub = np.count_nonzero(sub)
            mm3 = float(n_sub) * volume.voxel_volume_mm3
            if mm3 >= 1000.0:
                labels[full_box][sub] = 2
                n_mandible = n_sub
                found = True
                notes.append(f"mandible separated from the skull (watershed, markers at {how})")
            else:
                how = f"the lower-jaw arch found holds only {mm3:.0f} mm³ of bone"
        if not found:
            notes.append(f"mandible not separated: {how}; kept one model")
    del bone
    vox = volume.voxel_volume_mm3
    volume_mm3 = {1: float(n_bone - n_mandible) * vox, 2: float(n_mandible) * vox}
    inverse = tuple(int(a) for a in np.argsort(perm))
    tick(steps)
    return Segmentation(
        labels=labels.transpose(inverse),
        threshold_hu=float(level),
        threshold_method=method,
        mandible_found=found,
        notes=tuple(notes),
        volume_mm3=volume_mm3,
    )

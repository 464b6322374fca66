"""Bone segmentation: a CT volume -> labelled bone (skull, mandible).

The steps are: a bone threshold (300 HU on CT, found from the histogram where bone reads
low) -> connected components -> keep the patient's bone (drop the head holder, the table
and small islands) -> split the mandible from the skull where the two touch at scan
resolution (teeth in occlusion, condyles in their fossae) with a marker-based watershed on
the distance transform. The mandible's marker is found anatomically, in patient LPS
coordinates: it is the U-shaped arch, open towards the back, that the distance transform
cuts free of the rest of the bone.

Labels: 0 no bone, 1 skull (with any other bone kept), 2 mandible.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from planner.errors import PlannerError
from planner.volume import Volume, apply_affine

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
_DEPTHS_MM = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0, 6.0)


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


def _c_frame(hu: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int]]:
    """``hu`` transposed so that it is C-contiguous (scipy's labelling is ~3x faster)."""
    if hu.T.flags.c_contiguous:
        return hu.T, (2, 1, 0)
    if hu.flags.c_contiguous:
        return hu, (0, 1, 2)
    return np.ascontiguousarray(hu.T), (2, 1, 0)


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


def _grow(sl: tuple[slice, ...], by, shape: tuple[int, ...]) -> tuple[slice, ...]:
    return tuple(
        slice(max(s.start - int(b), 0), min(s.stop + int(b), n))
        for s, b, n in zip(sl, by, shape, strict=True)
    )


def _dilate(mask: np.ndarray, steps) -> np.ndarray:
    """Binary dilation by ``steps[axis]`` voxels along each axis (a box)."""
    out = mask
    for axis, n in enumerate(steps):
        if n <= 0:
            continue
        struct = np.ones([2 * int(n) + 1 if a == axis else 1 for a in range(3)], dtype=bool)
        out = ndi.binary_dilation(out, structure=struct)
    return out


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


# --- mandible -------------------------------------------------------------------------------


def _edt_levels(spacing: np.ndarray) -> list[float]:
    """Distance-transform levels near the targets in ``_DEPTHS_MM`` that the grid can take."""
    reach = [math.ceil(max(_DEPTHS_MM) / float(s)) + 1 for s in spacing]
    values = {
        round(math.sqrt((a * spacing[0]) ** 2 + (b * spacing[1]) ** 2 + (c * spacing[2]) ** 2), 4)
        for a, b, c in itertools.product(*(range(r + 1) for r in reach))
    }
    values = np.array(sorted(values - {0.0}))
    levels: list[float] = []
    for t in _DEPTHS_MM:
        below = values[values <= t + 1e-6]
        if below.size and float(below[-1]) not in levels:
            levels.append(float(below[-1]))
    return levels


@dataclass(frozen=True)
class _ArchShape:
    """A point cloud's fit to the lower-jaw arch (LPS mm)."""

    is_arch: bool
    centre_x: float = 0.0
    width_mm: float = 0.0
    front_y: float = 0.0
    opening_mm: float = 0.0
    front_top_z: float = 0.0


def _arch(points: np.ndarray) -> _ArchShape:
    """Is a point cloud (LPS mm) a U-shaped arch open towards the back (+y)?"""
    x, y = points[:, 0], points[:, 1]
    x2, x98 = np.percentile(x, [2, 98])
    width = float(x98 - x2)
    if width < 30.0:
        return _ArchShape(False)
    cx = float(x2 + x98) / 2
    central = np.abs(x - cx) < 0.15 * width
    left = (x - cx) > 0.3 * width
    right = (x - cx) < -0.3 * width
    n_l, n_r = int(left.sum()), int(right.sum())
    if central.sum() < 5 or min(n_l, n_r) < 0.2 * (n_l + n_r):
        return _ArchShape(False)
    lateral_y = float(np.median(y[left | right]))
    front_y = float(np.median(y[central]))
    opening = lateral_y - front_y
    back = float(np.percentile(y[central], 90))
    ok = opening >= 0.2 * width and back < lateral_y
    top = float(np.percentile(points[central, 2], 95))
    return _ArchShape(bool(ok), cx, width, front_y, opening, top)


def _points(mask: np.ndarray, sl: tuple[slice, ...], affine: np.ndarray, n: int) -> np.ndarray:
    """LPS mm of (at most about ``n`` of) the set voxels of ``mask[sl]``."""
    ijk = np.argwhere(mask[sl])
    if len(ijk) > n:
        ijk = ijk[:: len(ijk) // n]
    return apply_affine(affine, ijk + [s.start for s in sl])


def _inferior_faces(affine: np.ndarray) -> list[tuple[int, int]]:
    """Array faces (axis, 0 low / 1 high) whose outward normal points inferior (-z, LPS)."""
    direction = affine[:3, :3] / np.linalg.norm(affine[:3, :3], axis=0)
    return [
        (axis, side)
        for axis in range(3)
        for side, sign in ((0, -1.0), (1, 1.0))
        if sign * direction[2, axis] < -0.7
    ]


def _cores(edt: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray, list]:
    cores, n = ndi.label(edt > level, output=np.int32)
    sizes = np.bincount(cores.ravel(), minlength=n + 1)
    sizes[0] = 0
    return cores, sizes, ndi.find_objects(cores)


def _find_markers(
    edt: np.ndarray, work: np.ndarray, affine: np.ndarray, floor: Callable[[np.ndarray], bool]
) -> tuple[np.ndarray | None, str]:
    """Watershed markers (1 skull, 2 mandible), or None and the reason.

    The mandible's marker is the largest U-shaped core (open towards the back, across the
    patient's midline) at the shallowest distance-transform level where one comes free of
    the rest. The skull's are the largest other core, any core larger than the arch's, and
    the hard palate inside the arch (at coarse resolution the upper teeth would otherwise
    flood in from the lower ones). Smaller
    cores may be pieces of the mandible (a ramus cut off by the erosion): they get no
    marker and go with whichever bone reaches them through thicker bone.
    """
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    vox = float(np.prod(spacing))
    total_mm3 = float(np.count_nonzero(work)) * vox
    # the patient's midline: the mandible's arch straddles it
    whole = tuple(slice(0, n) for n in work.shape)
    midline_x = float(np.median(_points(work, whole, affine, 50000)[:, 0]))
    levels = _edt_levels(spacing)
    for level in levels:
        cores, sizes, objects = _cores(edt, level)
        order = [int(c) for c in np.argsort(sizes)[::-1] if sizes[c] * vox >= 1000.0]
        if len(order) < 2:
            continue
        best = None
        for c in order[:50]:
            if sizes[c] * vox > 0.6 * total_mm3:
                continue
            arch = _arch(_points(cores == c, objects[c - 1], affine, 20000))
            if not arch.is_arch or abs(arch.centre_x - midline_x) > 0.2 * arch.width_mm:
                continue
            if best is None or sizes[c] > sizes[best[0]]:
                best = (c, arch)
        if best is None:
            continue
        c, arch = best
        mandible = cores == c
        if floor(mandible):
            return None, (
                "the only U-shaped arch found is cut by the lower edge of the scan "
                "(the upper teeth, or a mandible not wholly in view)"
            )
        markers = np.zeros(work.shape, dtype=np.int32)
        others = [k for k in order if k != c]
        for k in others:
            if k == others[0] or sizes[k] >= sizes[c]:
                markers[cores == k] = 1
        markers[mandible] = 2
        # the hard palate, above the tongue inside the arch, holds the upper teeth
        inv = np.linalg.inv(affine)
        centre = apply_affine(inv, [arch.centre_x, arch.front_y, arch.front_top_z])
        reach = np.abs(inv[:3, :3]) @ np.array([0.15 * arch.width_mm, arch.opening_mm, 45.0])
        box = tuple(
            slice(max(int(a - r), 0), min(int(a + r) + 1, s))
            for a, r, s in zip(centre, reach, work.shape, strict=True)
        )
        ijk = np.argwhere(work[box]) + [s.start for s in box]
        p = apply_affine(affine, ijk)
        palate = (
            (np.abs(p[:, 0] - arch.centre_x) < max(5.0, 0.1 * arch.width_mm))
            & (p[:, 1] > arch.front_y + 0.2 * arch.opening_mm)
            & (p[:, 1] < arch.front_y + 0.8 * arch.opening_mm)
            & (p[:, 2] > arch.front_top_z + 3.0)
            & (p[:, 2] < arch.front_top_z + 40.0)
        )
        seed = ijk[palate]
        seed = seed[markers[tuple(seed.T)] == 0]
        markers[tuple(seed.T)] = 1
        return markers, f"depth {level:.2f} mm"
    return None, "no U-shaped lower-jaw arch separates from the skull"


def _separate_mandible(
    counts: np.ndarray, grid: _Grid
) -> tuple[np.ndarray | None, tuple[slice, ...], str]:
    """Mandible blocks (on the crop returned) from kept-bone block counts, or a reason."""
    from skimage.segmentation import watershed

    occupied = counts > 0
    box = ndi.find_objects(occupied.view(np.uint8))[0]
    box = _grow(box, (1, 1, 1), counts.shape)
    c = counts[box]
    work = 2 * c.astype(np.uint16) >= int(np.prod(grid.factors))
    partial = (c > 0) & ~work
    if np.count_nonzero(work) * np.prod(grid.work_spacing) < 1000.0:
        return None, box, "too little bone to hold a mandible"
    affine = grid.work_affine.copy()
    affine[:3, 3] = apply_affine(grid.work_affine, [s.start for s in box])
    faces = _inferior_faces(affine)
    shape = counts.shape

    def floor(core: np.ndarray) -> bool:
        for axis, side in faces:
            at_edge = box[axis].start == 0 if side == 0 else box[axis].stop == shape[axis]
            index = [slice(None)] * 3
            index[axis] = slice(0, 2) if side == 0 else slice(-2, None)
            if at_edge and core[tuple(index)].any():
                return True
        return False

    spacing = grid.work_spacing
    edt = ndi.distance_transform_edt(work, sampling=spacing).astype(np.float32)
    markers, how = _find_markers(edt, work, affine, floor)
    if markers is None:
        return None, box, how
    mandible = watershed(-edt, markers, mask=work, connectivity=1) == 2
    del edt, markers
    if partial.any():  # blocks with some bone but less than half: the nearest label wins
        skull = work & ~mandible
        for _ in range(2):
            to_m = _dilate(mandible, (1, 1, 1)) & partial
            to_s = _dilate(skull, (1, 1, 1)) & partial
            mandible |= to_m & ~to_s
            skull |= to_s
            partial &= ~(to_m | to_s)
    return mandible, box, how


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
        raise TypeError(f"volume must be a planner.volume.Volume, got {type(volume).__name__}")
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
    hu, perm = _c_frame(volume.hu)
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
        bone &= grid.upsample(keep)
        counts[~keep] = 0
    tick(2)

    labels = bone.view(np.uint8).copy()
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
            mm3 = float(np.count_nonzero(sub)) * volume.voxel_volume_mm3
            if mm3 >= 1000.0:
                labels[full_box][sub] = 2
                found = True
                notes.append(f"mandible separated from the skull (watershed, markers at {how})")
            else:
                how = f"the lower-jaw arch found holds only {mm3:.0f} mm³ of bone"
        if not found:
            notes.append(f"mandible not separated: {how}; kept one model")
    del bone
    vox = volume.voxel_volume_mm3
    volume_mm3 = {lab: float(np.count_nonzero(labels == lab)) * vox for lab in LABEL_NAMES}
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

"""Bone segmentation: a CT volume -> labelled bone (skull, mandible).

The steps are: a bone threshold (300 HU on CT, found from the histogram where bone reads
low: :mod:`planner.bone.threshold`) -> connected components -> keep the patient's bone
(equipment judged by shape and place, and small islands, are removed and listed with their
reasons: :mod:`planner.bone.patient`) -> split the mandible from the skull where the two
touch at scan resolution (teeth in occlusion, condyles in their fossae) with a
marker-based watershed on the distance transform (:mod:`planner.bone.mandible`). The
mandible's marker is found anatomically, in patient LPS coordinates: it is the U-shaped
arch, open towards the back, that the distance transform cuts free of the rest of the
bone, or at coarse pixels the arch followed slice by slice (:mod:`planner.bone.arch`); the
candidate is verified before it becomes the mandible, and when none is made a warning says
why and what to do.

Labels: 0 no bone, 1 skull (with any other bone kept), 2 mandible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
from scipy import ndimage as ndi

from planner.bone.grid import Grid, mask_box
from planner.bone.mandible import MandibleSearch, find_mandible, reaches_floor
from planner.bone.patient import RemovedPiece, sort_pieces
from planner.bone.threshold import ThresholdResult, bone_threshold, half_level
from planner.errors import PlannerError
from planner.progress import ProgressFn
from planner.scan.volume import Volume, apply_affine, c_frame

__all__ = [
    "LABEL_NAMES",
    "BoneLabels",
    "ThresholdResult",
    "bone_threshold",
    "segment_bone",
]

LABEL_NAMES = {1: "skull", 2: "mandible"}

_WORK_MM = 1.0  # voxel size sought for the patient's pieces (integer block factors)
_SMALL_HEAD_MM = 100.0  # a head whose bone is narrower than this across (2nd to 98th
# percentile in x) is also searched at an adult's size; the test scans' are 118-360 mm, the
# sample's 113 mm
_ADULT_HEAD_MM = 115.0  # the width it is brought to (its jaw then 70-100 mm wide)
_SEARCH_MM = 2.0  # and for the mandible search: its boundary near the skull is then refined
# at full resolution (planner.bone.contacts); on the 0.4 and 1 mm synthetic heads and the
# 0.34 mm series of the speed benchmark, Dice within 0.002 of a 1 mm search, 2-4 x faster


@dataclass(frozen=True, eq=False)
class BoneLabels:
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
    bone_mm3 : float
        All bone above the threshold before anything was removed (voxels), mm³: the
        labels plus ``removed``.
    removed : tuple of RemovedPiece
        Equipment and islands left out of the labels, each with its reason.
    warnings : tuple of str
        What the user must know and act on (say, no mandible made: why, and what to do).
    label_values : dict of str to int
        Labels read from a file: the value of each bone in it (else empty).
    """

    labels: np.ndarray
    threshold_hu: float
    threshold_method: str
    mandible_found: bool
    notes: tuple[str, ...]
    volume_mm3: dict[int, float]
    bone_mm3: float = float("nan")
    removed: tuple[RemovedPiece, ...] = ()
    warnings: tuple[str, ...] = ()
    label_values: dict[str, int] = field(default_factory=dict)


# --- grids ----------------------------------------------------------------------------------


def _work_factors(spacing: np.ndarray, size_mm: float = _WORK_MM) -> tuple[int, int, int]:
    return tuple(max(1, min(6, round(size_mm / float(s)))) for s in spacing)  # type: ignore[return-value]


def _label(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """Face-connected components, in uint16 where that is enough (half the memory)."""
    try:
        return ndi.label(mask, output=np.uint16)
    except RuntimeError:  # more than 65535 components
        return ndi.label(mask, output=np.int32)


# --- the patient ----------------------------------------------------------------------------


def _keep_patient(
    hu: np.ndarray, counts: np.ndarray, grid: Grid, min_island_mm3: float, notes: list[str]
) -> tuple[np.ndarray | None, list[RemovedPiece]]:
    """Block mask of the patient's bone (None: every piece kept) and what was removed.

    Equipment is judged by shape and place, islands by size (:mod:`planner.bone.patient`).
    """
    keep, removed, more = sort_pieces(hu, counts, grid, min_island_mm3)
    notes.extend(more)
    return keep, removed


# --- the whole step -------------------------------------------------------------------------


def segment_bone(
    volume: Volume,
    *,
    threshold_hu: float | None = None,
    separate_mandible: bool = True,
    min_island_mm3: float = 100.0,
    mandible_at: tuple[float, float, float] | None = None,
    progress: ProgressFn | None = None,
) -> BoneLabels:
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
    mandible_at : (3,) float, optional
        A point on the chin, LPS mm, given by the user. The mandible the search finds on
        its own (verified as a jaw) is kept when it holds the point; else the mandible is
        seeded there (:func:`planner.bone.mandible.find_mandible`), and any check of a
        lower jaw it fails is a warning.
    progress : callable(task: str, done: int, total: int), optional
        Called as the steps complete.

    Returns
    -------
    BoneLabels
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
    warnings: list[str] = []
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
        level = half_level(level)
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
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    grid = Grid(hu.shape, _work_factors(spacing), affine)
    tick(1)

    counts = grid.block_count(bone)
    n_all = np.count_nonzero(bone)
    keep, removed = _keep_patient(hu, counts, grid, min_island_mm3, notes)
    if keep is not None:
        grid.restrict(bone, keep)
        counts[~keep] = 0
    tick(2)

    n_bone = np.count_nonzero(bone)
    labels = bone.view(np.uint8)  # 0/1 already: the labels take over the mask's memory
    n_mandible = 0
    found = False
    if separate_mandible:
        wide = Grid(hu.shape, _work_factors(spacing, _SEARCH_MM), affine)
        if wide.factors == grid.factors:
            wide, wide_counts = grid, counts
        else:  # a fine scan: the search runs on larger blocks
            wide_counts = wide.block_count(bone)
        search = find_mandible(bone, hu, wide_counts, wide)
        if search.mask is None:  # a head tilted in the scanner?
            search = _tilted_search(bone, hu, affine) or search
        if search.mask is None:  # a child's head?
            search = _small_head_search(bone, hu, affine) or search
        if mandible_at is not None and not _holds(search, affine, mandible_at):
            # the jaw found on its own is kept when it holds the user's point (the search
            # checks it as a jaw); else the bone through the point seeds it
            search = find_mandible(bone, hu, wide_counts, wide, at_lps=mandible_at)
        elif mandible_at is not None:
            search = replace(search, note=f"{search.note}, holding the point given on the chin")
        tick(3)
        if search.mask is not None:
            inner = mask_box(search.mask)  # a small part of the box: assigned there only
            if inner is not None:
                labels[search.box][inner][search.mask[inner]] = 2
            n_mandible = int(np.count_nonzero(search.mask))
            found = True
            notes.append(search.note)
            if search.warning:  # found, with a caution (a ramus short or missing)
                warnings.append(search.warning)
            warnings.extend(search.doubts)
        else:
            warnings.append(search.warning)
    del bone
    vox = volume.voxel_volume_mm3
    volume_mm3 = {1: float(n_bone - n_mandible) * vox, 2: float(n_mandible) * vox}
    inverse = tuple(int(a) for a in np.argsort(perm))
    tick(steps)
    return BoneLabels(
        labels=labels.transpose(inverse),
        threshold_hu=float(level),
        threshold_method=method,
        mandible_found=found,
        notes=tuple(notes),
        volume_mm3=volume_mm3,
        bone_mm3=float(n_all) * vox,
        removed=tuple(removed),
        warnings=tuple(warnings),
    )


def _small_head_search(
    bone: np.ndarray, hu: np.ndarray, affine: np.ndarray
) -> MandibleSearch | None:
    """The mandible of a small head (a child's), looked for at an adult's size, or None.

    The search's sizes are an adult's (a jaw 45-130 mm wide, 5 cm³ or more). A head in
    view across the slices (its bone clear of the scan's left, right, front and back
    faces) whose bone is narrower than :data:`_SMALL_HEAD_MM` across is searched again,
    on its own voxels, with each voxel taken as ``k`` times as large (up to 2), ``k``
    bringing its width to :data:`_ADULT_HEAD_MM`: the labels found are the patient's
    voxels as they are.
    """
    ijk = np.flatnonzero(bone)
    if not len(ijk):
        return None
    # only a head wholly in view across the slices, side to side and front to back, has
    # its width measured (a crop, a small cone-beam field of view, may be narrow)
    directions = np.abs(affine[:3, :3]) / np.linalg.norm(affine[:3, :3], axis=0)
    for lps in (0, 1):  # x, then y
        axis = int(np.argmax(directions[lps]))
        ends = np.flatnonzero(bone.any(axis=tuple(a for a in range(3) if a != axis)))
        if ends[0] < 2 or ends[-1] > bone.shape[axis] - 3:
            return None
    ijk = np.column_stack(np.unravel_index(ijk[:: max(1, len(ijk) // 200_000)], bone.shape))
    x = apply_affine(affine, ijk)[:, 0]
    width = float(np.subtract(*np.percentile(x, [98, 2])))
    if not 0.0 < width < _SMALL_HEAD_MM:
        return None
    k = min(_ADULT_HEAD_MM / width, 2.0)
    larger = affine.copy()
    larger[:3, :3] *= k
    spacing = np.linalg.norm(larger[:3, :3], axis=0)
    grid = Grid(hu.shape, _work_factors(spacing, _SEARCH_MM), larger)
    found = find_mandible(bone, hu, grid.block_count(bone), grid)
    if found.mask is None:
        return None
    scaled = (
        f"; looked for at {k:.1f}× the head's size (a small head: its bone is {width:.0f} mm "
        f"across), so the sizes in this note are {k:.1f}× the patient's"
    )
    return replace(found, note=found.note + scaled)


def _holds(search: MandibleSearch, affine: np.ndarray, at_lps, reach_mm: float = 5.0) -> bool:
    """Whether the mandible found holds bone within ``reach_mm`` of the point (LPS mm)."""
    if search.mask is None:
        return False
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    inv = np.linalg.inv(affine)
    centre = np.rint(apply_affine(inv, np.asarray(at_lps, dtype=float)[None])[0]).astype(int)
    reach = np.ceil(reach_mm / spacing).astype(int)
    near = tuple(
        slice(max(c - r - b.start, 0), max(c + r + 1 - b.start, 0))
        for c, r, b in zip(centre, reach, search.box, strict=True)
    )
    return bool(search.mask[near].any())


def _tilted_search(bone: np.ndarray, hu: np.ndarray, affine: np.ndarray) -> MandibleSearch | None:
    """The mandible looked for again in grids turned as a tilted head lies, or None.

    :mod:`planner.bone.tilt` resamples the bone onto each turned grid in turn; the first
    verified mandible is brought back onto the scan's voxels.
    """
    from planner.bone.tilt import TILTS_DEG, tilted, to_scan

    for kind, degrees in TILTS_DEG:
        turned = tilted(bone, hu, affine, kind, degrees)
        spacing = np.linalg.norm(turned.affine[:3, :3], axis=0)
        grid = Grid(turned.bone.shape, _work_factors(spacing, _SEARCH_MM), turned.affine)
        # a second look is held to more: one arch (not two halves apart at the midline:
        # with both looser looks a maxilla was taken), both rami (a jaw with a ramus
        # short or missing is not looked for in a tilted head), and not cut by the lower
        # edge of the scan (the turned grid's own edge is not the scan's)
        found = find_mandible(
            turned.bone, turned.hu, grid.block_count(turned.bone), grid, halves=False
        )
        if found.mask is None or found.warning:
            continue
        mask = to_scan(found.mask, found.box, turned, bone, affine)
        box = mask_box(mask)
        if box is None or reaches_floor(mask[box], box, bone.shape, affine):
            continue
        note = (
            f"{found.note}; found in slices turned as the head lies ({turned.name}), "
            "its boundary resampled from them"
        )
        return MandibleSearch(mask[box], box, note, found.warning, found.doubts)
    return None

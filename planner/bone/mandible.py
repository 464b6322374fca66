"""Mandible search and separation on the block grid of the kept bone.

The mandible's watershed marker is found anatomically, in patient LPS coordinates: at the
shallowest distance-transform depth where one comes free, the largest core that is a
U-shaped arch, open towards the back and across the patient's midline
(:mod:`planner.bone.cores`, :func:`planner.bone.arch.arch_shape`). The skull gets the
largest other cores and the hard palate inside the arch as markers. The arch found slice by slice
(:mod:`planner.bone.arch`) gives a second set of markers; its split is used where no core
comes free (coarse pixels), where the cores' mandible misses the lower jaw's body, or
where it is the more jaw-like of the two (a smaller interface with the skull, halves more
alike: :func:`planner.bone.candidate.split_cost`). A point on the chin given by the user
seeds it too. A marker-based watershed on the distance transform splits the mandible from
the skull where the two touch at scan resolution (teeth in occlusion, condyles in their
fossae). That cuts where the joined bone is narrowest, which at a temporomandibular joint
is the condylar neck; :func:`planner.bone.contacts.refine_contacts` then moves the
boundary, at full resolution, into the joint gap (an HU valley between two cortices)
wherever that gap is the deeper valley. :func:`find_mandible` runs it all, gives the
maxilla back above the front teeth and keeps only the rami above them
(:func:`planner.bone.candidate.trim_above_occlusion`), gives back at coarse pixels the
condyles the split gave the skull (:func:`planner.bone.condyle.restore_condyles`), and
verifies the result (:func:`planner.bone.candidate.verify_mandible`): a wrong jaw is worse
than none. A jaw with a ramus short or missing (hemifacial microsomia, small rami) passes
with a caution naming the side to check, in the note and as ``MandibleSearch.warning``.
A verified jaw gets back the rest of its rami's tops at coarse pixels
(:func:`planner.bone.rami.climb_rami`).
Used by :func:`planner.bone.labels.segment_bone`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from planner.bone.arch import arch_markers, find_arch
from planner.bone.candidate import (
    joints_touching,
    split_cost,
    trim_above_occlusion,
    verify_mandible,
)
from planner.bone.condyle import restore_condyles
from planner.bone.contacts import refine_contacts
from planner.bone.cores import find_markers, points_of
from planner.bone.grid import Grid, dilate_box, grow_box, mask_box, voxel_indices
from planner.bone.rami import climb_rami
from planner.scan.volume import apply_affine


def _inferior_faces(affine: np.ndarray) -> list[tuple[int, int]]:
    """Array faces (axis, 0 low / 1 high) whose outward normal points inferior (-z, LPS)."""
    direction = affine[:3, :3] / np.linalg.norm(affine[:3, :3], axis=0)
    return [
        (axis, side)
        for axis in range(3)
        for side, sign in ((0, -1.0), (1, 1.0))
        if sign * direction[2, axis] < -0.7
    ]


def split_mandible(
    counts: np.ndarray,
    grid: Grid,
    *,
    at_lps: np.ndarray | None = None,
    halves: bool = True,
) -> tuple[np.ndarray | None, tuple[slice, ...], str]:
    """Mandible blocks (on the crop returned) from kept-bone block counts, or a reason.

    ``at_lps`` (3,) mm, a point on the chin given by the user, seeds the mandible there
    instead of the search for the arch; ``halves``: whether the arch's two halves may lie
    apart at the midline (:func:`planner.bone.arch.find_arch`).
    """
    from skimage.segmentation import watershed

    occupied = counts > 0
    box = ndi.find_objects(occupied.view(np.uint8))[0]
    box = grow_box(box, (1, 1, 1), counts.shape)
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

    whole = tuple(slice(0, n) for n in work.shape)
    midline_x = float(np.median(points_of(work, whole, affine, 50000)[:, 0]))
    at = None if at_lps is None else _nearest_bone(work, affine, at_lps)
    arch, how = find_arch(
        work, affine, midline_x, at=at, floor=floor(np.ones_like(work)), halves=halves
    )
    if arch is None and "axial" not in how:
        return None, box, how
    # the distance transform only once there is an arch (most grids searched hold none)
    edt = ndi.distance_transform_edt(work, sampling=grid.work_spacing).astype(np.float32)
    # the distance-transform cores first (they cut best where they come free): the core of
    # the arch found slice by slice (its seed), else the arch's own markers are used
    arch_marks, seed = (
        (None, None) if arch is None or at is not None else arch_markers(work, affine, arch)
    )
    markers, how_cores = find_markers(edt, work, affine, midline_x, floor, seed)
    mandible = None
    if markers is not None:
        mandible = watershed(-edt, markers, mask=work, connectivity=1) == 2
        how = f"distance-transform cores at {how_cores}"
    if arch_marks is not None:
        # the arch's own markers, when the cores' mandible misses the arch's seed, or when
        # they make the split more like a lower jaw (a smaller interface with the skull,
        # halves more alike: split_cost)
        other = watershed(-edt, arch_marks, mask=work, connectivity=1) == 2
        if (
            mandible is None
            or np.count_nonzero(mandible & seed) < 0.8 * np.count_nonzero(seed)
            or split_cost(other, work, affine, arch.shape)
            < split_cost(mandible, work, affine, arch.shape)
        ):
            markers, mandible = arch_marks, other
            how = f"slice by slice from {how}"
        # the split kept as it was compared: trimmed above the front teeth (a cores' split
        # can reach into the mastoid behind a ramus, which the trim gives back)
        mandible, _ = trim_above_occlusion(mandible, work, affine)
    near = (
        None if at is None else grow_box(tuple(slice(a, a + 1) for a in at), (2, 2, 2), work.shape)
    )
    if at is not None and (mandible is None or not mandible[near].any()):
        # the user's point: the bone through it seeds the mandible, whatever its shape
        markers, _ = arch_markers(work, affine, arch)
        mandible = watershed(-edt, markers, mask=work, connectivity=1) == 2
        how = "seeded at the point given on the chin"
    elif at is not None:
        how = f"{how}, holding the point given on the chin"
    if mandible is None:
        return None, box, how_cores
    del edt, markers
    if partial.any():  # blocks with some bone but less than half: the nearest label wins
        skull = work & ~mandible
        for _ in range(2):
            to_m = dilate_box(mandible, (1, 1, 1)) & partial
            to_s = dilate_box(skull, (1, 1, 1)) & partial
            mandible |= to_m & ~to_s
            skull |= to_s
            partial &= ~(to_m | to_s)
    return mandible, box, how


def _nearest_bone(work: np.ndarray, affine: np.ndarray, at_lps) -> np.ndarray:
    """The bone voxel of ``work`` nearest the LPS point (within 10 mm), else PlannerError."""
    from planner.errors import PlannerError

    at_lps = np.asarray(at_lps, dtype=float)
    ijk = np.rint(apply_affine(np.linalg.inv(affine), at_lps[None, :])[0]).astype(int)
    if np.any(ijk < 0) or np.any(ijk >= work.shape):
        raise PlannerError(
            f"the point {at_lps.round(1).tolist()} (LPS mm) given with --mandible-at lies "
            "outside the bone of the scan; give a point on the chin, in LPS mm"
        )
    points = voxel_indices(work)
    d = np.linalg.norm(apply_affine(affine, points) - at_lps, axis=1)
    best = int(np.argmin(d))
    if d[best] > 10.0:
        raise PlannerError(
            f"the point {at_lps.round(1).tolist()} (LPS mm) given with --mandible-at lies "
            f"{d[best]:.0f} mm from any bone; give a point on the chin bone, in LPS mm"
        )
    return points[best]


def reaches_floor(mask: np.ndarray, box: tuple[slice, ...], shape, affine: np.ndarray) -> bool:
    """Whether ``mask`` (on ``box`` of an array of ``shape``) reaches its inferior face.

    Parameters
    ----------
    mask : (ni, nj, nk) bool
        On ``array[box]``.
    box : tuple of 3 slices
    shape : tuple of 3 int
        The whole array's shape.
    affine : (4, 4) float
        The array's index -> LPS mm.
    """
    for axis, side in _inferior_faces(affine):
        edge = box[axis].start == 0 if side == 0 else box[axis].stop == shape[axis]
        index = [slice(None)] * 3
        index[axis] = slice(0, 1) if side == 0 else slice(-1, None)
        if edge and mask[tuple(index)].any():
            return True
    return False


@dataclass(frozen=True, eq=False)
class MandibleSearch:
    """What the mandible search found.

    Attributes
    ----------
    mask : (ni, nj, nk) bool or None
        The verified mandible on ``bone[box]``, or None.
    box : tuple of slice
        Where ``mask`` lies in the volume (C frame).
    note : str
        How it was found (or why not).
    warning : str
        When no mandible is made: the reason and what the user can do; when one is made
        with a ramus short or missing, which side to check (also in ``note``); when one is
        seeded at the user's point, a check of a lower jaw it fails; else "".
    doubts : tuple of str
        Other warnings about the mandible made (a condyle parted from its fossa where the
        scan shows no gap).
    """

    mask: np.ndarray | None
    box: tuple[slice, ...]
    note: str
    warning: str = ""
    doubts: tuple[str, ...] = ()


_HELP = (
    "give a point on the chin with --mandible-at X Y Z (LPS mm), or a label volume made "
    "elsewhere with --labels FILE --label-values skull=1,mandible=2"
)


_ON_FLOOR = "it reaches the lower edge of the scan (a jaw not wholly in view)"
_JOINT_SPACE_MM = 2.0  # the temporomandibular joint space on CT is about 2-3 mm: at voxels
# of this size or more it need not show, and a condyle touching its fossa is parted by guess


def find_mandible(
    bone: np.ndarray,
    hu: np.ndarray | Callable[[], np.ndarray],
    counts: np.ndarray,
    grid: Grid,
    *,
    at_lps: np.ndarray | None = None,
    halves: bool = True,
) -> MandibleSearch:
    """Find, separate and verify the mandible in the kept bone.

    Parameters
    ----------
    bone, hu : (ni, nj, nk) arrays
        The kept bone and the HU (C-ordered, on ``grid.affine``); ``hu`` may be a function
        giving it, called only when a candidate is refined (resampling it costs).
    counts : block array
        Kept-bone voxel counts per block of ``grid``.
    grid : Grid
        The block grid.
    at_lps : (3,) float, optional
        A point on the chin (LPS mm), given by the user: the mandible is seeded there.
        It is refused only when under 1 cm³; a check of a lower jaw it fails (or a caution
        it shows) is returned as ``warning``, with the mandible.
    halves : bool
        Whether a jaw in two halves, apart at the midline, is looked for (a newborn's).

    Returns
    -------
    MandibleSearch
    """
    affine = grid.affine
    blocks, box, how = split_mandible(counts, grid, at_lps=at_lps, halves=halves)
    if blocks is None:
        return MandibleSearch(None, box, how, f"no mandible made: {how}; {_HELP}")
    full_box = tuple(
        slice(s.start * f, min(s.stop * f, n))
        for s, f, n in zip(box, grid.factors, bone.shape, strict=True)
    )
    sub = _upsample_within(blocks, grid, full_box, bone)
    if at_lps is None and reaches_floor(sub, full_box, bone.shape, affine):
        return _rejected(how, _ON_FLOOR, full_box)  # before the costly refinement
    sub = refine_contacts(sub, bone, hu() if callable(hu) else hu, affine, full_box)
    sub_affine = affine.copy()
    sub_affine[:3, 3] = apply_affine(affine, [s.start for s in full_box])
    sub, given_mm3 = trim_above_occlusion(sub, bone[full_box], sub_affine)
    if given_mm3 > 0:
        how = f"{how}; {given_mm3 / 1000.0:.1f} cm³ above the teeth, off the rami, to the skull"
    sub, shaped = restore_condyles(sub, bone[full_box], sub_affine)  # lost at coarse pixels
    how = f"{how}; {shaped}" if shaped else how
    if at_lps is None and reaches_floor(sub, full_box, bone.shape, affine):  # after it, again:
        ok, why = False, _ON_FLOOR  # the refinement may hand it bone near the edge
    elif at_lps is None:
        ok, why = verify_mandible(sub, bone[full_box], sub_affine)
        if ok and why:  # a ramus short or missing: found, and the user is told which
            sub, how = _climbed(sub, bone[full_box], sub_affine, how)
            caution = f"mandible found with {why}"
            note = f"mandible separated from the skull ({how}); {caution}"
            doubts = _joint_doubts(sub, bone[full_box], sub_affine)
            return MandibleSearch(sub, full_box, note, caution, doubts)
    else:
        cm3 = np.count_nonzero(sub) * abs(np.linalg.det(affine[:3, :3])) / 1000.0
        ok, why = cm3 >= 1.0, f"the bone at the point given holds only {cm3:.1f} cm³"
    if not ok:
        return _rejected(how, why, full_box)
    caution = ""
    if at_lps is not None:  # kept as the user asked, with any check it fails said
        looks, why = verify_mandible(sub, bone[full_box], sub_affine)
        if not looks or why:
            caution = (
                f"the mandible seeded at the point given {'fails' if not looks else 'shows'} "
                f"a check of a lower jaw ({why}): check it, or give a label volume made "
                "elsewhere with --labels"
            )
    sub, how = _climbed(sub, bone[full_box], sub_affine, how)
    doubts = _joint_doubts(sub, bone[full_box], sub_affine)
    return MandibleSearch(
        sub, full_box, f"mandible separated from the skull ({how})", caution, doubts
    )


def _climbed(
    mandible: np.ndarray, bone: np.ndarray, affine: np.ndarray, how: str
) -> tuple[np.ndarray, str]:
    """The verified mandible with its rami's tops followed up (:func:`climb_rami`), and the
    note; after the checks, which judge the split (the pieces would shift the height at
    which they measure the arch)."""
    mandible, climbed = climb_rami(mandible, bone, affine)
    return mandible, f"{how}; {climbed}" if climbed else how


def _upsample_within(
    blocks: np.ndarray, grid: Grid, full_box: tuple[slice, ...], bone: np.ndarray
) -> np.ndarray:
    """The mandible's blocks at full resolution on ``bone[full_box]``, and'ed with the bone.

    Only the blocks' own box is upsampled (the rest of the crop is the skull's bone).
    """
    sub = np.zeros(tuple(s.stop - s.start for s in full_box), dtype=bool)
    found = mask_box(blocks)
    if found is None:
        return sub
    inner = tuple(
        slice(s.start * f, min(s.stop * f, n))
        for s, f, n in zip(found, grid.factors, sub.shape, strict=True)
    )
    shape = tuple(s.stop - s.start for s in inner)
    up = Grid(shape, grid.factors, grid.affine).upsample(blocks[found])  # type: ignore[arg-type]
    sub[inner] = up & bone[full_box][inner]
    return sub


def _joint_doubts(mandible: np.ndarray, bone: np.ndarray, affine: np.ndarray) -> tuple[str, ...]:
    """A warning when the condyles touch the skull at voxels too coarse to show the joint."""
    voxel_mm = float(np.linalg.norm(affine[:3, :3], axis=0).max())
    if voxel_mm < _JOINT_SPACE_MM:
        return ()
    sides = joints_touching(mandible, bone, affine)
    if not sides:
        return ()
    where = " and ".join(sides)
    return (
        f"the mandible touches the skull at the top of its {where} "
        f"{'ramus' if len(sides) == 1 else 'rami'}, and at {voxel_mm:.1f} mm voxels the "
        "joint space (about 2-3 mm) does not show: the boundary there (the condyle in its "
        f"fossa, or a joint fused to the skull) is an estimate; check the {where} "
        f"{'condyle' if len(sides) == 1 else 'condyles'}, or give a label volume made "
        "elsewhere with --labels",
    )


def _rejected(how: str, why: str, box: tuple[slice, ...]) -> MandibleSearch:
    """The search's answer for a candidate that failed a check."""
    why = f"a candidate was found ({how}) but rejected: {why}"
    return MandibleSearch(None, box, why, f"no mandible made: {why}; {_HELP}")

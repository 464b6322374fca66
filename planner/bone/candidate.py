"""A mandible candidate judged: the maxilla given back, two splits compared, verified.

:func:`trim_above_occlusion` gives the skull back what a candidate took above the front
teeth; :func:`split_cost` compares two splits of the same bone (the interface they make and
how alike their halves are); :func:`verify_mandible` decides whether a candidate is a
lower jaw at all (a wrong jaw is worse than none), and when one ramus, or both, is short or
missing (hemifacial microsomia, the small rami of micrognathia), asks for more evidence
elsewhere and names the side to check. Used by :mod:`planner.bone.mandible`.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage as ndi

from planner.bone.arch import ArchShape, arch_shape, arch_sides, axial_axis, jaw_sized
from planner.bone.contacts import face_pairs
from planner.bone.grid import mask_box, voxel_indices
from planner.scan.volume import apply_affine

__all__ = [
    "contact_ratio",
    "joints_touching",
    "split_cost",
    "trim_above_occlusion",
    "verify_mandible",
]


def _voxels(mask: np.ndarray) -> tuple[np.ndarray, tuple[slice, ...]]:
    """Indices of the True voxels (as ``np.argwhere``, in the same order) and their box."""
    box = mask_box(mask)
    if box is None:
        return np.zeros((0, mask.ndim), dtype=np.intp), tuple(slice(0, 0) for _ in mask.shape)
    return voxel_indices(mask[box]) + [b.start for b in box], box


def split_cost(
    mandible: np.ndarray, work: np.ndarray, affine: np.ndarray, arch: ArchShape
) -> float:
    """How unlike a lower jaw a split of ``work`` is: its interface over its balance squared.

    Two bones that touch meet over a small interface (joint gaps, tooth contacts): a split
    that cuts through bone, or takes a piece of the other bone, makes it larger. A mandible
    has two like halves: a split that loses a ramus, or adds temporal bone to one side,
    makes them unequal (a jaw that is itself unequal, as in hemifacial microsomia, is so in
    every split, so the comparison still holds). The candidate is first trimmed above the
    front teeth (:func:`trim_above_occlusion`), as it will be.

    Parameters
    ----------
    mandible, work : (ni, nj, nk) bool
        The candidate and all the bone, on one grid.
    affine : (4, 4) float
        Index -> LPS mm.
    arch : ArchShape
        The lower-jaw arch, the same for the splits compared: its centre and width say
        where the halves are (bone more than a fifth of the width either side of centre).

    Returns
    -------
    float
        The number of voxel faces between the mandible and the rest of ``work``, divided
        by the square of (the smaller half's voxels over the larger's); lower is better,
        ``inf`` when a half is empty.
    """
    mandible, _ = trim_above_occlusion(mandible, work, affine)
    faces = sum(int(np.count_nonzero(p)) for _, _, p in face_pairs(mandible, work & ~mandible))
    right, left = arch_sides(apply_affine(affine, voxel_indices(mandible)), arch)
    halves = sorted((int(np.count_nonzero(right)), int(np.count_nonzero(left))))
    if halves[0] == 0:
        return math.inf
    return faces / (halves[0] / halves[1]) ** 2


_RAMUS_OVER_FRONT = 1.25  # a ramus rises this many times the front's height (1.45-2.8 seen)
_STUMP_OVER_FRONT = 0.8  # a short ramus, with none on the other side, at least this much
_MIN_RAMUS_MM = 20.0
_MIN_STUMP_MM = 15.0
_MIN_ARMS = 0.6  # the shorter arm of the arch over the longer (0.66-1 seen)
_MAX_FRONT_OVER_WIDTH = 1.0  # the front's height over the arch's width (jaws: 0.2-0.59,
# the most with the chin up by 25°; a stack of vertebrae taken for an arch: 1.8)
_MIN_MAXILLA_CM3 = 1.0  # bone over the arch's front: the maxilla and upper teeth (1.8-26)
_BENEATH_MM = (30.0, 10.0)  # other bone this far below the arch, this near its bone across
_MAX_BENEATH = (3.0, 0.1)  # at most this much (cm³, or this part of the candidate, if more):
# 0-1.0 cm³ under the jaws of every case (the hyoid); 19 cm³ where the split took the
# coronoids with the skull base above the jaw (pt_9 cut above the chin, made 1.3x as large)
_HALF_OF_LARGEST = 0.3  # a piece this large beside the largest, in the body: the other half
_MAX_CONTACT = 3.0  # the interface with the other bone over the candidate's volume^(2/3):
# 0.05-1.7 on the real scans (turned, and at 4.5 mm), up to 2.4 on the small synthetic jaw
# joined at its teeth and condyles; 3.8-6.4 where a split took the maxilla and zygomas


def contact_ratio(mandible: np.ndarray, bone: np.ndarray, affine: np.ndarray) -> float:
    """The area where the candidate meets the other bone, over its volume to the 2/3.

    A lower jaw touches the skull at its condyles and its teeth only: a split that cuts
    through bone (the maxilla, the zygomas) meets the rest over a far larger area. The area
    is counted in voxel faces (mm²), so it is dimensionless and the same at any pixel size.

    Parameters
    ----------
    mandible, bone : (ni, nj, nk) bool
        The candidate and all kept bone, on one grid.
    affine : (4, 4) float
        Index -> LPS mm.

    Returns
    -------
    float
        0 for an empty candidate.
    """
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    n = np.count_nonzero(mandible)
    if n == 0:
        return 0.0
    area_mm2 = sum(
        float(np.count_nonzero(pair)) * float(np.prod(spacing)) / float(spacing[axis])
        for axis, (_, _, pair) in enumerate(face_pairs(mandible, bone & ~mandible))
    )
    return area_mm2 / (n * float(np.prod(spacing))) ** (2.0 / 3.0)


def _rami(p: np.ndarray, low: np.ndarray, shape: ArchShape, z0: float) -> tuple:
    """How high each arm and its back end rise, the front's height, the arms' lengths (mm).

    Returns ``(ends, sides, front, arms)``, each per side (right, left) but ``front``:
    ``ends``, the 98th percentile height above the lowest point ``z0`` of the candidate's
    points within 20 mm of that arm's back end (where a ramus rises); ``sides``, the same
    of all its points on that side; ``front``, the same of the points near the midline
    (chin to incisal edge); ``arms``, how far each arm of the lower part ``low`` reaches
    behind the front.
    """
    ends, sides, arms = [], [], []
    for side, low_side in zip(arch_sides(p, shape), arch_sides(low, shape), strict=True):
        if not low_side.any():
            return (0.0, 0.0), (0.0, 0.0), 0.0, (0.0, 0.0)
        y_back = float(np.percentile(low[low_side, 1], 98))
        arms.append(y_back - shape.front_y)
        back = side & (p[:, 1] > y_back - 20.0)
        ends.append(float(np.percentile(p[back, 2], 98)) - z0 if back.any() else 0.0)
        sides.append(float(np.percentile(p[side, 2], 98)) - z0)
    central = np.abs(p[:, 0] - shape.centre_x) < 0.1 * shape.width_mm
    front = float(np.percentile(p[central, 2], 98)) - z0 if central.any() else 0.0
    return tuple(ends), tuple(sides), front, tuple(arms)


def _check_rami(p: np.ndarray, low: np.ndarray, shape: ArchShape, z0: float) -> tuple:
    """(passes, reason or caution, front height mm): the rami rising from the arch's ends.

    A ramus rises from an arm's back end at least :data:`_RAMUS_OVER_FRONT` times the
    height of the front (and 20 mm); with both, the candidate passes with no caution. Else
    it passes with a caution naming the side (or both) if both arms rise 20 mm above its
    lowest point (on an adult's tall body a missing ramus still does), or if both arms of
    the arch reach back alike (the body ends where the ramus would rise) and either the
    other side has a clear ramus (hemifacial microsomia), or each end rises at least
    :data:`_STUMP_OVER_FRONT` of the front's height and 15 mm (two short rami, as in
    micrognathia; a U alone, a hyoid, does not).
    """
    ends, sides, front, arms = _rami(p, low, shape, z0)
    full = [r >= max(_MIN_RAMUS_MM, _RAMUS_OVER_FRONT * front) for r in ends]
    if all(full):
        return True, "", front
    if any(full):
        have, lack = ("right", "left") if full[0] else ("left", "right")
        caution = f"a ramus on the {have} only: check the {lack} side"
    else:
        caution = "short rami on both sides: check both rami and condyles"
    if min(sides) >= _MIN_RAMUS_MM:
        return True, caution, front
    no = "the candidate has no ramus rising from each end of the arch"
    if min(arms) < _MIN_ARMS * max(arms):
        return False, f"{no}, and one arm of its arch ends short of the other", front
    if not any(full) and min(ends) < max(_MIN_STUMP_MM, _STUMP_OVER_FRONT * front):
        return False, no, front
    return True, caution, front


def verify_mandible(
    mandible: np.ndarray, bone: np.ndarray, affine: np.ndarray
) -> tuple[bool, str]:
    """Is a separated mandible a lower jaw? (a wrong jaw is worse than none).

    Checked in LPS mm on the labels: its volume is plausible (5-200 cm³, under half the
    bone); its lower part is a U-shaped arch open towards the back, wide and deep enough
    for a jaw (:func:`planner.bone.arch.jaw_sized`: not a hyoid, not a vertebra); rami
    rise from the ends of the arch (:func:`_check_rami`: a ramus short or missing on one
    side, or short on both, passes with a caution); its front (chin to incisal edge) is
    no taller than its arch is wide (a stack of vertebrae is); it meets the other bone
    over a small area only (:func:`contact_ratio`: its condyles and teeth; a split that
    cut through the maxilla meets it over far more); other bone lies above the middle of
    its height (the skull base and maxilla it hangs from); no other bone lies in front of
    its arch near the midline at the arch's height (the chin is the front of the bone
    there; in front of a vertebra lies the jaw); little other bone lies beneath its arch
    (:func:`_beneath`: the hyoid; a piece cut from above a jaw has the jaw beneath it);
    the maxilla lies over its front (at least 1 cm³ of other bone within 35 mm above the
    front's top, over the middle of the arch: the upper dental arch, taken for a lower
    one, has the nasal aperture over it).

    Parameters
    ----------
    mandible, bone : (ni, nj, nk) bool
        The candidate and all kept bone, on one grid.
    affine : (4, 4) float
        Index -> LPS mm.

    Returns
    -------
    bool, str
        Whether it passes, and the reason when not; when it passes, a caution for the
        user ("a ramus on the right only: check the left side"), or "".
    """
    vox = float(abs(np.linalg.det(affine[:3, :3])))
    cm3 = np.count_nonzero(mandible) * vox / 1000.0
    bone_cm3 = np.count_nonzero(bone) * vox / 1000.0
    if not 5.0 <= cm3 <= 200.0 or cm3 > 0.5 * bone_cm3:
        return False, f"the candidate holds {cm3:.0f} cm³ of {bone_cm3:.0f} cm³ of bone"
    ijk, _ = _voxels(mandible)
    if len(ijk) > 40000:
        ijk = ijk[:: len(ijk) // 40000]
    p = apply_affine(affine, ijk)
    z = p[:, 2]
    z0, z1 = float(np.percentile(z, 1)), float(np.percentile(z, 99))
    low = p[z < z0 + 0.4 * (z1 - z0)]
    shape = arch_shape(low)
    if not shape.is_arch:
        return False, "the candidate's lower part is not a U-shaped arch open towards the back"
    if not jaw_sized(shape):
        return False, (
            f"the candidate's lower arch ({shape.width_mm:.0f} mm wide, opening "
            f"{shape.opening_mm:.0f} mm) is too narrow or shallow for a lower jaw"
        )
    ok, caution, front_mm = _check_rami(p, low, shape, z0)
    if not ok:
        return False, caution
    if front_mm > _MAX_FRONT_OVER_WIDTH * shape.width_mm:
        return False, (
            f"the candidate's front rises {front_mm:.0f} mm, more than its arch is wide "
            f"({shape.width_mm:.0f} mm): a column of bone (the spine), not a chin"
        )
    contact = contact_ratio(mandible, bone, affine)
    if contact > _MAX_CONTACT:
        return False, (
            f"the candidate meets the other bone over {contact:.1f}× its volume^(2/3) "
            "(a jaw meets it at its condyles and teeth only: the split cut through bone)"
        )
    # the maxilla and the skull base lie above the middle of its height
    others = np.flatnonzero(bone & ~mandible)  # flat: a third of np.argwhere's memory
    stride = max(1, len(others) // 40000)
    q = apply_affine(affine, np.column_stack(np.unravel_index(others[::stride], bone.shape)))
    above = q[:, 2] > z0 + 0.5 * (z1 - z0)
    above_cm3 = np.count_nonzero(above) * stride * vox / 1000.0
    if above_cm3 < 0.3 * cm3:
        return False, "little bone lies above the candidate (no skull base or maxilla over it)"
    # the chin is the front of the bone at its height: no other bone lies in front of the
    # arch near the midline (in front of a vertebra's U lies the jaw)
    dx = np.abs(q[:, 0] - shape.centre_x)
    front = (
        (q[:, 2] < z0 + 0.4 * (z1 - z0))
        & (dx < 0.3 * shape.width_mm)
        & (q[:, 1] < shape.front_y - 10.0)
    )
    front_cm3 = np.count_nonzero(front) * stride * vox / 1000.0
    if front_cm3 > max(1.0, 0.1 * cm3):
        return False, f"{front_cm3:.0f} cm³ of other bone lies in front of the candidate's arch"
    # nothing but the hyoid lies under the arch: a piece above a jaw has the jaw beneath it
    beneath_cm3 = _beneath(q, low, z0) * stride * vox / 1000.0
    if beneath_cm3 > max(_MAX_BENEATH[0], _MAX_BENEATH[1] * cm3):
        return False, (
            f"{beneath_cm3:.0f} cm³ of other bone lies beneath the candidate's arch (a lower "
            "jaw is the lowest bone of the face: this is a piece above one)"
        )
    # the upper jaw lies over the front of the lower one
    top = z0 + front_mm
    maxilla = (
        (dx < 0.3 * shape.width_mm)
        & (q[:, 1] < shape.front_y + 0.6 * shape.opening_mm)
        & (q[:, 2] > top - 5.0)
        & (q[:, 2] < top + 35.0)
    )
    maxilla_cm3 = np.count_nonzero(maxilla) * stride * vox / 1000.0
    if maxilla_cm3 < _MIN_MAXILLA_CM3:
        return False, (
            f"only {maxilla_cm3:.1f} cm³ of bone lies over the front of the candidate's "
            "arch (a lower jaw's lies below the maxilla)"
        )
    return True, caution


def _beneath(others: np.ndarray, low: np.ndarray, z0: float) -> int:
    """How many of the points ``others`` (n, 3) lie under the arch's points ``low`` (m, 3):
    below ``z0`` by at most the first of :data:`_BENEATH_MM`, and across (in x and y) within
    the second of one of ``low``; LPS mm."""
    from scipy.spatial import cKDTree

    depth_mm, reach_mm = _BENEATH_MM
    under = others[(others[:, 2] < z0) & (others[:, 2] > z0 - depth_mm), :2]
    if len(under) == 0 or len(low) == 0:
        return 0
    distance, _ = cKDTree(low[:, :2]).query(under, k=1, distance_upper_bound=reach_mm)
    return int(np.count_nonzero(distance < reach_mm))


def _bone_in(bone: np.ndarray, affine: np.ndarray, x_range, y_max: float) -> np.ndarray:
    """(n, 3) indices of the bone voxels whose index box can reach LPS ``x`` in
    ``x_range`` with ``y < y_max`` (a superset: the caller tests the exact region)."""
    if np.linalg.matrix_rank(affine[:3, :3]) < 3:
        return voxel_indices(bone)
    ends = np.asarray(bone.shape, dtype=float) - 1
    span = apply_affine(
        affine, [[a, b, c] for a in (0, ends[0]) for b in (0, ends[1]) for c in (0, ends[2])]
    )
    box_lo, box_hi = span.min(axis=0), span.max(axis=0)
    corners = np.array(
        [[x, y, z] for x in x_range for y in (box_lo[1], y_max) for z in (box_lo[2], box_hi[2])]
    )
    ijk = apply_affine(np.linalg.inv(affine), corners)
    start = np.clip(np.floor(ijk.min(axis=0)).astype(int) - 1, 0, bone.shape)
    stop = np.clip(np.ceil(ijk.max(axis=0)).astype(int) + 2, 0, bone.shape)
    box = tuple(slice(a, b) for a, b in zip(start, stop, strict=True))
    return voxel_indices(bone[box]) + start


def trim_above_occlusion(
    mandible: np.ndarray, bone: np.ndarray, affine: np.ndarray
) -> tuple[np.ndarray, float]:
    """Give the maxilla back: cut the mandible at the gap between the front teeth.

    Near the midline and in front, the bone of an axial slice shrinks from the chin up to
    the teeth and grows again in the maxilla; where the teeth of the two jaws meet it is
    smallest (the occlusal gap, a few pixels even where the crowns touch). Above the first
    slice with under a quarter of the bone of the symphysis, the mandible keeps only what
    lies outside the maxilla's reach (the rami: lateral and behind the teeth) and is still
    joined to the body.

    Parameters
    ----------
    mandible, bone : (ni, nj, nk) bool
        The candidate and all kept bone, on one grid.
    affine : (4, 4) float
        Index -> LPS mm.

    Returns
    -------
    (ni, nj, nk) bool, float
        The mandible, trimmed, and the volume given back to the skull (mm³).
    """
    axial = axial_axis(affine)
    if axial is None or not mandible.any():
        return mandible, 0.0
    axis, up = axial
    ijk, own = _voxels(mandible)
    mp = apply_affine(affine, ijk)  # every voxel of the candidate, LPS mm
    stride = max(1, len(ijk) // 40000)
    p = mp[::stride]
    z0, z1 = np.percentile(p[:, 2], [1, 99])
    shape = arch_shape(p[p[:, 2] < z0 + 0.4 * (z1 - z0)])
    if not shape.is_arch:
        return mandible, 0.0
    # the bone in front, near the midline, at every level (the column the teeth meet in)
    half, front_y = 0.25 * shape.width_mm, shape.front_y + 0.5 * shape.opening_mm
    bi = _bone_in(bone, affine, (shape.centre_x - half, shape.centre_x + half), front_y)
    bp = apply_affine(affine, bi)
    front = (np.abs(bp[:, 0] - shape.centre_x) < half) & (bp[:, 1] < front_y)
    bi, bp = bi[front], bp[front]
    n = bone.shape[axis]
    area = np.bincount(bi[:, axis], minlength=n)
    owned = np.bincount(bi[:, axis], weights=mandible[tuple(bi.T)], minlength=n)
    order = list(range(n)) if up > 0 else list(range(n - 1, -1, -1))
    area, owned = area[order], owned[order]
    if not owned.any():
        return mandible, 0.0
    lo = int(np.argmax(owned > 0))  # the chin's lowest slice
    peak = 0.0
    cut = None
    for t in range(lo, n):
        peak = max(peak, float(area[t]))
        if owned[t] == 0:
            break  # the mandible stops below the teeth: no maxilla to give back
        if peak > 0 and area[t] <= 0.25 * peak:
            # the narrowest slice of the teeth: follow the bone down to where it grows
            # again (the upper teeth and maxilla); that slice starts the maxilla
            while t + 1 < n and area[t + 1] <= area[t] and owned[t + 1] > 0:
                t += 1
            if t + 1 < n and owned[t + 1] > 0 and area[t + 1 : t + 4].max() > area[t]:
                cut = t + 1
            break
    out = mandible.copy()
    # only the candidate's own voxels can be given back
    mi, mdx = ijk, np.abs(mp[:, 0] - shape.centre_x)
    if cut is not None:
        above = np.zeros(n, dtype=bool)
        above[order[cut:]] = True
        maxilla = (mdx < 0.3 * shape.width_mm) | (
            mp[:, 1] < shape.front_y + 0.6 * shape.opening_mm
        )
        drop = mi[maxilla & above[mi[:, axis]]]
        out[tuple(drop.T)] = False
    # above the front teeth the mandible is its two rami only: nothing near the midline
    # (skull base, vomer, spine) and nothing far behind the angles (the mastoids)
    chin = out[tuple(bi.T)] & (np.abs(bp[:, 0] - shape.centre_x) < 0.1 * shape.width_mm)
    if chin.any():
        z_teeth = float(bp[chin, 2].max()) + 5.0
        y_back = float(np.percentile(p[p[:, 2] < z0 + 0.4 * (z1 - z0), 1], 98))
        high = mp[:, 2] > z_teeth
        off = high & ((mdx < 0.3 * shape.width_mm) | (mp[:, 1] > y_back + 15.0))
        drop = mi[off]
        out[tuple(drop.T)] = False
    comps, m = ndi.label(out[own])  # within the candidate's box, where all of it lies
    if m > 1:
        # the pieces cut off go: all but the largest, and a second as large that reaches
        # into the body (a newborn's two halves, apart at the symphysis)
        sizes = np.bincount(comps.ravel(), minlength=m + 1)
        sizes[0] = 0
        body = np.zeros(m + 1, dtype=bool)
        low = mp[:, 2] < z0 + 0.4 * (z1 - z0)
        body[comps[tuple((ijk[low] - [s.start for s in own]).T)]] = True
        keep = body & (sizes >= _HALF_OF_LARGEST * sizes.max())
        keep[int(np.argmax(sizes))] = True
        keep[0] = False
        out[own] = keep[comps]
    vox = float(abs(np.linalg.det(affine[:3, :3])))
    return out, float(len(ijk) - np.count_nonzero(out[own])) * vox


def joints_touching(mandible: np.ndarray, bone: np.ndarray, affine: np.ndarray) -> list[str]:
    """The sides ("right", "left") where the top of a ramus touches the skull.

    The condyle's place: on each side of the mandible's midline, the top quarter of that
    side's height, behind the middle of that band (the coronoid lies in front). It touches
    the skull where one of its voxels has a face neighbour that is other bone: there the
    two were parted by computation (:mod:`planner.bone.contacts`), not by a gap in the
    scan.

    Parameters
    ----------
    mandible, bone : (ni, nj, nk) bool
        The mandible and all kept bone, on one grid.
    affine : (4, 4) float
        Index -> LPS mm.
    """
    ijk, _ = _voxels(mandible)
    if len(ijk) == 0:
        return []
    p = apply_affine(affine, ijk)
    z0 = float(np.percentile(p[:, 2], 1))
    shape = np.array(mandible.shape)
    touching = np.zeros(len(ijk), dtype=bool)
    for axis in range(3):
        for step in (-1, 1):
            q = ijk.copy()
            q[:, axis] += step
            inside = np.all((q >= 0) & (q < shape), axis=1)
            near = tuple(q[inside].T)
            touching[inside] |= bone[near] & ~mandible[near]
    middle_x = float(np.median(p[:, 0]))
    sides = []
    for side, here in (("right", p[:, 0] < middle_x), ("left", p[:, 0] >= middle_x)):
        if not here.any():  # LPS: +x is the patient's left, +y posterior
            continue
        z1 = float(np.percentile(p[here, 2], 99))  # each side's own top: one may be short
        band = here & (p[:, 2] > z1 - 0.25 * (z1 - z0))
        if np.any(touching & band & (p[:, 1] >= np.median(p[band, 1]))):
            sides.append(side)
    return sides

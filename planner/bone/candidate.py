"""A mandible candidate judged: the maxilla given back, two splits compared, verified.

:func:`trim_above_occlusion` gives the skull back what a candidate took above the front
teeth; :func:`split_cost` compares two splits of the same bone (the interface they make and
how alike their halves are); :func:`verify_mandible` decides whether a candidate is a
lower jaw at all (a wrong jaw is worse than none). Used by :mod:`planner.bone.mandible`.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage as ndi

from planner.bone.arch import ArchShape, arch_shape, arch_sides, axial_axis, jaw_sized
from planner.bone.contacts import face_pairs
from planner.scan.volume import apply_affine

__all__ = ["split_cost", "trim_above_occlusion", "verify_mandible"]


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
    right, left = arch_sides(apply_affine(affine, np.argwhere(mandible)), arch)
    halves = sorted((int(np.count_nonzero(right)), int(np.count_nonzero(left))))
    if halves[0] == 0:
        return math.inf
    return faces / (halves[0] / halves[1]) ** 2


def verify_mandible(
    mandible: np.ndarray, bone: np.ndarray, affine: np.ndarray
) -> tuple[bool, str]:
    """Is a separated mandible a lower jaw? (a wrong jaw is worse than none).

    Checked in LPS mm on the labels: its volume is plausible (5-200 cm³, under half the
    bone); its lower part is a U-shaped arch open towards the back, wide and deep enough
    for a jaw (:func:`planner.bone.arch.jaw_sized`: not a hyoid, not a vertebra); both arms
    rise at least 20 mm above its lowest point (the rami); other bone lies above the
    middle of its height (the skull base and maxilla it hangs from); no other bone lies in
    front of its arch near the midline at the arch's height (the chin is the front of
    the bone there; in front of a vertebra lies the jaw).

    Parameters
    ----------
    mandible, bone : (ni, nj, nk) bool
        The candidate and all kept bone, on one grid.
    affine : (4, 4) float
        Index -> LPS mm.

    Returns
    -------
    bool, str
        Whether it passes, and the reason when not ("" when it does).
    """
    vox = float(abs(np.linalg.det(affine[:3, :3])))
    cm3 = np.count_nonzero(mandible) * vox / 1000.0
    bone_cm3 = np.count_nonzero(bone) * vox / 1000.0
    if not 5.0 <= cm3 <= 200.0 or cm3 > 0.5 * bone_cm3:
        return False, f"the candidate holds {cm3:.0f} cm³ of {bone_cm3:.0f} cm³ of bone"
    ijk = np.argwhere(mandible)
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
    for side in arch_sides(p, shape):
        if not side.any() or float(np.percentile(z[side], 98)) < z0 + 20.0:
            return False, "the candidate has no ramus rising from each end of the arch"
    # the maxilla and the skull base lie above the middle of its height
    others = np.argwhere(bone & ~mandible)
    stride = max(1, len(others) // 40000)
    q = apply_affine(affine, others[::stride])
    above = q[:, 2] > z0 + 0.5 * (z1 - z0)
    above_cm3 = np.count_nonzero(above) * stride * vox / 1000.0
    if above_cm3 < 0.3 * cm3:
        return False, "little bone lies above the candidate (no skull base or maxilla over it)"
    # the chin is the front of the bone at its height: no other bone lies in front of the
    # arch near the midline (in front of a vertebra's U lies the jaw)
    front = (
        (q[:, 2] < z0 + 0.4 * (z1 - z0))
        & (np.abs(q[:, 0] - shape.centre_x) < 0.3 * shape.width_mm)
        & (q[:, 1] < shape.front_y - 10.0)
    )
    front_cm3 = np.count_nonzero(front) * stride * vox / 1000.0
    if front_cm3 > max(1.0, 0.1 * cm3):
        return False, f"{front_cm3:.0f} cm³ of other bone lies in front of the candidate's arch"
    return True, ""


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
    ijk = np.argwhere(mandible)
    stride = max(1, len(ijk) // 40000)
    p = apply_affine(affine, ijk[::stride])
    z0, z1 = np.percentile(p[:, 2], [1, 99])
    shape = arch_shape(p[p[:, 2] < z0 + 0.4 * (z1 - z0)])
    if not shape.is_arch:
        return mandible, 0.0
    bi = np.argwhere(bone)
    bp = apply_affine(affine, bi)
    dx = np.abs(bp[:, 0] - shape.centre_x)
    front = (dx < 0.25 * shape.width_mm) & (bp[:, 1] < shape.front_y + 0.5 * shape.opening_mm)
    n = bone.shape[axis]
    area = np.bincount(bi[front, axis], minlength=n)
    owned = np.bincount(bi[front, axis], weights=mandible[tuple(bi[front].T)], minlength=n)
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
    if cut is not None:
        above = np.zeros(n, dtype=bool)
        above[order[cut:]] = True
        maxilla = (dx < 0.3 * shape.width_mm) | (bp[:, 1] < shape.front_y + 0.6 * shape.opening_mm)
        drop = bi[maxilla & above[bi[:, axis]]]
        out[tuple(drop.T)] = False
    # above the front teeth the mandible is its two rami only: nothing near the midline
    # (skull base, vomer, spine) and nothing far behind the angles (the mastoids)
    chin = front & out[tuple(bi.T)] & (dx < 0.1 * shape.width_mm)
    if chin.any():
        z_teeth = float(bp[chin, 2].max()) + 5.0
        y_back = float(np.percentile(p[p[:, 2] < z0 + 0.4 * (z1 - z0), 1], 98))
        high = bp[:, 2] > z_teeth
        off = high & ((dx < 0.3 * shape.width_mm) | (bp[:, 1] > y_back + 15.0))
        drop = bi[off]
        out[tuple(drop.T)] = False
    comps, m = ndi.label(out)
    if m > 1:
        sizes = np.bincount(comps.ravel(), minlength=m + 1)
        sizes[0] = 0
        out = comps == int(np.argmax(sizes))
    vox = float(abs(np.linalg.det(affine[:3, :3])))
    return out, float(np.count_nonzero(mandible & ~out)) * vox

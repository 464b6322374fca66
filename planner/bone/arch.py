"""The lower-jaw arch, found slice by slice: the watershed's markers for the mandible.

On an axial series, the mandibular body shows in every slice from the chin up to the
teeth as one U-shaped piece of bone, open towards the back (+y, LPS) and across the
patient's midline (:func:`arch_shape`). That holds at any pixel
size the body is seen at all, where a distance-transform core of the joined bone may never
come free of the skull. :func:`find_arch` takes the lowest stack of such slices that is
tall enough and shaped like a mandible (:func:`jaw_sized`: the hyoid is a smaller U, a
vertebra a shallow one) and lies at the front (a U well behind another, say a vertebra
behind the jaw, is passed over); one slice where partial volume breaks the U does not end
a stack. It refuses a stack cut by the lower edge of the scan (the upper teeth of a scan
of the upper head), and :func:`arch_markers` turns it into watershed markers: the lower
part of the body, the rami followed upwards from each arm's back end while each stays a
piece of its own, and for the skull the bone above the arch near the midline, the spine
behind it, and the bone above the rami.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from planner.bone.grid import voxel_indices
from planner.scan.volume import apply_affine

__all__ = [
    "Arch",
    "ArchShape",
    "arch_markers",
    "arch_shape",
    "arch_sides",
    "axial_axis",
    "find_arch",
    "jaw_sized",
]

_MIN_HEIGHT_MM = 10.0  # a stack of U slices lower than this is not a mandibular body
_MIN_WIDTH_MM = 45.0  # nor one narrower than this (a hyoid is about 35-45 mm wide)
_MAX_WIDTH_MM = 130.0  # nor one wider (the arch's U is 58-102 mm wide on the test scans and
# the sample, turned or not; the zygomatic arches' U, in a head turned, 136-138 mm)
_MIN_DEPTH = 0.3  # a mandibular arch's opening over its width (a vertebra's is about 0.2)
_MAX_BEHIND_MM = 30.0  # a jaw's front lies this close behind the frontmost U (maxilla's)
_SEED_FRACTION = 0.4  # the lower part of the stack seeds the mandible (the top may be teeth)
_SYMPHYSIS_MM = 5.0  # two halves of a slice this close across the midline may be one arch
# (a newborn's mandible: its halves fuse at the symphysis in the first year)
_STRIP = (slice(None),)
_BEHIND_RAMI_MM = 30.0  # bone this far behind the ends of the arch's arms, above the seed,
# is the skull's (mastoid, skull base, spine): a ramus leans back less (the condyle lies
# about above the angle, 0-15 mm behind it)


@dataclass(frozen=True)
class ArchShape:
    """A point cloud's fit to the lower-jaw arch (LPS mm)."""

    is_arch: bool
    centre_x: float = 0.0
    width_mm: float = 0.0
    front_y: float = 0.0
    opening_mm: float = 0.0
    front_top_z: float = 0.0


def arch_shape(points: np.ndarray) -> ArchShape:
    """Is a point cloud (LPS mm) a U-shaped arch open towards the back (+y)?"""
    x, y = points[:, 0], points[:, 1]
    x2, x98 = np.percentile(x, [2, 98])
    width = float(x98 - x2)
    if width < 30.0:
        return ArchShape(False)
    cx = float(x2 + x98) / 2
    central = np.abs(x - cx) < 0.15 * width
    left = (x - cx) > 0.3 * width
    right = (x - cx) < -0.3 * width
    n_l, n_r = int(left.sum()), int(right.sum())
    if central.sum() < 5 or min(n_l, n_r) < 0.2 * (n_l + n_r):
        return ArchShape(False)
    lateral_y = float(np.median(y[left | right]))
    front_y = float(np.median(y[central]))
    opening = lateral_y - front_y
    back = float(np.percentile(y[central], 90))
    ok = opening >= 0.2 * width and back < lateral_y
    top = float(np.percentile(points[central, 2], 95))
    return ArchShape(bool(ok), cx, width, front_y, opening, top)


@dataclass(frozen=True, eq=False)
class Arch:
    """A stack of U-shaped slices (the mandibular body), on the work grid.

    Attributes
    ----------
    axis : int
        The array axis closest to the patient's z.
    slices : list of int
        Indices along ``axis``, inferior to superior.
    masks : list of (n, m) bool
        The U piece in each of those slices.
    shape : ArchShape
        The fit of the widest slice's U (LPS mm).
    height_mm : float
        Height of the stack.
    """

    axis: int
    slices: list[int]
    masks: list[np.ndarray]
    shape: ArchShape
    height_mm: float


def axial_axis(affine: np.ndarray) -> tuple[int, int] | None:
    """(axis closest to z, +1 if the index rises towards the head else -1), or None."""
    direction = affine[:3, :3] / np.linalg.norm(affine[:3, :3], axis=0)
    axis = int(np.argmax(np.abs(direction[2])))
    if abs(direction[2, axis]) < 0.7:
        return None
    return axis, 1 if direction[2, axis] > 0 else -1


def _slice_points(mask2d: np.ndarray, axis: int, index: int, affine: np.ndarray) -> np.ndarray:
    ij = voxel_indices(mask2d)
    ijk = np.insert(ij, axis, index, axis=1)
    return apply_affine(affine, ijk)


def find_arch(
    work: np.ndarray,
    affine: np.ndarray,
    midline_x: float,
    *,
    at: np.ndarray | None = None,
    floor: bool = True,
    halves: bool = True,
) -> tuple[Arch | None, str]:
    """The mandibular body as the lowest tall, wide stack of U-shaped axial slices.

    Parameters
    ----------
    work : (ni, nj, nk) bool
        Bone on the work grid.
    affine : (4, 4) float
        Index of ``work`` -> LPS mm.
    midline_x : float
        The patient's midline, LPS x mm: the arch straddles it.
    at : (3,) int, optional
        A bone voxel of ``work`` on the chin, given by the user: the arch is the bone
        through it, followed down to the lower border, whatever its shape.
    floor : bool
        Whether the inferior face of ``work`` is the lower edge of the scan (an arch that
        starts there is cut by it).
    halves : bool
        Whether to look again, where no slice holds a U, for two halves apart at the
        midline (see Notes).

    Returns
    -------
    Arch or None, str
        The arch, or None and the reason.

    Notes
    -----
    Where no slice holds a U, a second look joins two pieces of a slice either side of
    the midline within :data:`_SYMPHYSIS_MM` into one (:func:`_halves`: a newborn's
    mandible is two halves until the symphysis fuses in the first year). Only then: on
    the test scans, joining them from the first took a slice of the maxilla into the
    arch (pt_9 at 4.24 mm pixels, Dice 0.834 -> 0.716). Not in the grids turned as a head
    lies (:mod:`planner.bone.tilt`): there the two looser looks together made a jaw of
    pt_9's maxilla, its chin cut off by the scan (made 1.3 times as large, turned 10°).
    """
    found, how = _find_arch(work, affine, midline_x, at, floor, halves=False)
    if found is None and at is None and halves:
        again, how_again = _find_arch(work, affine, midline_x, at, floor, halves=True)
        if again is not None:
            return again, f"{how_again}, its two halves apart at the midline"
    return found, how


def _find_arch(
    work: np.ndarray,
    affine: np.ndarray,
    midline_x: float,
    at: np.ndarray | None,
    floor: bool,
    *,
    halves: bool,
) -> tuple[Arch | None, str]:
    """:func:`find_arch`, with pieces either side of the midline joined or not."""
    axial = axial_axis(affine)
    if axial is None:
        return None, "the series is not axial enough to follow the jaw slice by slice"
    axis, up = axial
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    in_plane = [a for a in range(3) if a != axis]
    pixel_mm2 = float(spacing[in_plane[0]] * spacing[in_plane[1]])
    n = work.shape[axis]
    order = list(range(n)) if up > 0 else list(range(n - 1, -1, -1))
    eight = np.ones((3, 3), dtype=bool)
    stacks: list[list[tuple[int, np.ndarray, ArchShape]]] = []
    current: list[tuple[int, np.ndarray, ArchShape]] = []
    missed = 0
    for s in order:
        plane = np.take(work, s, axis=axis)
        comps, m = ndi.label(plane, structure=eight)
        best = None
        if m:
            sizes = np.bincount(comps.ravel(), minlength=m + 1)
            for c in np.argsort(sizes[1:])[::-1][:6] + 1:
                if sizes[c] * pixel_mm2 < 60.0:
                    break
                piece = comps == c
                arch = arch_shape(_slice_points(piece, axis, s, affine))
                if arch.is_arch and abs(arch.centre_x - midline_x) <= 0.2 * arch.width_mm:
                    best = (s, piece, arch)
                    break
            if best is None and halves:  # a newborn's two halves, apart at the symphysis?
                best = _halves(comps, sizes, axis, s, affine, midline_x)
        if best is not None and current:
            joined = ndi.binary_dilation(current[-1][1], structure=eight) & best[1]
            if not joined.any():
                stacks.append(current)
                current = []
        if best is None:
            # one slice without the U is passed over (at coarse pixels partial volume can
            # break the thin body in a slice); a second ends the stack
            missed += 1
            if missed > 1 and current:
                stacks.append(current)
                current = []
        else:
            current.append(best)
            missed = 0
    if current:
        stacks.append(current)
    step = float(spacing[axis])
    if at is not None:
        ij = tuple(int(v) for a, v in enumerate(at) if a != axis)
        for stack in stacks:
            for s, piece, _ in stack:
                near = ndi.binary_dilation(piece, structure=eight, iterations=2)
                if s == int(at[axis]) and near[ij]:
                    widest = max(stack, key=lambda t: t[2].width_mm)
                    slices, masks = [t[0] for t in stack], [t[1] for t in stack]
                    height = len(stack) * step
                    return Arch(axis, slices, masks, widest[2], height), "the point given"
        return _arch_at(work, affine, axis, order, at, step)
    # the mandible is the front U: a jaw-sized U well behind another (a vertebra behind
    # the jaw or the upper teeth) is not it
    fronts = [t[2].front_y for stack in stacks for t in stack if jaw_sized(t[2])]
    front_y = min(fronts, default=0.0)
    for stack in stacks:
        height = (abs(stack[-1][0] - stack[0][0]) + 1) * step
        widest = max(stack, key=lambda t: t[2].width_mm)
        if height < _MIN_HEIGHT_MM or not jaw_sized(widest[2]):
            continue
        if widest[2].front_y > front_y + _MAX_BEHIND_MM:
            continue
        if floor and stack[0][0] in order[:2]:
            return None, (
                "the lowest U-shaped arch is cut by the lower edge of the scan "
                "(upper teeth, or a mandible not wholly in view)"
            )
        return Arch(
            axis, [t[0] for t in stack], [t[1] for t in stack], widest[2], height
        ), f"a U-shaped arch {height:.0f} mm tall, {widest[2].width_mm:.0f} mm wide"
    return None, "no U-shaped lower-jaw arch (open towards the back, across the midline)"


def _halves(
    comps: np.ndarray, sizes: np.ndarray, axis: int, s: int, affine: np.ndarray, midline_x: float
) -> tuple[int, np.ndarray, ArchShape] | None:
    """Two pieces of a slice, one each side of the midline and at most
    :data:`_SYMPHYSIS_MM` apart, that make a U together: a newborn's mandible, whose
    halves join at the symphysis only in the first year. ``(s, piece, shape)`` or None."""
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    in_plane = [a for a in range(3) if a != axis]
    pixel_mm2 = float(spacing[in_plane[0]] * spacing[in_plane[1]])
    # dilated by k pixels, a piece meets one k - 1 empty pixels away
    reach = math.ceil(_SYMPHYSIS_MM / float(min(spacing[in_plane]))) + 1
    sides = []
    for c in np.argsort(sizes[1:])[::-1][:6] + 1:
        if sizes[c] * pixel_mm2 < 30.0:
            break
        piece = comps == c
        x = _slice_points(piece, axis, s, affine)[:, 0]
        sides.append((piece, float(np.median(x)) - midline_x))
    for n, (a, xa) in enumerate(sides):
        near = None
        for b, xb in sides[n + 1 :]:
            if xa * xb >= 0:
                continue  # not one each side of the midline
            if near is None:
                near = ndi.binary_dilation(a, np.ones((3, 3), dtype=bool), iterations=reach)
            if not (near & b).any():
                continue
            arch = arch_shape(_slice_points(a | b, axis, s, affine))
            if arch.is_arch and abs(arch.centre_x - midline_x) <= 0.2 * arch.width_mm:
                return s, a | b, arch
    return None


def jaw_sized(shape: ArchShape) -> bool:
    """Wide and deep enough for a mandibular arch, and no wider.

    A hyoid is a smaller U (35-45 mm); a vertebra cut between its laminae (body in front,
    pedicles and transverse processes at the sides) is a U open backwards too, but a
    shallow one: its opening is about a fifth of its width, a jaw's about half. The
    zygomatic arches and the maxilla between them make a U of 130 mm and more.
    """
    return (
        _MIN_WIDTH_MM <= shape.width_mm <= _MAX_WIDTH_MM
        and shape.opening_mm >= _MIN_DEPTH * shape.width_mm
    )


def _arch_at(
    work: np.ndarray, affine: np.ndarray, axis: int, order: list[int], at: np.ndarray, step: float
) -> tuple[Arch, str]:
    """The bone through the user's chin point, followed down and up 15 mm each way."""
    eight = np.ones((3, 3), dtype=bool)
    start = order.index(int(at[axis]))
    ij = tuple(int(v) for a, v in enumerate(at) if a != axis)
    reach = max(1, round(15.0 / step))
    picked: dict[int, np.ndarray] = {}
    for direction in (-1, 1):
        prev = None
        for t in range(start, start + direction * (reach + 1), direction):
            if not 0 <= t < len(order):
                break
            comps, _ = ndi.label(np.take(work, order[t], axis=axis), structure=eight)
            if prev is None:
                piece = comps == comps[ij]
            else:
                hit = np.unique(comps[ndi.binary_dilation(prev, structure=eight)])
                piece = np.isin(comps, hit[hit > 0])
            if not piece.any():
                break
            picked[t] = piece
            prev = piece
    ts = sorted(picked)
    points = np.concatenate([_slice_points(picked[t], axis, order[t], affine) for t in ts], axis=0)
    shape = arch_shape(points)
    if not shape.is_arch:
        x, y, z = points[:, 0], points[:, 1], points[:, 2]
        p = apply_affine(affine, at[None, :])[0]
        shape = ArchShape(
            True,
            float(p[0]),
            max(float(np.ptp(x)), 30.0),
            float(y.min()),
            max(float(np.ptp(y)), 10.0),
            float(z.max()),
        )
    arch = Arch(axis, [order[t] for t in ts], [picked[t] for t in ts], shape, len(ts) * step)
    return arch, "the point given on the chin"


def arch_sides(points: np.ndarray, arch: ArchShape) -> tuple[np.ndarray, np.ndarray]:
    """Masks of the points (n, 3) LPS mm on the patient's right (-x) and left of the arms."""
    dx = points[:, 0] - arch.centre_x
    return dx < -0.2 * arch.width_mm, dx > 0.2 * arch.width_mm


def arch_markers(
    work: np.ndarray, affine: np.ndarray, found: Arch
) -> tuple[np.ndarray, np.ndarray]:
    """Watershed markers (1 skull, 2 mandible) from the arch, and the mandible's seed.

    The mandible: the lower ``_SEED_FRACTION`` of the arch's slices, and above them each
    ramus followed slice by slice while the piece over it stays about its size and off the
    midline. The skull: bone more than 10 mm above the seed and 5 mm above the arch within
    its middle third (maxilla, palate, nasal bones), and 15 mm above the arch within its
    middle 60%; bone behind the arch near the midline (the spine); bone more than 15 mm
    above the highest ramus slice followed and 45 mm above the arch (above the condyles);
    bone above the seed more than ``_BEHIND_RAMI_MM`` behind the ends of the arms in the
    seed's top slice (the mastoids, the skull base and the spine behind the rami).
    """
    axis = found.axis
    shape = found.shape
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    step = float(spacing[axis])
    markers = np.zeros(work.shape, dtype=np.int32)
    n_seed = max(1, round(_SEED_FRACTION * len(found.slices)))
    eight = np.ones((3, 3), dtype=bool)

    def put(s: int, mask2d: np.ndarray, value: int) -> None:
        index = [slice(None)] * 3
        index[axis] = s
        plane = markers[tuple(index)]
        plane[mask2d & (plane == 0)] = value

    for s, piece in zip(found.slices[:n_seed], found.masks[:n_seed], strict=True):
        put(s, piece, 2)
    up = 1 if len(found.slices) < 2 else int(np.sign(found.slices[1] - found.slices[0]))
    # the rami, each side on its own, from the seed's top slice upwards
    top = found.slices[n_seed - 1]
    points = _slice_points(found.masks[n_seed - 1], axis, top, affine)
    ij = voxel_indices(found.masks[n_seed - 1])
    highest = top
    carry_max = max(2, round(6.0 / step))
    for side in arch_sides(points, shape):
        prev = np.zeros(found.masks[0].shape, dtype=bool)
        if not side.any():
            continue
        # the arm's back end, where the ramus rises (each arm's own: a head turned about
        # its long axis brings one arm further back than the other)
        back = side & (points[:, 1] > float(np.percentile(points[side, 1], 98)) - 15.0)
        prev[tuple(ij[back].T)] = True
        s, carried = top + up, 0
        while prev.any() and 0 <= s < work.shape[axis] and carried <= carry_max:
            plane = np.take(work, s, axis=axis)
            comps, _ = ndi.label(plane, structure=eight)
            over = ndi.binary_dilation(prev, structure=eight) & plane
            touching = np.unique(comps[over])
            touching = touching[touching > 0]
            if touching.size == 0:
                break
            piece = np.isin(comps, touching)
            p = _slice_points(piece, axis, s, affine)
            near_mid = np.abs(p[:, 0] - shape.centre_x) < 0.15 * shape.width_mm
            if near_mid.any() or piece.sum() > 1.6 * prev.sum() + 6:
                # joined to other bone: carry the ramus's own column a few slices on
                piece = ndi.binary_dilation(over, structure=eight, iterations=1) & plane
                piece &= ndi.binary_dilation(prev, structure=eight, iterations=2)
                carried += 1
            put(s, piece, 2)
            highest = s if (s - highest) * up > 0 else highest
            prev = piece
            s += up
    # the skull: maxilla above the seed in the middle third, the spine behind the arch
    ijk = voxel_indices(work)
    p = apply_affine(affine, ijk)
    z_seed = float(apply_affine(affine, np.insert([0, 0], axis, top))[2])
    z_arch = float(apply_affine(affine, np.insert([0, 0], axis, found.slices[-1]))[2])
    z_rami = float(apply_affine(affine, np.insert([0, 0], axis, highest))[2])
    # z of an index along the axis, at the first two indices zero: only the axis matters
    # when the series is axial; the other axes' tilt is small
    dx = np.abs(p[:, 0] - shape.centre_x)
    lateral_y = shape.front_y + shape.opening_mm
    # the back of the jaw's body: where its arms end, in the seed's top slice
    back_y = float(np.percentile(points[:, 1], 99))
    skull = (
        ((p[:, 2] > max(z_arch + 5.0, z_seed + 10.0 + step)) & (dx < 0.17 * shape.width_mm))
        | ((p[:, 1] > lateral_y + 10.0) & (dx < 0.12 * shape.width_mm))
        | ((p[:, 2] > z_arch + 15.0) & (dx < 0.3 * shape.width_mm))
        | (p[:, 2] > max(z_rami + 15.0, z_arch + 45.0))
        | ((p[:, 1] > back_y + _BEHIND_RAMI_MM) & (p[:, 2] > z_seed))
    )
    sel = ijk[skull]
    sel = sel[markers[tuple(sel.T)] == 0]
    markers[tuple(sel.T)] = 1
    return markers, markers == 2

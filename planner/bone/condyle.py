"""Condyles lost to the skull at coarse pixels, given back by a shape model of the head.

Where the joint gap between a condyle and its glenoid fossa is narrower than a voxel (at
2 mm pixels and coarser; the gap is about 0.5 mm), the condylar head and the fossa read
as one piece of bright bone, and the only HU valley near them is the condyle's own marrow:
the split (:mod:`planner.bone.mandible`, :mod:`planner.bone.contacts`) then cuts through
the condyle or its neck and gives the head to the skull. No valley says where the head
ends, so :func:`restore_condyles` uses what a condyle is instead: the top of the ramus's
posterior branch (the condylar process), followed upwards while it stays a narrow column
of its own, carries a head of known shape, an ellipsoid about 0.17 × 0.09 × 0.09 times the
width of the jaw (15-20 × 8-10 × 8-10 mm in an adult), its long axis turned medially
backwards (:data:`HEAD_TURN_DEG`). The skull-labelled bone inside that head, joined to the
mandible, is given to the mandible, and nothing else: the fossa roof, the articular
eminence and the skull base above and around it stay skull.

It acts only where the condyle was lost: where the process is not topped by slices like a
head (wider across than front to back, and about a head wide) through half a head's height
(a kept condyle is; a neck, or a head cut through its marrow, is not), and skull bone
touches it. Where the column followed up is a head tall, the head's top is the column's
top; else the head sits on the lowest slice like a head, or on the short neck. Whatever it
gives is a model's estimate, and the note says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from planner.bone.arch import axial_axis
from planner.bone.grid import mask_box, voxel_indices
from planner.scan.volume import apply_affine

__all__ = ["HEAD_TURN_DEG", "HeadModel", "head_model", "restore_condyles"]

HEAD_TURN_DEG = 15.0
"""The head's long axis, turned from the patient's left-right axis, medial end backwards."""
_HEAD_ML, _HEAD_AP, _HEAD_TALL = 0.17, 0.09, 0.09  # head axes over the jaw's width
_BAND_MM = 20.0  # the top of the ramus: within this of the side's highest point
_BRANCH = 0.12  # the condylar process: this part of the jaw's width from the back
_WIDE = 0.6  # a slice of a head is at least this part of the head's long axis wide
_ACROSS = 1.3  # and this much wider across than front to back
_ACROSS_BOTTOM = 1.2  # a head's bottom, where the bone around it may show too
_MAX_CLIMB_MM = 40.0  # a narrow column followed no further than this above the cut


@dataclass(frozen=True)
class HeadModel:
    """A condylar head: an ellipsoid (LPS mm).

    Attributes
    ----------
    centre : (3,) float
        Its centre.
    axes : (3, 3) float
        Rows: unit long (mediolateral, turned), anteroposterior and vertical axes.
    radii : (3,) float
        Half-lengths along those axes, mm.
    """

    centre: np.ndarray
    axes: np.ndarray
    radii: np.ndarray

    def inside(self, points: np.ndarray, margin_mm: float = 0.0) -> np.ndarray:
        """Whether points (n, 3) LPS mm lie in the head grown by ``margin_mm``."""
        local = (np.asarray(points, dtype=float) - self.centre) @ self.axes.T
        return np.sum((local / (self.radii + margin_mm)) ** 2, axis=1) <= 1.0


def head_model(centre, side: float, jaw_width_mm: float) -> HeadModel:
    """The head of a jaw ``jaw_width_mm`` wide, at ``centre``, on side ``side`` (+1 left).

    The long axis runs from lateral-anterior to medial-posterior, :data:`HEAD_TURN_DEG`
    off the left-right axis.
    """
    t = np.radians(HEAD_TURN_DEG)
    ml = np.array([np.cos(t) * side, -np.sin(t), 0.0])
    ap = np.array([-ml[1], ml[0], 0.0]) * side  # points backwards (+y)
    up = np.array([0.0, 0.0, 1.0])
    radii = 0.5 * jaw_width_mm * np.array([_HEAD_ML, _HEAD_AP, _HEAD_TALL])
    return HeadModel(np.asarray(centre, dtype=float), np.array([ml, ap, up]), radii)


def _branch(points: np.ndarray, dz: float, width_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """The condylar process of one side's ramus, and its top voxels (masks on ``points``).

    The process is the back of the ramus's top :data:`_BAND_MM` (within :data:`_BRANCH`
    of the jaw's width of its rearmost point: the coronoid process lies in front).
    """
    band = points[:, 2] > points[:, 2].max() - _BAND_MM
    branch = band & (points[:, 1] >= points[band, 1].max() - _BRANCH * width_mm)
    top = branch & (points[:, 2] >= points[branch, 2].max() - 0.5 * dz)
    return branch, top


def _climb(
    skull: np.ndarray,
    seed: np.ndarray,
    start: np.ndarray,
    affine: np.ndarray,
    head: HeadModel,
    margin_mm: float,
) -> np.ndarray:
    """The narrow column of skull bone rising from ``start`` and ``seed`` (the process).

    Axial slice by slice upwards from ``start``'s lowest slice (the skull bone touching the
    process), each piece of skull bone of the slice touching the process or the last piece
    taken is taken if it lies within the head's outline (twice as deep front to back: a
    neck may lean backwards) around the last piece: a neck, or a head of its own. A wider
    piece is the skull base, or the bone around a head in its fossa, and is left; the
    climb stops where nothing is left to follow, or :data:`_MAX_CLIMB_MM` up.
    """
    axis, up = axial_axis(affine)
    dz = float(np.linalg.norm(affine[:3, axis]))
    taken = np.zeros(skull.shape, dtype=bool)
    eight = np.ones((3, 3), dtype=bool)
    slices = np.nonzero(start.any(axis=tuple(a for a in range(3) if a != axis)))[0]
    s = int(slices.min() if up > 0 else slices.max())
    prev = np.take(seed | start, s, axis=axis)  # taken again as the first slice
    s -= up
    for _ in range(int(_MAX_CLIMB_MM / dz)):
        s += up
        if not 0 <= s < skull.shape[axis]:
            break
        plane = np.take(skull, s, axis=axis)
        own = np.take(seed, s, axis=axis) & ~plane
        if not (prev | own).any():
            break
        comps, _ = ndi.label(plane, structure=eight)
        hit = np.unique(comps[ndi.binary_dilation(prev | own, structure=eight) & plane])
        around = np.insert(voxel_indices(prev if prev.any() else own), axis, s, axis=1)
        outline = HeadModel(
            apply_affine(affine, around).mean(axis=0), head.axes, head.radii * [1.0, 2.0, 1e9]
        )
        piece = np.zeros_like(plane)
        for c in hit[hit > 0]:
            ij = voxel_indices(comps == c)
            # a piece wider than a head: the skull base, or the bone around a head
            if outline.inside(
                apply_affine(affine, np.insert(ij, axis, s, axis=1)), margin_mm
            ).all():
                piece[tuple(ij.T)] = True
        taken[tuple(np.insert(voxel_indices(piece), axis, s, axis=1).T)] = True
        prev = piece if piece.any() else own
    return taken


@dataclass(frozen=True)
class _Side:
    name: str
    sign: float


def restore_condyles(
    mandible: np.ndarray, bone: np.ndarray, affine: np.ndarray
) -> tuple[np.ndarray, str]:
    """Give back to the mandible the condylar heads the split gave to the skull.

    Parameters
    ----------
    mandible, bone : (ni, nj, nk) bool
        The mandible and all kept bone, on the same grid (the rest of the bone is skull).
    affine : (4, 4) float
        Index -> LPS mm.

    Returns
    -------
    (ni, nj, nk) bool, str
        The mandible, and a note naming the sides whose condyle the model shaped ("" if
        none).
    """
    axial = axial_axis(affine)
    if axial is None or not mandible.any():
        return mandible, ""
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    margin = 0.5 * float(spacing.max())
    dz = float(spacing[axial[0]])
    ijk = np.column_stack(np.unravel_index(np.flatnonzero(mandible), mandible.shape))
    p = apply_affine(affine, ijk)
    x2, x98 = np.percentile(p[:, 0], [2, 98])
    width, cx = float(x98 - x2), float(x98 + x2) / 2
    out = mandible
    shaped = []
    for side in (_Side("right", -1.0), _Side("left", 1.0)):
        on_side = side.sign * (p[:, 0] - cx) > 0.25 * width
        if not on_side.any():
            continue
        branch, top = _branch(p[on_side], dz, width)
        t = p[on_side][top].mean(axis=0)
        t[2] = p[on_side][top][:, 2].max()
        model = head_model(t, side.sign, width)
        if _head_kept(p[on_side], affine, model):
            continue  # a head already tops the process: the condyle was kept
        # the work is done in a box around the process, the climb's reach up
        at = ijk[on_side][branch]
        pad = np.ceil((2.0 * model.radii.max() + 2.0 * margin) / spacing).astype(int) + 2
        pad[axial[0]] += int(_MAX_CLIMB_MM / dz) + 1
        lo = np.maximum(at.min(axis=0) - pad, 0)
        box = tuple(
            slice(int(a), int(b)) for a, b in zip(lo, at.max(axis=0) + pad + 1, strict=True)
        )
        local = affine.copy()
        local[:3, 3] = apply_affine(affine, lo)
        here = mandible[box]
        gain = _head_gain(here, bone[box] & ~here, local, at - lo, model, margin)
        if gain.any():
            out = out.copy() if out is mandible else out
            out[box] |= gain
            shaped.append(f"{side.name} ({np.count_nonzero(gain) * np.prod(spacing):.0f} mm³)")
    if not shaped:
        return mandible, ""
    note = (
        "condyle shaped by a model on the " + " and ".join(shaped) + " (an estimate where "
        "the joint gap does not show)"
    )
    return out, note


def _near(shape, affine, head: HeadModel, margin: float) -> np.ndarray:
    """Voxel indices (n, 3) whose centres lie in ``head`` grown by ``margin``."""
    reach = float(head.radii.max() + margin)
    corners = head.centre + reach * np.array(
        [[a, b, c] for a in (-1, 1) for b in (-1, 1) for c in (-1, 1)]
    )
    c = apply_affine(np.linalg.inv(affine), corners)
    lo = np.maximum(np.floor(c.min(axis=0)).astype(int), 0)
    hi = np.minimum(np.ceil(c.max(axis=0)).astype(int) + 1, shape)
    if np.any(hi <= lo):
        return np.zeros((0, 3), dtype=int)
    axes = [np.arange(a, b) for a, b in zip(lo, hi, strict=True)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    return grid[head.inside(apply_affine(affine, grid), margin)]


def _head_gain(mandible, skull, affine, branch, model: HeadModel, margin: float) -> np.ndarray:
    """The skull voxels of one side's condylar head (the model placed on the process).

    ``branch`` (n, 3): the process's voxels; ``model``: the head at the process's top.
    Bone touching the process is followed up while it is a narrow column (:func:`_climb`).
    The head is placed, of these, highest: its bottom on the lowest slice like a head
    (:func:`_head_slices`) of the process, the column and the bone touching them; its top
    on the column's top, where the column is a head tall; on a shorter column's top where
    no slice is like a head; else on the process's top, over the bone touching it. The
    skull bone in it (grown by ``margin`` mm) and the column, where joined to the
    mandible, is the gain. Nothing (an empty mask) where no skull bone touches the process.
    """
    axis, _ = axial_axis(affine)
    dz = float(np.linalg.norm(affine[:3, axis]))
    seed = _mask(mandible.shape, branch)
    contact = skull & ndi.binary_dilation(seed, structure=np.ones((3, 3, 3)))
    z_top = model.centre[2]
    cq = voxel_indices(contact)
    if not len(cq):
        return contact  # nothing on the process: not cut against the skull
    column = _climb(skull, seed, contact, affine, model, margin)
    climbed = apply_affine(affine, voxel_indices(column))[:, 2].max() if column.any() else -np.inf
    if climbed <= z_top + 1e-6:  # bone along the back of the process, not rising above it
        column[:] = False
        climbed = -np.inf
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    # the head's bottom: the lowest slice like a head, of the process, the column and the
    # bone on the process's top, up to a head's height above the process's top
    on_top = _mask(contact.shape, cq[apply_affine(affine, cq)[:, 2] >= z_top - 0.5 * dz])
    part = apply_affine(affine, voxel_indices(column | seed | on_top))
    rise = max(2.0 * model.radii[2], climbed - model.centre[2])  # looked for this far up
    reach = HeadModel(
        model.centre + np.array([0.0, 0.0, rise]),
        model.axes,
        model.radii * np.array([1.0, 1.0, rise / (2.0 * model.radii[2])]),
    )
    wide = _head_slices(part, spacing, reach, _ACROSS_BOTTOM)
    centres = []
    if wide:  # its bottom on the lowest slice like a head
        z = min(wide)
        at = part[np.abs(part[:, 2] - z) < 1e-6]
        centres.append(np.array([*at[:, :2].mean(axis=0), z - 0.5 * dz + model.radii[2]]))
    if column.any():
        cp = apply_affine(affine, voxel_indices(column))
        at = cp[cp[:, 2] >= cp[:, 2].max() - 1e-6]
        if np.ptp(cp[:, 2]) + dz >= 2.0 * model.radii[2]:  # a column a head tall: it tops it
            centres.append(
                np.array([*at[:, :2].mean(axis=0), at[0, 2] + 0.5 * dz - model.radii[2]])
            )
        elif not wide:  # a short neck, stopped where its head meets the bone around it
            centres.append(
                np.array([*at[:, :2].mean(axis=0), at[0, 2] + 0.5 * dz + model.radii[2]])
            )
    if not centres:  # on the process's top, over the bone touching it
        cp = apply_affine(affine, cq)
        cp = cp[cp[:, 2] >= z_top - 1e-6]
        if not len(cp):
            return column
        centres.append(np.array([*cp[:, :2].mean(axis=0), z_top + model.radii[2]]))
    centre = max(centres, key=lambda c: c[2])  # the higher: a head tops its process
    head = HeadModel(centre, model.axes, model.radii)
    cells = _near(mandible.shape, affine, head, margin)
    region = column.copy()
    region[tuple(cells.T)] |= skull[tuple(cells.T)]
    # only what joins the mandible through the head and the column (labelled in their box)
    both = region | mandible
    box = mask_box(both)
    if box is None:
        return region
    joined, _ = ndi.label(both[box], structure=np.ones((3, 3, 3)))
    keep = np.unique(joined[mandible[box]])
    out = np.zeros_like(region)
    out[box] = region[box] & np.isin(joined, keep[keep > 0])
    return out


def _head_slices(
    points: np.ndarray, spacing: np.ndarray, model: HeadModel, across_ratio: float = 0.0
) -> list[float]:
    """The z (mm) of the axial slices of ``points`` (n, 3) LPS mm that look like a head.

    Within the head's reach of ``model.centre`` (x, y) and twice its height below it, a
    slice of a head is wider across (x) than front to back, by :data:`_ACROSS`, and at
    least :data:`_WIDE` of the head's long axis; a neck or a ramus is not (it is a plate
    in the sagittal plane).
    """
    top = model.centre
    near = np.hypot(points[:, 0] - top[0], points[:, 1] - top[1]) <= model.radii[0] + spacing[0]
    near &= (points[:, 2] <= top[2] + 1e-6) & (points[:, 2] >= top[2] - 2.0 * model.radii[2])
    q = points[near]
    out = []
    for z in np.unique(q[:, 2]):
        at = q[q[:, 2] == z]
        across = np.ptp(at[:, 0]) + spacing[0]
        along = np.ptp(at[:, 1]) + spacing[1]
        # half a voxel of slack: at coarse pixels a head shows a voxel narrower or wider
        if (
            across >= (across_ratio or _ACROSS) * along
            and across >= _WIDE * 2.0 * model.radii[0] - 0.5 * spacing[0]
        ):
            out.append(float(z))
    return out


def _head_kept(points: np.ndarray, affine: np.ndarray, model: HeadModel) -> bool:
    """Whether one side's ramus (``points`` (n, 3) LPS mm) is topped by a kept head.

    A kept head shows slices like a head (:func:`_head_slices`) through at least half its
    height, within three times that below the process's top (``model.centre``); a neck,
    or a head cut through its marrow, does not.
    """
    axis, _ = axial_axis(affine)
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    # three halves of a head's height below the top: a stray voxel may top a kept head
    deep = HeadModel(model.centre, model.axes, model.radii * [1.0, 1.0, 1.5])
    return len(_head_slices(points, spacing, deep)) * spacing[axis] >= model.radii[2]


def _mask(shape, ijk: np.ndarray) -> np.ndarray:
    m = np.zeros(shape, dtype=bool)
    m[tuple(ijk.T)] = True
    return m

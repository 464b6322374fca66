"""Where the mandible touches the skull: the boundary moved into the joint gap.

The first split of the mandible from the skull (a watershed on the distance transform, on
the work grid: :mod:`planner.bone.mandible`) cuts where the joined bone is narrowest; at a
temporomandibular joint that is the condylar neck. :func:`refine_contacts` moves the
boundary, at full resolution, into the joint gap (an HU valley between two cortices)
wherever that gap is the deeper valley. :func:`face_pairs` finds the faces between two
masks (the boundary here, and the interface a candidate split makes).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np
from scipy import ndimage as ndi

from planner.bone.grid import Grid, grow_box, mask_box, voxel_indices

__all__ = ["face_pairs", "refine_contacts"]

_REACH_MM = 10.0  # how far from the first boundary the joint gap is looked for
_REACH_VOXEL_MM = 1.0  # the block size on which that reach is measured


def _directions() -> np.ndarray:
    """The 13 voxel steps, one per line through a voxel and a 26-neighbour."""
    steps = [d for d in itertools.product((-1, 0, 1), repeat=3) if d > (0, 0, 0)]
    return np.array(steps, dtype=int)


def _valley_depth(hu: np.ndarray, at: np.ndarray) -> np.ndarray:
    """How far the voxels ``at`` (n, 3) read below the voxels either side along some line, HU.

    For each of the 13 lines through a voxel and its 26-neighbours: the lower of the two
    neighbours on the line minus the voxel, and for a valley two voxels wide (the voxel and
    the next one on the line both low), the lower of the two voxels flanking the pair minus
    the higher of the pair; the largest over lines. A joint gap narrower than a voxel,
    between two cortices, is such a valley; the inside of a cancellous region wider than
    two voxels is not. Lines leaving the array are skipped.
    """
    shape = np.array(hu.shape)

    def value(offset: np.ndarray) -> np.ndarray:
        q = at + offset
        inside = np.all((q >= 0) & (q < shape), axis=1)
        out = np.full(len(at), -np.inf, dtype=np.float32)
        out[inside] = hu[tuple(q[inside].T)]
        return out

    here = value(np.zeros(3, dtype=int))
    depth = np.zeros(len(at), dtype=np.float32)
    for d in _directions():
        ahead, behind = value(d), value(-d)
        depth = np.maximum(depth, np.minimum(ahead, behind) - here)
        # the pairs (p, p + d) and (p - d, p)
        depth = np.maximum(depth, np.minimum(behind, value(2 * d)) - np.maximum(here, ahead))
        depth = np.maximum(depth, np.minimum(ahead, value(-2 * d)) - np.maximum(here, behind))
    return depth


def _neighbours(ndim: int) -> Iterator[tuple[tuple[slice, ...], tuple[slice, ...]]]:
    """For each axis, the slices of the voxels (``lo``) and of their face neighbours one
    step up that axis (``hi``)."""
    for axis in range(ndim):
        lo = tuple(slice(0, -1) if i == axis else slice(None) for i in range(ndim))
        hi = tuple(slice(1, None) if i == axis else slice(None) for i in range(ndim))
        yield lo, hi


def face_pairs(
    a: np.ndarray, b: np.ndarray
) -> Iterator[tuple[tuple[slice, ...], tuple[slice, ...], np.ndarray]]:
    """For each axis, the (lower, upper) slices and where ``a`` and ``b`` face each other.

    Yields ``(lo, hi, pair)``: ``pair`` is True where the voxel at ``lo`` and its face
    neighbour at ``hi`` (one step up the axis) hold one ``a`` and one ``b``.
    """
    for lo, hi in _neighbours(a.ndim):
        yield lo, hi, (a[lo] & b[hi]) | (b[lo] & a[hi])


def _boundary(labels: np.ndarray) -> np.ndarray:
    """Voxels of label 1 or 2 with a face neighbour of the other label (labels uint8 0-2)."""
    out = np.zeros(labels.shape, dtype=bool)
    for lo, hi in _neighbours(labels.ndim):
        pair = (labels[lo] ^ labels[hi]) == 3  # 1 next to 2: the only pair whose xor is 3
        out[lo] |= pair
        out[hi] |= pair
    return out


def _dilate_faces(mask: np.ndarray) -> np.ndarray:
    """Binary dilation by the 6 face neighbours (``ndi.binary_dilation``'s default), faster."""
    out = mask.copy()
    for lo, hi in _neighbours(mask.ndim):
        out[lo] |= mask[hi]
        out[hi] |= mask[lo]
    return out


def _within_reach(interface: np.ndarray, spacing: np.ndarray) -> np.ndarray:
    """Voxels within about ``_REACH_MM`` of ``interface`` (bool, same shape).

    Measured on blocks of about ``_REACH_VOXEL_MM`` (the reach is a rough bound, and a
    distance transform costs some 20 bytes per voxel): within one block of exact.
    """
    factors = tuple(int(f) for f in np.maximum(1, np.floor(_REACH_VOXEL_MM / spacing)))
    grid = Grid(interface.shape, factors, np.eye(4))
    coarse = grid.block_count(interface) > 0
    far = ndi.distance_transform_edt(~coarse, sampling=spacing * factors)
    return grid.upsample(far <= _REACH_MM)


def refine_contacts(
    mandible: np.ndarray,
    bone: np.ndarray,
    hu: np.ndarray,
    affine: np.ndarray,
    box: tuple[slice, ...],
) -> np.ndarray:
    """Move the mandible's boundary into the joint gaps where the two bones touch.

    The watershed on the distance transform cuts where the joined bone is narrowest; at a
    temporomandibular joint that is the condylar neck, since the condyle touches its fossa
    over a wider area. Near that first boundary (within ``_REACH_MM``), a second watershed
    on the CT values (flooded from the first labels beyond the reach, densest bone first)
    meets in the joint gap, which reads lower than the cortices either side. It would also
    cut through cancellous bone, which reads low too (say around the roots of teeth): each
    connected piece of bone that it relabels is kept only if its new boundary runs through
    a deeper valley of the CT values (:func:`_valley_depth`) than its old one.

    Parameters
    ----------
    mandible : (ni, nj, nk) bool
        The mandible (first watershed) on ``bone[box]``.
    bone, hu : (Ni, Nj, Nk) arrays
        Bone mask and HU of the whole (C-ordered) volume.
    affine : (4, 4) float
        Index of ``bone``/``hu`` -> LPS mm.
    box : tuple of slice
        Where ``mandible`` lies in ``bone``.

    Returns
    -------
    (ni, nj, nk) bool
        The mandible, refined.
    """
    from skimage.segmentation import watershed

    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    solid = bone[box]
    # the interface lies within a voxel of the mandible: looked for in its box only
    found = mask_box(mandible)
    if found is None:
        return mandible
    own = grow_box(found, (1, 1, 1), mandible.shape)
    first = solid[own].view(np.uint8) + mandible[own].view(np.uint8)  # 1 skull, 2 mandible
    found = mask_box(_boundary(first))
    del first
    if found is None:
        return mandible
    at = tuple(slice(o.start + f.start, o.start + f.stop) for o, f in zip(own, found, strict=True))
    reach = np.ceil(_REACH_MM / spacing).astype(int) + 2
    near = grow_box(at, reach, mandible.shape)
    full = tuple(
        slice(b.start + s.start, b.start + s.stop) for b, s in zip(box, near, strict=True)
    )
    b = solid[near]
    old = b.view(np.uint8) + mandible[near].view(np.uint8)  # 0 none, 1 skull, 2 mandible
    interface = _boundary(old)
    h = hu[full].astype(np.float32)
    zone = b & _within_reach(interface, spacing)
    # flooded from the first labels just beyond the reach
    region = b & _dilate_faces(zone)
    markers = np.where(region & ~zone, old, 0).astype(np.int32)
    new = watershed(-h, markers, mask=region, connectivity=1).astype(np.uint8)
    new[~region | (new == 0)] = old[~region | (new == 0)]  # what neither flood reached
    changed = new != old
    inside = mask_box(changed)  # labelled on its own box (few voxels change), then placed
    if inside is None:
        return mandible
    pieces = np.zeros(changed.shape, dtype=np.int32)
    pieces[inside] = ndi.label(changed[inside], structure=np.ones((3, 3, 3)))[0]
    old_edge, new_edge = interface, _boundary(new)
    out = old.copy()
    for i, piece in enumerate(ndi.find_objects(pieces), start=1):
        grown = grow_box(piece, (1, 1, 1), b.shape)
        origin = [g.start for g in grown]
        mine = pieces[grown] == i
        here = ndi.binary_dilation(mine, structure=np.ones((3, 3, 3)))
        was = voxel_indices(here & old_edge[grown]) + origin
        now = voxel_indices(here & new_edge[grown]) + origin
        # a piece that did not border the old boundary gives nothing to compare: kept as was
        if len(now) and len(was) and _valley_depth(h, now).mean() > _valley_depth(h, was).mean():
            out[grown][mine] = new[grown][mine]
    result = mandible.copy()
    result[near] = out == 2
    return result

"""The tops of the rami, followed slice by slice where they touch the skull at coarse pixels.

At pixels of 2.5 mm and more the upper ramus touches the skull: the coronoid process the
zygomatic arch and the maxillary tuberosity, the condylar neck the skull base. The
watershed split (:mod:`planner.bone.mandible`) then cuts across the ramus where it is
thinnest and gives what lies above to the skull, although an axial slice there shows the
ramus's piece standing apart from the skull's own bone. :func:`climb_rami` follows each
ramus up as one contours it, slice by slice: in the slice above the mandible, a piece of
skull-labelled bone that stands apart in that slice (its own in-slice component), is small
(no more than :data:`PIECE_MM2`, nor :data:`WIDER` times the ramus's bone beneath it),
lies at the side of the jaw (at least :data:`LATERAL` of the jaw's width from its middle:
the teeth and the palate lie nearer) and sits mostly (:data:`ON_RAMUS`) on the mandible of the slice below, is the ramus's
continuation and is given to the mandible. A piece that touches the skull's bone in its
own slice (the ramus under the zygomatic arch) stops the climb there. Finer scans show the
gaps and are left as they are.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from planner.bone.arch import axial_axis
from planner.bone.grid import voxel_indices
from planner.scan.volume import apply_affine

__all__ = ["LATERAL", "ON_RAMUS", "PIECE_MM2", "WIDER", "climb_rami"]

PIECE_MM2 = 150.0
"""The largest in-slice piece taken, mm² (a coronoid process is about 10 × 3 mm across)."""
LATERAL = 0.35
"""A piece's centre lies at least this part of the jaw's width from the jaw's middle."""
ON_RAMUS = 0.5
"""At least this part of a piece lies on the mandible of the slice below (grown by a
voxel)."""
WIDER = 2.0
"""A piece is no more than this many times the ramus's bone beneath it (a piece wider, on
a condyle, is the fossa's roof or the articular eminence)."""
_COARSE_MM = 2.5  # in-plane pixels from this size: finer scans show the gaps (at 2 mm
# the synthetic head's tilted jaw took pieces of its skull: Dice 0.82 -> 0.795)


def climb_rami(
    mandible: np.ndarray, bone: np.ndarray, affine: np.ndarray
) -> tuple[np.ndarray, str]:
    """Give the mandible the pieces of its rami's tops that the split gave to the skull.

    Parameters
    ----------
    mandible : (ni, nj, nk) bool
        The verified mandible.
    bone : (ni, nj, nk) bool
        All kept bone on the same voxels; what is not mandible is the skull's.
    affine : (4, 4) float
        Voxel index -> LPS mm; its axis nearest the patient's z is climbed.

    Returns
    -------
    mandible : (ni, nj, nk) bool
        ``mandible`` itself when nothing is given, else a new array.
    note : str
        How much was given ("" if nothing).
    """
    if mandible.shape != bone.shape:
        raise ValueError(f"mandible has shape {mandible.shape}, bone {bone.shape}")
    axial = axial_axis(affine)
    if axial is None or not mandible.any():
        return mandible, ""
    axis, up = axial
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    in_plane = [a for a in range(3) if a != axis]
    if float(spacing[in_plane].min()) < _COARSE_MM:
        return mandible, ""
    x = apply_affine(affine, voxel_indices(mandible))[:, 0]
    x2, x98 = np.percentile(x, [2, 98])
    middle, width = (x2 + x98) / 2.0, x98 - x2
    pixel_mm2 = float(np.prod(spacing[in_plane]))
    skull = bone & ~mandible
    gained = np.zeros_like(mandible)
    ring = np.ones((3, 3), dtype=bool)
    lowest = np.nonzero(mandible.any(axis=tuple(in_plane)))[0]
    slices = (
        range(lowest[0] + 1, mandible.shape[axis]) if up > 0 else range(lowest[-1] - 1, -1, -1)
    )

    def at(k: int) -> tuple:
        return tuple(k if a == axis else slice(None) for a in range(3))

    for k in slices:
        below = mandible[at(k - up)] | gained[at(k - up)]
        if not below.any():
            continue
        pieces, n = ndi.label(skull[at(k)], ring)
        if n == 0:
            continue
        sizes = np.bincount(pieces.ravel(), minlength=n + 1)
        on = np.bincount(pieces[ndi.binary_dilation(below, ring)], minlength=n + 1)
        uv = np.array(ndi.center_of_mass(np.ones_like(pieces), pieces, range(1, n + 1)))
        centres = apply_affine(affine, np.insert(uv, axis, k, axis=1))
        side = np.concatenate([[0.0], np.abs(centres[:, 0] - middle)])
        # the ramus's bone below each piece grown by a voxel (where two grown pieces meet,
        # the higher label takes the voxel: pieces of one slice lie apart)
        under = np.bincount(ndi.grey_dilation(pieces, footprint=ring)[below], minlength=n + 1)
        take = (sizes * pixel_mm2 <= PIECE_MM2) & (on >= ON_RAMUS * sizes)
        take &= sizes <= WIDER * under
        take &= side >= LATERAL * width
        take[0] = False
        gained[at(k)] = take[pieces]
    count = int(np.count_nonzero(gained))
    if not count:
        return mandible, ""
    mm3 = count * float(np.prod(spacing))
    return mandible | gained, (
        f"{mm3 / 1000.0:.1f} cm³ of the rami's tops given back by the skull (apart from it "
        "in their axial slices)"
    )

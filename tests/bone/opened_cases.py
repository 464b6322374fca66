"""The shared scans with the mouth opened: the mandible turned chin down.

Head-and-neck planning scans are often made with a bite block between the teeth, and a
sleeping infant's mouth may hang open. :func:`opened` makes such a scan from one in
occlusion: the expert's mandible (grown by a voxel, to take its blurred edge along) is
turned chin down about an axis through its rami, as a jaw opens (the condyles glide
forward onto the eminences), and put back into the scan; what it left is filled with soft
tissue. The contour turns with it.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from planner.geometry import rotation_about_axis
from planner.scan.volume import Volume, apply_affine

__all__ = ["opened"]

SOFT_TISSUE_HU = 30.0
HINGE_DEPTH = 0.3  # the axis of opening below the condyles, as a part of the jaw's height


def _hinge(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ends of the axis the jaw opens about, LPS mm: under each condyle's centre (the
    top 8 mm of each side) by :data:`HINGE_DEPTH` of the jaw's height, near the mandibular
    foramen, so that the condyles glide forward and down as the mouth opens (turned about
    the condyles alone, the rami's angles would swing back into the spine)."""
    middle = np.median(points[:, 0])
    height = np.ptp(points[:, 2])
    ends = []
    for side in (-1.0, 1.0):
        half = points[side * (points[:, 0] - middle) > 0]
        condyle = half[half[:, 2] > half[:, 2].max() - 8.0].mean(axis=0)
        ends.append(condyle - [0.0, 0.0, HINGE_DEPTH * height])
    return ends[0], ends[1]


def opened(volume: Volume, mask: np.ndarray, degrees: float) -> tuple[Volume, np.ndarray]:
    """The scan with its mandible turned ``degrees`` chin down (:func:`_hinge`).

    Parameters
    ----------
    volume : Volume
        A CT in occlusion.
    mask : (ni, nj, nk) bool
        The true mandible on the volume's grid.
    degrees : float
        The opening (about 10° for a bite block, 30° for a mouth opened wide).

    Returns
    -------
    (Volume, (ni, nj, nk) bool)
        The scan (HU linear, the turned jaw over what lies there) and the turned mask.
    """
    points = apply_affine(volume.affine, np.argwhere(mask))
    right, left = _hinge(points)
    centre = (right + left) / 2.0
    chin = points[np.argmin(points[:, 1])] - centre  # the front (LPS: anterior is -y)
    turn = rotation_about_axis(left - right, np.radians(degrees))
    if (turn @ chin)[2] > chin[2]:  # the other way brings the chin down
        turn = turn.T
    # each voxel's source: LPS p -> c + turn.T (p - c) -> index
    grid = apply_affine(volume.affine, np.indices(volume.shape).reshape(3, -1).T)
    source = (grid - centre) @ turn + centre
    source = apply_affine(np.linalg.inv(volume.affine), source).T
    jaw = ndi.binary_dilation(mask)
    hu = volume.hu.astype(np.float32)
    lands = ndi.map_coordinates(jaw.view(np.uint8), source, order=0).reshape(volume.shape) > 0
    moved = ndi.map_coordinates(hu, source, order=1, cval=-1024.0).reshape(volume.shape)
    out = np.where(jaw, SOFT_TISSUE_HU, hu)
    out[lands] = np.maximum(moved[lands], out[lands])  # the turned jaw over what lies there
    truth = ndi.map_coordinates(mask.view(np.uint8), source, order=0).reshape(volume.shape) > 0
    hu_out = np.rint(out).astype(np.int16)
    return Volume(hu=hu_out, affine=volume.affine, description=volume.description), truth

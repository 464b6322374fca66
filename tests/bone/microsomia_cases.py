"""Mandibles with a short or missing ramus (hemifacial microsomia, small rami), truth known.

The synthetic head (:func:`tests.bone.mandible_cases.sample`) and a shared head-and-neck
scan with its expert contour, with a ramus taken away: its bone set to soft tissue, and
the same voxels taken out of the true mandible, so the truth stays analytic (the sample)
or the expert's (the scan).

- ``sample-no-left-ramus@Nmm``: the left ramus, coronoid and condyle removed above the
  angle (Pruzansky III);
- ``sample-short-left-ramus@Nmm``: the left ramus cut at half its height (Pruzansky II);
- ``sample-short-rami@Nmm``: both rami cut at half their height (bilateral forms, the
  small rami of Pierre Robin micrognathia);
- ``pt_6-no-left-ramus``: the same removal on a real scan, placed from its contour.

Each names the side whose ramus a finder must report missing or short (``None``: both).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from planner.scan.volume import Volume

SOFT_TISSUE_HU = 45
_ABOVE_ANGLE_MM = 6.0  # "removed above the angle": this far above the gonion, along the ramus


def _remove(
    volume: Volume, truth: np.ndarray, cut, keep: np.ndarray | None = None
) -> tuple[Volume, np.ndarray]:
    """Set the bone within two voxels of ``truth``, where ``cut`` holds, to soft tissue.

    ``cut`` maps (n, 3) LPS mm to (n,) bool: the region taken away. ``keep`` (bool, on
    the grid): voxels never changed (another bone's label). The same voxels leave the
    truth.
    """
    near = ndi.binary_dilation(truth, iterations=2)
    if keep is not None:
        near &= ~keep
    ijk = np.argwhere(near)
    ijk = ijk[cut(volume.index_to_lps(ijk))]
    grown = np.zeros(truth.shape, dtype=bool)
    grown[tuple(ijk.T)] = True
    hu = volume.hu.copy()
    hu[grown & (hu > SOFT_TISSUE_HU)] = SOFT_TISSUE_HU
    out = Volume(hu=hu, affine=volume.affine, description=volume.description)
    return out, truth & ~grown


def sample_without_ramus(
    spacing_mm: float, sides: tuple[str, ...], fraction: float
) -> tuple[Volume, np.ndarray]:
    """The synthetic head with the rami of ``sides`` cut ``fraction`` of the way up.

    ``fraction`` 0 removes the ramus from just above the angle (``_ABOVE_ANGLE_MM`` above
    the gonion, along the ramus's own upward axis); 0.5 keeps its lower half (gonion to
    the top of the condyle). The coronoid goes with what is above the cut.
    """
    from planner.samples import LABELS, head_truth, make_head
    from planner.samples.anatomy import SIDES, ramus_axes
    from tests.bone.mandible_cases import sample

    volume, truth = sample(spacing_mm)
    head = make_head(spacing_mm=spacing_mm, shape=volume.shape)
    lm = head_truth().landmarks_mm

    def cut(p: np.ndarray) -> np.ndarray:
        out = np.zeros(len(p), dtype=bool)
        for side in sides:
            s = SIDES[side]
            up = ramus_axes(s)[2]
            gonion, condyle = lm[f"gonion_{side}"], lm[f"condyle_{side}"]
            rise = max(_ABOVE_ANGLE_MM, fraction * float((condyle - gonion) @ up))
            # the ramus: on that side, behind the body's molars, above the cut
            out |= ((p - gonion) @ up > rise) & (p[:, 0] * s > 20.0) & (p[:, 1] > -16.0)
        return out

    return _remove(volume, truth, cut, keep=head.labels == LABELS["skull"])


def headneck_without_left_ramus(n: int) -> tuple[Volume, np.ndarray]:
    """A shared head-and-neck CT with its left ramus removed above the angle.

    Placed from the expert contour: on the patient's left (+x, beyond a fifth of the
    jaw's width from its centre), the back 40 mm of the arm (the ramus and coronoid,
    behind the molars), above 15 mm over the lowest contour point on that side (the body
    and the angle stay).
    """
    from tests.bone.mandible_cases import headneck

    volume, mask = headneck(n)
    p = volume.index_to_lps(np.argwhere(mask))
    x2, x98 = np.percentile(p[:, 0], [2, 98])
    centre, width = (x2 + x98) / 2.0, x98 - x2
    left = p[:, 0] > centre + 0.2 * width
    y_back = float(np.percentile(p[left, 1], 99))
    z_low = float(np.percentile(p[left, 2], 1))

    def cut(q: np.ndarray) -> np.ndarray:
        return (
            (q[:, 0] > centre + 0.2 * width) & (q[:, 1] > y_back - 40.0) & (q[:, 2] > z_low + 15.0)
        )

    return _remove(volume, mask, cut)


SAMPLE_CASES = {
    # name: (sides cut, fraction of the ramus kept, side to be named in the note)
    "no-left-ramus": (("left",), 0.0, "left"),
    "short-left-ramus": (("left",), 0.5, "left"),
    "short-rami": (("left", "right"), 0.5, None),
}


def without_mandible(volume: Volume, truth: np.ndarray) -> tuple[Volume, None]:
    """The scan with its whole mandible set to soft tissue (after a mandibulectomy).

    What is left tempts a relaxed rule: the upper dental arch (a U open backwards), the
    hyoid and the vertebrae below it, with the lower edge of the scan far below them.
    """
    out, _ = _remove(volume, truth, lambda p: np.ones(len(p), dtype=bool))
    return out, None


def neck_only(n: int) -> tuple[Volume, None]:
    """A shared head-and-neck CT cut 5 mm below the chin's lowest point: the neck alone
    (cervical spine, hyoid), no jaw in view."""
    from tests.bone.mandible_cases import headneck

    volume, mask = headneck(n)
    z_menton = float(volume.index_to_lps(np.argwhere(mask))[:, 2].min())
    z = volume.affine[2, 3] + volume.affine[2, 2] * np.arange(volume.shape[2])
    keep = np.nonzero(z < z_menton - 5.0)[0]
    affine = volume.affine.copy()
    affine[:3, 3] = volume.affine[:3, 3] + volume.affine[:3, 2] * keep[0]
    hu = np.ascontiguousarray(volume.hu[:, :, keep[0] : keep[-1] + 1])
    return Volume(hu=hu, affine=affine, description=volume.description), None

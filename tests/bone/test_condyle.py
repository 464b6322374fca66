"""The condylar head given back by its shape model, on jaws built with known answers.

:func:`planner.bone.condyle.restore_condyles` on 2 mm grids of two rami, each with a neck
and an ellipsoidal head sunk into a block of skull (the glenoid housing, under a plate of
skull base), joined to it as at coarse pixels where the joint gap does not show. The split
it repairs cut the head through its lower part (as at 2 mm on the sample), or lost the whole
process above a thin neck; a jaw whose heads were kept, or whose rami end free of the
skull, must come back unchanged.
"""

from __future__ import annotations

import numpy as np
import pytest

from planner.bone.condyle import head_model, restore_condyles
from planner.scan.volume import apply_affine

SPACING_MM = 2.0
HEAD_CENTRE_Z = -19.0
HEAD_RADII_MM = (6.0, 3.5, 3.5)  # across (x), front to back (y), tall (z)


def _jaw(spacing_mm: float = SPACING_MM, housing: bool = True):
    """Bone, true mandible and the true heads on a grid (LPS mm, x y z = i j k)."""
    lo = np.array([-56.0, -20.0, -56.0])
    shape = tuple(int(v) for v in np.ceil((np.array([56.0, 24.0, 0.0]) - lo) / spacing_mm))
    affine = np.diag([spacing_mm] * 3 + [1.0])
    affine[:3, 3] = lo + spacing_mm / 2
    ijk = np.indices(shape).reshape(3, -1).T
    x, y, z = apply_affine(affine, ijk).T
    mandible = np.zeros(len(ijk), dtype=bool)
    heads = np.zeros(len(ijk), dtype=bool)
    skull = np.zeros(len(ijk), dtype=bool)
    for s in (-1.0, 1.0):
        cx = 35.0 * s
        ramus = (np.abs(x - cx) <= 3.0) & (y >= -10.0) & (y <= 6.0) & (z >= -50.0) & (z <= -28.0)
        neck = (np.hypot(x - cx, y - 3.0) <= 2.5) & (z > -28.0) & (z <= HEAD_CENTRE_Z)
        rx, ry, rz = HEAD_RADII_MM
        head = ((x - cx) / rx) ** 2 + ((y - 3.0) / ry) ** 2 + ((z - HEAD_CENTRE_Z) / rz) ** 2 <= 1
        mandible |= ramus | neck | head
        heads |= head
        if housing:
            skull |= (np.abs(x - cx) <= 9.0) & (np.abs(y - 3.0) <= 8.0) & (z >= -19.0)
    if housing:
        skull |= (np.abs(x) <= 50.0) & (y >= -12.0) & (y <= 20.0) & (z >= -8.0) & (z <= -4.0)
    skull &= ~mandible
    out = [v.reshape(shape) for v in (mandible | skull, mandible, heads)]
    return (*out, affine)


def _split(mandible: np.ndarray, affine: np.ndarray, above_z: float) -> np.ndarray:
    """The mandible as a split that gave everything above ``above_z`` (mm) to the skull."""
    z = apply_affine(affine, np.argwhere(np.ones(mandible.shape, dtype=bool)))[:, 2]
    return mandible & (z.reshape(mandible.shape) < above_z)


def _only_the_head(out, truth, heads, affine, lost) -> None:
    """Skull taken only at the head's rim (within 2 voxels), never the skull base, and less
    than was lost (the model's ellipsoid on a 2 mm grid takes a partial rim of the fossa)."""
    from scipy import ndimage as ndi

    taken = out & ~truth
    assert not (taken & ~ndi.binary_dilation(heads, iterations=2)).any()
    z = apply_affine(affine, np.argwhere(taken))[:, 2]
    assert (z < -12.0).all()  # the fossa's roof (the housing's upper part) and the base
    assert np.count_nonzero(taken) <= np.count_nonzero(lost)


def test_head_model_turns_medially_backwards():
    for side in (-1.0, 1.0):
        head = head_model([35.0 * side, 0.0, 0.0], side, 100.0)
        # the long axis runs from lateral-anterior to medial-posterior
        lateral = head.centre + head.axes[0] * head.radii[0] * 0.99
        assert abs(lateral[0]) > 35.0 and lateral[1] < 0.0
        assert head.inside(lateral[None, :]).all()
        np.testing.assert_allclose(head.radii, [8.5, 4.5, 4.5])


@pytest.mark.parametrize("cut_z", [-20.0, -24.0])
def test_a_head_lost_to_the_fossa_is_given_back(cut_z):
    """Cut through the head's lower part (-20) or at the top of the neck (-24)."""
    bone, truth, heads, affine = _jaw()
    found = _split(truth, affine, cut_z)
    lost = heads & ~found
    assert lost.sum() > 20  # the case shows the failure: most of each head went to the skull
    out, note = restore_condyles(found, bone, affine)
    assert np.count_nonzero(out & heads) >= 0.95 * np.count_nonzero(heads)
    _only_the_head(out, truth, heads, affine, lost)
    assert not (found & ~out).any()  # nothing taken away
    assert "right" in note and "left" in note and "estimate" in note


def test_kept_condyles_are_left_alone():
    bone, truth, _, affine = _jaw()
    out, note = restore_condyles(truth, bone, affine)
    assert note == ""
    assert (out == truth).all()


def test_kept_condyles_at_fine_pixels_are_left_alone():
    bone, truth, _, affine = _jaw(spacing_mm=1.0)
    out, note = restore_condyles(truth, bone, affine)
    assert note == "" and (out == truth).all()


def test_rami_ending_free_of_the_skull_are_left_alone():
    """Short rami (a neck cut off, nothing above it): no cut against the skull, no head."""
    _, truth, _, affine = _jaw(housing=False)
    found = _split(truth, affine, -24.0)
    out, note = restore_condyles(found, found, affine)
    assert note == "" and (out == found).all()


def test_a_lost_neck_and_head_are_followed_up_their_column():
    """At coarse pixels a thin process may go to the skull from low on the neck: it is
    followed up while it stays a column narrower than a head, and topped by its head."""
    bone, truth, heads, affine = _jaw()
    found = _split(truth, affine, -27.0)
    out, note = restore_condyles(found, bone, affine)
    assert np.count_nonzero(out & truth) >= 0.95 * np.count_nonzero(truth)
    _only_the_head(out, truth, heads, affine, truth & ~found)
    assert note

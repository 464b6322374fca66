"""The rami's tops followed up slice by slice (:mod:`planner.bone.rami`).

A synthetic jaw at 2.5 mm voxels (i -> x, j -> y, k -> z, LPS): a body across the front and
two rami 72 mm apart, each 5 × 5 mm. Above the right ramus its top (a coronoid process)
was given to the skull: a column standing apart in each slice until it meets a wide plate
of skull (the zygomatic arch).
"""

from __future__ import annotations

import numpy as np
import pytest

from planner.bone.rami import PIECE_MM2, climb_rami

_RIGHT, _LEFT = slice(4, 6), slice(33, 35)  # the rami's columns (i)
_COLUMN = slice(10, 12)  # (j)
_TOP = 12  # the split's top of the rami (k)
_PLATE = 18  # the zygomatic arch's plate


def _jaw(voxel_mm: float = 2.5):
    mandible = np.zeros((40, 30, 30), dtype=bool)
    mandible[4:35, 4:7, 2:5] = True  # the body, across the front
    mandible[_RIGHT, _COLUMN, 2:_TOP] = True
    mandible[_LEFT, _COLUMN, 2:_TOP] = True
    bone = mandible.copy()
    bone[_RIGHT, _COLUMN, _TOP:_PLATE] = True  # the coronoid, given to the skull
    bone[0:12, 5:20, _PLATE : _PLATE + 3] = True  # the arch's plate above it
    bone[19:21, 4:6, 5] = True  # a tooth on the middle of the body
    affine = np.diag([voxel_mm, voxel_mm, voxel_mm, 1.0])
    return mandible, bone, affine


def test_the_ramus_top_is_followed_up_to_the_skull_s_own_bone():
    mandible, bone, affine = _jaw()
    out, note = climb_rami(mandible, bone, affine)
    gained = out & ~mandible
    expected = np.zeros_like(mandible)
    expected[_RIGHT, _COLUMN, _TOP:_PLATE] = True
    assert np.array_equal(gained, expected)  # the column, not the plate, nor the tooth
    assert note.startswith("0.4 cm³ of the rami's tops")  # 24 voxels of 15.6 mm³
    assert not out[:, :, _PLATE:].any()


def test_a_piece_wider_than_a_ramus_s_top_is_left_to_the_skull():
    mandible, bone, affine = _jaw()
    side = int(np.ceil(np.sqrt(PIECE_MM2 / 2.5**2))) + 1
    bone[4 : 4 + side, 10 : 10 + side, _TOP] = True  # a wide piece on the right ramus
    out, _ = climb_rami(mandible, bone, affine)
    assert not out[:, :, _TOP:].any()


def test_a_piece_wider_than_the_ramus_beneath_it_is_left_to_the_skull():
    # on a condyle at 2 mm pixels, the fossa's roof: small, but wider than the head
    mandible, bone, affine = _jaw()
    bone[3:6, 9:12, _TOP] = True  # 9 voxels on the ramus's 4 (WIDER = 2)
    out, _ = climb_rami(mandible, bone, affine)
    assert not out[:, :, _TOP:].any()


def test_a_piece_at_the_middle_of_the_jaw_is_left_to_the_skull():
    mandible, bone, affine = _jaw()
    bone[19:21, 4:6, 5:8] = True  # upper teeth on the lower ones, at the middle
    out, _ = climb_rami(mandible, bone, affine)
    assert not out[19:21, 4:6, 5:8].any()


@pytest.mark.parametrize("voxel_mm", [0.5, 1.0, 2.0])
def test_fine_scans_are_left_as_they_are(voxel_mm):
    mandible, bone, affine = _jaw(voxel_mm)
    out, note = climb_rami(mandible, bone, affine)
    assert out is mandible and note == ""


def test_slices_stored_downwards_climb_the_same():
    mandible, bone, affine = _jaw()
    flipped = affine.copy()
    flipped[2, 2] = -2.5  # k rises towards the feet
    out, _ = climb_rami(mandible[:, :, ::-1], bone[:, :, ::-1], flipped)
    expected, _ = climb_rami(mandible, bone, affine)
    assert np.array_equal(out[:, :, ::-1], expected)


def test_shapes_must_agree():
    mandible, bone, affine = _jaw()
    with pytest.raises(ValueError, match="mandible has shape"):
        climb_rami(mandible, bone[:, :, :-1], affine)

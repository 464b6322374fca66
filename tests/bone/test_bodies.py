"""Tests for the parting of each label's bodies into models (:mod:`planner.bone.bodies`).

Balls and blocks on a 1 mm grid whose right answer is known: a newborn's mandible in two
halves, an infant's cranial bones apart at open sutures, and the neck's bones (a
vertebra) that are not the skull's.
"""

from __future__ import annotations

import numpy as np
import pytest

from planner.bone.bodies import JOINED, OTHER_BONE, SECOND_BODY, part_models
from planner.bone.surface import extract_surface
from planner.scan.volume import Volume


def surfaces(shapes: dict[int, list], shape=(80, 60, 90)):
    """Dense surfaces of labels made of balls ``(centre, radius)`` and boxes ``(lo, hi)``."""
    x, y, z = np.indices(shape).astype(float)
    labels = np.zeros(shape, dtype=np.uint8)
    for label, items in shapes.items():
        for a, b in items:
            if np.isscalar(b):
                inside = (x - a[0]) ** 2 + (y - a[1]) ** 2 + (z - a[2]) ** 2 <= b**2
            else:
                inside = np.all(
                    [(c >= lo) & (c < hi) for c, lo, hi in zip((x, y, z), a, b, strict=True)],
                    axis=0,
                )
            labels[inside] = label
    volume = Volume(hu=np.where(labels > 0, 1200, 0).astype(np.int16), affine=np.eye(4))
    return {label: extract_surface(volume, labels, label, threshold_hu=600.5) for label in shapes}


def test_a_mandible_in_two_halves_stays_one_model():
    # a newborn's mandible: two halves apart at the symphysis; the second half went to
    # other_bone.stl as "vertebrae, hyoid, fragments?". A body at least 0.3 times the
    # largest stays in its label's model; a small one still goes to other_bone
    dense = surfaces({2: [((15, 30, 20), 8.0), ((40, 30, 20), 8.0), ((65, 30, 20), 4.0)]})
    parts, books = part_models([dense[2]], ["mandible"])
    by_name = dict(parts)
    assert list(by_name) == ["mandible", OTHER_BONE]
    halves = by_name["mandible"].split(only_watertight=True)
    assert len(halves) == 2
    assert halves[0].volume == pytest.approx(halves[1].volume, rel=0.01)
    assert abs(by_name[OTHER_BONE].volume) < SECOND_BODY * halves[0].volume
    (note,) = [n for n in books["notes"] if "mandible.stl holds 2 bodies" in n]
    assert "symphysis" in note
    # the plan moves the halves as one (planner.plan.cuts joins their pieces)
    assert by_name["mandible"].metadata[JOINED] is True
    assert JOINED not in by_name[OTHER_BONE].metadata


def test_an_infant_s_cranial_bones_stay_with_the_skull_and_the_neck_s_do_not():
    # the skull's largest body (the skull base and face), two plates of the vault apart
    # at open sutures above the jaw (each under 0.3 times the largest), a vertebra below
    # the jaw and a fragment above it: the plates stay in skull.stl, the vertebra and the
    # fragment (under 1 cm³: thin bone broken at coarse pixels) go to other_bone.stl
    dense = surfaces(
        {
            1: [
                ((10, 10, 40), (70, 50, 60)),  # base and face: 60 x 40 x 20 mm
                ((10, 10, 66), (38, 50, 72)),  # a parietal plate, 6 mm thick
                ((42, 10, 66), (70, 50, 72)),  # the other, a suture of 4 mm between them
                ((32, 40, 5), (48, 56, 15)),  # a vertebra, below the jaw
                ((60, 2, 80), (68, 8, 88)),  # a fragment above it (0.4 cm³: thin bone)
            ],
            2: [((20, 5, 20), (60, 15, 36))],  # the jaw, its top at z = 36 mm
        }
    )
    parts, books = part_models([dense[1], dense[2]], ["skull", "mandible"])
    by_name = dict(parts)
    assert list(by_name) == ["skull", "mandible", OTHER_BONE]
    skull = by_name["skull"].split(only_watertight=True)
    assert len(skull) == 3
    assert sum(abs(b.volume) for b in skull) == pytest.approx(48000 + 2 * 6720, rel=0.03)
    other = by_name[OTHER_BONE].split(only_watertight=True)
    assert sorted(abs(b.volume) for b in other) == pytest.approx(
        [8 * 6 * 8, 16 * 16 * 10], rel=0.15
    )
    (note,) = [n for n in books["notes"] if "skull.stl holds 3 bodies" in n]
    assert "open sutures" in note
    # without a jaw to tell the head from the neck, the plates are other bone as before
    parts, _ = part_models([dense[1]], ["skull"])
    assert len(dict(parts)["skull"].split(only_watertight=True)) == 1


def test_a_neck_s_spine_as_large_as_the_skull_in_view_is_not_the_skull():
    # a scan from the orbits down to the shoulders: its cervical spine, joined at coarse
    # pixels, is half as large as what it holds of the skull; it lies below the jaw
    dense = surfaces(
        {
            1: [((10, 10, 50), (70, 50, 70)), ((25, 35, 2), (55, 55, 30))],  # 48 and 16.8 cm³
            2: [((20, 5, 32), (60, 15, 45))],  # the jaw, its top at z = 45 mm
        }
    )
    parts, _ = part_models([dense[1], dense[2]], ["skull", "mandible"])
    by_name = dict(parts)
    assert len(by_name["skull"].split(only_watertight=True)) == 1
    assert abs(by_name[OTHER_BONE].volume) == pytest.approx(30 * 20 * 28, rel=0.05)

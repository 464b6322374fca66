"""The mouth-opening case maker turns the jaw rigidly, chin down, about its rami."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from planner.scan.volume import Volume, apply_affine
from tests.bone.opened_cases import HINGE_DEPTH, SOFT_TISSUE_HU, opened


def _jaw() -> tuple[Volume, np.ndarray]:
    """A U body (x ±40, y 0..60 mm, z 0..12) with two rami 60 mm tall, 1 mm voxels."""
    shape = (100, 100, 110)
    affine = np.eye(4)
    affine[:3, 3] = [-50.0, -20.0, -40.0]
    x, y, z = (np.indices(shape).transpose(1, 2, 3, 0) + affine[:3, 3]).transpose(3, 0, 1, 2)
    u = np.abs(y - 60.0 * (x / 40.0) ** 2) < 4.0
    mask = u & (np.abs(x) <= 40) & (z >= 0) & (z < 12)
    for side in (-1, 1):
        mask |= (np.abs(x - 38 * side) < 3) & (np.abs(y - 56) < 6) & (z >= 0) & (z < 60)
    hu = np.where(mask, 1200, 40).astype(np.int16)
    return Volume(hu=hu, affine=affine), mask


def test_the_jaw_turns_rigidly_chin_down_about_its_rami():
    volume, mask = _jaw()
    scan, turned = opened(volume, mask, 20.0)
    # a rigid turn: the jaw keeps its size (nearest-neighbour sampling: within 3%)
    assert abs(int(turned.sum()) - int(mask.sum())) < 0.03 * mask.sum()
    before = apply_affine(volume.affine, np.argwhere(mask))
    after = apply_affine(volume.affine, np.argwhere(turned))
    # the hinge lies 18 mm under the condyles (30% of the jaw's 60 mm), 60 mm behind and
    # 38 mm above the chin: turned 20°, the chin drops about 2 r sin 10° cos 33° = 19 mm
    # and the condyles glide forward 2 * 18 sin 10° = 6 mm
    assert HINGE_DEPTH == 0.3
    assert after[:, 2].min() < before[:, 2].min() - 15.0
    top_before = before[before[:, 2] > before[:, 2].max() - 4.0].mean(axis=0)
    top_after = after[after[:, 2] > after[:, 2].max() - 4.0].mean(axis=0)
    assert 3.0 < top_before[1] - top_after[1] < 9.0  # forward (LPS: anterior is -y)
    # the scan: the jaw's HU where it went, soft tissue where it was and is no more
    assert (scan.hu[turned] > 600).mean() > 0.9
    left = mask & ~ndi.binary_dilation(turned, iterations=2)  # beyond its blurred edge
    assert left.sum() > 1000 and np.all(scan.hu[left] == SOFT_TISSUE_HU)


def test_no_turn_leaves_the_scan_as_it_was():
    volume, mask = _jaw()
    scan, turned = opened(volume, mask, 0.0)
    assert np.array_equal(turned, mask)
    assert np.array_equal(scan.hu[mask], volume.hu[mask])

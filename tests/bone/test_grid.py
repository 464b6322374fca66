"""Tests for the block grid's box helpers (:mod:`planner.bone.grid`)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from planner.bone.grid import dilate_box, grow_box, mask_box, voxel_indices


def _reference(mask: np.ndarray, steps) -> np.ndarray:
    """The same dilation with scipy, one box structuring element per axis."""
    out = mask
    for axis, n in enumerate(steps):
        if n > 0:
            struct = np.ones([2 * n + 1 if a == axis else 1 for a in range(3)], dtype=bool)
            out = ndi.binary_dilation(out, structure=struct)
    return out


@pytest.mark.parametrize("shape", [(7, 9, 11), (1, 5, 5), (2, 2, 2), (30, 20, 10)])
@pytest.mark.parametrize("steps", [(1, 1, 1), (0, 2, 1), (3, 0, 0), (5, 5, 5), (0, 0, 0)])
def test_dilate_box_matches_scipy(shape, steps):
    mask = np.random.default_rng(1).random(shape) > 0.93
    assert np.array_equal(dilate_box(mask, steps), _reference(mask, steps))


def test_dilate_box_grows_one_voxel_into_a_box():
    mask = np.zeros((5, 5, 5), dtype=bool)
    mask[2, 2, 2] = True
    out = dilate_box(mask, (1, 2, 0))
    assert out.sum() == 3 * 5 * 1
    assert out[1:4, 0:5, 2].all() and not mask.all()


def test_grow_box_clips_to_the_array():
    box = grow_box((slice(0, 2), slice(3, 4), slice(8, 10)), (1, 2, 3), (10, 10, 10))
    assert box == (slice(0, 3), slice(1, 6), slice(5, 10))


@pytest.mark.parametrize("factors", [(1, 1, 1), (2, 3, 1), (3, 3, 2), (4, 1, 5)])
def test_block_count_counts_every_voxel_once(factors):
    from planner.bone.grid import Grid

    mask = np.random.default_rng(2).random((13, 11, 10)) > 0.6
    counts = Grid(mask.shape, factors, np.eye(4)).block_count(mask)
    assert counts.shape == tuple(-(-n // f) for n, f in zip(mask.shape, factors, strict=True))
    assert counts.sum() == mask.sum()
    f = factors
    for i, j, k in [(0, 0, 0), (counts.shape[0] - 1, 1, counts.shape[2] - 1)]:
        block = mask[
            i * f[0] : (i + 1) * f[0], j * f[1] : (j + 1) * f[1], k * f[2] : (k + 1) * f[2]
        ]
        assert counts[i, j, k] == block.sum()


def test_mask_box_and_voxel_indices_of_two_voxels():
    mask = np.zeros((6, 4, 7), dtype=bool)
    mask[4, 0, 5] = mask[1, 2, 3] = True
    assert mask_box(mask) == (slice(1, 5), slice(0, 3), slice(3, 6))
    assert voxel_indices(mask).tolist() == [[1, 2, 3], [4, 0, 5]]
    assert mask_box(np.zeros((3, 3, 3), dtype=bool)) is None
    assert voxel_indices(np.zeros((3, 3, 3), dtype=bool)).shape == (0, 3)


@pytest.mark.parametrize("density", [0.0, 1e-4, 0.01, 0.5, 1.0])
@pytest.mark.parametrize("shape", [(1, 1, 1), (7, 9, 11), (30, 20, 10)])
def test_mask_box_and_voxel_indices_match_scipy_and_numpy(shape, density):
    mask = np.random.default_rng(2).random(shape) < density
    found = ndi.find_objects(mask.view(np.uint8))
    assert mask_box(mask) == (found[0] if found else None)
    for view in (mask, mask[:, ::2, 1:]):  # a strided view too
        assert np.array_equal(voxel_indices(view), np.argwhere(view))

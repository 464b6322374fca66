"""The mandible's markers from distance-transform cores (:mod:`planner.bone.cores`).

A synthetic scene at 1 mm voxels (LPS: i -> x, j -> y, k -> z): a lower-jaw arch, a U open
towards the back, and a skull block above it. The arch's two halves lie 2 mm apart at the
midline, so no single core is a U across the midline: only the arch found slice by slice
(the seed) can join them.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from planner.bone.cores import find_markers

_SLICE = 12  # an axial slice through the arch


def _scene(gap_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """The bone and the arch's own slice mask: a U 70 mm wide, apart by ``gap_mm``."""
    x, y = np.mgrid[0:100, 0:90]
    r = np.hypot((x - 50) / 35.0, (y - 60) / 45.0)
    arch = (np.abs(r - 1.0) < 0.12) & (y <= 65)  # open towards +y (the back)
    if gap_mm:
        arch &= np.abs(x - 50) >= gap_mm / 2 + 0.5
    bone = np.zeros((100, 90, 60), dtype=bool)
    bone[:, :, 8:18] = arch[:, :, None]
    bone[15:85, 20:80, 35:55] = True  # the skull
    return bone, arch


def _markers(bone: np.ndarray, seed: np.ndarray | None):
    edt = ndi.distance_transform_edt(bone).astype(np.float32)
    midline_x = 50.0  # the arch's and the skull's middle (1 mm voxels from x = 0)
    return find_markers(edt, bone, np.eye(4), midline_x, lambda mask: False, seed)


def _seed(arch: np.ndarray, shape) -> np.ndarray:
    seed = np.zeros(shape, dtype=bool)
    seed[:, :, _SLICE] = arch
    return seed


def test_a_whole_arch_is_one_core():
    bone, arch = _scene(gap_mm=0.0)
    assert ndi.label(bone[:, :, _SLICE])[1] == 1
    markers, how = _markers(bone, None)
    assert markers is not None and "joined" not in how
    on_arch = markers[:, :, _SLICE][arch]
    assert np.all(on_arch[on_arch > 0] == 2)
    assert np.all(markers[40:60, 40:60, 40:50] == 1)  # the skull's


def test_an_arch_in_two_cores_is_joined_by_the_arch_found_slice_by_slice():
    bone, arch = _scene(gap_mm=2.0)
    assert ndi.label(bone[:, :, _SLICE])[1] == 2
    markers, how = _markers(bone, None)
    assert markers is None  # neither half is a U across the midline
    markers, how = _markers(bone, _seed(arch, bone.shape))
    assert markers is not None and "2 cores joined" in how
    both = markers[:, :, _SLICE] == 2
    assert both[:50].any() and both[50:].any()  # each half marked as mandible
    assert np.all(markers[40:60, 40:60, 40:50] == 1)


@pytest.mark.parametrize("side", [slice(0, 50), slice(50, 100)])
def test_one_half_of_an_arch_is_no_jaw(side):
    bone, arch = _scene(gap_mm=2.0)
    half = arch.copy()
    half[side] = False
    markers, how = _markers(bone, _seed(half, bone.shape))
    assert markers is None and "no U-shaped" in how

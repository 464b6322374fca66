"""The bone threshold of a CT volume: the CT default, or one found from the histogram.

On CT with calibrated HU (soft tissue between -100 and +150 HU) 300 HU is bone. Where bone
reads low, a level is found from the histogram (Otsu's, on the voxels denser than soft
tissue), but on calibrated CT it replaces the default only when the voxels between the two
levels are a material apart from the bone (a phantom's inserts), not the bone's own thin
plates, marrow and partial-volume rim (a child's bone, less dense and thinner than an
adult's): raising the level there would cut holes in thin bone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from planner.scan.volume import Volume

__all__ = ["ThresholdResult", "bone_threshold", "half_level"]

_CALIBRATED_SOFT_HU = (-100.0, 150.0)  # soft tissue on a CT whose HU are calibrated
_DENSE_BONE_HU = 1000.0  # cortical bone of an adult reaches this on calibrated CT
_BESIDE_MM = 1.5  # a voxel this close to the denser bone lies along it
_BESIDE_SHARE = 0.7  # more of the in-between voxels along the bone than this: they are bone
# (a child's bone, or an adult's made less dense: 0.85-1.0; the phantom's inserts: 0.19 at
# 1 mm slices, 0.43-0.55 at 2.4-5 mm)
_MAX_CHECKED = 8_000_000  # voxels looked at for that (a strided sample of the scan)


@dataclass(frozen=True)
class ThresholdResult:
    """The bone threshold and how it was chosen.

    Parameters
    ----------
    threshold_hu : float
        Iso level in HU; a half-integer against integer data, so that no voxel sits on it.
    method : str
        "default" (the CT default), "auto" (found from the histogram) or "given".
    note : str
        One line for the user: the level and the evidence behind it.
    """

    threshold_hu: float
    method: str
    note: str


def half_level(value: float) -> float:
    """The half-integer level just above ``floor(value)``: integer data never equal it."""
    return math.floor(value) + 0.5


def _sample(a: np.ndarray, n: int) -> np.ndarray:
    """A strided sample of about ``n`` values of ``a`` (a view where possible, then flat)."""
    step = max(1, round((a.size / n) ** (1.0 / 3.0)))
    return a[::step, ::step, ::step].ravel(order="K")


def bone_threshold(volume: Volume, *, default_hu: float = 300.0) -> ThresholdResult:
    """Choose the bone threshold of a CT volume.

    On CT with calibrated HU (soft tissue between -100 and +150 HU and cortical bone above
    1000 HU) the threshold is ``default_hu``. Where bone reads low (cone-beam CT, a plastic
    phantom, a child's thin bone) or soft tissue is off scale, Otsu's threshold on the
    voxels denser than soft tissue is found. On calibrated CT it is used only when it lies
    below the default, or when the voxels between the default and it lie mostly apart from
    the denser bone (:func:`beside_share`): a material of its own, such as a phantom's
    inserts. When they lie along the bone they are its thin plates and rim, and the default
    keeps them. The note says which level and why.

    Parameters
    ----------
    volume : Volume
        The CT volume.
    default_hu : float
        The CT default, HU.

    Returns
    -------
    ThresholdResult
        A half-integer level (``300.5`` for 300 HU), so that no integer voxel equals it.
    """
    if not math.isfinite(default_hu):
        raise ValueError(f"default_hu must be finite, got {default_hu}")
    default = half_level(default_hu)
    sample = _sample(volume.hu, 2_000_000).astype(np.float32)
    counts, edges = np.histogram(sample, bins=np.arange(-500.0, 510.0, 10.0))
    if counts.sum() < 1000:
        return ThresholdResult(
            default, "default", f"{default:g} HU (default; no soft tissue seen)"
        )
    smooth = np.convolve(counts, np.array([1, 2, 3, 2, 1]) / 9.0, mode="same")
    peak = int(np.argmax(smooth))
    soft_hu = float(edges[peak] + 5.0)
    below = np.nonzero(smooth[:peak] < smooth[peak] / 2)[0]
    above = np.nonzero(smooth[peak:] < smooth[peak] / 2)[0]
    left = below[-1] if below.size else 0
    right = peak + above[0] if above.size else len(smooth) - 1
    sigma_hu = max(10.0 * (right - left) / 2.355, 10.0)
    dense = sample[sample > soft_hu + 150.0]
    if dense.size < 100:
        note = (
            f"{default:g} HU (default; almost nothing denser than soft tissue at {soft_hu:.0f} HU)"
        )
        return ThresholdResult(default, "default", note)
    top_hu = float(np.percentile(dense, 99.5))
    calibrated = _CALIBRATED_SOFT_HU[0] <= soft_hu <= _CALIBRATED_SOFT_HU[1]
    if calibrated and top_hu >= _DENSE_BONE_HU:
        note = (
            f"{default:g} HU (CT default; soft tissue at {soft_hu:.0f} HU, "
            f"dense bone up to {top_hu:.0f} HU)"
        )
        return ThresholdResult(default, "default", note)
    low = soft_hu + max(100.0, 4.0 * sigma_hu)
    values = dense[(dense > low) & (dense <= np.percentile(dense, 99.9))]
    if values.size < 100:
        level = half_level(max(default_hu, low))
    else:
        from skimage.filters import threshold_otsu

        level = half_level(threshold_otsu(values))
    evidence = f"soft tissue at {soft_hu:.0f} HU, densest bone {top_hu:.0f} HU"
    if calibrated and level > default:
        share = beside_share(volume, default, level)
        between = f"the voxels between {default:g} and {level:g} HU (Otsu's level)"
        if share > _BESIDE_SHARE:
            note = (
                f"{default:g} HU (CT default; bone reads low: {evidence}, as a child's or thin "
                f"bone does; {share:.0%} of {between} lie along the denser bone, so they are "
                "bone, and the default keeps them; set the threshold to override)"
            )
            return ThresholdResult(default, "default", note)
        evidence += f"; {1 - share:.0%} of {between} lie apart from it: not bone"
    note = (
        f"{level:g} HU found from the histogram: bone reads low or soft tissue is off scale "
        f"({evidence}), so Otsu's level above soft tissue was used instead of the CT "
        "default; set the threshold to override"
    )
    return ThresholdResult(level, "auto", note)


def beside_share(volume: Volume, low_hu: float, high_hu: float) -> float:
    """Share of the voxels between two levels that lie along the voxels above the higher.

    A voxel lies along them when one is within about 1.5 mm of it (a box, on a strided
    sample of at most about eight million voxels). The rim and thin plates of a bone read
    between the levels next to its denser core; a separate material (a phantom's inserts)
    does not.

    Parameters
    ----------
    volume : Volume
    low_hu, high_hu : float
        The levels, HU (``low_hu < high_hu``).

    Returns
    -------
    float
        In [0, 1]; 1.0 when no voxel lies between the levels.
    """
    from scipy import ndimage as ndi

    step = max(1, math.ceil((volume.hu.size / _MAX_CHECKED) ** (1.0 / 3.0)))
    hu = volume.hu[::step, ::step, ::step]
    denser = hu > high_hu
    between = (hu > low_hu) & ~denser
    n_between = np.count_nonzero(between)
    if n_between == 0:
        return 1.0
    reach = [max(1, round(_BESIDE_MM / (step * float(s)))) for s in volume.spacing_mm]
    near = ndi.maximum_filter(denser, size=[2 * r + 1 for r in reach])
    return np.count_nonzero(between & near) / n_between

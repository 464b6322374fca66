"""Checks that every slice of a series agrees, and that the volume reads as Hounsfield units.

Header checks (cheap, before any pixel is read): every slice must share the matrix
(Rows/Columns), BitsAllocated/BitsStored, signedness (PixelRepresentation), pixel spacing
and orientation; the file that disagrees is named. Slices whose RescaleSlope/Intercept
differ are each rescaled with their own values (as DICOM says) and noted.

Pixel checks (on a strided sample of the stack): a slice whose values jump away from both
neighbours while those agree with each other, in bulk (a slab read with the wrong
signedness or rescale) or with in-plane noise (a corrupt compressed slice decoded as
noise), is named and refused; a volume with
values above about 4,000 HU in bulk is not in HU and is refused; one without any air (no
value below -500 HU) is noted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

from planner.scan.header import ImageHeader

__all__ = [
    "header_disagreement",
    "hu_problems",
    "rescale_note",
    "roughness",
    "sample",
    "slice_outliers",
]

JUMP_HU = 150.0
"""A pixel differing from both neighbouring slices by more than this (HU) ..."""
AGREE_FRACTION = 0.5
"""... while they differ from each other by less than this fraction of it, is isolated."""
SLAB_SHARE = 0.25
"""A slice with more isolated pixels than this share is refused: a slab read with the wrong
signedness or rescale, or garbage (healthy real scans: <= 0.02; a synthetic head with a
slice-thin horizontal layer: 0.12)."""
NOISE_SHARE = 0.03
"""A slice with more isolated pixels than this share ..."""
NOISE_ROUGHNESS = 2.5
"""... and this many times its neighbours' in-plane roughness is refused: a compressed
slice decoded as noise (healthy real scans: <= 1.8)."""
NOTE_SHARE = 0.05
"""A slice with more isolated pixels than this share, not refused, is noted: a partly
corrupt slice, or a slice-thin horizontal structure (the occlusal plane of the teeth)."""
END_FACTOR = 2.0
"""The end slices, compared with two slices on one side, are held to shares this much larger."""
ODD_SLICE_RATIO = 4.0
"""A slice must also exceed this many times the median share (noise in every slice is not odd)."""
HIGH_HU = 4000.0
"""Above this nothing but metal reads in a CT in HU."""
HIGH_SHARE_REFUSED = 0.10
HIGH_SHARE_NOTED = 0.01
AIR_HU = -500.0
_CHUNK = 16  # slices measured at once by roughness

_Key = Callable[[ImageHeader], object]
_ATTRIBUTES: list[tuple[str, _Key, Callable[[object], str]]] = [
    ("image sizes", lambda im: (im.cols, im.rows), lambda v: f"{v[0]}x{v[1]}"),
    (
        "bit depths",
        lambda im: (im.bits_allocated, im.bits_stored),
        lambda v: f"BitsAllocated {v[0]}, BitsStored {v[1]}",
    ),
    (
        "signedness",
        lambda im: im.signed,
        lambda v: "PixelRepresentation " + ("1 (signed)" if v else "0 (unsigned)"),
    ),
    (
        "pixel spacing",
        lambda im: None if im.spacing is None else tuple(round(s, 3) for s in im.spacing),
        lambda v: "PixelSpacing " + ("none" if v is None else "\\".join(f"{s:g}" for s in v)),
    ),
]


def _odd_ones(images: Sequence[ImageHeader], key: _Key) -> tuple[object, list[ImageHeader]]:
    """The most common value of ``key`` and the images that differ from it."""
    counts = Counter(key(im) for im in images)
    mode = counts.most_common(1)[0][0]
    return mode, [im for im in images if key(im) != mode]


def _names(images: Sequence[ImageHeader]) -> str:
    names = [im.name for im in images[:3]]
    return ", ".join(names) + (f" and {len(images) - 3} more" if len(images) > 3 else "")


def header_disagreement(images: Sequence[ImageHeader]) -> str:
    """The first attribute on which the slices disagree, naming the odd files ("" if none).

    Checks matrix, bit depth, signedness and pixel spacing on every slice, and orientation
    when only one or two slices differ (more form a second stack, which
    :func:`planner.scan.stack.analyse` reports).
    """
    for what, key, show in _ATTRIBUTES:
        mode, odd = _odd_ones(images, key)
        if not odd:
            continue
        values = {key(im) for im in images}
        listed = ""
        if what == "image sizes":
            listed = " (" + ", ".join(show(v) for v in sorted(values)) + ")"
        elif what == "pixel spacing" and None not in values:
            flat = [s for v in values for s in v]
            listed = f" ({min(flat):.3f}-{max(flat):.3f} mm)"
        return (
            f"mixed {what}{listed}: {_names(odd)} {'has' if len(odd) == 1 else 'have'} "
            f"{show(key(odd[0]))} where the other {len(images) - len(odd)} slices have "
            f"{show(mode)}"
        )
    mode, odd = _odd_ones(
        images, lambda im: None if im.iop is None else np.round(im.iop, 3).tobytes()
    )
    if 0 < len(odd) <= 2 and len(images) - len(odd) >= 3 and odd[0].iop is not None:
        shown = "\\".join(f"{v:.3g}" for v in odd[0].iop)
        return (
            f"mixed orientations: {_names(odd)} {'has' if len(odd) == 1 else 'have'} "
            f"ImageOrientationPatient {shown}, unlike the other {len(images) - len(odd)} slices"
        )
    return ""


def rescale_note(images: Sequence[ImageHeader]) -> str:
    """A note when RescaleSlope/Intercept differ between slices ("" when they agree)."""
    mode, odd = _odd_ones(images, lambda im: (im.slope, im.intercept))
    if not odd:
        return ""
    pairs = len({(im.slope, im.intercept) for im in images})
    if len(odd) <= 3:
        what = (
            f"{_names(odd)} {'has' if len(odd) == 1 else 'have'} slope {odd[0].slope:g}, "
            f"intercept {odd[0].intercept:g} where the other {len(images) - len(odd)} slices "
            f"have slope {mode[0]:g}, intercept {mode[1]:g}"
        )
    else:
        what = f"{pairs} different slope/intercept pairs"
    return (
        f"RescaleSlope/Intercept differ between slices ({what}): each slice rescaled with its own"
    )


def sample(stack: np.ndarray) -> np.ndarray:
    """A strided float32 sample of every slice, about 64 pixels a side (what the checks use).

    Parameters
    ----------
    stack : (n, rows, cols) int16 or float32
        HU slices in order along the normal.
    """
    stride = max(1, min(stack.shape[1:]) // 64)
    return stack[:, ::stride, ::stride].astype(np.float32)


def roughness(stack: np.ndarray) -> np.ndarray:
    """(n,) float: mean absolute difference between neighbouring pixels along the rows.

    Measured on about 32 full-resolution rows of each slice: noise raises it many-fold.
    """
    stride = max(1, stack.shape[1] // 32)
    out = np.empty(len(stack), np.float32)
    for k in range(0, len(stack), _CHUNK):  # a few slices at a time: small temporaries
        rows = stack[k : k + _CHUNK, ::stride, :].astype(np.float32)
        out[k : k + _CHUNK] = np.abs(np.diff(rows, axis=2)).mean(axis=(1, 2))
    return out


def slice_outliers(s: np.ndarray, rough: np.ndarray) -> list[tuple[int, float, float, bool]]:
    """Slices whose pixels jump away from both neighbours while those agree.

    Parameters
    ----------
    s : (n, rows', cols') float32
        The :func:`sample` of the HU stack.
    rough : (n,) float
        The :func:`roughness` of each slice.

    Returns
    -------
    list of (index, share, roughness ratio, refuse)
        Each odd slice, the share of its (sampled) pixels that are isolated, its roughness
        over its neighbours', and whether it is beyond doubt. Refused: a share above
        :data:`SLAB_SHARE`, or above :data:`NOISE_SHARE` with the roughness ratio above
        :data:`NOISE_ROUGHNESS`; listed for a note: a share above :data:`NOTE_SHARE`. The
        share must also be :data:`ODD_SLICE_RATIO` times the median share. The end slices
        are compared with the next two, and held to shares :data:`END_FACTOR` larger.
    """
    n = len(s)
    if n < 3:
        return []
    before = np.r_[1, np.arange(n - 1)]  # slice 0 compares with slices 1 and 2
    after = np.r_[np.arange(1, n), n - 2]  # the last slice with the two before it
    before[-1], after[0] = n - 3, 2
    low = np.minimum(np.abs(s - s[before]), np.abs(s - s[after]))
    apart = np.abs(s[before] - s[after])
    shares = ((low > JUMP_HU) & (apart < AGREE_FRACTION * low)).mean(axis=(1, 2))
    ratio = rough / np.maximum(np.maximum(rough[before], rough[after]), 1.0)
    factor = np.ones(n)
    factor[[0, -1]] = END_FACTOR
    refuse = (shares > SLAB_SHARE * factor) | (
        (shares > NOISE_SHARE * factor) & (ratio > NOISE_ROUGHNESS)
    )
    odd = (refuse | (shares > NOTE_SHARE * factor)) & (
        shares > ODD_SLICE_RATIO * float(np.median(shares))
    )
    return [
        (int(k), float(shares[k]), float(ratio[k]), bool(refuse[k])) for k in np.flatnonzero(odd)
    ]


def hu_problems(s: np.ndarray) -> tuple[str, list[str]]:
    """Whether the values read as a CT in HU: (problem that refuses it, notes).

    Parameters
    ----------
    s : (n, rows', cols') float32
        The :func:`sample` of the HU stack.
    """
    high = float(np.mean(s > HIGH_HU))
    notes = []
    if high > HIGH_SHARE_REFUSED:
        return (
            f"{high:.0%} of the voxels read above {HIGH_HU:.0f} HU (up to {s.max():.0f}): "
            "these are not Hounsfield units (check RescaleSlope/RescaleIntercept)",
            notes,
        )
    if high > HIGH_SHARE_NOTED:
        notes.append(
            f"{high:.1%} of the voxels read above {HIGH_HU:.0f} HU: much metal, or values "
            "that are not Hounsfield units"
        )
    if not np.any(s < AIR_HU):
        notes.append(
            f"no air in the scan (nothing below {AIR_HU:.0f} HU; lowest {s.min():.0f} HU): "
            "the values may not be Hounsfield units (check RescaleIntercept) or the field of "
            "view holds no air; check the bone threshold"
        )
    return "", notes

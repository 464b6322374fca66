"""The frames of an Enhanced CT file: each frame's geometry and rescale, from its groups.

Newer scanners export a series as one multi-frame file (Enhanced CT Image Storage). Its
geometry and rescale are not top-level attributes but functional groups: shared by every
frame (``SharedFunctionalGroupsSequence``) or given frame by frame
(``PerFrameFunctionalGroupsSequence``, which wins). :func:`frame_values` reads, for each
frame, the position, orientation, pixel spacing and rescale as the single-frame header
would give them, so that each frame is read as a slice of its own.
"""

from __future__ import annotations

import math

__all__ = ["PER_FRAME", "frame_values"]

PER_FRAME = 0x52009230
"""PerFrameFunctionalGroupsSequence."""
_SHARED = 0x52009229
_GROUPS = {  # (functional group sequence, attribute, count): what the frame's slice needs
    "ipp": (0x00209113, 0x00200032, 3),  # PlanePositionSequence: ImagePositionPatient
    "iop": (0x00209116, 0x00200037, 6),  # PlaneOrientationSequence: ImageOrientationPatient
    "spacing": (0x00289110, 0x00280030, 2),  # PixelMeasuresSequence: PixelSpacing
    "slope": (0x00289145, 0x00281053, 1),  # PixelValueTransformationSequence: RescaleSlope
    "intercept": (0x00289145, 0x00281052, 1),  # ...: RescaleIntercept
}


def frame_values(ds) -> list[dict[str, tuple[float, ...] | str | None]]:
    """Each frame's ``ipp``, ``iop``, ``spacing``, ``slope`` and ``intercept``.

    Parameters
    ----------
    ds : pydicom.Dataset
        An Enhanced CT (or MR) header, with its functional groups.

    Returns
    -------
    list of dict
        One per frame: a tuple of floats per value, None where neither the frame's group
        nor the shared one gives it, or a problem (str) where the value is not numbers.
    """
    shared = _first(ds.get(_SHARED))
    out = []
    for item in ds[PER_FRAME].value if PER_FRAME in ds else []:
        values: dict[str, tuple[float, ...] | str | None] = {}
        for key, (group, tag, count) in _GROUPS.items():
            raw = _value(item, group, tag)
            raw = _value(shared, group, tag) if raw is None else raw
            values[key] = _numbers(raw, count, tag)
        out.append(values)
    return out


def _first(element):
    """The first item of a sequence element, or None."""
    if element is None or not element.value:
        return None
    return element.value[0]


def _value(item, group: int, tag: int):
    """``tag`` in the first item of the ``group`` sequence of ``item``, or None."""
    if item is None:
        return None
    inner = _first(item.get(group))
    if inner is None or tag not in inner:
        return None
    return inner[tag].value


def _numbers(raw, count: int, tag: int) -> tuple[float, ...] | str | None:
    """The value as ``count`` finite floats, None if absent, or a problem naming it."""
    if raw is None or raw == "":
        return None
    values = [raw] if isinstance(raw, str) or not hasattr(raw, "__iter__") else list(raw)
    name = f"({tag >> 16:04X},{tag & 0xFFFF:04X})"
    try:
        out = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        return f"{name} '{raw}' of a frame is not a number"
    if len(out) != count or not all(math.isfinite(v) for v in out):
        return f"{name} '{raw}' of a frame is not {count} finite number{'s' * (count > 1)}"
    return out

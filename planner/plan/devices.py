"""Distractor types: the :class:`Device` record and the built-in catalog (no brand names).

Figures sit inside the ranges in the domain notes: strokes 10-35 mm, 0.5 mm per full turn
of the activation rod, curvilinear tracks of 30-100 mm radius. A case can add its own
devices in ``case.json`` (``devices``); a case entry with a built-in name replaces it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = ["BUILTIN_DEVICES", "DEVICE_KINDS", "Device", "device_catalog"]

DEVICE_KINDS = ("linear", "curvilinear")


@dataclass(frozen=True)
class Device:
    """A distractor model: a catalog entry.

    ``kind`` is ``"linear"`` (the moving footplate translates along the rod) or
    ``"curvilinear"`` (it follows a circular track of ``track_radius_mm``). ``stroke_mm``
    is the longest distraction the device allows; ``mm_per_turn`` the advance per full
    turn of its activation rod. ``screw_diameter_mm`` and ``footplate_holes_mm`` (x, y in
    the footplate's frame, see ``FOOTPLATE_3``) place the drill holes of the guides.
    """

    name: str
    kind: str
    stroke_mm: float
    mm_per_turn: float
    track_radius_mm: float | None = None
    description: str = ""
    screw_diameter_mm: float = 1.5
    footplate_holes_mm: tuple[tuple[float, float], ...] = ()


class _HasDevices(Protocol):
    devices: Sequence[Device]


# Footplate screw holes of the built-in devices (generic, no product copied), in the
# footplate's frame, mm: origin at the footplate point, x along the distraction vector
# pointing away from the cut, y across it on the bone (z out of the bone). Screws
# 1.5-2.0 mm, 1.3 mm in infants (DOMAIN.md: 1.5-2.0 mm, 1.0-1.3 mm plates in infants);
# hole spacing 4-6 mm as on 1.3-2.0 mm plate systems; 3 holes per footplate, 4 on the
# longer midface devices. Holes and sleeves of the guides: see planner/guides.
FOOTPLATE_INFANT = ((0.0, 0.0), (4.0, -2.0), (4.0, 2.0))
FOOTPLATE_3 = ((0.0, 0.0), (5.0, -2.5), (5.0, 2.5))
FOOTPLATE_4 = ((0.0, 0.0), (3.0, -3.0), (3.0, 3.0), (6.0, 0.0))


BUILTIN_DEVICES: tuple[Device, ...] = (
    Device(
        "linear-15",
        "linear",
        15.0,
        0.5,
        None,
        "linear, 15 mm stroke (infant mandible)",
        1.3,
        FOOTPLATE_INFANT,
    ),
    Device("linear-20", "linear", 20.0, 0.5, None, "linear, 20 mm stroke", 1.5, FOOTPLATE_3),
    Device("linear-25", "linear", 25.0, 0.5, None, "linear, 25 mm stroke", 1.5, FOOTPLATE_3),
    Device("linear-30", "linear", 30.0, 0.5, None, "linear, 30 mm stroke", 2.0, FOOTPLATE_4),
    Device(
        "linear-35", "linear", 35.0, 0.5, None, "linear, 35 mm stroke (midface)", 2.0, FOOTPLATE_4
    ),
    Device(
        "curvilinear-20-r40",
        "curvilinear",
        20.0,
        0.5,
        40.0,
        "curvilinear, 20 mm, 40 mm track",
        1.5,
        FOOTPLATE_3,
    ),
    Device(
        "curvilinear-30-r60",
        "curvilinear",
        30.0,
        0.5,
        60.0,
        "curvilinear, 30 mm, 60 mm track",
        2.0,
        FOOTPLATE_4,
    ),
)


def device_catalog(case: _HasDevices | None = None) -> dict[str, Device]:
    """Built-in devices, extended (or overridden by name) by the case's own ``devices``."""
    catalog = {d.name: d for d in BUILTIN_DEVICES}
    if case is not None:
        catalog.update({d.name: d for d in case.devices if d is not None})
    return catalog

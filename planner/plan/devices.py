"""The built-in catalog of generic distractor types (no brand names).

Figures sit inside the ranges in the domain notes: strokes 10-35 mm, 0.5 mm per full turn
of the activation rod, curvilinear tracks of 30-100 mm radius. A case can add its own
devices in ``case.json`` (``devices``); a case entry with a built-in name replaces it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from planner.plan.case import Device

if TYPE_CHECKING:
    from planner.plan.case import Case

__all__ = ["BUILTIN_DEVICES", "device_catalog"]

BUILTIN_DEVICES: tuple[Device, ...] = (
    Device("linear-15", "linear", 15.0, 0.5, None, "linear, 15 mm stroke (infant mandible)"),
    Device("linear-20", "linear", 20.0, 0.5, None, "linear, 20 mm stroke"),
    Device("linear-25", "linear", 25.0, 0.5, None, "linear, 25 mm stroke"),
    Device("linear-30", "linear", 30.0, 0.5, None, "linear, 30 mm stroke"),
    Device("linear-35", "linear", 35.0, 0.5, None, "linear, 35 mm stroke (midface)"),
    Device(
        "curvilinear-20-r40", "curvilinear", 20.0, 0.5, 40.0, "curvilinear, 20 mm, 40 mm track"
    ),
    Device(
        "curvilinear-30-r60", "curvilinear", 30.0, 0.5, 60.0, "curvilinear, 30 mm, 60 mm track"
    ),
)


def device_catalog(case: Case | None = None) -> dict[str, Device]:
    """Built-in devices, extended (or overridden by name) by the case's own ``devices``."""
    catalog = {d.name: d for d in BUILTIN_DEVICES}
    if case is not None:
        catalog.update({d.name: d for d in case.devices})
    return catalog

"""The rules of a case that span fields: each written once, asked by everyone.

Reading a case (:func:`planner.plan.case.case_from_dict`), every edit, the schedule
(:func:`planner.motion.schedule.make_schedule`), ``check`` and ``build`` all ask these, so
they refuse the same things in the same words. Each function returns every
:class:`~planner.plan.case_reader.Problem` it finds (an empty list when all is well).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from planner.plan.case_reader import Problem, describe, range_problem
from planner.plan.devices import Device

__all__ = ["PROTOCOL_RANGES", "distractor_problems", "name_problems", "protocol_problems"]

# name: (low, high, low excluded, unit)
PROTOCOL_RANGES: dict[str, tuple[float, float, bool, str]] = {
    "latency_days": (0, 30, False, "days"),
    "rate_mm_per_day": (0, 5, True, "mm/day"),
    "activations_per_day": (1, 24, False, ""),
    "consolidation_days": (0, 365, False, "days"),
}


def protocol_problems(protocol: Any, where: str = "protocol") -> list[Problem]:
    """Every problem of a :class:`~planner.plan.case.Protocol`: values out of range, a bad
    date or clock time."""
    out = []
    for key, (lo, hi, open_lo, unit) in PROTOCOL_RANGES.items():
        value = getattr(protocol, key)
        if key == "activations_per_day" and (
            isinstance(value, bool) or not isinstance(value, int)
        ):
            out.append(Problem(f"{where}.{key}", f"must be a whole number, got {describe(value)}"))
            continue
        text = range_problem(value, lo, hi, open_lo, unit)
        if text:
            out.append(Problem(f"{where}.{key}", text))
    if protocol.start_date:
        try:
            dt.date.fromisoformat(protocol.start_date)
        except ValueError:
            out.append(
                Problem(
                    f"{where}.start_date",
                    f"is {describe(protocol.start_date)}; use an ISO date like 2026-12-01",
                )
            )
    try:
        dt.time.fromisoformat(protocol.first_activation_time)
    except ValueError:
        text = f"is {describe(protocol.first_activation_time)}; use HH:MM"
        out.append(Problem(f"{where}.first_activation_time", text))
    return out


def name_problems(items: Sequence[Any], where: str) -> list[Problem]:
    """Empty or repeated names in a list of items (None entries are skipped)."""
    out, seen = [], set()
    for i, item in enumerate(items):
        if item is None:
            continue
        if not item.name.strip():
            out.append(Problem(f"{where}[{i}].name", "is empty; give it a name"))
        elif item.name in seen:
            text = f"{describe(item.name)} is used twice; names must differ"
            out.append(Problem(f"{where}[{i}].name", text))
        seen.add(item.name)
    return out


def distractor_problems(
    distractors: Sequence[Any],
    catalog: Mapping[str, Device],
    where: str = "distractors",
) -> list[Problem]:
    """Every problem of the :class:`~planner.plan.case.Distractor` s against the catalog.

    Repeated names, an unknown device, a curvilinear device without ``curve_toward`` and
    a target beyond the device's stroke. None entries (unreadable items) are skipped.
    """
    out = name_problems(distractors, where)
    for i, d in enumerate(distractors):
        if d is None:
            continue
        if d.device not in catalog:
            known = ", ".join(catalog) or "none"
            text = f"is {describe(d.device)}; known devices: {known}"
            out.append(Problem(f"{where}[{i}].device", text))
            continue
        dev = catalog[d.device]
        if dev.kind == "curvilinear" and d.curve_toward is None:
            text = f"is required for the curvilinear device {dev.name!r}"
            out.append(Problem(f"{where}[{i}].curve_toward", text))
        elif d.curve_toward is not None and _parallel(d.curve_toward, d.vector):
            text = (
                "is parallel to the vector; point it to the side of the vector where the "
                "track's centre lies"
            )
            out.append(Problem(f"{where}[{i}].curve_toward", text))
        if d.target_mm > dev.stroke_mm + 1e-9:
            text = (
                f"is {d.target_mm:g} mm, beyond the stroke of device {dev.name!r} "
                f"({dev.stroke_mm:g} mm); choose a longer device or a shorter target"
            )
            out.append(Problem(f"{where}[{i}].target_mm", text))
    return out


def _parallel(a: Sequence[float], b: Sequence[float]) -> bool:
    """Are two unit vectors parallel (within about 0.06 degrees)?"""
    cross = (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])
    return sum(c * c for c in cross) < 1e-6

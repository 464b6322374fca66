"""What a collision sweep found: :class:`CollisionReport` and its contacts."""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass, field

import numpy as np

__all__ = ["CollisionReport", "Contact", "InitialContact", "day_of"]


@dataclass(frozen=True)
class Contact:
    """The first new contact between two pieces during a sweep.

    Attributes
    ----------
    t_days : float
        First sampled time at which the distance is ``<= contact_mm`` (days).
    day : int
        Schedule day of ``t_days`` (``floor(t_days)``: day 0 is ``[0, 1)``).
    t_clear_days : float
        Last sampled time before it at which the pieces were clear: the contact begins in
        ``(t_clear_days, t_days]``.
    motion_mm : float
        Largest displacement of a point of the moving piece (relative to the other) between
        the two times: at most ``precision_mm``, unless the pose jumps there (an activation).
    moving, other : hashable
        The two pieces (``other`` may be another moving piece).
    distance_mm : float
        Distance at ``t_days`` (0 when the surfaces touch or cross).
    point_on_moving_mm, point_on_other_mm : (3,) float
        Where: the closest points at ``t_clear_days``, just before the touch (at ``t_days``
        the surfaces may already cross along a curve), LPS mm.
    """

    t_days: float
    day: int
    t_clear_days: float
    motion_mm: float
    moving: Hashable
    other: Hashable
    distance_mm: float
    point_on_moving_mm: np.ndarray
    point_on_other_mm: np.ndarray


@dataclass(frozen=True)
class InitialContact:
    """Two pieces already within ``contact_mm`` at the start (e.g. teeth in occlusion).

    The *contact zone* is every triangle of the moving piece within ``zone_mm`` of the other
    piece (or inside it) at the start. A contact is *new* when it involves the rest of the
    moving piece; the zone may slide along the other piece, and its signed clearance to it
    (distance, or minus the depth the zone has sunk into the other piece) is tracked: it
    *gets worse* when it falls more than ``precision_mm`` below its starting value (pushed
    in, or the zone meeting another part of the other piece).

    Attributes
    ----------
    moving, other : hashable
        The two pieces.
    distance_mm : float
        Distance at the start.
    point_on_moving_mm, point_on_other_mm : (3,) float
        Closest points at the start, LPS mm.
    penetration_depth_mm, overlap_volume_mm3 : float
        Overlap at the start (0 when they only touch; NaN when not closed volumes).
    zone_clearance_mm : (n,) float
        Signed clearance of the zone at ``CollisionReport.times_days`` (sampled there only;
        the depth is sampled on the overlap's surface, to about 0.15 mm).
    worse_at_days : float or None
        First sampled time at which the zone clearance got worse.
    """

    moving: Hashable
    other: Hashable
    distance_mm: float
    point_on_moving_mm: np.ndarray
    point_on_other_mm: np.ndarray
    penetration_depth_mm: float
    overlap_volume_mm3: float
    zone_clearance_mm: np.ndarray
    worse_at_days: float | None


@dataclass(frozen=True)
class CollisionReport:
    """Clearances between every moving piece and the rest of the bone over time.

    Attributes
    ----------
    times_days : (n,) float
        Sample times: the start and end, every activation, at most ``max_step_days`` apart.
    distance_mm : dict of (moving, other) -> (n,) float
        Distance of each pair at ``times_days``; for a pair in initial contact, the distance
        from the rest of the moving piece (outside its contact zone).
    min_distance_mm, min_distance_t_days : dict of (moving, other) -> float
        Smallest distance over the whole sweep (refined between samples to
        ``precision_mm``) and when.
    contacts : tuple of Contact
        The first new contact of each pair that has one, earliest first.
    initial_contacts : tuple of InitialContact
        Pairs within ``contact_mm`` at the start.
    precision_mm, contact_mm, zone_mm : float
        The settings used.
    evaluations : int
        Exact pair distances computed.
    """

    times_days: np.ndarray
    distance_mm: dict
    min_distance_mm: dict
    min_distance_t_days: dict
    contacts: tuple[Contact, ...]
    initial_contacts: tuple[InitialContact, ...]
    precision_mm: float
    contact_mm: float
    zone_mm: float
    evaluations: int = field(default=0, compare=False)

    @property
    def first_contact(self) -> Contact | None:
        """The earliest new contact, or None."""
        return self.contacts[0] if self.contacts else None

    def segment_distance_mm(self, key: Hashable) -> np.ndarray:
        """Distance ``(n,)`` from piece ``key`` to every other piece, at ``times_days``."""
        rows = [d for pair, d in self.distance_mm.items() if key in pair]
        if not rows:
            raise KeyError(key)
        return np.min(rows, axis=0)

    def summary(self) -> list[str]:
        """The findings, one line each."""
        lines = []
        for c in self.initial_contacts:
            text = (
                f"in contact at day {day_of(self.times_days[0])}: {c.moving} and {c.other} at "
                f"{_xyz(c.point_on_other_mm)} (distance {c.distance_mm:.2f} mm"
            )
            if c.penetration_depth_mm > 0:
                text += f", overlapping {c.penetration_depth_mm:.2f} mm deep"
            worst = float(np.min(c.zone_clearance_mm))
            text += (
                f"); pressed together from day {day_of(c.worse_at_days)} (zone clearance down to"
                f" {worst:.2f} mm)"
                if c.worse_at_days is not None
                else "); not pressed together further"
            )
            lines.append(text)
        for c in self.contacts:
            lines.append(
                f"new contact on day {c.day} (t = {c.t_days:.3f} d, clear at "
                f"{c.t_clear_days:.3f} d): {c.moving} and {c.other} at {_xyz(c.point_on_other_mm)}"
            )
        if not self.contacts and self.min_distance_mm:
            pair = min(self.min_distance_mm, key=self.min_distance_mm.get)
            t = self.min_distance_t_days[pair]
            lines.append(
                f"no new contact; closest approach {self.min_distance_mm[pair]:.2f} mm between"
                f" {pair[0]} and {pair[1]} on day {day_of(t)} (t = {t:.2f} d)"
            )
        return lines


def day_of(t_days: float) -> int:
    """Schedule day of a time (``floor``; day 0 is ``[0, 1)``), robust to round-off."""
    return math.floor(t_days + 1e-9)


def _xyz(p: np.ndarray) -> str:
    return "(" + ", ".join(f"{v:.1f}" for v in p) + ") mm LPS"

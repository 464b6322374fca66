"""Planned screws of a distractor's footplates, from the device catalog's footplate geometry.

Each footplate lies flat on the bone at its footplate point (``fixed_point_mm`` or
``moving_point_mm``). Its frame: z is the bone's outward normal there (area-weighted face
normals within ``NORMAL_RADIUS_MM``), x the distraction vector laid on the plate and
turned to point away from the cut, y = z × x. Hole ``(x, y)`` of the device is a screw
through that point of the plate along -z (the drill goes in along -z).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import trimesh

from planner.errors import PlannerError
from planner.geometry import unit
from planner.plan.case import Distractor, Osteotomy
from planner.plan.devices import Device

__all__ = ["NORMAL_RADIUS_MM", "Screw", "bone_normal", "planned_screws"]

NORMAL_RADIUS_MM = 2.5


@dataclass(frozen=True, eq=False)
class Screw:
    """One planned footplate screw: where it enters the bone and its axis.

    ``point_mm`` (3,) LPS on the plate at the bone; ``axis`` (3,) unit, out of the bone.
    """

    distractor: str
    footplate: str  # "fixed" or "moving"
    index: int
    point_mm: np.ndarray
    axis: np.ndarray
    diameter_mm: float

    @property
    def name(self) -> str:
        return f"{self.distractor}.{self.footplate}[{self.index}]"


def bone_normal(bone: trimesh.Trimesh, point, radius_mm: float = NORMAL_RADIUS_MM) -> np.ndarray:
    """Outward unit normal of ``bone`` around ``point``: area-weighted face normals of the
    faces whose centroid lies within ``radius_mm``.

    Raises
    ------
    PlannerError
        No bone surface within ``radius_mm`` of the point.
    """
    p = np.asarray(point, dtype=float)
    near = np.linalg.norm(bone.triangles_center - p, axis=1) <= radius_mm
    if not np.any(near):
        raise PlannerError(
            f"no bone surface within {radius_mm:g} mm of {_fmt(p)}; move the footplate point "
            "onto the bone"
        )
    n = (bone.face_normals[near] * bone.area_faces[near, None]).sum(axis=0)
    return unit(n, name="bone normal")


def planned_screws(
    distractor: Distractor, device: Device, osteotomy: Osteotomy, bone: trimesh.Trimesh
) -> tuple[Screw, ...]:
    """The screws of both footplates of ``distractor`` (fixed first), on ``bone``.

    Raises
    ------
    PlannerError
        The device has no footplate holes, or a footplate point is off the bone.
    """
    if not device.footplate_holes_mm:
        raise PlannerError(
            f"device {device.name!r} has no footplate_holes_mm; add them to the device in "
            "case.json or use a guide without holes (positioning 'none')"
        )
    n_cut = np.asarray(osteotomy.normal, dtype=float)
    centre = np.asarray(osteotomy.center_mm, dtype=float)
    screws = []
    for footplate, point in (
        ("fixed", distractor.fixed_point_mm),
        ("moving", distractor.moving_point_mm),
    ):
        p = np.asarray(point, dtype=float)
        z = bone_normal(bone, p)
        x = np.asarray(distractor.vector, dtype=float)
        x = x - z * (x @ z)
        if np.linalg.norm(x) < 1e-6:  # vector along the bone normal: any plate direction
            x = np.cross(z, n_cut)
        x = unit(x)
        away = np.sign((p - centre) @ n_cut) or 1.0
        if (x @ n_cut) * away < 0:
            x = -x
        y = np.cross(z, x)
        for k, (hx, hy) in enumerate(device.footplate_holes_mm):
            screws.append(
                Screw(
                    distractor.name,
                    footplate,
                    k,
                    p + hx * x + hy * y,
                    z,
                    float(device.screw_diameter_mm),
                )
            )
    return tuple(screws)


def _fmt(p) -> str:
    return "(" + ", ".join(f"{v:.1f}" for v in np.asarray(p, dtype=float)) + ")"

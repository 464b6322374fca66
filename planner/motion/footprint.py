"""The regenerate's footprint: how much of a cut face still faces bone after distraction.

New bone forms in the gap between the two faces of an osteotomy as they are pulled apart.
When the distraction vector is not along the cut's normal, the faces also slide past each
other: over a length ``s`` at an angle ``theta`` between vector and normal they open by
``s cos(theta)`` and shear by ``s sin(theta)`` (the demo: 18 mm at 49 degrees opens
11.8 mm and shears 13.6 mm). The share of the moving segment's cut face that still faces
bone at the end of distraction is the regenerate's footprint.

How it is measured
    The moving segment's cut face is its section by a plane just inside it (half the kerf
    plus :data:`FACE_INSET_MM` from the cut's centre plane), clipped to the cut rectangle;
    the fixed face is the section of every other segment on the other side of the cut.
    The moving face is moved by the segment's pose at the end of distraction and
    projected along the cut's normal onto the cut plane; the footprint is the area of its
    overlap with the fixed face divided by the moving face's area.

Limits (engineering limits of this planner, stated here, not clinical thresholds)
    :data:`ANGLE_WARN_DEG` = 30: beyond it the faces slide more than half as far as the
    device moves (sin 30 deg = 0.5), so a 20 mm distraction slides a 10-20 mm face
    (a child's ramus) by 10 mm or more. :data:`FOOTPRINT_WARN` = 0.5: with less than half
    of the face still opposite bone, the regenerate bridges less than half of the
    bone's section. Offer: turn the cut perpendicular to the vector
    (``planner osteotomy set --perpendicular-to DISTRACTOR``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from planner.plan.case import Distractor, Osteotomy

__all__ = [
    "ANGLE_WARN_DEG",
    "FACE_INSET_MM",
    "FOOTPRINT_WARN",
    "Footprint",
    "crossed_osteotomy",
    "cut_face",
    "footprint",
    "footprint_warnings",
    "regenerate_warnings",
]

ANGLE_WARN_DEG = 30.0
FOOTPRINT_WARN = 0.5
FACE_INSET_MM = 0.05


@dataclass(frozen=True)
class Footprint:
    """The regenerate's footprint for one distractor (see the module notes).

    Attributes
    ----------
    distractor, osteotomy : str
    angle_deg : float
        Angle between the vector and the cut's normal (0 = straight across the cut).
    opening_mm, shear_mm : float
        Travel of the moving footplate point at the end, along the normal and in the plane.
    face_mm2, facing_mm2 : float
        Area of the moving cut face; the part of it still facing bone at the end.
    share : float
        ``facing_mm2 / face_mm2`` (NaN when the face could not be found).
    """

    distractor: str
    osteotomy: str
    angle_deg: float
    opening_mm: float
    shear_mm: float
    face_mm2: float
    facing_mm2: float
    share: float


def crossed_osteotomy(d: Distractor, osteotomies: Sequence[Osteotomy]) -> Osteotomy | None:
    """The osteotomy between the footplates nearest their midpoint, or None."""
    move = np.asarray(d.moving_point_mm, dtype=float)
    fix = np.asarray(d.fixed_point_mm, dtype=float)
    best, best_dist = None, math.inf
    for ost in osteotomies:
        n, c = np.asarray(ost.normal, dtype=float), np.asarray(ost.center_mm, dtype=float)
        if float((move - c) @ n) * float((fix - c) @ n) < 0:
            dist = float(np.linalg.norm((move + fix) / 2 - c))
            if dist < best_dist:
                best, best_dist = ost, dist
    return best


def _plane_frame(ost: Osteotomy) -> np.ndarray:
    from planner.plan.cuts import osteotomy_frame

    return osteotomy_frame(ost)


def cut_face(meshes, ost: Osteotomy, side: float, pose=None):
    """Section of ``meshes`` on one side of the cut, in the cut's (u, v) plane (shapely).

    Parameters
    ----------
    meshes : sequence of trimesh.Trimesh
    ost : Osteotomy
    side : float
        +1 or -1: the side of the cut (along its normal) to take the face on.
    pose : (4, 4) float, optional
        Move the face by this pose before projecting it along the normal.

    Returns
    -------
    shapely geometry
        The face within the cut rectangle, mm (empty when nothing is there).
    """
    from shapely.geometry import Polygon, box
    from shapely.ops import unary_union

    frame = _plane_frame(ost)
    n, c = frame[:3, 2], frame[:3, 3]
    origin = c + n * side * (ost.kerf_mm / 2 + FACE_INSET_MM)
    to_cut = np.linalg.inv(frame)
    parts = []
    for mesh in meshes:
        section = mesh.section(plane_origin=origin, plane_normal=n)
        if section is None:
            continue
        for loop in section.discrete:
            pts = np.asarray(loop, dtype=float)
            if pose is not None:
                pts = pts @ pose[:3, :3].T + pose[:3, 3]
            uv = (pts @ to_cut[:3, :3].T + to_cut[:3, 3])[:, :2]
            if len(uv) >= 3:
                parts.append(Polygon(uv).buffer(0))
    a, b = ost.size_mm
    rect = box(-a / 2, -b / 2, a / 2, b / 2)
    if not parts:
        return rect.intersection(Polygon())
    # loops are outer boundaries and holes: even-odd union by symmetric difference
    face = parts[0]
    for p in parts[1:]:
        face = face.symmetric_difference(p)
    return unary_union([face]).intersection(rect)


def footprint(
    d: Distractor,
    ost: Osteotomy,
    moving: object,
    others: Sequence[object],
    end_pose: np.ndarray,
) -> Footprint:
    """:class:`Footprint` of distractor ``d`` across ``ost`` (see the module notes).

    Parameters
    ----------
    moving : trimesh.Trimesh
        The segment ``d`` moves, at day 0.
    others : sequence of trimesh.Trimesh
        Every other segment (the bone the moving face should keep facing).
    end_pose : (4, 4) float
        Pose of the moving segment at the end of distraction.
    """
    n = np.asarray(ost.normal, dtype=float)
    n = n / np.linalg.norm(n)
    v = np.asarray(d.vector, dtype=float)
    v = v / np.linalg.norm(v)
    angle = math.degrees(math.acos(min(1.0, abs(float(v @ n)))))
    p = np.asarray(d.moving_point_mm, dtype=float)
    travel = end_pose[:3, :3] @ p + end_pose[:3, 3] - p
    opening = abs(float(travel @ n))
    shear = float(np.linalg.norm(travel - n * float(travel @ n)))
    side = 1.0 if float((p - np.asarray(ost.center_mm)) @ n) > 0 else -1.0
    face = cut_face([moving], ost, side)
    moved = cut_face([moving], ost, side, pose=end_pose)
    fixed = cut_face(list(others), ost, -side)
    area = float(face.area)
    facing = float(moved.intersection(fixed).area) if area > 0 else 0.0
    share = facing / area if area > 0 else float("nan")
    return Footprint(d.name, ost.name, angle, opening, shear, area, facing, share)


def footprint_warnings(prints: Sequence[Footprint]) -> list[str]:
    """One warning per footprint beyond :data:`ANGLE_WARN_DEG` or below :data:`FOOTPRINT_WARN`."""
    out = []
    for f in prints:
        low = math.isfinite(f.share) and f.share < FOOTPRINT_WARN
        if f.angle_deg <= ANGLE_WARN_DEG and not low:
            continue
        share = f"{f.share:.0%}" if math.isfinite(f.share) else "unknown"
        out.append(
            f"distractor {f.distractor!r}: vector {f.angle_deg:.0f}° from the normal of cut "
            f"{f.osteotomy!r} (limit {ANGLE_WARN_DEG:g}°); the faces shear {f.shear_mm:.1f} mm "
            f"while opening {f.opening_mm:.1f} mm, and {share} of the cut face still faces "
            f"bone at the end (regenerate footprint; limit {FOOTPRINT_WARN:.0%}): turn the "
            f"cut with 'planner osteotomy set --perpendicular-to {f.distractor}'"
        )
    return out


def regenerate_footprints(
    osteotomies: Sequence[Osteotomy],
    segments: Mapping[str, object],
    motion,
    schedule,
) -> list[Footprint]:
    """:class:`Footprint` of every distractor that crosses a cut, at the end of distraction."""
    from planner.motion.distraction import pose_at

    end = pose_at(motion, schedule, schedule.end_of_distraction_days)
    out = []
    for d in schedule.distractors:
        ost = crossed_osteotomy(d, osteotomies)
        key = motion.segment_of.get(d.name)
        if ost is None or key not in segments:
            continue
        others = [m for name, m in segments.items() if name != key]
        out.append(footprint(d, ost, segments[key], others, end[key]))
    return out


def regenerate_warnings(osteotomies, segments, motion, schedule) -> list[str]:
    """Warnings of :func:`footprint_warnings` for :func:`regenerate_footprints`."""
    return footprint_warnings(regenerate_footprints(osteotomies, segments, motion, schedule))

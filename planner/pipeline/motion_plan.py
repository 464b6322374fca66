"""The motion part of a plan: schedule, motion, landmarks, measurements, collisions.

:func:`plan_motion` turns the case's distractors and the segments the cuts made into the
schedule of turns, the rigid motion of every moving segment (a condyle on a moving
segment is held as a joint), the bilateral report, the measurements and the regenerate
footprint, with their warnings; :func:`collision_report` sweeps the movement for contacts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from planner.errors import PlannerError
from planner.pipeline.segments import segments_near
from planner.plan.case import Case
from planner.plan.locate import format_point

if TYPE_CHECKING:
    from planner.motion.distraction import Motion
    from planner.motion.measure import BilateralReport, Measurements
    from planner.motion.schedule import Schedule
    from planner.plan.cuts import CutResult

__all__ = [
    "LANDMARK_AMBIGUITY_MM",
    "MotionPlan",
    "collision_report",
    "collision_warnings",
    "landmark_segments_of",
    "plan_motion",
]

# A landmark this close to a second segment is ambiguous (e.g. a condyle in its fossa).
LANDMARK_AMBIGUITY_MM = 1.0


@dataclass(frozen=True, eq=False)
class MotionPlan:
    """The motion part of a plan (see :class:`Plan`), with its warnings."""

    schedule: Schedule
    motion: Motion
    landmark_segments: dict[str, str]
    bilateral: BilateralReport
    measurements: Measurements
    warnings: tuple[str, ...]


def plan_motion(case: Case, cut: CutResult, names: list[str], moving_of, fixed_of) -> MotionPlan:
    """Schedule, motion, landmark segments, bilateral report and measurements."""
    from planner.motion.distraction import Motion
    from planner.motion.joint import joints_on_moving_segments
    from planner.motion.measure import bilateral_report, measure
    from planner.motion.schedule import make_schedule
    from planner.plan.devices import device_catalog

    sched = make_schedule(case.distractors, device_catalog(case), case.protocol)
    landmark_segments, warnings = landmark_segments_of(case, cut, names)
    segment_of = {d: names[i] for d, i in moving_of.items()}
    motion = Motion(
        segment_of=segment_of,
        fixed_segment_of={d: names[i] for d, i in fixed_of.items()},
        joints_mm=joints_on_moving_segments(
            case.landmarks_mm, landmark_segments, set(segment_of.values())
        ),
    )
    bilateral = bilateral_report(
        motion, sched, landmarks_mm=case.landmarks_mm, landmark_segments=landmark_segments
    )
    measurements = measure(motion, sched, case.landmarks_mm, landmark_segments)
    warnings = (*sched.warnings, *warnings, *bilateral.warnings, *measurements.warnings)
    from planner.motion.footprint import regenerate_warnings  # the vector-to-cut angle

    segments = {names[i]: s.mesh for i, s in enumerate(cut.segments)}
    warnings += tuple(regenerate_warnings(case.osteotomies, segments, motion, sched))
    return MotionPlan(sched, motion, landmark_segments, bilateral, measurements, warnings)


def landmark_segments_of(
    case: Case, cut: CutResult, names: list[str]
) -> tuple[dict[str, str], list[str]]:
    """The segment each landmark moves with, and warnings for those off or between bones."""
    from planner.plan.cuts import segment_at

    found, warnings = {}, []
    for lm, point in case.landmarks_mm.items():
        try:
            i = segment_at(cut, point, label=f"landmark {lm!r}")
        except PlannerError as exc:
            warnings.append(f"{exc} (it is treated as not moving)")
            continue
        found[lm] = names[i]
        near = segments_near(cut, point, LANDMARK_AMBIGUITY_MM, skip=i)
        if near:
            warnings.append(
                f"landmark {lm!r} is within {LANDMARK_AMBIGUITY_MM:g} mm of "
                f"{', '.join(names[j] for j in near)} as well as {names[i]}; it is taken to "
                f"move with {names[i]}: move it into the bone it belongs to"
            )
    return found, warnings


def collision_report(cut, motion, sched, progress=None):
    """The collision sweep of the moving segments against the rest, day 0 to the end."""
    from planner.motion.collision import collision_sweep
    from planner.motion.distraction import segment_poses

    moving_keys = set(motion.segments)
    moving = {s.name: s.mesh for s in cut.segments if s.name in moving_keys}
    static = {s.name: s.mesh for s in cut.segments if s.name not in moving_keys}
    return collision_sweep(
        moving,
        static,
        segment_poses(motion, sched),
        0.0,
        sched.end_of_distraction_days,
        schedule_times=[a.time_days for a in sched.activations],
        progress=progress,
    )


def collision_warnings(report) -> list[str]:
    """A warning for each new contact and each initial contact that gets worse."""
    out = []
    for c in report.contacts:
        out.append(
            f"contact on day {c.day} (t = {c.t_days:.2f} d): {c.moving} meets {c.other} at "
            f"{format_point(c.point_on_other_mm)}; the movement is blocked there"
        )
    for c in report.initial_contacts:
        if c.worse_at_days is not None:
            out.append(
                f"{c.moving} and {c.other}, touching at day 0 at {format_point(c.point_on_other_mm)}, "
                f"press together from day {math.floor(c.worse_at_days + 1e-9)}"
            )
    return out

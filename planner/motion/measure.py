"""Reports on a planned motion: vector angles, binding mismatch, landmark movement and
measurements before and after distraction (chin advancement, mandibular length,
intercondylar distance). The motion itself is :mod:`planner.motion.distraction`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from planner.geometry import unit
from planner.motion.distraction import (
    Motion,
    MotionSettings,
    landmark_positions,
    solve_at,
    vector_angles_deg,
)
from planner.motion.joint import CONDYLES
from planner.motion.schedule import Schedule, length_at

__all__ = [
    "Advancement",
    "BilateralReport",
    "Measurements",
    "bilateral_report",
    "measure",
    "to_jsonable",
]


def to_jsonable(obj, *, digits: int = 6):
    """JSON-ready copy of a report: dataclasses and mappings -> dicts, arrays and tuples
    -> lists, floats rounded to ``digits``, pair keys ``(a, b)`` -> ``"a/b"``."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        obj = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {
            "/".join(k) if isinstance(k, tuple) else str(k): to_jsonable(v, digits=digits)
            for k, v in obj.items()
        }
    if isinstance(obj, np.ndarray | list | tuple):
        return [to_jsonable(v, digits=digits) for v in obj]
    if isinstance(obj, float | np.floating):
        return round(float(obj), digits)
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


@dataclass(frozen=True)
class BilateralReport:
    """Vector angles, binding mismatch and landmark movement at the end of distraction.

    Attributes
    ----------
    t_days : float
        When (days since surgery): the end of distraction.
    lengths_mm : dict name -> float
    angles_deg : dict (name, name) -> float
        Every pair of distractors.
    mismatch_mm, mismatch_max_mm : dict name -> float
        RMS and largest binding mismatch over each footplate frame.
    mismatch_vector_mm : dict name -> (3,) float
        At each moving point: solved position minus the device's own.
    segment_poses : dict key -> (4, 4) float
    landmark_moves_mm : dict name -> (3,) float
        Displacement of each given landmark.
    estimates : dict name -> str
        Landmarks whose movement is an estimate, with the label to show.
    warnings : tuple of str
    """

    t_days: float
    lengths_mm: dict[str, float]
    angles_deg: dict[tuple[str, str], float]
    mismatch_mm: dict[str, float]
    mismatch_max_mm: dict[str, float]
    mismatch_vector_mm: dict[str, np.ndarray]
    segment_poses: dict[str, np.ndarray]
    landmark_moves_mm: dict[str, np.ndarray]
    estimates: dict[str, str]
    warnings: tuple[str, ...]


def bilateral_report(
    motion: Motion,
    schedule: Schedule,
    *,
    landmarks_mm: Mapping[str, Sequence[float]] | None = None,
    landmark_segments: Mapping[str, str] | None = None,
    ramus_distractors: Collection[str] | None = None,
    settings: MotionSettings | None = None,
) -> BilateralReport:
    """Angles, mismatch and landmark movement at the end of distraction, with warnings.

    Parameters
    ----------
    motion, schedule
        Segments and activations; lengths are the planned lengths.
    landmarks_mm, landmark_segments : mapping, optional
        Landmarks (e.g. ``condyle_left``) and the segment key each lies on.
    ramus_distractors : collection of str, optional
        Distractors to check for a mostly vertical vector; None checks all.
    settings : MotionSettings, optional

    Warnings are given for vectors on one segment that are not parallel within the
    tolerance, for a mismatch above the limit, and for mostly vertical vectors.
    """
    settings = settings or MotionSettings()
    t = schedule.end_of_distraction_days
    solved = solve_at(motion, schedule, t, settings=settings)
    dists = schedule.distractors
    names = [d.name for d in dists]
    angles = vector_angles_deg(dists)
    pairs = {
        (names[i], names[j]): float(angles[i, j])
        for i in range(len(names))
        for j in range(i + 1, len(names))
    }
    warnings = []
    for (a, b), deg in pairs.items():
        key = motion.segment_of[a]
        if key == motion.segment_of[b] and deg > settings.parallel_tolerance_deg:
            warnings.append(
                f"vectors of {a!r} and {b!r} (both on segment {key!r}) are {deg:.1f} degrees"
                f" apart (tolerance {settings.parallel_tolerance_deg:g}): the devices will bind"
            )
    mismatch, worst, vec = {}, {}, {}
    for sp in solved.values():
        mismatch.update(sp.residual_mm)
        worst.update(sp.residual_max_mm)
        vec.update(sp.residual_vector_mm)
    for name in names:
        if mismatch[name] <= settings.mismatch_warn_mm:
            continue
        key = motion.segment_of[name]
        if key in motion.joints_mm:
            warnings.append(
                f"with its condyle held in the joint, segment {key!r} turns and misses the"
                f" path of {name!r} by {mismatch[name]:.2f} mm at the target (limit"
                f" {settings.mismatch_warn_mm:g} mm): the device bends or the condyle is"
                " pushed out of its fossa; aim the vector across the line to the condyle"
            )
        else:
            warnings.append(
                f"binding mismatch at {name!r} is {mismatch[name]:.2f} mm at the target"
                f" (limit {settings.mismatch_warn_mm:g} mm): devices bend or loosen and the"
                " condyles are forced"
            )
    check = names if ramus_distractors is None else [n for n in names if n in ramus_distractors]
    for d in dists:
        if d.name not in check:
            continue
        elevation = math.degrees(
            math.asin(min(1.0, abs(unit(d.vector, name=f"distractor {d.name!r} vector")[2])))
        )
        if elevation > settings.vertical_warn_deg:
            warnings.append(
                f"vector of {d.name!r} is {elevation:.0f} degrees from the axial plane (mostly"
                " vertical): on a ramus this gives a posterior open bite on that side"
            )
    moves, estimates = {}, {}
    if landmarks_mm:
        after, estimates = landmark_positions(
            motion, schedule, landmarks_mm, landmark_segments or {}, t, settings=settings
        )
        moves = {k: after[k] - np.asarray(landmarks_mm[k], dtype=float) for k in after}
    return BilateralReport(
        t_days=t,
        lengths_mm={n: length_at(schedule, n, t) for n in names},
        angles_deg=pairs,
        mismatch_mm=mismatch,
        mismatch_max_mm=worst,
        mismatch_vector_mm=vec,
        segment_poses={k: sp.matrix for k, sp in solved.items()},
        landmark_moves_mm=moves,
        estimates=estimates,
        warnings=tuple(warnings),
    )


@dataclass(frozen=True)
class Advancement:
    """Displacement of one landmark, mm: ``anterior_mm`` is -y, ``vertical_mm`` +z
    (superior positive), ``lateral_mm`` +x (toward the patient's left)."""

    landmark: str
    vector_mm: np.ndarray
    length_mm: float
    anterior_mm: float
    vertical_mm: float
    lateral_mm: float


@dataclass(frozen=True)
class Measurements:
    """Before (day 0) and after (end of distraction) measurements.

    ``mandibular_length_mm`` maps each condyle landmark to (before, after) distances to
    the advancement landmark; ``intercondylar_mm`` is (before, after) or None; landmarks
    whose "after" position is an estimate are listed in ``estimates`` with their label.
    """

    t_days: float
    advancement: Advancement | None
    mandibular_length_mm: dict[str, tuple[float, float]]
    intercondylar_mm: tuple[float, float] | None
    estimates: dict[str, str]
    warnings: tuple[str, ...]


def measure(
    motion: Motion,
    schedule: Schedule,
    landmarks_mm: Mapping[str, Sequence[float]],
    landmark_segments: Mapping[str, str],
    *,
    landmark: str = "chin",
    condyles: Sequence[str] = CONDYLES,
    binding: bool = True,
    settings: MotionSettings | None = None,
) -> Measurements:
    """Advancement, mandibular length and intercondylar distance, day 0 vs end of distraction.

    Parameters
    ----------
    landmarks_mm : mapping name -> (3,) float
        Landmarks at day 0, LPS mm (e.g. ``case.landmarks_mm``).
    landmark_segments : mapping name -> segment key
        The segment each landmark lies on.
    landmark : str
        The landmark whose advancement is measured (e.g. chin / pogonion).
    condyles : sequence of str
        Condyle landmarks for the mandibular lengths (condyle to ``landmark``) and, with
        two of them, the intercondylar distance.
    binding : bool
        Include the estimated binding movement of condyles on proximal segments.
    """
    t = schedule.end_of_distraction_days
    after, estimates = landmark_positions(
        motion, schedule, landmarks_mm, landmark_segments, t, binding=binding, settings=settings
    )
    before = {k: np.asarray(v, dtype=float) for k, v in landmarks_mm.items()}
    warnings = []
    adv = None
    if landmark in before:
        d = after[landmark] - before[landmark]
        adv = Advancement(landmark, d, float(np.linalg.norm(d)), -d[1], d[2], d[0])
    else:
        warnings.append(f"landmark {landmark!r} is not set; add it to measure the advancement")
    present = [c for c in condyles if c in before]
    lengths = {}
    if landmark in before:
        for c in present:
            lengths[c] = (
                float(np.linalg.norm(before[landmark] - before[c])),
                float(np.linalg.norm(after[landmark] - after[c])),
            )
    inter = None
    if len(present) == 2:
        a, b = present
        inter = (
            float(np.linalg.norm(before[a] - before[b])),
            float(np.linalg.norm(after[a] - after[b])),
        )
    moving = set(motion.segment_of.values())
    for c in present:
        key = landmark_segments.get(c)
        if key not in moving:
            continue
        shift = float(np.linalg.norm(after[c] - before[c]))
        if key in motion.joints_mm:
            warnings.append(
                f"{c} lies on the moving segment {key!r}: it is held in its joint and the"
                f" segment turns about it (moves {shift:.1f} mm; a ball-joint ESTIMATE: in"
                " the patient the condyle also slides in its fossa and remodels)"
            )
        else:
            warnings.append(
                f"{c} lies on the moving segment {key!r} and moves {shift:.1f} mm in this rigid"
                " model; in the patient it stays in its joint and the mandible turns about it"
            )
    return Measurements(t, adv, lengths, inter, estimates, tuple(warnings))

"""The planning stage: case decisions + bone models -> segments, schedule, motion, checks.

:func:`plan_case` derives everything in memory and gathers every warning;
:func:`planner.pipeline.outputs.write_plan` writes ``CASE_DIR/out/`` with its manifest;
:func:`build_case` does both for a case folder (rebuilding the models from the scan when
they are missing or were made with other decisions).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from planner.errors import PlannerError
from planner.pipeline.motion_plan import collision_report, collision_warnings, plan_motion
from planner.pipeline.segments import name_segments, segment_roles
from planner.plan.case import Case, Distractor, load_case
from planner.plan.locate import format_point
from planner.plan.problems import collect, raise_problems
from planner.progress import ProgressFn

if TYPE_CHECKING:
    import trimesh

    from planner.motion.collision import CollisionReport
    from planner.motion.distraction import Motion
    from planner.motion.measure import BilateralReport, Measurements
    from planner.motion.schedule import Schedule
    from planner.plan.cuts import CutResult

__all__ = ["OUT_DIR", "Plan", "build_case", "plan_case"]

OUT_DIR = "out"

# A distraction vector this close to its cut plane would slide the segment along the cut.
VECTOR_IN_PLANE_ERROR_DEG = 10.0
VECTOR_IN_PLANE_WARN_DEG = 30.0


@dataclass(frozen=True, eq=False)
class Plan:
    """Everything derived from a case: the in-memory result of :func:`plan_case`.

    Attributes
    ----------
    case : Case
    cut : CutResult
        Segments after the cuts (``cut.segments[i].name`` set to ``names[i]``).
    roles : dict segment name -> str
        "moving (left, right)", "fixed (left)", "static".
    schedule : Schedule or None
    motion : Motion or None
    bilateral : BilateralReport or None
    measurements : Measurements or None
    collisions : CollisionReport or None
    landmark_segments : dict landmark -> segment name
    models : dict name -> trimesh.Trimesh
        The bone models the plan was made from (listed in the manifest as models).
    guides : tuple of planner.guides.run.BuiltGuide
        The printable guides of the case's ``guides``, each with its checks.
    warnings : tuple of str
        Every warning, each one line.
    seconds : dict step -> float
    """

    case: Case
    cut: CutResult
    roles: dict[str, str]
    schedule: Schedule | None = None
    motion: Motion | None = None
    bilateral: BilateralReport | None = None
    measurements: Measurements | None = None
    collisions: CollisionReport | None = None
    landmark_segments: dict[str, str] = field(default_factory=dict)
    models: dict[str, trimesh.Trimesh] = field(default_factory=dict)
    guides: tuple = ()
    warnings: tuple[str, ...] = ()
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def segments(self) -> dict[str, trimesh.Trimesh]:
        """Segment name -> mesh at day 0."""
        return {s.name: s.mesh for s in self.cut.segments}

    def poses_at(self, t_days: float, *, continuous: bool = False) -> dict[str, np.ndarray]:
        """(4, 4) pose of every segment (identity for those that do not move) at ``t_days``."""
        from planner.motion.distraction import pose_at

        poses = {name: np.eye(4) for name in self.segments}
        if self.motion is not None:
            poses.update(pose_at(self.motion, self.schedule, t_days, continuous=continuous))
        return poses

    def meshes_at(self, t_days: float) -> dict[str, trimesh.Trimesh]:
        """Segment meshes moved to their pose at ``t_days`` (days since surgery)."""
        from planner.motion.distraction import moved_mesh

        return {
            name: moved_mesh(self.segments[name], pose)
            if not np.allclose(pose, np.eye(4))
            else self.segments[name]
            for name, pose in self.poses_at(t_days).items()
        }


def plan_case(
    case: Case,
    models: Mapping[str, trimesh.Trimesh],
    *,
    collisions: bool = True,
    guides: bool = True,
    progress: ProgressFn | None = None,
) -> Plan:
    """Derive the plan from the case's decisions and the bone models.

    Parameters
    ----------
    case : Case
        The decisions.
    models : mapping name -> trimesh.Trimesh
        Bone models (``"skull"``, ``"mandible"``), LPS mm.
    collisions : bool
        Run the collision sweep (the slowest check).
    guides : bool
        Build and check the case's guides (about 1.5 s each); off for quick re-planning
        while placing the plan, and for pictures.
    progress : callable(task, done, total), optional

    Raises
    ------
    PlanError
        A plan that cannot work, listing every problem: each cut that misses the bone,
        overlapping cuts, each footplate off the bone, each segment still attached, each
        vector in its cut plane (a target beyond the device's stroke is refused by the
        case model on load).
    """
    seconds: dict[str, float] = {}
    step = _Steps(progress, seconds)
    problems: list[str] = []
    with step("cutting"):
        cut, warnings = _cut(case, models, problems)
    moving_of, fixed_of = _footplate_segments(case, cut, problems)
    with step("free-segment check"):
        _require_free_segments(case, cut, moving_of, fixed_of, problems)
    for d in case.distractors:
        try:
            warnings += _vector_to_cut_checks(d, case)
        except PlannerError as exc:
            collect(problems, exc)
    raise_problems(problems)
    cut, names = name_segments(cut, moving_of, fixed_of)
    roles = segment_roles(names, moving_of, fixed_of)
    warnings += _missing_decisions(case)
    built: tuple = ()
    if case.guides and guides:  # cutting and positioning guides, each checked
        from planner.guides.run import build_guides

        with step("guides"):
            built, guide_warnings = build_guides(case, models)
        warnings += guide_warnings
    if not case.distractors:
        return Plan(
            case,
            cut,
            roles,
            models=dict(models),
            guides=built,
            warnings=tuple(warnings),
            seconds=seconds,
        )
    moved = plan_motion(case, cut, names, moving_of, fixed_of)
    warnings += moved.warnings
    report = None
    if collisions:
        with step("collision sweep"):
            report = collision_report(cut, moved.motion, moved.schedule, progress)
        warnings += collision_warnings(report)
    return Plan(
        case,
        cut,
        roles,
        schedule=moved.schedule,
        motion=moved.motion,
        bilateral=moved.bilateral,
        measurements=moved.measurements,
        collisions=report,
        landmark_segments=moved.landmark_segments,
        models=dict(models),
        guides=built,
        warnings=tuple(warnings),
        seconds=seconds,
    )


def _cut(
    case: Case, models: Mapping[str, trimesh.Trimesh], problems: list[str]
) -> tuple[CutResult, list[str]]:
    """Cut the models (adding the cuts' problems to ``problems``); warn about volume not
    conserved and crumbs left out."""
    from planner.plan.cuts import cut_bone

    cut = cut_bone(models, case.osteotomies, problems=problems)
    warnings = []
    for model, err in cut.volume_balance().items():
        if abs(err) > 0.005:
            warnings.append(
                f"bone volume of {model} is not conserved by the cuts ({err:+.2%}); "
                "the model may not be watertight"
            )
    for crumb in cut.crumbs:
        warnings.append(
            f"a {crumb.volume_mm3:.1f} mm³ crumb of {crumb.model} at {format_point(crumb.center_mm)} "
            "was left out of the segments"
        )
    return cut, warnings


def _footplate_segments(
    case: Case, cut: CutResult, problems: list[str]
) -> tuple[dict[str, int], dict[str, int]]:
    """Per distractor, the index of the segment under its moving and its fixed footplate
    (a footplate off the bone is added to ``problems`` and left out)."""
    from planner.plan.cuts import segment_at

    moving_of, fixed_of = {}, {}
    for d in case.distractors:
        for which, point, found in (
            ("moving", d.moving_point_mm, moving_of),
            ("fixed", d.fixed_point_mm, fixed_of),
        ):
            label = f"{which} footplate point of distractor {d.name!r}"
            try:
                found[d.name] = segment_at(cut, point, label=label)
            except PlannerError as exc:
                collect(problems, exc)
    return moving_of, fixed_of


def _require_free_segments(
    case: Case, cut: CutResult, moving_of, fixed_of, problems: list[str]
) -> None:
    """Add to ``problems`` each distractor whose footplates are on one piece of bone,
    naming the bridges."""
    from planner.plan.free import require_free_segment

    for d in case.distractors:
        if d.name in moving_of and moving_of[d.name] == fixed_of.get(d.name):
            try:
                require_free_segment(cut, d)
            except PlannerError as exc:
                collect(problems, exc)


def _missing_decisions(case: Case) -> list[str]:
    """Warnings for a plan without osteotomies or distractors."""
    out = []
    if not case.osteotomies:
        out.append("no osteotomy planned: add one with 'planner osteotomy add'")
    if not case.distractors:
        out.append("no distractor planned: add one with 'planner distractor add'")
    return out


class _Steps:
    """Time named steps and tell the progress callback."""

    def __init__(self, progress, seconds):
        self.progress = progress
        self.seconds = seconds

    def __call__(self, name):
        import contextlib

        @contextlib.contextmanager
        def timed():
            if self.progress:
                self.progress(name, 0, 1)
            t = time.perf_counter()
            yield
            self.seconds[name] = time.perf_counter() - t
            if self.progress:
                self.progress(name, 1, 1)

        return timed()


def _vector_to_cut_checks(d: Distractor, case: Case) -> list[str]:
    """Refuse a vector lying in the plane of the cut it crosses; warn when close to it."""
    move = np.asarray(d.moving_point_mm)
    fix = np.asarray(d.fixed_point_mm)
    best = None
    for ost in case.osteotomies:
        n, c = np.asarray(ost.normal), np.asarray(ost.center_mm)
        sm, sf = float((move - c) @ n), float((fix - c) @ n)
        if sm * sf < 0:  # the cut lies between the footplates
            dist = float(np.linalg.norm((move + fix) / 2 - c))
            if best is None or dist < best[0]:
                best = (dist, ost)
    if best is None:
        return []
    ost = best[1]
    angle = math.degrees(math.asin(min(1.0, abs(float(np.dot(d.vector, ost.normal))))))
    if angle < VECTOR_IN_PLANE_ERROR_DEG:
        raise PlannerError(
            f"distractor {d.name!r}: its vector lies in the cut plane of osteotomy "
            f"{ost.name!r} ({angle:.1f}° from the plane); the segment would slide along the "
            "cut: turn the vector across the cut or turn the cut"
        )
    if angle < VECTOR_IN_PLANE_WARN_DEG:
        return [
            f"distractor {d.name!r}: its vector is only {angle:.0f}° from the cut plane of "
            f"{ost.name!r}; the segment shears along the cut"
        ]
    return []


def _models_match(case: Case, made: dict) -> bool:
    """Were the models in ``models/`` made with the case's segmentation decisions?"""
    seg = case.segmentation
    at, made_at = seg.mandible_at_mm, made.get("mandible_at_mm")
    same_point = (at is None and made_at is None) or (
        at is not None
        and made_at is not None
        and np.allclose(at, made_at, rtol=0.0, atol=1e-3)  # case.json keeps 0.001 mm
    )
    return (
        made.get("series_uid") == case.source.series_uid
        and (seg.threshold_hu is None or made.get("threshold_hu") == seg.threshold_hu)
        and made.get("separate_mandible") == seg.separate_mandible
        and same_point
        and bool(made.get("from_label_file")) == bool(seg.labels_path)
        and made.get("label_values", {}) == dict(seg.label_values)
    )


def build_case(case_dir: str | Path, *, progress: ProgressFn | None = None) -> tuple[Plan, dict]:
    """Rebuild everything derived for ``CASE_DIR``: models if needed, then ``out/``."""
    from planner.bone.models import (
        MODELS_DIR,
        MODELS_REPORT,
        build_models,
        read_models,
        read_models_report,
        write_models,
    )

    case_dir = Path(case_dir)
    case = load_case(case_dir)
    report = case_dir / MODELS_DIR / MODELS_REPORT
    current = report.is_file() and _models_match(case, read_models_report(case_dir))
    if not current:
        scan = case_dir / case.source.path  # a relative path is relative to the case
        if not case.source.path or not scan.exists():
            raise PlannerError(
                f"the models must be rebuilt but the scan {case.source.path!r} is not "
                "there; set source.path in case.json to the scan's folder"
            )
        seg = case.segmentation
        labels = case_dir / seg.labels_path if seg.labels_path else None
        if labels is not None and not labels.is_file():
            raise PlannerError(
                f"the models must be rebuilt but the label volume {seg.labels_path!r} is not "
                "there; set segmentation.labels_path in case.json to the file"
            )
        result = build_models(
            scan,
            series_uid=case.source.series_uid or None,
            threshold_hu=seg.threshold_hu,
            separate_mandible=seg.separate_mandible,
            progress=progress,
            allow_gaps=seg.allow_gaps,
            mandible_at=seg.mandible_at_mm,
            labels_file=labels,
            label_values=dict(seg.label_values) or None,
        )
        write_models(result, case_dir)
    from planner.pipeline.outputs import write_plan

    plan = plan_case(case, read_models(case_dir), progress=progress)
    manifest = write_plan(plan, case_dir / OUT_DIR, pictures=True)
    return plan, manifest

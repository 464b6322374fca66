"""The live checks of the planning window: the plan as ``planner build`` makes it (no VTK).

:func:`analyse` runs :func:`planner.pipeline.build.plan_case` (without the collision
sweep, which stays in ``planner check``) and gathers what the window shows: the plan or
the one-line reason it cannot be made, the bone bridges that hold a segment that is not
free, every warning, and each distractor's angle to the cut it crosses.
:func:`collision_preview` measures, on demand, the clearance of each moving segment at
the end of distraction.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from planner.errors import PlannerError
from planner.plan.case import Case
from planner.view.editor import crossed_osteotomy

__all__ = ["CollisionPreview", "PlanState", "Replanner", "analyse", "collision_preview"]


@dataclass(frozen=True, eq=False)
class PlanState:
    """What the window shows about the current case.

    Attributes
    ----------
    case : Case
    plan : planner.pipeline.build.Plan or None
        None when the plan cannot be made (see ``error``).
    error : str
        Why the plan cannot be made, one line ("" when it can).
    bridges : tuple of (str, planner.plan.cuts.Bridge)
        Distractor name and each bridge of uncut bone holding its moving segment.
    warnings : tuple of str
        Every warning of the plan, and the stroke checks (shown even when ``error``).
    angles_deg : dict distractor -> (osteotomy, float)
        The cut each distractor crosses and the angle between its vector and that cut's
        normal, degrees (0 = the vector is perpendicular to the cut).
    seconds : float
        Time the analysis took.
    """

    case: Case
    plan: object = None
    error: str = ""
    bridges: tuple = ()
    warnings: tuple[str, ...] = ()
    angles_deg: dict[str, tuple[str, float]] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def end_day(self) -> float:
        """End of distraction (days since surgery); 0 without a schedule."""
        sched = getattr(self.plan, "schedule", None)
        return float(sched.end_of_distraction_days) if sched is not None else 0.0


def _stroke_warnings(case: Case) -> list[str]:
    from planner.plan.devices import device_catalog

    catalog = device_catalog(case)
    out = []
    for d in case.distractors:
        dev = catalog.get(d.device)
        if dev is not None and d.target_mm > dev.stroke_mm + 1e-9:
            out.append(
                f"distractor {d.name!r}: stroke exceeded: target {d.target_mm:g} mm, "
                f"{dev.name} reaches {dev.stroke_mm:g} mm"
            )
    return out


def vector_angles(case: Case) -> dict[str, tuple[str, float]]:
    """Distractor -> (crossed osteotomy, angle between its vector and the cut's normal)."""
    out = {}
    for d in case.distractors:
        name = crossed_osteotomy(case, d.name)
        if name is None:
            continue
        cos = abs(float(np.dot(d.vector, case.osteotomy(name).normal)))
        out[d.name] = (name, math.degrees(math.acos(min(1.0, cos))))
    return out


def _bridges(case: Case, models: Mapping) -> tuple:
    """(distractor, Bridge) for every distractor whose moving segment is not free."""
    from planner.plan.cuts import cut_bone
    from planner.plan.free import free_segment_check

    try:
        cut = cut_bone(models, case.osteotomies)
    except PlannerError:
        return ()
    found = []
    for d in case.distractors:
        try:
            report = free_segment_check(cut, d.moving_point_mm, d.fixed_point_mm)
        except PlannerError:
            continue
        found += [(d.name, b) for b in report.bridges]
    return tuple(found)


def analyse(case: Case, models: Mapping) -> PlanState:
    """Plan ``case`` on ``models`` as ``planner build`` does (no collision sweep).

    Never raises for a bad plan: the reason is in ``PlanState.error``.
    """
    from planner.pipeline.build import plan_case

    t0 = time.perf_counter()
    warnings = _stroke_warnings(case)
    angles = vector_angles(case)
    plan, error, bridges = None, "", ()
    try:
        # guides are built and checked by `planner check` and `build`, not on every edit
        plan = plan_case(case, models, collisions=False, guides=False)
    except PlannerError as exc:
        error = str(exc)
        if "attached" in error or "bridge" in error:
            bridges = _bridges(case, models)
    if plan is not None:
        warnings += [w for w in plan.warnings if w not in warnings]
    return PlanState(case, plan, error, bridges, tuple(warnings), angles, time.perf_counter() - t0)


class Replanner:
    """Plans the latest case on a worker thread while the window stays responsive.

    The window calls :meth:`request` after each edit and :meth:`poll` from a timer; an
    edit made while a plan is being made supersedes it (only the latest case is shown).
    """

    def __init__(self, models: Mapping):
        self.models = models
        self._wanted: Case | None = None
        self._thread: threading.Thread | None = None
        self._case: Case | None = None
        self._result: dict = {}

    @property
    def busy(self) -> bool:
        return self._wanted is not None

    def request(self, case: Case) -> None:
        """Plan ``case`` (now, or when the plan being made is done)."""
        self._wanted = case
        if self._thread is None:
            self._start(case)

    def _start(self, case: Case) -> None:
        result: dict = {}

        def work():
            try:
                result["state"] = analyse(case, self.models)
            except Exception as exc:  # a bug must not pass silently: shown as the error
                result["state"] = PlanState(case, error=f"internal error: {exc!r}")

        self._case, self._result = case, result
        self._thread = threading.Thread(target=work, name="planner-replan", daemon=True)
        self._thread.start()

    def poll(self) -> PlanState | None:
        """The plan of the latest case once it is made, else None."""
        if self._thread is None or self._thread.is_alive():
            return None
        self._thread = None
        if self._case is not self._wanted:
            self._start(self._wanted)
            return None
        self._wanted = None
        return self._result.get("state")

    def wait(self, timeout_s: float = 120.0) -> PlanState | None:
        """Block until the latest case is planned (tests)."""
        end = time.monotonic() + timeout_s
        while self.busy and time.monotonic() < end:
            if self._thread is not None:
                self._thread.join(timeout=max(0.0, end - time.monotonic()))
            state = self.poll()
            if state is not None:
                return state
        return None


@dataclass(frozen=True, eq=False)
class CollisionPreview:
    """Clearance of each moving segment from every other segment at ``day``.

    ``clearances`` maps segment name -> :class:`planner.motion.collision.Clearance`.
    """

    day: float
    clearances: dict
    seconds: float

    def lines(self) -> list[str]:
        """One line per moving segment."""
        out = []
        for name, c in self.clearances.items():
            where = "(" + ", ".join(f"{v:.1f}" for v in c.point_on_static_mm) + ")"
            if c.penetrating:
                out.append(
                    f"{name} overlaps bone at {where} on day {self.day:.1f} "
                    f"({c.penetration_depth_mm:.1f} mm deep)"
                )
            else:
                out.append(
                    f"{name}: {c.distance_mm:.1f} mm clear on day {self.day:.1f}, closest at {where}"
                )
        return out or ["no moving segment"]


def _apply(pose: np.ndarray, point) -> np.ndarray:
    return pose[:3, :3] @ np.asarray(point, dtype=float) + pose[:3, 3]


def collision_preview(plan, day: float | None = None) -> CollisionPreview:
    """Clearance of each moving segment at ``day`` (default: end of distraction)."""
    from planner.motion.collision import clearance

    t0 = time.perf_counter()
    if day is None:
        day = plan.schedule.end_of_distraction_days if plan.schedule is not None else 0.0
    poses = plan.poses_at(day)
    segments = plan.segments
    still = [n for n, p in poses.items() if np.allclose(p, np.eye(4))]
    out = {}
    for name, pose in poses.items():
        if name in still:
            continue
        found = []
        if len(still) > 0:
            found.append(clearance(segments[name], pose, [segments[n] for n in still]))
        for other, other_pose in poses.items():  # other moving pieces: relative pose
            if other in still or other == name:
                continue
            rel = np.linalg.inv(other_pose) @ pose
            c = clearance(segments[name], rel, segments[other])
            found.append(
                dataclasses.replace(
                    c,
                    point_on_moving_mm=_apply(other_pose, c.point_on_moving_mm),
                    point_on_static_mm=_apply(other_pose, c.point_on_static_mm),
                )
            )
        if found:
            out[name] = min(found, key=lambda c: (not c.penetrating, c.distance_mm))
    return CollisionPreview(float(day), out, time.perf_counter() - t0)

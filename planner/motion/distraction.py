"""Motion of the bone segments under the distractors.

Poses are (4, 4) homogeneous rigid transforms in LPS mm acting on column vectors:
``p' = T[:3, :3] @ p + T[:3, 3]``.

One device
    A linear device translates its moving segment by ``s * v`` (``s`` the distraction
    length, ``v`` the unit vector). A curvilinear device moves it along the arc of its
    track: the track's centre is ``C = moving_point + R * c`` (``c``: ``curve_toward``
    made perpendicular to ``v``), and the segment turns by ``s / R`` about the axis through
    ``C`` along ``v x c``, the sign for which the moving point starts along ``+v``; the
    moving point then travels exactly ``s`` along the arc (:func:`device_pose`).
Several devices on one segment
    Each device is modelled as holding a small rigid frame of seven points on its moving
    footplate (the moving point and the points 5 mm from it along +-x, +-y, +-z of LPS)
    on that device's own pose. The segment takes the rigid motion that fits all these
    points best in the least-squares sense (Kabsch, no scaling). Because the frame is
    isotropic, the fit and the residuals do not depend on the frame's orientation. The
    residual at a device (RMS distance of its frame points under the solved pose and under
    its own pose) is the binding mismatch (:func:`solve_segment_pose`).
A segment that carries a joint
    A moving segment that still carries a condyle (one-sided ramus distraction) is held
    at the joint: it takes the best fit among the rotations about the condyle (two
    condyles: about the axis through both), :mod:`planner.motion.joint`. What the joint
    forbids shows as a residual at the device, as for several devices.
Segments
    Which segment a moving point lies on is found by the osteotomy module; here a
    :class:`Motion` maps distractor names to segment keys. Segments carrying fixed
    footplates are ground, except that a condyle on a proximal segment carrying one
    device is ESTIMATED to be forced by that device's mismatch (:func:`landmark_positions`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from planner.errors import PlannerError
from planner.geometry import (
    apply_affine,
    check_pose,
    invert_pose,
    rigid_pose,
    rotation_about_axis,
    unit,
)
from planner.motion.joint import fit_about_joints
from planner.motion.schedule import Schedule, length_at
from planner.plan.case import Device, Distractor

if TYPE_CHECKING:
    import trimesh

__all__ = [
    "Motion",
    "MotionSettings",
    "SegmentPose",
    "curvilinear_track",
    "device_pose",
    "footplate_points",
    "kabsch",
    "landmark_positions",
    "moved_mesh",
    "pose_at",
    "segment_poses",
    "solve_at",
    "solve_segment_pose",
    "vector_angles_deg",
]

_STROKE_TOL_MM = 1e-6


@dataclass(frozen=True)
class MotionSettings:
    """Model size and warning limits for the motion checks.

    Parameters
    ----------
    footplate_half_size_mm : float
        Half-size of the point frame that stands for a footplate in the bilateral fit.
    parallel_tolerance_deg : float
        Vectors on one segment further apart than this are reported as not parallel
        (navigated vectors are accurate to about 1.9-2.7 degrees).
    mismatch_warn_mm : float
        Binding mismatch (RMS at a footplate) above which a warning is given.
    vertical_warn_deg : float
        A vector steeper than this above or below the axial plane is "mostly vertical"
        (a vertical ramus vector gives a posterior open bite on that side).
    """

    footplate_half_size_mm: float = 5.0
    parallel_tolerance_deg: float = 2.5
    mismatch_warn_mm: float = 1.0
    vertical_warn_deg: float = 45.0


# ---------------------------------------------------------------------------------------
# One device


def curvilinear_track(distractor: Distractor, device: Device) -> tuple[np.ndarray, np.ndarray]:
    """Centre (3,) mm and unit rotation axis (3,) of a curvilinear device's track.

    The moving point turns about the axis through the centre by ``s / R`` radians for a
    distraction length ``s``; it starts along ``+vector``.
    """
    if device.kind != "curvilinear" or device.track_radius_mm is None:
        raise ValueError(f"device {device.name!r} is not curvilinear")
    if distractor.curve_toward is None:
        raise PlannerError(
            f"distractor {distractor.name!r}: curve_toward is required for the curvilinear"
            f" device {device.name!r}"
        )
    v = unit(distractor.vector, name=f"distractor {distractor.name!r} vector")
    c = np.asarray(distractor.curve_toward, dtype=float)
    c = c - v * float(c @ v)
    if np.linalg.norm(c) < 1e-6:
        raise PlannerError(
            f"distractor {distractor.name!r}: curve_toward is parallel to the vector; point it"
            " to the side of the vector where the track's centre lies"
        )
    c /= np.linalg.norm(c)
    centre = np.asarray(distractor.moving_point_mm, dtype=float) + device.track_radius_mm * c
    return centre, np.cross(v, c)


def device_pose(distractor: Distractor, device: Device, length_mm: float) -> np.ndarray:
    """The rigid transform one device alone imposes on its moving segment.

    Parameters
    ----------
    distractor : Distractor
        The placed device (moving point and vector in LPS mm).
    device : Device
        Its catalog entry (``device.name == distractor.device``).
    length_mm : float
        Distraction length, 0 to the device's stroke.

    Returns
    -------
    (4, 4) float
        Pose acting on column vectors, LPS mm.
    """
    if device.name != distractor.device:
        raise ValueError(
            f"device is {device.name!r} but distractor {distractor.name!r} uses {distractor.device!r}"
        )
    s = float(length_mm)
    if not math.isfinite(s) or s < -_STROKE_TOL_MM or s > device.stroke_mm + _STROKE_TOL_MM:
        raise PlannerError(
            f"distractor {distractor.name!r}: length {s:g} mm is outside the stroke of"
            f" {device.name!r} (0-{device.stroke_mm:g} mm)"
        )
    v = unit(distractor.vector, name=f"distractor {distractor.name!r} vector")
    if device.kind == "linear":
        return rigid_pose(np.eye(3), s * v)
    centre, axis = curvilinear_track(distractor, device)
    rot = rotation_about_axis(axis, s / device.track_radius_mm)
    return rigid_pose(rot, centre - rot @ centre)


# ---------------------------------------------------------------------------------------
# Several devices on one segment


def footplate_points(point_mm, *, half_size_mm: float = 5.0) -> np.ndarray:
    """(7, 3) frame standing for a footplate: the point and the points +-h along x, y, z."""
    offsets = np.vstack([np.zeros(3), np.eye(3), -np.eye(3)]) * float(half_size_mm)
    return np.asarray(point_mm, dtype=float) + offsets


@dataclass(frozen=True)
class SegmentPose:
    """The rigid motion of one segment driven by one or more devices.

    Attributes
    ----------
    matrix : (4, 4) float
        The solved pose.
    residual_mm : dict str -> float
        Per distractor: RMS distance between its footplate frame under ``matrix`` and
        under the device's own pose (the binding mismatch); 0 for a single device.
    residual_max_mm : dict str -> float
        The same, largest distance over the frame.
    residual_vector_mm : dict str -> (3,) float
        Per distractor: where the solved pose puts the moving point minus where the device
        alone would put it.
    device_poses : dict str -> (4, 4) float
        Each device's own pose.
    """

    matrix: np.ndarray
    residual_mm: dict[str, float]
    residual_max_mm: dict[str, float]
    residual_vector_mm: dict[str, np.ndarray]
    device_poses: dict[str, np.ndarray]


def kabsch(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(4, 4) rigid transform minimising the squared distances from ``source`` to ``target``.

    Both (n, 3), n >= 3 points not all on a line; no scaling.
    """
    src_c, dst_c = source.mean(axis=0), target.mean(axis=0)
    h = (source - src_c).T @ (target - dst_c)
    u, _, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(vt.T @ u.T)) or 1.0
    rot = vt.T @ np.diag([1.0, 1.0, d]) @ u.T
    return rigid_pose(rot, dst_c - rot @ src_c)


def solve_segment_pose(
    distractors: Sequence[Distractor],
    devices: Mapping[str, Device],
    lengths_mm: Mapping[str, float] | Sequence[float],
    *,
    footplate_half_size_mm: float = 5.0,
    joints_mm=None,
) -> SegmentPose:
    """The rigid motion of one segment that best satisfies all its devices.

    Parameters
    ----------
    distractors : sequence of Distractor
        The devices whose moving footplates are on this segment (at least one).
    devices : mapping str -> Device
        Catalog by device name.
    lengths_mm : mapping name -> float, or sequence aligned with ``distractors``
        Distraction length of each device.
    footplate_half_size_mm : float
        Half-size of each footplate's point frame (see the module notes).
    joints_mm : (k, 3) float, optional
        Joint points the segment carries (k = 1 or 2, e.g. condyles): they stay still and
        the segment turns about them (:func:`planner.motion.joint.fit_about_joints`).

    Returns
    -------
    SegmentPose
        Exact (zero residual) for one device, or for devices whose own poses agree,
        when the segment carries no joint.
    """
    distractors = tuple(distractors)
    if not distractors:
        raise ValueError("distractors must not be empty")
    if isinstance(lengths_mm, Mapping):
        lengths = [float(lengths_mm[d.name]) for d in distractors]
    else:
        lengths = [float(x) for x in lengths_mm]
        if len(lengths) != len(distractors):
            raise ValueError("lengths_mm must give one length per distractor")
    own = {}
    for d, s in zip(distractors, lengths, strict=True):
        if d.device not in devices:
            raise PlannerError(
                f"distractor {d.name!r} uses device {d.device!r}, not in the catalog"
            )
        own[d.name] = device_pose(d, devices[d.device], s)
    frames = {
        d.name: footplate_points(d.moving_point_mm, half_size_mm=footplate_half_size_mm)
        for d in distractors
    }
    src = np.vstack([frames[d.name] for d in distractors])
    dst = np.vstack([apply_affine(own[d.name], frames[d.name]) for d in distractors])
    if joints_mm is not None and len(joints_mm):
        matrix = fit_about_joints(src, dst, joints_mm)
    elif len(distractors) == 1:
        matrix = own[distractors[0].name]
    else:
        matrix = kabsch(src, dst)
    rms, worst, vec = {}, {}, {}
    for d in distractors:
        gap = apply_affine(matrix, frames[d.name]) - apply_affine(own[d.name], frames[d.name])
        dist = np.linalg.norm(gap, axis=1)
        rms[d.name] = float(np.sqrt(np.mean(dist**2)))
        worst[d.name] = float(dist.max())
        vec[d.name] = gap[0]
    return SegmentPose(matrix, rms, worst, vec, own)


def vector_angles_deg(distractors: Sequence[Distractor]) -> np.ndarray:
    """(n, n) angles between the distractors' vectors, degrees (0 on the diagonal)."""
    vs = np.array([unit(d.vector, name=f"distractor {d.name!r} vector") for d in distractors])
    n = len(vs)
    out = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            sin = np.linalg.norm(np.cross(vs[i], vs[j]))
            out[i, j] = out[j, i] = math.degrees(math.atan2(sin, float(vs[i] @ vs[j])))
    return out


# ---------------------------------------------------------------------------------------
# Segments over time


@dataclass(frozen=True)
class Motion:
    """Which segment each distractor moves, and which carries its fixed footplate.

    Parameters
    ----------
    segment_of : mapping distractor name -> segment key
        The segment holding the moving footplate (found by the osteotomy module).
    fixed_segment_of : mapping distractor name -> segment key, optional
        The segment holding the fixed footplate; used only to estimate how binding
        forces a proximal segment (e.g. a condyle). Such segments are ground.
    joints_mm : mapping segment key -> (k, 3) float, optional
        Joint points (condyles, LPS mm) a moving segment carries: the segment turns about
        them instead of translating (see :func:`solve_segment_pose`).
    """

    segment_of: Mapping[str, str]
    fixed_segment_of: Mapping[str, str] = field(default_factory=dict)
    joints_mm: Mapping[str, tuple] = field(default_factory=dict)

    def __post_init__(self):
        moving = set(self.segment_of.values())
        for name, key in self.fixed_segment_of.items():
            if self.segment_of.get(name) == key:
                raise PlannerError(
                    f"distractor {name!r} has both footplates on segment {key!r}:"
                    " the cut does not separate them; move a footplate or the cut"
                )
            if key in moving:
                raise PlannerError(
                    f"distractor {name!r} has its fixed footplate on segment {key!r}, which"
                    " another distractor moves; chained segments are not supported"
                )
        stray = sorted(set(self.joints_mm) - moving)
        if stray:
            raise ValueError(f"joints_mm names segments no distractor moves: {', '.join(stray)}")

    @property
    def segments(self) -> dict[str, tuple[str, ...]]:
        """Moving segment key -> names of the distractors moving it."""
        out: dict[str, tuple[str, ...]] = {}
        for name, key in self.segment_of.items():
            out[key] = (*out.get(key, ()), name)
        return out


def _check_motion(motion: Motion, schedule: Schedule) -> None:
    names = set(schedule.plans)
    unknown = sorted((set(motion.segment_of) | set(motion.fixed_segment_of)) - names)
    if unknown:
        raise ValueError(f"motion names distractors not in the schedule: {', '.join(unknown)}")
    missing = sorted(names - set(motion.segment_of))
    if missing:
        raise ValueError(f"motion gives no moving segment for: {', '.join(missing)}")


def solve_at(
    motion: Motion,
    schedule: Schedule,
    t_days: float,
    *,
    continuous: bool = False,
    settings: MotionSettings | None = None,
) -> dict[str, SegmentPose]:
    """:class:`SegmentPose` of every moving segment at ``t_days`` (days since surgery)."""
    settings = settings or MotionSettings()
    _check_motion(motion, schedule)
    out = {}
    for key, names in motion.segments.items():
        plans = [schedule.plans[n] for n in names]
        out[key] = solve_segment_pose(
            [p.distractor for p in plans],
            {p.device.name: p.device for p in plans},
            {n: length_at(schedule, n, t_days, continuous=continuous) for n in names},
            footplate_half_size_mm=settings.footplate_half_size_mm,
            joints_mm=motion.joints_mm.get(key),
        )
    return out


def pose_at(
    motion: Motion,
    schedule: Schedule,
    t_days: float,
    *,
    continuous: bool = False,
    settings: MotionSettings | None = None,
) -> dict[str, np.ndarray]:
    """(4, 4) pose of every moving segment at ``t_days`` (days since surgery).

    ``continuous`` as in :func:`planner.motion.schedule.length_at` (True for smooth animation).
    """
    solved = solve_at(motion, schedule, t_days, continuous=continuous, settings=settings)
    return {key: sp.matrix for key, sp in solved.items()}


def segment_poses(
    motion: Motion,
    schedule: Schedule,
    *,
    continuous: bool = False,
    settings: MotionSettings | None = None,
) -> Callable[[float], dict[str, np.ndarray]]:
    """A function ``t_days -> {segment key: (4, 4) pose}`` (see :func:`pose_at`)."""
    _check_motion(motion, schedule)

    def poses(t_days: float) -> dict[str, np.ndarray]:
        return pose_at(motion, schedule, t_days, continuous=continuous, settings=settings)

    return poses


BINDING_ESTIMATE = (
    "ESTIMATE: assumes rigid devices and that this segment, free at its joint, takes up"
    " the whole mismatch of distractor {name!r}"
)


def landmark_positions(
    motion: Motion,
    schedule: Schedule,
    landmarks_mm: Mapping[str, Sequence[float]],
    landmark_segments: Mapping[str, str],
    t_days: float,
    *,
    binding: bool = True,
    continuous: bool = False,
    settings: MotionSettings | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Where each landmark is at ``t_days``.

    A landmark on a moving segment moves with its pose. A landmark on the segment that
    carries the fixed footplate of exactly one distractor ``i`` (a proximal segment, e.g.
    with a condyle), whose moving segment is shared with other distractors, is, with
    ``binding``, moved by ``T @ inv(T_i)`` (``T`` the solved pose
    of ``i``'s moving segment, ``T_i`` device ``i``'s own pose): near the footplate this is
    ``residual_vector_mm[i]``, the device pushing back on its fixed footplate. That
    position is an estimate and is labelled. Every other landmark (on ground, or not
    in ``landmark_segments``) stays where it is.

    Returns
    -------
    positions : dict name -> (3,) float
    estimates : dict name -> str
        The label of each estimated position.
    """
    solved = solve_at(motion, schedule, t_days, continuous=continuous, settings=settings)
    carriers: dict[str, list[str]] = {}
    for name, key in motion.fixed_segment_of.items():
        carriers.setdefault(key, []).append(name)
    positions, estimates = {}, {}
    for name, point in landmarks_mm.items():
        p = np.asarray(point, dtype=float)
        key = landmark_segments.get(name)
        if key in solved:
            positions[name] = apply_affine(solved[key].matrix, p)
        elif (
            binding
            and len(carriers.get(key, ())) == 1
            and len(motion.segments[motion.segment_of[carriers[key][0]]]) > 1
        ):
            dname = carriers[key][0]
            sp = solved[motion.segment_of[dname]]
            forced = sp.matrix @ invert_pose(sp.device_poses[dname])
            positions[name] = apply_affine(forced, p)
            estimates[name] = BINDING_ESTIMATE.format(name=dname)
        else:
            positions[name] = p.copy()
    return positions, estimates


def moved_mesh(mesh: trimesh.Trimesh, pose) -> trimesh.Trimesh:
    """A copy of ``mesh`` moved by the rigid (4, 4) ``pose``."""
    import trimesh

    if not isinstance(mesh, trimesh.Trimesh):
        raise TypeError(f"mesh must be a trimesh.Trimesh, got {type(mesh).__name__}")
    pose = check_pose(pose, "pose")
    out = mesh.copy()
    out.apply_transform(pose)
    return out

"""Clearances between bone pieces along a distraction: :func:`collision_sweep`."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Hashable, Mapping, Sequence

import numpy as np
import trimesh

from planner.errors import PlannerError
from planner.geometry import apply_affine, check_pose, invert_pose, to_trimesh
from planner.motion.collision.clearance import as_meshes
from planner.motion.collision.cull import within_reach
from planner.motion.collision.overlap import ON_SURFACE_MM, crop, inside, overlap, solid_of
from planner.motion.collision.pair import Pair
from planner.motion.collision.report import CollisionReport, Contact, InitialContact, day_of
from planner.motion.collision.surface import Surface
from planner.progress import ProgressFn

__all__ = ["collision_sweep"]


class _Poses:
    """``pose_at`` with checks and a cache; static pieces stay at the identity."""

    def __init__(self, pose_at, moving_keys, t_start: float):
        self.pose_at, self.keys, self.t_start, self.cache = pose_at, moving_keys, t_start, {}

    def __call__(self, t: float) -> dict:
        if t not in self.cache:
            got = self.pose_at(t)
            if not isinstance(got, Mapping):
                raise TypeError(f"pose_at({t}) must return a dict, got {type(got).__name__}")
            missing = [k for k in self.keys if k not in got]
            if missing:
                raise ValueError(f"pose_at({t}) gives no pose for moving piece(s) {missing}")
            self.cache[t] = {k: check_pose(got[k], f"pose_at({t})[{k!r}]") for k in self.keys}
        return self.cache[t]


class _Track:
    """Distances over time between a moving piece and another piece (static or moving)."""

    def __init__(self, moving, other, surfaces, meshes, poses, times, zone_mm, contact_mm, cull):
        self.moving, self.other, self.poses = moving, other, poses
        self.a, self.b = surfaces[moving], surfaces[other]
        self.pairs = [Pair(self.a, self.b)]
        self.zone_pair = None
        self.cache: dict[float, tuple] = {}
        self.by_pose: dict[tuple, tuple | float] = {}
        self.evaluations, self.initial = 1, None
        self._start(meshes, times, zone_mm, contact_mm)
        if cull:
            self._cull(times)

    def _start(self, meshes, times, zone_mm, contact_mm):
        """Distance at the start; an initial contact splits the moving piece in its zone
        and the rest."""
        moving, other, poses = self.moving, self.other, self.poses
        rel, to = self.relative(poses.t_start)
        d, pa, pb = self.pairs[0].distance(rel)
        if d > 0.0 and inside(self.a, rel, self.b):
            raise PlannerError(
                f"pieces {moving!r} and {other!r} lie one inside the other at the start: check "
                "the segments (each piece must be a separate closed surface)"
            )
        if d > contact_mm:
            return
        # initial contact: the part of the moving piece near the other one is its zone
        solids = [solid_of(meshes[k]) for k in (moving, other)]
        volume, depth = overlap(solids[0], rel, solids[1], self.a, self.b) if d == 0 else (0, 0)
        radius = max(zone_mm, contact_mm)
        in_zone = self.pairs[0].faces_within(rel, radius)[0]
        if volume > 0:  # faces sunk into the other piece belong to the zone too
            core = to_trimesh(solids[0].transform(rel[:3, :].tolist()) ^ solids[1])
            core = Surface(core.vertices, core.faces)
            in_zone |= core.distance_to(apply_affine(rel, self.a.centroids)) <= ON_SURFACE_MM
        zone, rest = self.a.subset(in_zone), self.a.subset(~in_zone)
        self.pairs = [Pair(rest, self.b)] if rest is not None else []
        self.zone, self.zone_pair = zone, Pair(zone, self.b)
        # overlaps of the zone are measured on solids cropped around it (and where it goes)
        lo, hi = zone.vertices.min(0) - radius - 2.0, zone.vertices.max(0) + radius + 2.0
        corners = np.array([[(lo, hi)[(c >> k) & 1][k] for k in range(3)] for c in range(8)])
        swept = np.vstack([apply_affine(self.relative(t)[0], corners) for t in times])
        self.zone_solids = (
            None if solids[0] is None else crop(solids[0], lo, hi),
            None if solids[1] is None else crop(solids[1], swept.min(0), swept.max(0)),
        )
        self.initial = (d, apply_affine(to, pa), apply_affine(to, pb), depth, volume)

    def _cull(self, times):
        """Measure against the faces of the other piece within reach of the moving piece's
        whole path only (:func:`within_reach`); overlaps and containment still use all of
        it."""
        parts = [p.a for p in self.pairs]
        if self.zone_pair is not None:
            parts.append(self.zone_pair.a)
        rel = [self.relative(t)[0] for t in times]
        keep = within_reach(self.a, parts, rel, self.b, _largest_step(self.a.hull, rel))
        if keep.all():
            return
        near = self.b.subset(keep)
        self.pairs = [Pair(p.a, near) for p in self.pairs]
        if self.zone_pair is not None:
            self.zone_pair = Pair(self.zone_pair.a, near)

    def relative(self, t: float):
        """Pose of the moving piece in the other's frame, and the other's pose, at ``t``."""
        poses = self.poses(t)
        to = poses.get(self.other, np.eye(4))
        return invert_pose(to) @ poses[self.moving], to

    def __call__(self, t: float):
        """``(distance, point_on_moving, point_on_other)`` at ``t`` (LPS mm), cached by
        time and by relative pose (poses hold still between activations)."""
        if t not in self.cache:
            rel, to = self.relative(t)
            d, pa, pb = self._measured(("rest", rel.tobytes()), rel, self._distance)
            self.cache[t] = (d, apply_affine(to, pa), apply_affine(to, pb))
        return self.cache[t]

    def _measured(self, key, rel, measure):
        if key not in self.by_pose:
            self.by_pose[key] = measure(rel)
        return self.by_pose[key]

    def _distance(self, rel):
        """``(distance, point_on_moving, point_on_other)`` in the other's frame."""
        best = (math.inf, np.full(3, np.nan), np.full(3, np.nan))
        for pair in self.pairs:
            d, pa, pb = pair.distance(rel)
            self.evaluations += 1
            if d < best[0]:
                best = (d, pa, pb)
        return best

    def zone_clearance(self, t: float) -> float:
        """Signed clearance of the initial contact zone to the other piece (negative: the
        depth it has sunk in)."""
        rel, _ = self.relative(t)
        return self._measured(("zone", rel.tobytes()), rel, self._zone_clearance)

    def _zone_clearance(self, rel) -> float:
        d = self.zone_pair.distance(rel)[0]
        self.evaluations += 1
        if d > 0.0:
            return d
        solid_a, solid_b = self.zone_solids
        depth = overlap(solid_a, rel, solid_b, self.a, self.b, self.zone)[1]
        return -depth if np.isfinite(depth) else 0.0

    def motion(self, t1: float, t2: float) -> float:
        """Largest displacement of a point of the moving piece, relative to the other."""
        r1, r2 = self.relative(t1)[0], self.relative(t2)[0]
        moved = apply_affine(r2, self.a.hull) - apply_affine(r1, self.a.hull)
        return float(np.linalg.norm(moved, axis=1).max())


def _largest_step(points: np.ndarray, poses: Sequence[np.ndarray]) -> float:
    """Largest displacement of ``points (n, 3)`` between consecutive ``poses`` (mm)."""
    moved = [apply_affine(pose, points) for pose in poses]
    steps = [np.linalg.norm(q - p, axis=1).max() for p, q in itertools.pairwise(moved)]
    return float(max(steps, default=0.0))


class _Counter:
    """Progress in true units: each sample of a pair's table, each sample of an initial
    contact zone, and each pair's refinement (which also reports while it runs)."""

    def __init__(self, progress: ProgressFn | None, total: int):
        self.progress, self.done, self.total = progress, 0, total

    def show(self) -> None:
        if self.progress is not None:
            self.progress("collision sweep", self.done, self.total)

    def step(self) -> None:
        self.done += 1
        self.show()


def _refine(track: _Track, times, values, precision_mm, contact_mm, time_tol_days, tick):
    """Bisect between samples for the first contact and the smallest distance.

    Between two times no point moves farther than ``m`` (the largest displacement between
    them, :meth:`_Track.motion`) from either end, so the distance stays above
    ``max(d1, d2) - m``; intervals are split until that bound clears the contact threshold
    (and the smallest distance so far, less ``precision_mm``) or ``m <= precision_mm``.
    """
    contact = None
    k = int(np.argmin(values))
    best = (float(values[k]), float(times[k]))
    stack = [(times[n], times[n + 1]) for n in range(len(times) - 1)][::-1]
    while stack:
        tick()
        t1, t2 = stack.pop()
        (d1, p1a, p1b), (d2, *_) = track(t1), track(t2)
        motion = track.motion(t1, t2)
        lower = max(d1, d2, motion) - motion  # distances are never negative
        want_contact = contact is None and d1 > contact_mm and lower <= contact_mm
        if not want_contact and lower >= best[0] - precision_mm:
            continue
        if motion <= precision_mm or t2 - t1 <= time_tol_days:
            if want_contact and d2 <= contact_mm:
                contact = Contact(
                    float(t2),
                    day_of(t2),
                    float(t1),
                    motion,
                    track.moving,
                    track.other,
                    float(d2),
                    p1a,
                    p1b,
                )
            continue
        tm = 0.5 * (t1 + t2)
        dm = track(tm)[0]
        if dm < best[0]:
            best = (float(dm), float(tm))
        stack += [(tm, t2), (t1, tm)]
    return contact, best


def _sample_times(t_start, t_end, max_step_days, extra) -> np.ndarray:
    n = max(1, math.ceil((t_end - t_start) / max_step_days - 1e-9))
    times = np.concatenate([np.linspace(t_start, t_end, n + 1), np.asarray(extra, float)])
    times = times[(times >= t_start) & (times <= t_end)]
    return np.unique(np.round(times, 9))


def collision_sweep(
    moving_meshes: Mapping[Hashable, trimesh.Trimesh],
    static_meshes: Mapping[Hashable, trimesh.Trimesh] | Sequence[trimesh.Trimesh],
    pose_at: Callable[[float], Mapping[Hashable, np.ndarray]],
    t_start_days: float,
    t_end_days: float,
    *,
    schedule_times: Sequence[float] = (),
    precision_mm: float = 0.1,
    contact_mm: float = 0.0,
    max_step_days: float = 1.0,
    zone_mm: float = 0.5,
    time_tolerance_days: float = 1e-3,
    cull: bool = True,
    progress: ProgressFn | None = None,
) -> CollisionReport:
    """Clearances between each moving piece and the rest of the bone along the movement.

    Parameters
    ----------
    moving_meshes : dict of key -> trimesh.Trimesh
        The segments that move, in their start position (LPS mm).
    static_meshes : dict of key -> trimesh.Trimesh, or sequence
        The pieces that stay; a sequence gets keys ``"static 0"``, ``"static 1"``...
    pose_at : callable
        ``pose_at(t_days)`` returns ``{key: (4, 4) rigid transform}`` for every moving key,
        applied to its start position (``p' = T[:3, :3] @ p + T[:3, 3]``), e.g.
        :func:`planner.motion.distraction.segment_poses`.
    t_start_days, t_end_days : float
        The time span (days).
    schedule_times : sequence of float, optional
        Activation times: each becomes a sample of the table.
    precision_mm : float, optional
        Largest motion between the bracketing times of a first contact, and tolerance on the
        smallest distance over the sweep.
    contact_mm : float, optional
        Distance at or below which two pieces are in contact (a clearance margin).
    max_step_days : float, optional
        Longest interval between samples.
    zone_mm : float, optional
        Pieces within ``contact_mm`` at the start are an initial contact; the triangles of
        the moving piece within ``max(zone_mm, contact_mm)`` of the other form its contact
        zone (see :class:`InitialContact`).
    time_tolerance_days : float, optional
        Shortest interval bisected: a pose that jumps at an activation cannot be split
        below the jump (:attr:`Contact.motion_mm` then shows the jump).
    cull : bool, optional
        Measure each pair against the faces of the other piece within reach of the moving
        piece's whole path only (the same answers, much faster on a large skull); False
        measures against all of them.
    progress : callable(task, done, total), optional
        Called as ``progress("collision sweep", done, total)`` after each sampled time of
        each pair and of each initial contact zone, and after each pair's refinement
        (``total`` counts them all); repeated with the same ``done`` while a refinement
        runs.

    Returns
    -------
    CollisionReport

    Notes
    -----
    Between two samples each point is assumed to stay within the distance it travels
    between them (true for translations, rotations of less than 180° about a fixed axis,
    and poses that hold still between activations). Every pair of a moving piece with a
    static piece or another moving piece is checked.
    """
    if not isinstance(moving_meshes, Mapping) or not moving_meshes:
        raise TypeError("moving_meshes must be a non-empty dict of trimesh.Trimesh")
    if isinstance(static_meshes, Mapping):
        statics = dict(static_meshes)
    else:
        statics = {f"static {i}": m for i, m in enumerate(as_meshes(static_meshes, "static"))}
    clash = set(statics) & set(moving_meshes)
    if clash:
        raise ValueError(f"keys {sorted(map(str, clash))} are both moving and static")
    meshes = {**dict(moving_meshes), **statics}
    for key, mesh in meshes.items():
        as_meshes(mesh, f"mesh {key!r}")
    t_start_days, t_end_days = float(t_start_days), float(t_end_days)
    if not t_end_days >= t_start_days:
        raise ValueError(
            f"t_end_days ({t_end_days}) must not precede t_start_days ({t_start_days})"
        )
    for name, value in (
        ("precision_mm", precision_mm),
        ("max_step_days", max_step_days),
        ("time_tolerance_days", time_tolerance_days),
    ):
        if not value > 0:
            raise ValueError(f"{name} must be > 0, got {value}")
    if not (contact_mm >= 0 and zone_mm >= 0):
        raise ValueError(f"contact_mm and zone_mm must be >= 0, got {contact_mm}, {zone_mm}")

    keys = list(moving_meshes)
    poses = _Poses(pose_at, keys, t_start_days)
    surfaces = {k: Surface(m.vertices, m.faces) for k, m in meshes.items()}
    pairs = [(m, o) for m in keys for o in statics]
    pairs += [(m, o) for n, m in enumerate(keys) for o in keys[n + 1 :]]
    times = _sample_times(t_start_days, t_end_days, max_step_days, schedule_times)
    tracks = [
        _Track(m, o, surfaces, meshes, poses, times, zone_mm, contact_mm, cull) for m, o in pairs
    ]
    distance, min_d, min_t, contacts, initial = {}, {}, {}, [], []
    counter = _Counter(
        progress, sum(len(times) * (1 + (tr.initial is not None)) + 1 for tr in tracks)
    )
    counter.show()
    for tr in tracks:
        pair = (tr.moving, tr.other)
        values = []
        for t in times:
            values.append(tr(t)[0])
            counter.step()
        distance[pair] = np.array(values)
        contact, (min_d[pair], min_t[pair]) = _refine(
            tr, times, distance[pair], precision_mm, contact_mm, time_tolerance_days, counter.show
        )
        counter.step()
        if contact is not None:
            contacts.append(contact)
        if tr.initial is not None:
            zone = []
            for t in times:
                zone.append(tr.zone_clearance(t))
                counter.step()
            zone = np.array(zone)
            worse = np.flatnonzero(zone < zone[0] - precision_mm)
            when = float(times[worse[0]]) if len(worse) else None
            initial.append(InitialContact(tr.moving, tr.other, *tr.initial, zone, when))
    contacts.sort(key=lambda c: c.t_days)
    return CollisionReport(
        times,
        distance,
        min_d,
        min_t,
        tuple(contacts),
        tuple(initial),
        precision_mm,
        contact_mm,
        zone_mm,
        sum(tr.evaluations for tr in tracks),
    )

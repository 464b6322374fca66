"""What a picture of the plan shows: bone, segments, devices, vectors and cuts at a day.

:func:`scene_at` returns a list of :class:`SceneItem`: a mesh in LPS mm, a colour, and
the rigid pose to apply to that mesh at the requested day. The meshes of the bone, the
segments, the vectors and the cut planes do not change with the day (only their poses
do) and are cached per plan, so calling :func:`scene_at` for every frame of a clip costs
little; the devices are rebuilt at their length of the day (a few hundred triangles).

Item names
    ``segment:<segment name>`` for every bone segment (role ``fixed`` or ``moving``),
    ``device:<distractor>``, ``vector:<distractor>``, ``cut:<osteotomy>``; ``skin`` and
    ``guide:<name>`` are added by the modules that make them.

The device drawing is schematic, not a vendor model: a footplate (8 x 14 x 1.5 mm) on the
bone at each footplate point, lying on the bone surface there, and a rod of 2.5 mm
diameter along the vector, from the fixed footplate's level to the moving footplate's
position of the day (a curvilinear device's rod is drawn straight to that position).
"""

from __future__ import annotations

import functools
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import trimesh

__all__ = [
    "MOVING_COLORS",
    "ROLES",
    "ROLE_COLORS",
    "SceneItem",
    "device_mesh",
    "moving_segments",
    "scene_at",
    "segment_colors",
]

ROLES = ("fixed", "moving", "device", "vector", "cut", "skin", "guide")

# RGBA 0-255. Bone ivory for what stays; cut planes translucent yellow; skin translucent.
ROLE_COLORS: dict[str, tuple[int, int, int, int]] = {
    "fixed": (226, 219, 200, 255),
    "moving": (235, 125, 40, 255),
    "device": (120, 130, 145, 255),
    "vector": (210, 35, 45, 255),
    "cut": (250, 205, 30, 150),
    "skin": (225, 180, 155, 255),
    "guide": (60, 170, 110, 255),
}
# Each moving segment takes the next of these (the first equals ROLE_COLORS["moving"]);
# chosen to stay apart from bone ivory, the red vectors and the yellow cuts.
MOVING_COLORS: tuple[tuple[int, int, int, int], ...] = (
    (235, 125, 40, 255),  # orange
    (45, 115, 215, 255),  # blue
    (150, 70, 190, 255),  # purple
    (30, 160, 150, 255),  # teal
    (200, 60, 130, 255),  # magenta
    (110, 160, 40, 255),  # olive green
)

FOOTPLATE_MM = (14.0, 8.0, 1.5)  # along the vector, across it, thickness
ROD_DIAMETER_MM = 2.5
ROD_OVERHANG_MM = 4.0  # rod beyond the moving footplate
ARROW_SHAFT_MM = 1.2  # shaft radius
ARROW_HEAD_MM = (3.0, 7.0)  # head radius, head length
CUT_THICKNESS_MM = 0.4


@dataclass(frozen=True, eq=False)
class SceneItem:
    """One thing to draw.

    Attributes
    ----------
    name : str
        See the module notes (``"segment:mandible_moving_left"``, ``"device:left"``...).
    role : str
        One of :data:`ROLES`.
    mesh : trimesh.Trimesh
        The mesh at day 0 (for devices: already at the day's length), LPS mm.
    color_rgba : tuple of 4 int, 0-255
    pose : (4, 4) float
        Rigid transform to apply to ``mesh`` at the requested day.
    """

    name: str
    role: str
    mesh: trimesh.Trimesh
    color_rgba: tuple[int, int, int, int]
    pose: np.ndarray

    def posed_mesh(self) -> trimesh.Trimesh:
        """A copy of the mesh moved by :attr:`pose` (the mesh itself when identity)."""
        if np.allclose(self.pose, np.eye(4)):
            return self.mesh
        out = self.mesh.copy()
        out.apply_transform(self.pose)
        return out


_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def moving_segments(plan) -> list[str]:
    """Names of the segments that move, in segment order."""
    return [n for n in plan.segments if plan.roles.get(n, "").startswith("moving")]


def segment_colors(plan) -> dict[str, tuple[int, int, int, int]]:
    """Segment name -> colour: bone ivory for fixed ones, one colour per moving one."""
    moving = moving_segments(plan)
    return {
        n: MOVING_COLORS[moving.index(n) % len(MOVING_COLORS)]
        if n in moving
        else ROLE_COLORS["fixed"]
        for n in plan.segments
    }


def _static_items(plan) -> dict:
    """The day-independent meshes of a plan, made once per plan object."""
    try:
        return _CACHE[plan]
    except KeyError:
        pass
    from planner.plan.cuts import osteotomy_frame

    colors = segment_colors(plan)
    moving = set(moving_segments(plan))
    segments = [
        (f"segment:{n}", "moving" if n in moving else "fixed", mesh, colors[n])
        for n, mesh in plan.segments.items()
    ]
    cuts = []
    for ost in plan.case.osteotomies:
        import trimesh

        slab = trimesh.creation.box(
            extents=(*ost.size_mm, CUT_THICKNESS_MM), transform=osteotomy_frame(ost)
        )
        cuts.append((f"cut:{ost.name}", slab))
    vectors, plates = [], {}
    segment_of = dict(plan.motion.segment_of) if plan.motion is not None else {}
    for d in plan.case.distractors:
        length = _planned_mm(plan, d) + 6.0
        vectors.append((f"vector:{d.name}", arrow_mesh(d.moving_point_mm, d.vector, length)))
        fixed_seg = (plan.motion.fixed_segment_of.get(d.name) if plan.motion else None) or ""
        plates[d.name] = (
            _footplate(plan.segments.get(fixed_seg), d.fixed_point_mm, d.vector),
            _footplate(plan.segments.get(segment_of.get(d.name, "")), d.moving_point_mm, d.vector),
        )
    static = {"segments": segments, "cuts": cuts, "vectors": vectors, "plates": plates}
    _CACHE[plan] = static
    return static


def _planned_mm(plan, d) -> float:
    if plan.schedule is not None and d.name in plan.schedule.plans:
        return float(plan.schedule.plans[d.name].planned_mm)
    return float(d.target_mm)


def _unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=float)
    return v / np.linalg.norm(v)


def _frame(z, hint) -> np.ndarray:
    """(3, 3) rotation whose third column is ``z`` and first lies toward ``hint``."""
    z = _unit(z)
    x = np.asarray(hint, dtype=float) - z * float(np.dot(hint, z))
    if np.linalg.norm(x) < 1e-6:
        x = np.cross(z, [1.0, 0.0, 0.0] if abs(z[0]) < 0.9 else [0.0, 1.0, 0.0])
    x = _unit(x)
    return np.column_stack([x, np.cross(z, x), z])


def _footplate(mesh, point, vector) -> trimesh.Trimesh:
    """A thin plate at ``point`` lying on ``mesh``'s surface, long side along the vector."""
    import trimesh

    p = np.asarray(point, dtype=float)
    normal = np.asarray(vector, dtype=float)
    if mesh is not None and len(mesh.faces):
        closest, _, tri = trimesh.proximity.closest_point(mesh, p[None])
        p, normal = closest[0], mesh.face_normals[tri[0]]
    t = np.eye(4)
    t[:3, :3] = _frame(normal, vector)
    t[:3, 3] = p + t[:3, 2] * FOOTPLATE_MM[2] / 2
    return trimesh.creation.box(extents=FOOTPLATE_MM, transform=t)


@functools.cache
def _unit_cylinder(sections: int) -> tuple[np.ndarray, np.ndarray]:
    """Vertices and faces of a closed cylinder of radius 1 and height 1 along z."""
    import trimesh

    unit = trimesh.creation.cylinder(radius=1.0, height=1.0, sections=sections)
    return np.array(unit.vertices), np.array(unit.faces)


def cylinder_between(a, b, radius_mm: float, sections: int = 12) -> trimesh.Trimesh:
    """A closed cylinder of ``radius_mm`` from point ``a`` to point ``b`` (LPS mm).

    The unit cylinder is scaled and placed (made once: the day slider asks for the
    devices at every step).
    """
    import trimesh

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    length = max(float(np.linalg.norm(b - a)), 1e-3)
    rotation = _frame(b - a if length > 1e-3 else [0, 0, 1], [1.0, 0.0, 0.0])
    vertices, faces = _unit_cylinder(sections)
    placed = (vertices * [radius_mm, radius_mm, length]) @ rotation.T + (a + b) / 2
    return trimesh.Trimesh(placed, faces.copy(), process=False)


def arrow_mesh(start, direction, length_mm: float) -> trimesh.Trimesh:
    """An arrow from ``start`` along ``direction`` (unit-ised), ``length_mm`` long."""
    import trimesh

    v = _unit(direction)
    start = np.asarray(start, dtype=float)
    head_r, head_len = ARROW_HEAD_MM
    tip = start + v * length_mm
    neck = tip - v * min(head_len, 0.5 * length_mm)
    shaft = cylinder_between(start, neck, ARROW_SHAFT_MM)
    t = np.eye(4)
    t[:3, :3] = _frame(v, [1.0, 0.0, 0.0])
    t[:3, 3] = neck
    head = trimesh.creation.cone(
        radius=head_r, height=float(np.linalg.norm(tip - neck)), sections=16, transform=t
    )
    return trimesh.util.concatenate([shaft, head])


def device_mesh(plan, distractor, moving_pose: np.ndarray) -> trimesh.Trimesh:
    """The schematic device of ``distractor`` with its moving footplate at ``moving_pose``.

    Parameters
    ----------
    plan : planner.pipeline.build.Plan
    distractor : planner.plan.case.Distractor
    moving_pose : (4, 4) float
        Pose of the moving segment at the day drawn.
    """
    import trimesh

    fixed_plate, moving_plate = _static_items(plan)["plates"][distractor.name]
    v = _unit(distractor.vector)
    p0 = np.asarray(distractor.moving_point_mm, dtype=float)
    f = np.asarray(distractor.fixed_point_mm, dtype=float)
    p = moving_pose[:3, :3] @ p0 + moving_pose[:3, 3]
    start = p0 + v * float(np.dot(f - p0, v))  # the fixed footplate's level on the rod axis
    # the rod sits on the plates: from the fixed footplate along the vector, to the moving one
    rod = cylinder_between(start, p + v * ROD_OVERHANG_MM, ROD_DIAMETER_MM / 2)
    arm = cylinder_between(f, start, ROD_DIAMETER_MM / 2 * 0.8)
    plate = moving_plate.vertices @ moving_pose[:3, :3].T + moving_pose[:3, 3]
    parts = [
        (fixed_plate.vertices, fixed_plate.faces),
        (arm.vertices, arm.faces),
        (rod.vertices, rod.faces),
        (plate, moving_plate.faces),
    ]
    offsets = np.cumsum([0] + [len(v) for v, _ in parts[:-1]])
    return trimesh.Trimesh(
        np.vstack([v for v, _ in parts]),
        np.vstack([f + o for (_, f), o in zip(parts, offsets, strict=True)]),
        process=False,
    )


def scene_at(
    plan, day: float, *, continuous: bool = False, poses: dict | None = None
) -> list[SceneItem]:
    """Everything to draw for ``plan`` at ``day`` (days since surgery).

    Parameters
    ----------
    plan : planner.pipeline.build.Plan
    day : float
        Days since surgery; activations at exactly ``day`` count as done.
    continuous : bool
        Lengths ramp smoothly between activations (for animation) instead of stepping
        at each turn.
    poses : dict segment name -> (4, 4) float, optional
        ``plan.poses_at(day, continuous=continuous)`` when the caller has it already.

    Returns
    -------
    list of SceneItem
        Segments first (fixed, then moving), then cut planes, vectors, devices.
    """
    static = _static_items(plan)
    if poses is None:
        poses = plan.poses_at(float(day), continuous=continuous)
    eye = np.eye(4)
    items = [
        SceneItem(name, role, mesh, color, poses[name.split(":", 1)[1]])
        for name, role, mesh, color in static["segments"]
    ]
    items.sort(key=lambda it: it.role != "fixed")
    items += [SceneItem(n, "cut", m, ROLE_COLORS["cut"], eye) for n, m in static["cuts"]]
    items += [SceneItem(n, "vector", m, ROLE_COLORS["vector"], eye) for n, m in static["vectors"]]
    segment_of = dict(plan.motion.segment_of) if plan.motion is not None else {}
    for d in plan.case.distractors:
        pose = poses.get(segment_of.get(d.name, ""), eye)
        items.append(
            SceneItem(
                f"device:{d.name}",
                "device",
                device_mesh(plan, d, pose),
                ROLE_COLORS["device"],
                eye,
            )
        )
    return items

"""Bounded saw cuts through bone models, the segments they make, and the free-segment check.

An osteotomy (:class:`planner.plan.case.Osteotomy`) is modelled as a box: a slab ``kerf_mm``
thick centred on the cut plane, bounded in the plane to the rectangle ``size_mm`` around
``center_mm`` (``size_mm[0]`` along ``in_plane_axis``, ``size_mm[1]`` along
``normal × in_plane_axis``). :func:`cut_bone` subtracts every slab from every bone model
with manifold3d and splits what is left into connected, watertight segments, keeping the
volume books: per model, segment volumes + kerf volumes + crumbs = model volume.

:func:`free_segment_check` says whether the segment under a moving footplate is detached
from the one under the fixed footplate and, when it is not, where the bridges of uncut bone
are: on a cut plane just outside its rectangle, or elsewhere (found by a minimum cut on a
voxel grid of the bone between the two points).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import trimesh

from planner.errors import PlannerError
from planner.plan.bridges import Bridge, _voxel_bridges
from planner.plan.case import Distractor, Osteotomy

__all__ = [
    "Bridge",
    "Crumb",
    "CutResult",
    "FreeSegmentReport",
    "Kerf",
    "Segment",
    "cut_bone",
    "free_segment_check",
    "kerf_mesh",
    "osteotomy_frame",
    "require_free_segment",
    "segment_at",
]

# Volumes below this (mm^3) count as "no bone": grazing contacts, boolean round-off.
_TOUCH_MM3 = 1e-3


@dataclass(frozen=True, kw_only=True, eq=False)
class Segment:
    """One connected piece of a cut bone model (a watertight mesh, LPS mm).

    ``name`` is empty until the plan names the segment (by a point on it, see
    :func:`segment_at`; set it with :func:`dataclasses.replace`).
    """

    name: str = ""
    model: str
    mesh: trimesh.Trimesh
    volume_mm3: float


@dataclass(frozen=True)
class Kerf:
    """Bone removed by one osteotomy's saw: ``volume_mm3`` in total, and per model."""

    osteotomy: str
    volume_mm3: float
    by_model_mm3: Mapping[str, float]


@dataclass(frozen=True, eq=False)
class Crumb:
    """A component smaller than the volume floor, dropped from the segments."""

    model: str
    volume_mm3: float
    center_mm: np.ndarray


@dataclass(frozen=True, eq=False)
class CutResult:
    """Segments after all cuts, and where every mm^3 of each model went.

    ``segments`` are ordered by model (in the order given) then by volume, largest first.
    """

    segments: tuple[Segment, ...]
    kerfs: tuple[Kerf, ...]
    crumbs: tuple[Crumb, ...]
    model_volume_mm3: Mapping[str, float]
    osteotomies: tuple[Osteotomy, ...]
    min_volume_mm3: float
    _manifolds: tuple = field(default=(), repr=False)

    def volume_balance(self) -> dict[str, float]:
        """Per model, (segments + kerfs + crumbs - model volume) / model volume."""
        out = {}
        for model, total in self.model_volume_mm3.items():
            parts = sum(s.volume_mm3 for s in self.segments if s.model == model)
            parts += sum(k.by_model_mm3.get(model, 0.0) for k in self.kerfs)
            parts += sum(c.volume_mm3 for c in self.crumbs if c.model == model)
            out[model] = (parts - total) / total
        return out


@dataclass(frozen=True, eq=False)
class FreeSegmentReport:
    """Result of :func:`free_segment_check`.

    ``suggested_size_mm`` gives, per osteotomy with bridges, a ``size_mm`` about the same
    centre that would also cut them (checked by cutting with it, when ``explained``).
    ``explained`` is True when cutting with those rectangles frees the segment, i.e. every
    attachment is on a cut plane.
    """

    free: bool
    bridges: tuple[Bridge, ...]
    moving_segment: int
    fixed_segment: int
    suggested_size_mm: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    explained: bool = True


# ---------------------------------------------------------------------------------------
# Geometry of one osteotomy


def osteotomy_frame(ost: Osteotomy) -> np.ndarray:
    """The (4, 4) transform from the cut's frame to LPS.

    Columns are ``in_plane_axis`` (u), ``normal × in_plane_axis`` (v), ``normal`` (n) and
    ``center_mm``: the cut rectangle is ``|u| <= size_mm[0]/2, |v| <= size_mm[1]/2`` in
    the plane ``n = 0``.
    """
    n = np.asarray(ost.normal, dtype=float)
    u = np.asarray(ost.in_plane_axis, dtype=float)
    c = np.asarray(ost.center_mm, dtype=float)
    if n.shape != (3,) or u.shape != (3,) or c.shape != (3,):
        raise ValueError(f"osteotomy {ost.name!r}: normal, in_plane_axis, center_mm must be (3,)")
    n = n / np.linalg.norm(n)
    u = u - n * (u @ n)
    u = u / np.linalg.norm(u)
    frame = np.eye(4)
    frame[:3, 0], frame[:3, 1], frame[:3, 2], frame[:3, 3] = u, np.cross(n, u), n, c
    return frame


def kerf_mesh(ost: Osteotomy) -> trimesh.Trimesh:
    """The slab the saw removes, as a box mesh in LPS mm (for rendering and guides)."""
    size = (*ost.size_mm, ost.kerf_mm)
    return trimesh.creation.box(extents=size, transform=osteotomy_frame(ost))


def _slab(ost: Osteotomy, size_uv=None):
    import manifold3d

    a, b = ost.size_mm if size_uv is None else size_uv
    box = manifold3d.Manifold.cube((float(a), float(b), float(ost.kerf_mm)), True)
    return box.transform(osteotomy_frame(ost)[:3, :4])


def _check_osteotomies(osteotomies: Sequence[Osteotomy]) -> tuple[Osteotomy, ...]:
    osts = tuple(osteotomies)
    seen = set()
    for o in osts:
        if not isinstance(o, Osteotomy):
            raise TypeError(f"osteotomies must hold Osteotomy objects, got {type(o).__name__}")
        if o.name in seen:
            raise PlannerError(f"osteotomy {o.name!r} is given twice; names must differ")
        seen.add(o.name)
        values = [*o.center_mm, *o.normal, *o.in_plane_axis, *o.size_mm, o.kerf_mm]
        if not np.all(np.isfinite(values)) or min(*o.size_mm, o.kerf_mm) <= 0:
            raise PlannerError(
                f"osteotomy {o.name!r}: size_mm and kerf_mm must be positive and all"
                " coordinates finite"
            )
        if np.linalg.norm(np.cross(o.normal, o.in_plane_axis)) < 1e-6:
            raise PlannerError(
                f"osteotomy {o.name!r}: in_plane_axis is parallel to the normal; it must lie"
                " in the cut plane"
            )
    return osts


# ---------------------------------------------------------------------------------------
# manifold3d adapters


def _to_manifold(mesh: trimesh.Trimesh, what: str):
    import manifold3d

    if not isinstance(mesh, trimesh.Trimesh):
        raise TypeError(f"{what} must be a trimesh.Trimesh, got {type(mesh).__name__}")
    m = manifold3d.Manifold(
        manifold3d.Mesh64(
            vert_properties=np.ascontiguousarray(mesh.vertices, dtype=np.float64),
            tri_verts=np.ascontiguousarray(mesh.faces, dtype=np.uint64),
        )
    )
    if m.status() != manifold3d.Error.NoError or m.is_empty() or m.volume() <= 0:
        raise PlannerError(
            f"{what} is not a closed, outward-oriented surface ({m.status().name}); rebuild"
            " the model or repair it before cutting"
        )
    return m


def _to_trimesh(m) -> trimesh.Trimesh:
    mm = m.to_mesh64()  # views into manifold's buffers: copy them
    vertices = np.array(mm.vert_properties[:, :3], dtype=np.float64)
    faces = np.array(mm.tri_verts, dtype=np.int64)
    return trimesh.Trimesh(vertices, faces, process=False)


def _bbox_center(m) -> np.ndarray:
    lo_hi = np.asarray(m.bounding_box(), dtype=float)
    return (lo_hi[:3] + lo_hi[3:]) / 2


def _boxes_overlap(a, b) -> bool:
    a, b = np.asarray(a.bounding_box()), np.asarray(b.bounding_box())
    return bool(np.all(a[:3] <= b[3:]) and np.all(b[:3] <= a[3:]))


def _fmt(p) -> str:
    return "(" + ", ".join(f"{v:.1f}" for v in np.asarray(p, dtype=float)) + ")"


# ---------------------------------------------------------------------------------------
# Cutting


def cut_bone(
    bones: Mapping[str, trimesh.Trimesh],
    osteotomies: Sequence[Osteotomy],
    *,
    min_volume_mm3: float = 1.0,
) -> CutResult:
    """Apply every osteotomy to every bone model and split the rest into segments.

    Parameters
    ----------
    bones : mapping of str to trimesh.Trimesh
        Bone models by name (e.g. ``"skull"``, ``"mandible"``), each a watertight volume
        in LPS mm.
    osteotomies : sequence of Osteotomy
        The cuts; each must remove some bone, and no two kerfs may overlap inside bone.
    min_volume_mm3 : float
        Components smaller than this are dropped as crumbs (listed in ``crumbs``).

    Returns
    -------
    CutResult
        Watertight segments with their volumes, the kerf volume of each osteotomy, crumbs.

    Raises
    ------
    PlannerError
        A model is not a closed surface; an osteotomy touches no bone; two osteotomies
        overlap inside bone.
    """
    import manifold3d

    if not isinstance(bones, Mapping) or not bones:
        raise ValueError("bones must be a non-empty mapping of model name to trimesh.Trimesh")
    if not min_volume_mm3 >= 0:
        raise ValueError(f"min_volume_mm3 must be >= 0, got {min_volume_mm3!r}")
    osts = _check_osteotomies(osteotomies)
    slabs = [_slab(o) for o in osts]
    models = {name: _to_manifold(mesh, f"bone model {name!r}") for name, mesh in bones.items()}

    kerf = np.zeros((len(osts), len(models)))
    for j, m in enumerate(models.values()):
        for k, slab in enumerate(slabs):
            if _boxes_overlap(m, slab):
                kerf[k, j] = (m ^ slab).volume()
    kerf[kerf < _TOUCH_MM3] = 0.0
    for k, o in enumerate(osts):
        if not kerf[k].any():
            raise PlannerError(
                f"osteotomy {o.name!r} misses the bone: its cut rectangle"
                f" ({o.size_mm[0]:g} x {o.size_mm[1]:g} mm at {_fmt(o.center_mm)}) touches no"
                " bone model; move its centre onto the bone"
            )
    _check_overlaps(osts, slabs, list(models.values()), kerf)

    segments, crumbs, handles = [], [], []
    for j, (name, m) in enumerate(models.items()):
        used = [slabs[k] for k in range(len(osts)) if kerf[k, j] > 0]
        rest = manifold3d.Manifold.batch_boolean([m, *used], manifold3d.OpType.Subtract)
        parts = sorted(_with_cavities(rest.decompose()), key=lambda p: -p.volume())
        for part in parts:
            vol = float(part.volume())
            if vol < min_volume_mm3:
                crumbs.append(Crumb(name, vol, _bbox_center(part)))
                continue
            segments.append(Segment(model=name, mesh=_to_trimesh(part), volume_mm3=vol))
            handles.append(part)
    kerfs = tuple(
        Kerf(o.name, float(kerf[k].sum()), dict(zip(models, map(float, kerf[k]), strict=True)))
        for k, o in enumerate(osts)
    )
    return CutResult(
        segments=tuple(segments),
        kerfs=kerfs,
        crumbs=tuple(crumbs),
        model_volume_mm3={name: float(m.volume()) for name, m in models.items()},
        osteotomies=osts,
        min_volume_mm3=float(min_volume_mm3),
        _manifolds=tuple(handles),
    )


def _with_cavities(parts: list) -> list:
    """Put each inward-facing shell (a cavity: a sinus, a marrow space closed by cortex)
    back inside the piece that encloses it; ``decompose`` returns it as a piece of its own
    with negative volume."""
    solids = [p for p in parts if p.volume() >= 0]
    cavities = [p for p in parts if p.volume() < 0]
    if not cavities:
        return parts
    meshes = [_to_trimesh(p) for p in solids]
    inner: list[list] = [[] for _ in solids]
    for cav in cavities:
        probe = np.asarray(cav.to_mesh().vert_properties[:1, :3], dtype=float)
        lo, hi = (np.asarray(b) for b in (cav.bounding_box()[:3], cav.bounding_box()[3:]))
        owner = None
        for i, (part, mesh) in enumerate(zip(solids, meshes, strict=True)):
            box = part.bounding_box()
            if np.all(lo >= np.asarray(box[:3]) - 1e-6) and np.all(
                hi <= np.asarray(box[3:]) + 1e-6
            ):
                if _winding_number(mesh, probe[0]) > 0.5 and (
                    owner is None or part.volume() < solids[owner].volume()
                ):
                    owner = i
        if owner is None:  # an inverted shell enclosed by nothing: keep it, it will be a crumb
            solids.append(cav)
            inner.append([])
        else:
            inner[owner].append(cav)
    # (Manifold.compose drops inverted shells: rebuild from the joined triangle lists.)
    return [
        _to_manifold(trimesh.util.concatenate([_to_trimesh(p) for p in (part, *cavs)]), "")
        if cavs
        else part
        for part, cavs in zip(solids, inner, strict=True)
    ]


def _check_overlaps(osts, slabs, models, kerf) -> None:
    for k in range(len(osts)):
        for m in range(k + 1, len(osts)):
            if not _boxes_overlap(slabs[k], slabs[m]):
                continue
            both = slabs[k] ^ slabs[m]
            if both.is_empty():
                continue
            for j, model in enumerate(models):
                if not (kerf[k, j] and kerf[m, j]):
                    continue
                shared = model ^ both
                if shared.volume() > _TOUCH_MM3:
                    raise PlannerError(
                        f"osteotomies {osts[k].name!r} and {osts[m].name!r} overlap inside the"
                        f" bone (their kerfs share {shared.volume():.1f} mm^3 around"
                        f" {_fmt(_bbox_center(shared))}); move or shrink one so the cuts"
                        " do not cross"
                    )


# ---------------------------------------------------------------------------------------
# Points on segments


def _winding_number(mesh: trimesh.Trimesh, point: np.ndarray) -> float:
    """Generalised winding number of a closed mesh about a point (1 inside, 0 outside)."""
    tri = mesh.triangles - point
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
    la, lb, lc = (np.linalg.norm(x, axis=1) for x in (a, b, c))
    det = np.einsum("ij,ij->i", a, np.cross(b, c))
    den = (
        la * lb * lc
        + np.einsum("ij,ij->i", a, b) * lc
        + np.einsum("ij,ij->i", b, c) * la
        + np.einsum("ij,ij->i", c, a) * lb
    )
    return float(np.arctan2(det, den).sum() / (2 * np.pi))


def _surface_distance(mesh: trimesh.Trimesh, point: np.ndarray) -> float:
    """Unsigned distance from ``point`` to the mesh surface, mm."""
    upper = float(np.min(np.linalg.norm(mesh.vertices - point, axis=1)))
    tri = mesh.triangles
    gap = np.maximum(tri.min(axis=1) - point, 0) + np.maximum(point - tri.max(axis=1), 0)
    near = np.einsum("ij,ij->i", gap, gap) <= upper**2 + 1e-12
    cand = tri[near]
    closest = trimesh.triangles.closest_point(cand, np.tile(point, (len(cand), 1)))
    return float(np.min(np.linalg.norm(closest - point, axis=1)))


def _distance_outside(mesh: trimesh.Trimesh, point: np.ndarray, limit: float) -> float:
    """0 inside the mesh, else the distance to its surface; inf when beyond ``limit``."""
    lo, hi = mesh.bounds
    box = np.linalg.norm(np.maximum(lo - point, 0) + np.maximum(point - hi, 0))
    if box > limit:
        return np.inf
    if box == 0 and _winding_number(mesh, point) > 0.5:
        return 0.0
    return _surface_distance(mesh, point)


def _nearest(meshes: Sequence[trimesh.Trimesh], point, tol_mm: float, label: str) -> int:
    best, best_d = -1, np.inf
    for i, mesh in enumerate(meshes):
        d = _distance_outside(mesh, point, min(best_d, 1e3 * max(tol_mm, 1.0)))
        if d < best_d:
            best, best_d = i, d
            if d == 0.0:
                break
    if best_d > tol_mm:
        far = "far" if not np.isfinite(best_d) else f"{best_d:.1f} mm"
        raise PlannerError(
            f"{label} {_fmt(point)} is {far} from the nearest bone; place it on the bone surface"
        )
    return best


def _as_point(point, what: str) -> np.ndarray:
    p = np.asarray(point, dtype=float)
    if p.shape != (3,) or not np.all(np.isfinite(p)):
        raise ValueError(f"{what} must be 3 finite coordinates, got {point!r}")
    return p


def segment_at(result: CutResult, point_mm, *, tol_mm: float = 2.0, label: str = "point") -> int:
    """Index in ``result.segments`` of the segment containing ``point_mm``.

    A point outside every segment (footplate points sit on the surface, perhaps a hair
    outside, or in a kerf) goes to the segment whose surface is nearest, if within
    ``tol_mm``.

    Raises
    ------
    PlannerError
        No segment within ``tol_mm``; the message names the point as ``label``.
    """
    p = _as_point(point_mm, "point_mm")
    return _nearest([s.mesh for s in result.segments], p, tol_mm, label)


# ---------------------------------------------------------------------------------------
# Free-segment check


def free_segment_check(
    result: CutResult,
    moving_point_mm,
    fixed_point_mm,
    *,
    tol_mm: float = 2.0,
    margin_mm: float = 2.0,
    voxel_mm: float = 1.0,
    max_voxels: int = 20_000_000,
    seed_fraction: float = 0.25,
    labels: tuple[str, str] = ("moving point", "fixed point"),
) -> FreeSegmentReport:
    """Is the segment at the moving point detached from the segment at the fixed point?

    When both points are on one segment, bridges are looked for first on each cut plane:
    the bone the plane still crosses next to the cut rectangle (``area_mm2`` exact, centre
    = area centroid). The segment is then cut again with each such rectangle grown to cover
    its bridges plus ``margin_mm``; if the points are still joined, the attachment is
    elsewhere and is located as the minimum cut between the two points on a voxel grid of
    the remaining bone (pitch ``voxel_mm``, at most 0.9 of the smallest kerf so that kerfs
    stay open; coarser if the grid would exceed ``max_voxels``).

    Parameters
    ----------
    result : CutResult
        From :func:`cut_bone`.
    moving_point_mm, fixed_point_mm : (3,) float
        Footplate points, LPS mm, on (within ``tol_mm`` of) the bone.
    tol_mm : float
        How far outside the bone a point may be (see :func:`segment_at`).
    margin_mm : float
        Bone beyond a bridge that the suggested rectangle also covers.
    voxel_mm, max_voxels : float, int
        Voxel pitch and grid size limit for locating attachments away from the cuts.
    seed_fraction : float
        The minimum cut is sought between bone within this fraction of the geodesic
        distance from each point (so a cut hugging a point never wins); an attachment
        closer than that to a point is missed and a wider section is reported.
    labels : (str, str)
        How the two points are named in error messages.

    Returns
    -------
    FreeSegmentReport
        ``free``, the bridges (largest first within each kind) and the segment indices.
    """
    import manifold3d

    move = _as_point(moving_point_mm, "moving_point_mm")
    fix = _as_point(fixed_point_mm, "fixed_point_mm")
    meshes = [s.mesh for s in result.segments]
    i_move = _nearest(meshes, move, tol_mm, labels[0])
    i_fix = _nearest(meshes, fix, tol_mm, labels[1])
    if i_move != i_fix:
        return FreeSegmentReport(True, (), i_move, i_fix)

    seg = result._manifolds[i_move] if result._manifolds else _to_manifold(meshes[i_move], "")
    bridges, sizes, cutters = [], {}, []
    for ost in result.osteotomies:
        found, size = _plane_bridges(seg, ost, margin_mm)
        if found:
            bridges += found
            sizes[ost.name] = size
            cutters.append(_slab(ost, size))
    rest = seg
    if cutters:
        rest = manifold3d.Manifold.batch_boolean([seg, *cutters], manifold3d.OpType.Subtract)
        parts = [p for p in rest.decompose() if p.volume() >= result.min_volume_mm3]
        part_meshes = [_to_trimesh(p) for p in parts]
        j_move = _nearest(part_meshes, move, tol_mm + margin_mm, labels[0])
        j_fix = _nearest(part_meshes, fix, tol_mm + margin_mm, labels[1])
        if j_move != j_fix:
            return FreeSegmentReport(False, tuple(bridges), i_move, i_fix, sizes, True)
        rest = parts[j_move]
    kerf = min((o.kerf_mm for o in result.osteotomies), default=2.0)
    pitch = min(voxel_mm, 0.9 * kerf)
    bridges += _voxel_bridges(rest, move, fix, pitch, max_voxels, seed_fraction)
    return FreeSegmentReport(False, tuple(bridges), i_move, i_fix, sizes, False)


def _plane_bridges(seg, ost: Osteotomy, margin_mm: float):
    """Bone crossing ``ost``'s plane next to its rectangle; and a size_mm that covers it."""
    import manifold3d

    frame = osteotomy_frame(ost)
    inv = np.linalg.inv(frame)
    section = seg.transform(inv[:3, :4]).slice(0.0)
    if section.is_empty():
        return [], None
    a, b = ost.size_mm
    eps = 0.05
    grown = manifold3d.CrossSection.square((a + 2 * eps, b + 2 * eps), True)
    found, half = [], np.array([a, b]) / 2
    for comp in section.decompose():
        if (comp ^ grown).area() < 1e-4:
            continue  # bone elsewhere on the plane, not next to this cut
        area, cuv = _area_centroid(comp.to_polygons())
        lo_hi = np.asarray(comp.bounds(), dtype=float)
        center = frame[:3, :3] @ np.array([cuv[0], cuv[1], 0.0]) + frame[:3, 3]
        size = (float(lo_hi[2] - lo_hi[0]), float(lo_hi[3] - lo_hi[1]))
        found.append(Bridge(center, area, size, ost.name))
        half = np.maximum(half, np.abs(lo_hi.reshape(2, 2)).max(axis=0) + margin_mm)
    return found, tuple(float(v) for v in np.ceil(2 * half))


def _area_centroid(rings) -> tuple[float, np.ndarray]:
    area, moment = 0.0, np.zeros(2)
    for ring in rings:
        p = np.asarray(ring, dtype=float)
        q = np.roll(p, -1, axis=0)
        cross = p[:, 0] * q[:, 1] - q[:, 0] * p[:, 1]
        area += cross.sum() / 2
        moment += ((p + q) * cross[:, None]).sum(axis=0) / 6
    return float(area), moment / area


def require_free_segment(
    result: CutResult, distractor: Distractor, **options
) -> FreeSegmentReport:
    """Run :func:`free_segment_check` for a distractor; raise if its segment is attached.

    Raises
    ------
    PlannerError
        One line saying where the largest bridges are and what to change.
    """
    who = f"distractor {distractor.name!r}"
    report = free_segment_check(
        result,
        distractor.moving_point_mm,
        distractor.fixed_point_mm,
        labels=(f"moving point of {who}", f"fixed point of {who}"),
        **options,
    )
    if report.free:
        return report
    raise PlannerError(
        f"segment at moving point of {who} is still attached to the segment at its fixed"
        f" point: {_describe_bridges(report)}"
    )


def _describe_bridges(report: FreeSegmentReport, most: int = 3) -> str:
    """The bridges, grouped by osteotomy, largest first, in one line."""

    def where(br: Bridge) -> str:
        return f"{br.area_mm2:.0f} mm^2 at {_fmt(br.center_mm)}"

    parts = []
    for name, size in report.suggested_size_mm.items():
        on = sorted((b for b in report.bridges if b.osteotomy == name), key=lambda b: -b.area_mm2)
        listed = " and ".join(where(b) for b in on[:most])
        more = f" and {len(on) - most} more" if len(on) > most else ""
        parts.append(
            f"bridge{'s' if len(on) > 1 else ''} of {listed}{more} on osteotomy {name!r}"
            f" outside its cut rectangle; extend size_mm (to {size[0]:g} x {size[1]:g} mm"
            " to reach them)"
        )
    for br in (b for b in report.bridges if b.osteotomy is None):
        if br.area_mm2 == 0:
            parts.append(f"bone thinner than the voxel grid joins them near {_fmt(br.center_mm)}")
        else:
            parts.append(
                f"bridge of {where(br)} not next to any cut rectangle; add or extend an"
                " osteotomy there"
            )
    return "; ".join(parts) or "no bridge located"

"""Bounded saw cuts through bone models and the segments they make.

An osteotomy (:class:`planner.plan.case.Osteotomy`) is modelled as a box: a slab ``kerf_mm``
thick centred on the cut plane, bounded in the plane to the rectangle ``size_mm`` around
``center_mm`` (``size_mm[0]`` along ``in_plane_axis``, ``size_mm[1]`` along
``normal × in_plane_axis``). :func:`cut_bone` subtracts every slab from every bone model
with manifold3d and splits what is left into connected, watertight segments, keeping the
volume books: per model, segment volumes + kerf volumes + crumbs = model volume. A model
whose bodies move as one (``metadata["bodies_joined"]``: a newborn's mandibular halves,
apart at the symphysis) has the pieces of its different bodies that meet across the gap
joined into one segment; a cut still parts the pieces of one body.

:func:`segment_at` finds the segment under a point (a footplate, a landmark), with
:mod:`planner.plan.locate`. Whether a moving segment is really detached is
:mod:`planner.plan.free`'s question.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import trimesh

from planner.bone.bodies import JOINED
from planner.geometry import contains, to_manifold, to_trimesh, unit
from planner.geometry.meshcache import cached
from planner.plan.case import Osteotomy
from planner.plan.locate import as_point, format_point, nearest_mesh, prepare_lookup
from planner.plan.problems import raise_problems

if TYPE_CHECKING:
    import manifold3d

__all__ = [
    "Crumb",
    "CutResult",
    "Kerf",
    "Segment",
    "cut_bone",
    "kerf_mesh",
    "kerf_solid",
    "osteotomy_frame",
    "segment_at",
]

# Volumes below this (mm^3) count as "no bone": grazing contacts, boolean round-off.
_TOUCH_MM3 = 1e-3
_REPAIR = "rebuild the model or repair it before cutting"
# Cut results kept per bone model (see _model_parts): a few, as each holds solids.
_KEPT_CUTS = 4
_JOINT_GAP_MM = 5.0  # pieces of a model's bodies that move as one (JOINED) this close are one


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

    ``segments`` are ordered by model (in the order given) then by volume, largest first;
    ``solids`` holds their manifold3d solids, in the same order (empty when unknown).
    """

    segments: tuple[Segment, ...]
    kerfs: tuple[Kerf, ...]
    crumbs: tuple[Crumb, ...]
    model_volume_mm3: Mapping[str, float]
    osteotomies: tuple[Osteotomy, ...]
    min_volume_mm3: float
    solids: tuple[manifold3d.Manifold, ...] = field(default=(), repr=False)

    def volume_balance(self) -> dict[str, float]:
        """Per model, (segments + kerfs + crumbs - model volume) / model volume."""
        out = {}
        for model, total in self.model_volume_mm3.items():
            parts = sum(s.volume_mm3 for s in self.segments if s.model == model)
            parts += sum(k.by_model_mm3.get(model, 0.0) for k in self.kerfs)
            parts += sum(c.volume_mm3 for c in self.crumbs if c.model == model)
            out[model] = (parts - total) / total
        return out


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
    n = unit(n)
    u = unit(u - n * (u @ n))
    frame = np.eye(4)
    frame[:3, 0], frame[:3, 1], frame[:3, 2], frame[:3, 3] = u, np.cross(n, u), n, c
    return frame


def kerf_mesh(ost: Osteotomy) -> trimesh.Trimesh:
    """The slab the saw removes, as a box mesh in LPS mm (for rendering and guides)."""
    size = (*ost.size_mm, ost.kerf_mm)
    return trimesh.creation.box(extents=size, transform=osteotomy_frame(ost))


def kerf_solid(ost: Osteotomy, size_uv: tuple[float, float] | None = None) -> manifold3d.Manifold:
    """The slab the saw removes as a manifold3d solid (``size_uv`` instead of
    ``ost.size_mm`` when given), LPS mm."""
    import manifold3d

    a, b = ost.size_mm if size_uv is None else size_uv
    box = manifold3d.Manifold.cube((float(a), float(b), float(ost.kerf_mm)), True)
    return box.transform(osteotomy_frame(ost)[:3, :4])


def _check_osteotomies(osteotomies: Sequence[Osteotomy]) -> tuple[Osteotomy, ...]:
    """The osteotomies as a tuple. Their names, numbers and axes are the case model's
    rules (:mod:`planner.plan.case_rules`), checked when the case is read."""
    osts = tuple(osteotomies)
    for o in osts:
        if not isinstance(o, Osteotomy):
            raise TypeError(f"osteotomies must hold Osteotomy objects, got {type(o).__name__}")
    return osts


# ---------------------------------------------------------------------------------------
# manifold3d helpers


def _bbox_center(m) -> np.ndarray:
    lo_hi = np.asarray(m.bounding_box(), dtype=float)
    return (lo_hi[:3] + lo_hi[3:]) / 2


def _boxes_overlap(a, b) -> bool:
    a, b = np.asarray(a.bounding_box()), np.asarray(b.bounding_box())
    return bool(np.all(a[:3] <= b[3:]) and np.all(b[:3] <= a[3:]))


# ---------------------------------------------------------------------------------------
# Cutting


def cut_bone(
    bones: Mapping[str, trimesh.Trimesh],
    osteotomies: Sequence[Osteotomy],
    *,
    min_volume_mm3: float = 1.0,
    problems: list[str] | None = None,
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
    problems : list of str, optional
        When given, the problems of the cuts (an osteotomy that touches no bone, two that
        overlap inside bone) are appended to it, one line each, and the cutting goes on;
        otherwise they are raised together once all are known.

    Returns
    -------
    CutResult
        Watertight segments with their volumes, the kerf volume of each osteotomy, crumbs.

    Raises
    ------
    PlannerError
        A model is not a closed surface. Without ``problems``: a
        :class:`planner.plan.problems.PlanError` listing every osteotomy that touches no
        bone and every two that overlap inside bone.
    """
    if not isinstance(bones, Mapping) or not bones:
        raise ValueError("bones must be a non-empty mapping of model name to trimesh.Trimesh")
    if not min_volume_mm3 >= 0:
        raise ValueError(f"min_volume_mm3 must be >= 0, got {min_volume_mm3!r}")
    osts = _check_osteotomies(osteotomies)
    slabs = [kerf_solid(o) for o in osts]
    models = {
        name: to_manifold(mesh, f"bone model {name!r}", fix=_REPAIR)
        for name, mesh in bones.items()
    }

    kerf = np.zeros((len(osts), len(models)))
    for j, m in enumerate(models.values()):
        for k, slab in enumerate(slabs):
            if _boxes_overlap(m, slab):
                kerf[k, j] = (m ^ slab).volume()
    kerf[kerf < _TOUCH_MM3] = 0.0
    found: list[str] = []
    for k, o in enumerate(osts):
        if not kerf[k].any():
            found.append(
                f"osteotomy {o.name!r} misses the bone: its cut rectangle"
                f" ({o.size_mm[0]:g} x {o.size_mm[1]:g} mm at {format_point(o.center_mm)})"
                " touches no bone model; move its centre onto the bone"
            )
    found += _overlaps(osts, slabs, list(models.values()), kerf)
    if problems is None:
        raise_problems(found)
    else:
        problems += found

    segments, crumbs, handles = [], [], []
    for j, (name, m) in enumerate(models.items()):
        used = [k for k in range(len(osts)) if kerf[k, j] > 0]
        kept = []
        for part, mesh in _model_parts(
            bones[name], m, [osts[k] for k in used], [slabs[k] for k in used]
        ):
            vol = float(part.volume())
            if vol < min_volume_mm3:
                crumbs.append(Crumb(name, vol, _bbox_center(part)))
                continue
            # a copy of the kept mesh, with its kept lookup tables (see _model_parts)
            kept.append((part, mesh.copy(include_cache=True)))
        if bones[name].metadata.get(JOINED) and len(kept) > 1:
            kept = _join_bodies(bones[name], kept)
        for part, mesh in kept:
            segments.append(Segment(model=name, mesh=mesh, volume_mm3=float(part.volume())))
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
        solids=tuple(handles),
    )


def _model_parts(mesh: trimesh.Trimesh, solid, osts: list, slabs: list) -> list:
    """The pieces of ``solid`` (the manifold3d solid of ``mesh``) left by subtracting
    ``slabs`` (the kerfs of ``osts``), largest first, cavities put back in: a list of
    (solid, mesh) pairs, the meshes with their point lookup tables already made.

    The pieces depend only on the mesh and the cuts' geometry, so the last few results are
    kept in the mesh's cache, keyed by that geometry: re-planning after one cut moved does
    not cut the other models again. An edited mesh clears its cache. The kept meshes must
    not be handed out (copy them).
    """
    import manifold3d

    memo = cached(mesh, "cut_parts", dict)
    key = tuple(_slab_key(o) for o in osts)
    if key not in memo:
        rest = manifold3d.Manifold.batch_boolean([solid, *slabs], manifold3d.OpType.Subtract)
        parts = sorted(_with_cavities(rest.decompose()), key=lambda p: -p.volume())
        for oldest in list(memo)[: max(0, len(memo) - _KEPT_CUTS + 1)]:
            memo.pop(oldest, None)
        # manifold3d solids are immutable: safe to share
        memo[key] = tuple((part, _prepared_mesh(part)) for part in parts)
    return list(memo[key])


def _join_bodies(mesh: trimesh.Trimesh, parts: list) -> list:
    """Pieces of a model whose bodies move as one, joined where no cut parts them.

    The model's bodies lie apart in the scan (a newborn's mandibular halves, apart at the
    symphysis, which holds them together): two pieces from different bodies that come
    within :data:`_JOINT_GAP_MM` of each other are one segment; pieces of one body stay
    apart (a cut parted them). Returns ``(solid, mesh)`` pairs, largest first.
    """
    import manifold3d
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    # the model's own bodies, once per version of it (the window cuts again on each edit)
    bodies = cached(
        mesh,
        "body_trees",
        lambda: [cKDTree(b.vertices) for b in mesh.split(only_watertight=False)],
    )
    owner = []
    for _, piece in parts:  # the body each piece is of: the nearest to most of its vertices
        sample = piece.vertices[:: max(1, len(piece.vertices) // 50)]
        near = np.argmin([tree.query(sample)[0] for tree in bodies], axis=0)
        owner.append(int(np.bincount(near).argmax()))
    trees = [cKDTree(piece.vertices) for _, piece in parts]
    meet = np.eye(len(parts), dtype=bool)  # pieces of different bodies across the gap
    for i in range(len(parts)):
        for k in range(i + 1, len(parts)):
            if owner[i] != owner[k]:
                gap, _ = trees[i].query(parts[k][1].vertices, distance_upper_bound=_JOINT_GAP_MM)
                meet[i, k] = np.isfinite(gap).any()
    _, group = connected_components(meet, directed=False)
    joined = []
    for g in range(int(group.max()) + 1):
        members = [parts[i] for i in range(len(parts)) if group[i] == g]
        if len(members) == 1:
            joined.append(members[0])
            continue
        solid = manifold3d.Manifold.compose([p for p, _ in members])
        joined.append((solid, _prepared_mesh(solid)))
    return sorted(joined, key=lambda pm: -pm[0].volume())


def _prepared_mesh(part) -> trimesh.Trimesh:
    """The mesh of a piece, with the tables :func:`nearest_mesh` uses made and kept."""
    mesh = to_trimesh(part)
    prepare_lookup(mesh)
    return mesh


def _slab_key(ost: Osteotomy) -> tuple:
    """Everything :func:`kerf_solid` makes ``ost``'s slab from, as a hashable tuple."""
    return tuple(
        tuple(float(v) for v in np.ravel(x))
        for x in (ost.normal, ost.in_plane_axis, ost.center_mm, ost.size_mm, ost.kerf_mm)
    )


def _with_cavities(parts: list) -> list:
    """Put each inward-facing shell (a cavity: a sinus, a marrow space closed by cortex)
    back inside the piece that encloses it; ``decompose`` returns it as a piece of its own
    with negative volume."""
    solids = [p for p in parts if p.volume() >= 0]
    cavities = [p for p in parts if p.volume() < 0]
    if not cavities:
        return parts
    meshes = [to_trimesh(p) for p in solids]
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
                if contains(probe, mesh.triangles)[0] and (
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
        to_manifold(
            trimesh.util.concatenate([to_trimesh(p) for p in (part, *cavs)]),
            "a segment with its cavities",
        )
        if cavs
        else part
        for part, cavs in zip(solids, inner, strict=True)
    ]


def _overlaps(osts, slabs, models, kerf) -> list[str]:
    """A problem for each two osteotomies whose kerfs overlap inside a bone model."""
    out = []
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
                    out.append(
                        f"osteotomies {osts[k].name!r} and {osts[m].name!r} overlap inside the"
                        f" bone (their kerfs share {shared.volume():.1f} mm^3 around"
                        f" {format_point(_bbox_center(shared))}); move or shrink one so the cuts"
                        " do not cross"
                    )
                    break
    return out


# ---------------------------------------------------------------------------------------
# Points on segments


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
    p = as_point(point_mm, "point_mm")
    return nearest_mesh([s.mesh for s in result.segments], p, tol_mm, label)

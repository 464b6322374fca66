"""Build the cutting (and positioning) guide of one osteotomy.

The guide goes onto the bone along one insertion direction ``d``. Along ``d`` the bone it
sits on is a height field (:mod:`planner.guides.heightfield`), so every part is a solid
between two height fields, made watertight and combined by manifold3d:

- the **shell**: over the bone within ``margin_mm`` of the cut rectangle (and around the
  footplate holes), on the chosen side; its inside lies ``clearance_mm`` off the bone
  (measured along the bone's normal), its outside ``wall_mm`` further out. Bone that faces
  away from ``d`` (an undercut) or lies under other bone is trimmed off;
- the **slot block** around the cut line: walls of ``slot_wall_mm`` about a slot
  ``blade_mm + 2 * clearance_mm`` wide, in the cut plane; its flat top stands
  ``slot_depth_mm`` above the highest point of the guide's bone side beneath it, and its
  bottom follows the bone (at the clearance), standing off where the surface falls away;
- **drill holes** (and optional sleeves) along the planned footplate screws;
- an **engraved label** (case label, side, osteotomy name), ``label_depth_mm`` deep.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import trimesh

from planner.errors import PlannerError
from planner.geometry import unit
from planner.guides import heightfield as hf
from planner.guides.footplates import Screw, planned_screws
from planner.guides.shell import MIN_FACING_COS, footprint, heights
from planner.guides.solids import (
    Slot,
    between,
    block_label,
    cylinder,
    prism,
    slot_solids,
    sub_grid,
    widened,
)
from planner.plan.case import Case, Guide, Osteotomy
from planner.plan.cuts import osteotomy_frame

__all__ = ["GRID_STEP_MM", "MIN_FACING_COS", "GuidePart", "Slot", "build_guide"]

GRID_STEP_MM = 0.25
SAMPLE_MM = 0.15  # bone sampled this finely for the clearance (sag < 0.02 mm)
# The slot's depth direction may lean this far out of the cut plane at most.
MAX_INSERTION_TILT_DEG = 60.0
MIN_WEB_MM = 1.0  # material left between a hole and the slot or another hole
CRUMB_MM3 = 1.0
SIMPLIFY_MM = 1e-3


@dataclass(frozen=True, eq=False)
class GuidePart:
    """One printable part: the guide mesh (LPS mm) and what its checks need.

    ``kind`` is "cutting+positioning", "cutting" or "positioning". ``contact`` holds the
    grid, the footprint where the guide sits on bone, and the heights used (for checks).
    """

    name: str
    kind: str
    guide: Guide
    osteotomy: Osteotomy
    mesh: trimesh.Trimesh
    insertion: np.ndarray
    screws: tuple[Screw, ...]
    slot: Slot | None
    label_lines: tuple[str, ...]
    bone_model: str
    trimmed_fraction: float
    seconds: float
    contact: dict = field(default_factory=dict, repr=False)
    warnings: tuple[str, ...] = ()


def build_guide(
    guide: Guide,
    case: Case,
    models: Mapping[str, trimesh.Trimesh],
    *,
    step_mm: float = GRID_STEP_MM,
) -> tuple[GuidePart, ...]:
    """The printable part(s) of ``guide``: one, or cutting + positioning when separate.

    Raises
    ------
    PlannerError
        No bone under the guide region, a slot that cuts the guide in two, holes that
        collide with the slot or each other, an insertion direction that locks.
    """
    t0 = time.perf_counter()
    ost = case.osteotomy(guide.osteotomy)
    model_name, bone = contact_model(ost, models)
    screws: tuple[Screw, ...] = ()
    if guide.positioning != "none":
        from planner.plan.devices import device_catalog

        d = case.distractor(guide.distractor)
        screws = planned_screws(d, device_catalog(case)[d.device], ost, bone)
    ctx = _Context(guide, ost, bone, models, screws, step_mm)
    _check_holes(ctx)
    parts = []
    if guide.positioning == "separate":
        plans = [("cutting", True, False), ("positioning", False, True)]
    else:
        kind = "cutting+positioning" if screws else "cutting"
        plans = [(kind, True, bool(screws))]
    for kind, with_slot, with_holes in plans:
        name = guide.name if len(plans) == 1 else f"{guide.name}_{kind}"
        parts.append(_part(ctx, name, kind, with_slot, with_holes, case.label, model_name))
    seconds = (time.perf_counter() - t0) / len(parts)
    return tuple(_replace(p, seconds=seconds) for p in parts)


def _replace(part, **kw):
    import dataclasses

    return dataclasses.replace(part, **kw)


def contact_model(ost: Osteotomy, models: Mapping[str, trimesh.Trimesh]):
    """The bone model the osteotomy cuts: the most triangles crossing its rectangle."""
    frame = osteotomy_frame(ost)
    best, best_count = None, 0
    for name, mesh in models.items():
        w = (mesh.vertices - frame[:3, 3]) @ frame[:3, 2]  # across the cut plane
        wf = w[mesh.faces]
        crossing = np.flatnonzero((wf.min(axis=1) <= 0) & (wf.max(axis=1) >= 0))
        tri = (mesh.vertices[mesh.faces[crossing]] - frame[:3, 3]) @ frame[:3, :3]
        inside = np.all(np.abs(tri[:, :, :2]) <= np.array(ost.size_mm) / 2, axis=2).any(axis=1)
        count = int(inside.sum())
        if count > best_count:
            best, best_count = name, count
    if best is None:
        raise PlannerError(
            f"osteotomy {ost.name!r} crosses no bone model; a guide needs bone under its cut"
        )
    return best, models[best]


def side_direction(guide: Guide, ost: Osteotomy, models) -> np.ndarray:
    """Unit direction out of the bone on the guide's side, in the cut plane.

    Lateral is away from the midline (the x centre of all models) for a cut off the
    midline, else away from the models' centre; medial is the opposite.
    """
    lo = np.min([m.bounds[0] for m in models.values()], axis=0)
    hi = np.max([m.bounds[1] for m in models.values()], axis=0)
    mid = (lo + hi) / 2
    c = np.asarray(ost.center_mm, dtype=float)
    n = np.asarray(ost.normal, dtype=float)
    out = np.array([np.sign(c[0] - mid[0]), 0.0, 0.0]) if abs(c[0] - mid[0]) > 10 else c - mid
    out = out - n * (out @ n)
    if np.linalg.norm(out) < 1e-6:
        out = np.cross(n, ost.in_plane_axis)
    out = unit(out)
    return out if guide.side == "lateral" else -out


class _Context:
    """Everything shared by the parts of one guide: frame, grid, bone heights, footprint."""

    def __init__(self, guide, ost, bone, models, screws, step):
        self.guide, self.ost, self.screws, self.step = guide, ost, screws, step
        frame = osteotomy_frame(ost)
        self.u, self.v, self.n, self.c = (frame[:3, k] for k in range(4))
        if guide.insertion is not None:
            self.d = unit(np.asarray(guide.insertion, dtype=float))
            if self.d @ side_direction(guide, ost, models) <= 0:
                raise PlannerError(
                    f"guide {guide.name!r}: insertion {_fmt(self.d)} points into the bone on "
                    f"the {guide.side} side; it must point out of it (or leave it unset)"
                )
        else:
            self.d = side_direction(guide, ost, models)
        tilt = math.degrees(math.asin(min(1.0, abs(float(self.d @ self.n)))))
        if tilt > MAX_INSERTION_TILT_DEG:
            raise PlannerError(
                f"guide {guide.name!r}: insertion {_fmt(self.d)} is {tilt:.0f}° out of the "
                f"cut plane (at most {MAX_INSERTION_TILT_DEG:g}°); the slot could not guide "
                "the blade: choose a direction closer to the cut plane"
            )
        self.t = unit(self.d - self.n * (self.d @ self.n))
        self.s = np.cross(self.n, self.t)
        self.slot_half = (guide.blade_mm + 2 * guide.clearance_mm) / 2
        self.hole_r = (
            guide.hole_diameter_mm / 2
            if guide.hole_diameter_mm
            else {s.name: s.diameter_mm / 2 + guide.clearance_mm for s in screws}
        )
        self.sleeve = guide.sleeve_length_mm > 0
        self._grid(bone, models)

    def r_of(self, screw) -> float:
        return self.hole_r if isinstance(self.hole_r, float) else self.hole_r[screw.name]

    def pad_of(self, screw) -> float:
        r = self.r_of(screw)
        return max(r + self.guide.wall_mm, r + self.guide.sleeve_wall_mm + 0.5)

    def _grid(self, bone, models):
        g = self.guide
        half = np.hypot(*self.ost.size_mm) / 2
        reach = half + g.margin_mm + g.slot_wall_mm + 5.0
        centres = [self.c] + [s.point_mm for s in self.screws]
        reach_s = 15.0 + g.wall_mm
        self.rotation = hf.grid_frame(self.d, self.u)

        def crop(mesh):
            """Faces near the cut or the screws that face the insertion direction (the
            highest crossing of a column with a closed surface is always such a face)."""
            v = mesh.vertices
            centre = np.mean(centres, axis=0)
            radius = max(np.linalg.norm(np.asarray(centres) - centre, axis=1).max(), 0.0)
            rel = v - centre
            near = np.einsum("ij,ij->i", rel, rel) <= (radius + max(reach, reach_s)) ** 2
            faces = np.flatnonzero(near[mesh.faces].any(axis=1))
            return faces[mesh.face_normals[faces] @ self.d > 0]

        faces = crop(bone)
        if not len(faces):
            raise self.no_bone()
        sub = trimesh.Trimesh(bone.vertices, bone.faces[faces], process=False)
        tri_l = sub.triangles @ self.rotation.T
        # the face's own normal at each crossing: the offset of a flat triangle is exact
        nrm_l = np.repeat((sub.face_normals @ self.rotation.T)[:, None], 3, axis=1)
        grid = hf.Grid.covering(
            self.rotation,
            self._region_xy(bone.vertices[np.unique(sub.faces)]),
            self.step,
            g.slot_wall_mm + 2,
        )
        if grid.shape[0] * grid.shape[1] > 3_000_000:
            raise PlannerError(
                f"guide {g.name!r}: the region is too large to sample at {self.step} mm; "
                "reduce margin_mm"
            )
        self.grid = grid
        self.z_bone, normal = hf.rasterize(grid, tri_l, nrm_l)
        self.cos = normal[..., 2]
        tops = [self.z_bone]
        self.bone_triangles = [sub.triangles]
        for _name, mesh in models.items():
            if mesh is bone:
                continue
            f = crop(mesh)
            if len(f):
                tri = mesh.triangles[f]
                self.bone_triangles.append(tri)
                tops.append(hf.rasterize(grid, tri @ self.rotation.T)[0])
        self.z_top_all = np.max(tops, axis=0)
        self.bone_triangles = np.concatenate(self.bone_triangles)

    def top_samples(self, mask) -> np.ndarray:
        """Dense samples (grid coordinates) of the bone triangles over the footprint
        ``mask`` (grown by 1 mm) that reach the top of their column within 0.6 mm (the
        rest lie too deep to bear on the clearance)."""
        from scipy import ndimage

        grid = self.grid
        near = ndimage.binary_dilation(mask, iterations=int(np.ceil(1.0 / grid.step)))
        tri = self.bone_triangles @ self.rotation.T
        xy = (tri.mean(axis=1)[:, :2] - grid.origin) / grid.step
        ij = np.rint(xy).astype(np.int64)
        inside = np.all((ij >= 0) & (ij < np.array(grid.shape)), axis=1)
        keep = np.zeros(len(tri), bool)
        i, j = ij[inside, 0], ij[inside, 1]
        top = self.z_top_all[i, j]
        keep[inside] = near[i, j] & (tri[inside, :, 2].max(axis=1) >= top - 0.6)
        return hf.surface_samples(tri[keep], SAMPLE_MM)

    def _region_xy(self, vertices):
        """Grid (x, y) of the bone vertices that the guide may cover."""
        g = self.guide
        u, v, w = self.local_cut_coords(vertices)
        du = np.maximum(np.abs(u) - self.ost.size_mm[0] / 2, 0)
        dv = np.maximum(np.abs(v) - self.ost.size_mm[1] / 2, 0)
        near = np.sqrt(du**2 + dv**2 + w**2) <= g.margin_mm + 1
        for s in self.screws:
            near |= np.linalg.norm(vertices - s.point_mm, axis=1) <= self.pad_of(s) + 10
        if not near.any():
            raise self.no_bone()
        return (vertices[near] @ self.rotation.T)[:, :2]

    def no_bone(self):
        g = self.guide
        return PlannerError(
            f"guide {g.name!r}: no bone under the guide region on the {g.side} side of "
            f"osteotomy {self.ost.name!r}; check side, margin_mm and the osteotomy position"
        )

    def local_cut_coords(self, points):
        """(u, v, w) of LPS points in the cut's frame (w across the cut plane)."""
        rel = points - self.c
        return rel @ self.u, rel @ self.v, rel @ self.n


def _check_holes(ctx: _Context) -> None:
    g = ctx.guide
    for s in ctx.screws:
        r = ctx.r_of(s)
        # the bore runs along the axis from below the bone to above the guide
        top = g.clearance_mm + g.wall_mm + max(g.sleeve_length_mm, 0.0) + 2
        ends = [s.point_mm - s.axis * 2, s.point_mm + s.axis * top]
        w = [float((p - ctx.c) @ ctx.n) for p in ends]
        nearest = 0.0 if w[0] * w[1] <= 0 else min(abs(w[0]), abs(w[1]))
        if nearest < ctx.slot_half + r + MIN_WEB_MM and g.positioning != "separate":
            raise PlannerError(
                f"guide {g.name!r}: drill hole {s.name} comes {nearest:.1f} mm from the cut "
                f"plane, into the saw slot (needs {ctx.slot_half + r + MIN_WEB_MM:.1f} mm); "
                "move the footplate point away from the cut"
            )
    for i, a in enumerate(ctx.screws):
        for b in ctx.screws[i + 1 :]:
            gap = float(np.linalg.norm(a.point_mm - b.point_mm))
            need = ctx.r_of(a) + ctx.r_of(b) + MIN_WEB_MM
            if gap < need:
                raise PlannerError(
                    f"guide {g.name!r}: drill holes {a.name} and {b.name} are {gap:.1f} mm "
                    f"apart (need {need:.1f} mm); move the footplates apart"
                )


def _part(ctx, name, kind, with_slot, with_holes, case_label, model_name) -> GuidePart:
    import manifold3d as m3

    g = ctx.guide
    mask, trimmed = footprint(ctx, with_slot, with_holes)
    z_in, floor, z_out = heights(ctx, mask)
    top = float(z_out.max() + g.slot_depth_mm + g.sleeve_length_mm + 20)
    # body = above the floor ∩ (shell outline below its outside ∪ slot block ∪ sleeves):
    # one floor surface, so the parts meet without coincident faces
    shell_grid, sl = sub_grid(ctx.grid, mask, 2)
    low = float(floor.min() - 5)
    outline = prism(mask[sl], shell_grid, low - 1, top + 5)
    parts = [outline ^ between(shell_grid, low, z_out[sl])]
    covered = mask.copy()
    slot = None
    cavities = []
    if with_slot:
        block, cavity, slot, under = slot_solids(ctx, mask, floor, z_in)
        parts.append(block)
        covered |= widened(ctx, under, g.slot_depth_mm + 5)
        cavities.append(cavity)
    screws = ctx.screws if with_holes else ()
    x, y = ctx.grid.xy()
    sleeves = []
    for s in screws:
        r = ctx.r_of(s)
        if ctx.sleeve:
            length = g.sleeve_length_mm  # from the bone, along the screw
            radius = r + g.sleeve_wall_mm
            sleeves.append(
                (s, radius, cylinder(ctx, s.point_mm - 30 * s.axis, s.axis, 30 + length, radius))
            )
            xy = ctx.grid.to_local(s.point_mm)[:2]
            covered |= widened(ctx, np.hypot(x - xy[0], y - xy[1]) <= radius, length + 2)
        cavities.append(cylinder(ctx, s.point_mm - 40 * s.axis, s.axis, 120.0, r))
    parts += [c for _, _, c in sleeves]
    for i, (a, ra, ca) in enumerate(sleeves):  # sleeves that (nearly) touch: one web
        for b, rb, cb in sleeves[i + 1 :]:
            if np.linalg.norm(a.point_mm - b.point_mm) < ra + rb + MIN_WEB_MM:
                parts.append(m3.Manifold.batch_hull([ca, cb]))
    body_grid, bl = sub_grid(ctx.grid, covered, 2)
    above = between(body_grid, floor[bl], top)
    solid = above ^ m3.Manifold.batch_boolean(parts, m3.OpType.Add)
    label = _label(ctx, mask, z_out, top, kind, case_label, screws, slot)
    lines, engraving, label_outline, warnings = label
    if engraving is not None:
        cavities.append(engraving)
    if cavities:
        solid = solid - m3.Manifold.batch_boolean(cavities, m3.OpType.Add)
    bodies = [b for b in solid.decompose() if b.volume() >= CRUMB_MM3]
    if len(bodies) == 1:
        solid = bodies[0]  # crumbs of boolean round-off (slivers at groove edges) dropped
    elif len(bodies) > 1:
        what = "the slot" if with_slot else "the drill holes"
        fix = " or close its ends (slot_ends 'closed')" if with_slot else ""
        raise PlannerError(
            f"guide {name!r}: {what} cut(s) the guide into {len(bodies)} pieces; widen "
            f"margin_mm{fix}"
        )
    matrix = np.zeros((3, 4))
    matrix[:, :3] = ctx.rotation.T
    from planner.geometry import to_trimesh

    # 1 µm: drops the slivers booleans leave (edges far shorter than a printer resolves)
    # so that the STL, stored in float32, stays a closed manifold
    mesh = to_trimesh(solid.transform(matrix).set_tolerance(SIMPLIFY_MM))
    contact = {
        "grid": ctx.grid,
        "mask": mask,
        "z_in": z_in,
        "bone_triangles": ctx.bone_triangles,
        "label_outline": label_outline,
    }
    return GuidePart(
        name=name,
        kind=kind,
        guide=g,
        osteotomy=ctx.ost,
        mesh=mesh,
        insertion=ctx.d,
        screws=screws,
        slot=slot,
        label_lines=lines,
        bone_model=model_name,
        trimmed_fraction=trimmed,
        seconds=0.0,
        contact=contact,
        warnings=tuple(warnings),
    )


def _label(ctx, mask, z_out, top, kind, case_label, screws, slot):
    """The engraving (grid coordinates) of the label lines, placed where they fit."""
    from planner.guides.label import engraving_solid, place_label

    g = ctx.guide
    if not g.label:
        return (), None, None, []
    side = "L" if float(ctx.c[0]) > 0 else "R"  # LPS: +x is the patient's left
    tag = {"cutting": " CUT", "positioning": " POS"}.get(kind, "")
    lines = [case_label.strip()[:40], f"{side} {g.side[:3].upper()} {ctx.ost.name}{tag}"]
    lines = [ln for ln in lines if ln]
    if slot is not None:
        used, solid = block_label(ctx, slot, lines)
        return used, solid, None, []
    keep_out = []  # grid (x, y) discs the label keeps clear of
    for s in screws:
        xy = ctx.grid.to_local(s.point_mm)[:2]
        keep_out.append((xy, ctx.pad_of(s) - g.wall_mm + 1.5))
    placed = place_label(ctx, mask, lines, keep_out)
    if placed is None:
        text = f"guide {g.name!r}: no room for the engraved label; it is left off"
        return (), None, None, [text]
    outline, used = placed
    solid = engraving_solid(ctx.grid, outline, z_out - g.label_depth_mm, top)
    return tuple(used), solid, outline, []


def _fmt(p) -> str:
    return "(" + ", ".join(f"{v:.2f}" for v in np.asarray(p, dtype=float)) + ")"

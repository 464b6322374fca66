"""Is a moving segment free? The free-segment check and the bridges that hold a segment.

:func:`free_segment_check` says whether the segment under a moving footplate is detached
from the one under the fixed footplate and, when it is not, where the bridges of uncut bone
are: on a cut plane just outside its rectangle, or elsewhere (found by a minimum cut on a
voxel grid of the bone between the two points, :func:`planner.plan.bridges.voxel_bridges`).
:func:`require_free_segment` turns a held segment into one line for the user.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from planner.errors import PlannerError
from planner.geometry import invert_pose, to_manifold, to_trimesh
from planner.plan.bridges import Bridge, voxel_bridges
from planner.plan.case import Distractor, Osteotomy
from planner.plan.cuts import CutResult, kerf_solid, osteotomy_frame
from planner.plan.locate import as_point, format_point, nearest_mesh

__all__ = ["Bridge", "FreeSegmentReport", "free_segment_check", "require_free_segment"]


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

    move = as_point(moving_point_mm, "moving_point_mm")
    fix = as_point(fixed_point_mm, "fixed_point_mm")
    meshes = [s.mesh for s in result.segments]
    i_move = nearest_mesh(meshes, move, tol_mm, labels[0])
    i_fix = nearest_mesh(meshes, fix, tol_mm, labels[1])
    if i_move != i_fix:
        return FreeSegmentReport(True, (), i_move, i_fix)

    seg = result.solids[i_move] if result.solids else to_manifold(meshes[i_move], "the segment")
    bridges, sizes, cutters = [], {}, []
    for ost in result.osteotomies:
        found, size = _plane_bridges(seg, ost, margin_mm)
        if found:
            bridges += found
            sizes[ost.name] = size
            cutters.append(kerf_solid(ost, size))
    rest = seg
    if cutters:
        rest = manifold3d.Manifold.batch_boolean([seg, *cutters], manifold3d.OpType.Subtract)
        parts = [p for p in rest.decompose() if p.volume() >= result.min_volume_mm3]
        part_meshes = [to_trimesh(p) for p in parts]
        j_move = nearest_mesh(part_meshes, move, tol_mm + margin_mm, labels[0])
        j_fix = nearest_mesh(part_meshes, fix, tol_mm + margin_mm, labels[1])
        if j_move != j_fix:
            return FreeSegmentReport(False, tuple(bridges), i_move, i_fix, sizes, True)
        rest = parts[j_move]
    kerf = min((o.kerf_mm for o in result.osteotomies), default=2.0)
    pitch = min(voxel_mm, 0.9 * kerf)
    bridges += voxel_bridges(rest, move, fix, pitch, max_voxels, seed_fraction)
    return FreeSegmentReport(False, tuple(bridges), i_move, i_fix, sizes, False)


def _plane_bridges(seg, ost: Osteotomy, margin_mm: float):
    """Bone crossing ``ost``'s plane next to its rectangle; and a size_mm that covers it."""
    import manifold3d

    frame = osteotomy_frame(ost)
    inv = invert_pose(frame)
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
        return f"{br.area_mm2:.0f} mm^2 at {format_point(br.center_mm)}"

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
            parts.append(
                f"bone thinner than the voxel grid joins them near {format_point(br.center_mm)}"
            )
        else:
            parts.append(
                f"bridge of {where(br)} not next to any cut rectangle; add or extend an"
                " osteotomy there"
            )
    return "; ".join(parts) or "no bridge located"

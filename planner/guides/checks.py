"""Checks of a built guide, measured on the mesh (and on its STL file read back).

Every figure is measured, not taken from the construction: the clearance by closest-point
distance from the guide's bone side to the bone, the wall from the outside to the
inside, the slot by fitting planes to its two walls, the holes by fitting a cylinder to
their bores, the seating by sampling the guide and the bone along the insertion direction
on a grid offset from the one the guide was built on.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping

import numpy as np
import trimesh

from planner.guides import heightfield as hf
from planner.guides.make import GuidePart

__all__ = ["TOLERANCES", "check_guide", "check_line", "read_back"]

# Pass limits (issue 9): clearance ±0.05 mm of the setting, slot and holes within 0.5° and
# 0.1 mm of the plan, wall at least the setting (0.01 mm for rounding), no bone overlap.
TOLERANCES = {
    "clearance_mm": 0.05,
    "angle_deg": 0.5,
    "offset_mm": 0.1,
    "wall_mm": 0.01,
    "overlap_mm3": 1e-3,
}
_FACING = 0.3  # |normal · d| above this: a face of the guide's top or bottom
MAX_POINTS = 20_000  # face centres measured per surface, at most


def read_back(mesh: trimesh.Trimesh) -> trimesh.Trimesh:
    """The mesh as a slicer sees it: written as binary STL (numpy-stl) and read again,
    vertices at the same position merged."""
    from planner.guides.files import stl_bytes

    data = stl_bytes(mesh, "check")
    return trimesh.load(io.BytesIO(data), file_type="stl")


def check_guide(
    part: GuidePart,
    bone_models: Mapping[str, trimesh.Trimesh],
    *,
    bone_solids: dict | None = None,
) -> dict:
    """Every check of one guide part; JSON-ready.

    Parameters
    ----------
    part : GuidePart
    bone_models : mapping name -> trimesh.Trimesh
        The bone models (LPS mm).
    bone_solids : dict, optional
        A cache of the models as manifold3d solids, filled on first use.

    Returns
    -------
    dict
        ``watertight``, ``manifold``, ``bodies``, ``volume_mm3`` (of the STL read back),
        ``min_wall_mm``, ``bone_overlap_mm3``, ``clearance_mm`` [min, max] (the worst of
        the bone side's vertices and face centres: what passes or fails), the two apart as
        ``clearance_at_vertices_mm`` and ``clearance_between_vertices_mm``,
        ``slot_angle_deg``, ``slot_offset_mm``, ``slot_width_mm``, ``hole_angle_deg``,
        ``hole_offset_mm`` (worst hole), ``seats``, ``insertion``, ``passed`` and
        ``failures`` (one line each).
    """
    g = part.guide
    out: dict = {"insertion": [round(float(v), 4) for v in part.insertion]}
    back = read_back(part.mesh)
    out["watertight"] = bool(back.is_watertight)
    out["manifold"] = bool(back.is_watertight and back.is_winding_consistent and _is_solid(back))
    out["bodies"] = int(back.body_count)
    out["volume_mm3"] = round(float(back.volume), 1) if back.is_watertight else float("nan")
    out["triangles"] = len(back.faces)
    out.update(_surfaces(part))
    out["bone_overlap_mm3"] = round(_overlap(part, bone_models, bone_solids), 4)
    if part.slot is not None:
        out.update(_slot_fit(part))
    if part.screws:
        out.update(_hole_fit(part))
    out["seats"] = _seats(part)
    failures = []
    if not out["watertight"]:
        failures.append("not watertight as an STL file")
    if not out["manifold"]:
        failures.append("not a manifold solid")
    if out["bodies"] != 1:
        failures.append(f"{out['bodies']} bodies, not one")
    if not out["volume_mm3"] > 0:
        failures.append("no positive volume")
    if out["min_wall_mm"] < g.wall_mm - TOLERANCES["wall_mm"]:
        failures.append(f"wall {out['min_wall_mm']:.2f} mm < {g.wall_mm:g} mm")
    if out["bone_overlap_mm3"] > TOLERANCES["overlap_mm3"]:
        failures.append(f"overlaps the bone by {out['bone_overlap_mm3']:.3f} mm³")
    lo, hi = out["clearance_mm"]
    tol = TOLERANCES["clearance_mm"]
    if not (g.clearance_mm - tol <= lo and hi <= g.clearance_mm + tol):  # NaN fails too
        failures.append(f"clearance {lo:.3f}-{hi:.3f} mm, setting {g.clearance_mm:g} ± 0.05")
    for what in ("slot", "hole"):
        if f"{what}_angle_deg" in out:
            if out[f"{what}_angle_deg"] > TOLERANCES["angle_deg"]:
                failures.append(f"{what} axis {out[f'{what}_angle_deg']:.2f}° off the plan")
            if out[f"{what}_offset_mm"] > TOLERANCES["offset_mm"]:
                failures.append(f"{what} {out[f'{what}_offset_mm']:.3f} mm off the plan")
    if not out["seats"]:
        failures.append("does not seat along its insertion direction (an undercut locks it)")
    out["failures"] = failures
    out["passed"] = not failures
    return out


def check_line(name: str, checks: Mapping) -> str:
    """One line with a guide's checks, for the command line."""
    parts = [
        "watertight" if checks["watertight"] else "NOT watertight",
        f"{checks['bodies']} body" if checks["bodies"] == 1 else f"{checks['bodies']} bodies",
        f"{checks['volume_mm3'] / 1000:.2f} cm³",
        f"wall ≥ {checks['min_wall_mm']:.2f} mm",
        f"clearance {checks['clearance_mm'][0]:.3f}-{checks['clearance_mm'][1]:.3f} mm",
        f"bone overlap {checks['bone_overlap_mm3']:.3f} mm³",
    ]
    if "slot_angle_deg" in checks:
        parts.append(f"slot {checks['slot_angle_deg']:.2f}°/{checks['slot_offset_mm']:.3f} mm")
    if "hole_angle_deg" in checks:
        parts.append(f"holes {checks['hole_angle_deg']:.2f}°/{checks['hole_offset_mm']:.3f} mm")
    parts.append("seats" if checks["seats"] else "LOCKS")
    verdict = "ok" if checks["passed"] else "FAILED: " + "; ".join(checks["failures"])
    return f"guide {name}: " + ", ".join(parts) + f" — {verdict}"


def _every(points, most):
    """At most ``most`` of ``points``, evenly strided (deterministic)."""
    return points[:: max(1, int(np.ceil(len(points) / most)))]


def _is_solid(mesh) -> bool:
    from planner.errors import PlannerError
    from planner.geometry import to_manifold

    try:
        to_manifold(mesh, "guide")
    except PlannerError:
        return False
    return True


def _local_faces(part):
    grid = part.contact["grid"]
    mesh = part.mesh
    normals = mesh.face_normals @ grid.rotation.T
    return grid, mesh, normals


def _inside_nodes(part, points_local, erode_nodes=2):
    """Which local points lie over the footprint (eroded), away from the label, the drill
    holes and the slot (whose walls are neither the guide's inside nor its outside)."""
    from scipy import ndimage

    grid = part.contact["grid"]
    mask = ndimage.binary_erosion(part.contact["mask"], iterations=erode_nodes)
    ij = grid.index_of(points_local[:, :2])
    ok = mask[ij[:, 0], ij[:, 1]]
    outline = part.contact.get("label_outline")
    if outline is not None:
        import shapely

        ok &= ~shapely.contains_xy(outline.buffer(1.0), points_local[:, 0], points_local[:, 1])
    points = grid.to_lps(points_local)
    for screw in part.screws:
        rel = points - screw.point_mm
        radial = np.linalg.norm(rel - np.outer(rel @ screw.axis, screw.axis), axis=1)
        ok &= radial > _radius(part, screw) + 0.5
    if part.slot is not None:
        ok &= np.abs((points - part.slot.center_mm) @ part.slot.normal) > part.slot.width_mm
    return ok


def _surfaces(part) -> dict:
    """Clearance (bone side to bone) and wall (outside to bone side), by closest points."""
    from planner.geometry import SurfaceIndex

    grid, mesh, normals = _local_faces(part)
    tri = mesh.triangles
    centres = mesh.triangles_center
    inside = _inside_nodes(part, grid.to_local(centres))
    bottom = (normals[:, 2] < -_FACING) & inside
    top = (normals[:, 2] > _FACING) & inside
    # the guide's vertices on its bone side (the points the printed surface is made of),
    # and the centres of its faces, where the flat faces sag between vertices
    corners = np.unique(mesh.faces[bottom].ravel())
    corners = corners[_inside_nodes(part, grid.to_local(mesh.vertices[corners]))]
    bone = SurfaceIndex(part.contact["bone_triangles"])
    # every face centre (where a flat face sags furthest from the curved envelope): the
    # worst of them counts, so none is skipped
    between = bone.distance(centres[bottom])
    # a flat inside keeps no vertex off its rim once simplified: then its face centres
    at_vertices = bone.distance(mesh.vertices[corners]) if len(corners) else between
    if not len(between):
        at_vertices = between = np.array([np.nan])
    clearance = np.concatenate([at_vertices, between])
    # the wall: from the outside's face centres to the inside, sampled every 0.15 mm
    # (a nearest-sample distance exceeds the true one by < 0.002 mm at 3 mm)
    from scipy.spatial import cKDTree

    inner = cKDTree(hf.surface_samples(tri[bottom], 0.15))
    top_pts = _every(centres[top], MAX_POINTS)
    wall = inner.query(top_pts)[0] if len(top_pts) else np.array([np.nan])
    return {
        "clearance_mm": [round(float(clearance.min()), 4), round(float(clearance.max()), 4)],
        "clearance_at_vertices_mm": [
            round(float(at_vertices.min()), 4),
            round(float(at_vertices.max()), 4),
        ],
        "clearance_between_vertices_mm": [
            round(float(between.min()), 4),
            round(float(between.max()), 4),
        ],
        "min_wall_mm": round(float(wall.min()), 4),
    }


def _overlap(part, models, cache) -> float:
    from planner.geometry import to_manifold

    cache = {} if cache is None else cache
    guide = to_manifold(part.mesh, f"guide {part.name!r}")
    lo, hi = part.mesh.bounds
    total = 0.0
    for name, mesh in models.items():
        if np.any(mesh.bounds[0] > hi) or np.any(mesh.bounds[1] < lo):
            continue
        if name not in cache:
            cache[name] = to_manifold(mesh, f"bone model {name!r}")
        total += (guide ^ cache[name]).volume()
    return float(total)


def _plane_fit(points):
    centre = points.mean(axis=0)
    normal = np.linalg.svd(points - centre)[2][-1]
    return centre, normal


def _slot_fit(part) -> dict:
    """Fit a plane to each slot wall: the angle and offset of their mid-plane from the cut."""
    slot = part.slot
    mesh = part.mesh
    c, n = slot.center_mm, slot.normal
    w = (mesh.triangles_center - c) @ n
    s = (mesh.triangles_center - c) @ slot.s_axis
    across = np.abs(mesh.face_normals @ n) > 0.5
    along = (s > slot.s_range_mm[0] + 0.2) & (s < slot.s_range_mm[1] - 0.2)
    sides = []
    for sign in (1.0, -1.0):
        faces = across & along & (np.abs(w - sign * slot.width_mm / 2) < 0.05)
        if not faces.any():
            return {"slot_angle_deg": 90.0, "slot_offset_mm": float("inf")}
        pts = mesh.triangles[faces].reshape(-1, 3)
        sides.append(_plane_fit(pts))
    angles, offsets = [], []
    for centre, normal in sides:
        angles.append(math.degrees(math.acos(min(1.0, abs(float(normal @ n))))))
        offsets.append(float((centre - c) @ n))
    return {
        "slot_angle_deg": round(max(angles), 4),
        "slot_offset_mm": round(abs(sum(offsets) / 2), 4),
        "slot_width_mm": round(abs(offsets[0] - offsets[1]), 4),
    }


def _hole_fit(part) -> dict:
    """Fit each bore (axis from its wall normals, centre by a circle fit)."""
    mesh = part.mesh
    worst_angle, worst_offset = 0.0, 0.0
    for screw in part.screws:
        a = screw.axis
        rel = mesh.triangles_center - screw.point_mm
        radial = np.linalg.norm(rel - np.outer(rel @ a, a), axis=1)
        r = _radius(part, screw)
        wall = (np.abs(radial - r) < 0.2 * r) & (np.abs(mesh.face_normals @ a) < 0.05)
        if wall.sum() < 6:
            return {"hole_angle_deg": 90.0, "hole_offset_mm": float("inf")}
        fn = mesh.face_normals[wall] * mesh.area_faces[wall, None]
        axis = np.linalg.eigh(fn.T @ fn)[1][:, 0]
        axis = axis if axis @ a > 0 else -axis
        e1 = np.cross(axis, [1.0, 0, 0] if abs(axis[0]) < 0.9 else [0, 1.0, 0])
        e1 /= np.linalg.norm(e1)
        e2 = np.cross(axis, e1)
        pts = mesh.triangles[wall].reshape(-1, 3) - screw.point_mm
        x, y = pts @ e1, pts @ e2
        sol = np.linalg.lstsq(np.stack([x, y, np.ones_like(x)], 1), -(x**2 + y**2), rcond=None)
        cx, cy = -sol[0][0] / 2, -sol[0][1] / 2
        centre = screw.point_mm + cx * e1 + cy * e2
        # distance from the planned entry point to the fitted axis line
        rel_p = screw.point_mm - centre
        offset = float(np.linalg.norm(rel_p - (rel_p @ axis) * axis))
        angle = math.degrees(math.acos(min(1.0, float(axis @ a))))
        worst_angle, worst_offset = max(worst_angle, angle), max(worst_offset, offset)
    return {"hole_angle_deg": round(worst_angle, 4), "hole_offset_mm": round(worst_offset, 4)}


def _radius(part, screw) -> float:
    g = part.guide
    if g.hole_diameter_mm:
        return g.hole_diameter_mm / 2
    return screw.diameter_mm / 2 + g.clearance_mm


def _seats(part) -> bool:
    """True when no bone lies above any part of the guide along the insertion direction,
    sampled at the centres of the build grid's cells (a grid it was not built on)."""
    grid = part.contact["grid"]
    shifted = hf.Grid(grid.rotation, grid.origin + grid.step / 2, grid.step, grid.shape)
    guide_local = grid.to_local(part.mesh.triangles.reshape(-1, 3)).reshape(-1, 3, 3)
    flipped = guide_local * np.array([1.0, 1.0, -1.0])
    low, _ = hf.rasterize(shifted, flipped)
    bottom = -low  # lowest crossing of the guide in each column
    bone = part.contact["bone_triangles"]
    top, _ = hf.rasterize(shifted, grid.to_local(bone.reshape(-1, 3)).reshape(-1, 3, 3))
    both = (low > hf.NO_HEIGHT / 2) & (top > hf.NO_HEIGHT / 2)
    return bool(not np.any(top[both] > bottom[both] + 1e-3))

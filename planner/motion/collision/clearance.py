"""The closest approach of one posed piece to the rest of the bone: :func:`clearance`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import trimesh

from planner.geometry import check_pose
from planner.motion.collision.overlap import inside, overlap, solid_of
from planner.motion.collision.pair import Pair
from planner.motion.collision.surface import Surface

__all__ = ["Clearance", "as_meshes", "clearance"]


@dataclass(frozen=True)
class Clearance:
    """The closest approach of a posed piece to the rest of the bone.

    Attributes
    ----------
    distance_mm : float
        Exact surface-to-surface distance (0 when the surfaces touch or cross).
    point_on_moving_mm, point_on_static_mm : (3,) float
        The closest points, LPS mm (the moving one after the pose).
    penetrating : bool
        The pieces overlap: their overlap volume is positive, or one lies inside the other.
    penetration_depth_mm : float
        How far a surface has sunk into the other piece (0 when not penetrating; NaN when
        a mesh is not a closed volume and the surfaces cross).
    overlap_volume_mm3 : float
        Volume shared by the two pieces; NaN when a mesh is not a closed volume.
    static_index : int
        Which of the static meshes is closest.
    """

    distance_mm: float
    point_on_moving_mm: np.ndarray
    point_on_static_mm: np.ndarray
    penetrating: bool = False
    penetration_depth_mm: float = 0.0
    overlap_volume_mm3: float = 0.0
    static_index: int = 0


def as_meshes(meshes, name: str) -> list[trimesh.Trimesh]:
    items = [meshes] if isinstance(meshes, trimesh.Trimesh) else list(meshes)
    for m in items:
        if not isinstance(m, trimesh.Trimesh):
            raise TypeError(f"{name} must hold trimesh.Trimesh meshes, got {type(m).__name__}")
        if len(m.faces) == 0:
            raise ValueError(f"{name} holds an empty mesh")
    if not items:
        raise ValueError(f"{name} is empty")
    return items


def clearance(moving: trimesh.Trimesh, pose, static) -> Clearance:
    """Exact minimum distance between a posed piece and the static piece(s), with overlap.

    Parameters
    ----------
    moving : trimesh.Trimesh
        The moving piece in its start position, LPS mm.
    pose : (4, 4) float
        Rigid transform applied to ``moving`` (``p' = T[:3, :3] @ p + T[:3, 3]``).
    static : trimesh.Trimesh or sequence of trimesh.Trimesh
        The rest of the bone, LPS mm.

    Returns
    -------
    Clearance
        Exact to 1 µm (see the module notes); overlap measures need closed meshes.
    """
    pose = check_pose(pose, "pose")
    moving = as_meshes(moving, "moving")[0]
    a = Surface(moving.vertices, moving.faces)
    best = None
    for index, mesh in enumerate(as_meshes(static, "static")):
        b = Surface(mesh.vertices, mesh.faces)
        d, pa, pb = Pair(a, b).distance(pose)
        penetrating, volume, depth = False, 0.0, 0.0
        if d == 0.0 or inside(a, pose, b):
            solids = [solid_of(m) for m in (moving, mesh)]
            volume, depth = overlap(solids[0], pose, solids[1], a, b)
            penetrating = not volume <= 1e-9  # NaN (not closed) counts as overlapping
        key = (not penetrating, d, -np.nan_to_num(depth))
        if best is None or key < best[0]:
            best = (key, Clearance(d, pa, pb, penetrating, depth, volume, index))
    return best[1]

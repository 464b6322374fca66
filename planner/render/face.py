"""What patients and families see: the face from the CT, carried by the bone (approximately).

The skin
    The isosurface of the CT at :data:`SKIN_LEVEL_HU` (between air, -1000 HU, and fat,
    about -100 HU), on the volume sampled every :data:`SKIN_STEP_MM` or so, its largest
    connected piece (the body), decimated to :data:`SKIN_TRIANGLES` triangles.
The soft-tissue model (an APPROXIMATION, stated on every picture)
    A skin point moves by :data:`SOFT_TISSUE_RATIO` times the movement of the nearest
    moving bone segment at that point, weighted by
    ``w(d) = exp(-((max(0, d - FULL_WITHIN_MM)) / FALLOFF_MM)^2 / 2)``, ``d`` the
    distance from the skin point to that segment's surface at day 0: skin over the moving
    bone (soft tissue up to :data:`FULL_WITHIN_MM` thick) follows it, skin further away
    less and less. Several moving segments add up, with the weights capped at 1 in total.
    Real soft tissue stretches, thins and is held by muscle; clinical ratios vary (about
    0.6-1.0 for the chin over the mandible): this shows the direction and rough size of
    the change, not a prediction of the face.

No picture carries the patient's name or ID: captions give the day (and date) only.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from planner.errors import PlannerError

__all__ = [
    "APPROXIMATION_NOTE",
    "SkinModel",
    "face_items",
    "skin_model",
    "skin_surface",
    "write_face_outputs",
]

SKIN_LEVEL_HU = -299.5
SKIN_STEP_MM = 1.5
SKIN_TRIANGLES = 50_000
SOFT_TISSUE_RATIO = 0.8
FULL_WITHIN_MM = 12.0
FALLOFF_MM = 10.0
SKIN_RGBA = (225, 180, 155, 255)
APPROXIMATION_NOTE = (
    f"Face: APPROXIMATION - skin moves {SOFT_TISSUE_RATIO:g} x the bone beneath, fading "
    f"beyond {FULL_WITHIN_MM:g} mm; not a prediction of the face"
)


def skin_surface(volume, *, level_hu: float = SKIN_LEVEL_HU) -> object:
    """The outer skin of a CT volume as a trimesh.Trimesh, LPS mm (see the module notes)."""
    import fast_simplification
    import pyvista as pv
    import trimesh

    spacing = np.linalg.norm(volume.affine[:3, :3], axis=0)
    step = np.maximum(1, np.round(SKIN_STEP_MM / spacing)).astype(int)
    hu = np.asarray(volume.hu[:: step[0], :: step[1], :: step[2]], dtype=np.float32)
    if hu.max() <= level_hu or hu.min() >= level_hu:
        raise PlannerError(f"the scan has no surface at {level_hu:g} HU: is it a CT of the head?")
    grid = pv.ImageData(dimensions=hu.shape)
    grid.point_data["hu"] = hu.ravel(order="F")
    surf = grid.contour([level_hu], scalars="hu", method="flying_edges")
    surf = surf.connectivity("largest").extract_surface(algorithm="dataset_surface").triangulate()
    faces = surf.faces.reshape(-1, 4)[:, 1:]
    ijk = surf.points * step  # back to the full grid's indices
    lps = ijk @ volume.affine[:3, :3].T + volume.affine[:3, 3]
    if len(faces) > SKIN_TRIANGLES:
        lps, faces = fast_simplification.simplify(
            lps.astype(np.float32), faces, target_reduction=1 - SKIN_TRIANGLES / len(faces)
        )
    return trimesh.Trimesh(np.asarray(lps, dtype=float), faces, process=True)


@dataclass(frozen=True, eq=False)
class SkinModel:
    """The skin and, per moving segment, the weight of its movement at each skin vertex.

    Attributes
    ----------
    mesh : trimesh.Trimesh
        Skin at day 0, LPS mm.
    weights : dict segment name -> (n_vertices,) float
        ``SOFT_TISSUE_RATIO * w(d)``, summing to at most ``SOFT_TISSUE_RATIO``.
    """

    mesh: object
    weights: dict

    def vertices_at(self, poses) -> np.ndarray:
        """(n, 3) skin vertices for segment ``poses`` (name -> (4, 4))."""
        v = np.asarray(self.mesh.vertices, dtype=float)
        out = v.copy()
        for name, w in self.weights.items():
            pose = poses[name]
            out += w[:, None] * (v @ pose[:3, :3].T + pose[:3, 3] - v)
        return out


def skin_model(plan, skin) -> SkinModel:
    """Weights of the soft-tissue model (module notes) for ``skin`` over ``plan``'s bone."""
    from scipy.spatial import cKDTree

    from planner.render.scene import moving_segments

    v = np.asarray(skin.vertices, dtype=float)
    raw = {}
    for name in moving_segments(plan):
        d, _ = cKDTree(plan.segments[name].vertices).query(v)
        raw[name] = np.exp(-0.5 * (np.maximum(0.0, d - FULL_WITHIN_MM) / FALLOFF_MM) ** 2)
    total = sum(raw.values()) if raw else np.zeros(len(v))
    scale = np.where(total > 1.0, 1.0 / np.maximum(total, 1e-12), 1.0)
    weights = {n: SOFT_TISSUE_RATIO * w * scale for n, w in raw.items()}
    return SkinModel(skin, weights)


_ITEMS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def face_items(model: SkinModel, plan, day: float, *, continuous: bool = True) -> list:
    """The skin, moved by the soft-tissue model at ``day``, as a one-item scene."""
    import trimesh

    from planner.render.scene import SceneItem

    v = model.vertices_at(plan.poses_at(day, continuous=continuous))
    mesh = trimesh.Trimesh(v, model.mesh.faces, process=False)
    return [SceneItem("skin", "skin", mesh, SKIN_RGBA, np.eye(4))]


def load_skin(plan, case_dir: str | Path) -> SkinModel:
    """Read the case's CT and make its :class:`SkinModel`."""
    from planner.scan.dicom import load_volume

    source = plan.case.source
    scan = Path(case_dir) / source.path
    if not source.path or not scan.exists():
        raise PlannerError(
            f"the face needs the case's CT but {source.path!r} is not there: set "
            "source.path in case.json to the scan's folder"
        )
    volume = load_volume(scan, series_uid=source.series_uid or None)
    return skin_model(plan, skin_surface(volume))


def write_face_outputs(plan, case_dir, out_dir, *, settings) -> list[Path]:
    """Face before/after (front and profile) and a short face clip; returns the paths."""
    import dataclasses

    from planner.render.clip import caption, render_clip, treatment_end
    from planner.render.offscreen import Renderer, require_rendering, scene_bounds
    from planner.render.stills import side_by_side, write_png

    require_rendering()
    out_dir = Path(out_dir)
    model = load_skin(plan, case_dir)
    end = treatment_end(plan)
    before, after = face_items(model, plan, 0.0), face_items(model, plan, end)
    bounds = scene_bounds([before, after])
    paths = []
    for view in ("front", "left"):
        frames = []
        with Renderer(before, bounds, view=view, size=(800, 800)) as r:
            r.text("note", APPROXIMATION_NOTE, "lower_left", size=10)
            for label, items, t in (("BEFORE", before, 0.0), ("AFTER", after, end)):
                r.update(items)
                r.text("caption", f"{label}: " + caption(plan, t, continuous=False))
                frames.append(r.frame())
        paths.append(write_png(side_by_side(frames), out_dir / f"face_before_after_{view}.png"))
    view = settings.view if settings.view in ("front", "left", "right", "orbit") else "left"
    face_clip = dataclasses.replace(settings, view=view)
    paths += render_clip(
        plan,
        out_dir,
        settings=face_clip,
        stem="face",
        items_at=lambda t: face_items(model, plan, t),
        note=APPROXIMATION_NOTE,
    )
    return paths

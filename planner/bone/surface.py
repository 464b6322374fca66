"""Bone surfaces: labels + HU -> watertight triangle meshes in LPS millimetres.

:func:`extract_surface` takes the isosurface of the HU at the bone threshold (VTK flying
edges, sub-voxel accurate) restricted to one label; :func:`simplify` decimates it
(fast-simplification), passes it through manifold3d so the result is a closed 2-manifold,
and measures how far the dense surface lies from the simplified one; :func:`split_bodies`
parts a surface into its bodies (each with its cavities); :func:`mesh_report` sums a mesh
up. Nothing is dropped on the way: every closed piece of the label is kept as a body.
:func:`write_stl` (from :mod:`planner.bone.stl`) writes binary STL.
"""

from __future__ import annotations

import math

import numpy as np
import trimesh

from planner.bone.decimate import MAX_BLOCK_FACES, body_points, decimate, triangles_near
from planner.bone.deviation import Deviation, deviation
from planner.bone.pieces import components, signed_volumes
from planner.bone.stl import STL_HEADER, separate_coincident, write_stl
from planner.errors import PlannerError
from planner.geometry import to_manifold, to_trimesh
from planner.scan.volume import Volume, c_frame

__all__ = [
    "STL_HEADER",
    "Deviation",
    "extract_surface",
    "label_boxes",
    "mesh_report",
    "simplify",
    "split_bodies",
    "write_stl",
]

_LOW_HU = -1024.0  # what the isosurface sees outside the label
_SLIVER_MM3 = 1.0  # closed pieces smaller than this after simplification are slivers
_FLAT_MM3 = 1e-6  # pieces of no volume (decimation's folds) are dropped; the rest is kept


def extract_surface(
    volume: Volume,
    labels: np.ndarray,
    label: int,
    *,
    threshold_hu: float,
    min_cavity_mm3: float = 1000.0,
    box_ijk: tuple[slice, slice, slice] | None = None,
) -> trimesh.Trimesh:
    """The bone surface of one label: an isosurface of the HU, in LPS mm.

    The HU are kept in and next to the label (so the surface keeps its sub-voxel
    position) and set to air everywhere else, including in other labels where they touch,
    so that touching bones split cleanly. Where the label reaches the edge of the scan the
    surface is closed there. Every closed piece is kept, as a body of its own, largest
    first (:func:`split_bodies` parts them), with the cavities inside each of at least
    ``min_cavity_mm3`` (smaller ones, such as marrow spaces, are filled and counted).

    Parameters
    ----------
    volume : Volume
        The CT volume.
    labels : (ni, nj, nk) integer array
        Labels on the volume's grid.
    label : int
        The label to mesh.
    threshold_hu : float
        Iso level, HU (use a half-integer against integer data).
    min_cavity_mm3 : float
        Enclosed cavities at least this large keep their (inward-facing) surface, mm³.
    box_ijk : tuple of 3 slices, optional
        The label's bounding box on the volume's (i, j, k) axes, when already known
        (:func:`label_boxes` finds every label's in one pass).

    Returns
    -------
    trimesh.Trimesh
        Watertight, outward-oriented, vertices in LPS mm, faces grouped body by body.
        ``metadata`` holds ``body_faces`` and ``body_mm3`` (per body, largest first),
        ``dropped_pieces`` and ``dropped_mm3`` (0 here: nothing is left out),
        ``cavities_kept``, ``cavities_filled`` and ``cavities_filled_mm3``.

    Raises
    ------
    PlannerError
        If the label is empty.
    """
    if labels.shape != volume.shape:
        raise ValueError(f"labels have shape {labels.shape}, the volume {volume.shape}")
    if not math.isfinite(threshold_hu):
        raise ValueError(f"threshold_hu must be finite, got {threshold_hu}")
    from scipy import ndimage as ndi

    hu, perm = c_frame(volume.hu)
    lab = labels.transpose(perm)
    if lab.dtype == bool:
        lab = lab.view(np.uint8)
    if box_ijk is not None:  # the caller found it (one pass for all labels)
        found = tuple(box_ijk[perm[a]] for a in range(3))
    elif np.issubdtype(lab.dtype, np.integer) and 0 < label <= np.iinfo(lab.dtype).max:
        found = ndi.find_objects(lab, max_label=int(label))[-1]  # one pass, no mask
    else:
        found = ndi.find_objects((lab == label).view(np.uint8))
        found = found[0] if found else None
    if found is None:
        raise PlannerError(f"label {label} is empty: there is no bone to make a model of")
    # the label and its neighbours: one voxel more on each side, within the scan
    box = tuple(
        slice(max(s.start - 1, 0), min(s.stop + 1, n))
        for s, n in zip(found, lab.shape, strict=True)
    )
    integer = np.issubdtype(hu.dtype, np.integer)
    dtype = hu.dtype if integer and np.iinfo(hu.dtype).min <= _LOW_HU else np.float32
    values = np.full(tuple(s.stop - s.start + 2 for s in box), _LOW_HU, dtype=dtype)
    lift = math.ceil(threshold_hu + 0.25) if integer else threshold_hu + 0.5
    # against integer HU compare with an integer (a float would make float64 temporaries)
    level = math.floor(threshold_hu) if integer else np.float32(threshold_hu)
    above_level = np.nextafter(np.float32(threshold_hu), np.float32(np.inf))
    # slab by slab along the slowest axis, so that the temporaries stay small
    slab = max(1, 4_000_000 // max(1, values.shape[1] * values.shape[2]))
    for a in range(box[0].start, box[0].stop, slab):
        b = min(a + slab, box[0].stop)
        part = (slice(a, b), box[1], box[2])
        core = values[1 + a - box[0].start : 1 + b - box[0].start, 1:-1, 1:-1]
        core[...] = hu[part]
        inside = lab[part] == label
        above = core > level
        # bone that is not this label (another label, or pieces dropped) counts as air, so
        # that only this label's voxels lie above the level; its neighbours keep their HU,
        # which places the surface between voxels
        np.copyto(core, _LOW_HU, where=above > inside, casting="unsafe")
        # a label voxel below the level (an edited label): lift it just above
        np.copyto(core, lift, where=inside > above, casting="unsafe")
        if not integer:  # no value may sit exactly on the level
            np.copyto(core, above_level, where=core == level)
    del core, inside, above

    xyz, faces = _flying_edges(values, threshold_hu)
    del values  # the surface is all that is needed from here
    if len(faces) == 0:
        raise PlannerError(f"label {label} gives no surface at {threshold_hu:g} HU")
    # array index (axis a, as VTK's coordinate 2 - a) -> volume index (axis perm[a]) -> LPS
    to_lps = np.zeros((4, 4))
    to_lps[3, 3] = 1.0
    start = np.array([s.start - 1 for s in box], dtype=float)
    for a in range(3):
        to_lps[:3, 2 - a] = volume.affine[:3, perm[a]]
    to_lps[:3, 3] = volume.affine[:3, 3] + volume.affine[:3, list(perm)] @ start
    vertices = xyz @ to_lps[:3, :3].T + to_lps[:3, 3]

    vertices, faces, info = _sort_pieces(vertices, faces, min_cavity_mm3)
    mesh = trimesh.Trimesh(vertices, faces, process=False)
    mesh.metadata.update(info)
    return mesh


def label_boxes(labels: np.ndarray) -> dict[int, tuple[slice, slice, slice]]:
    """Bounding box of every nonzero label, on the array's own (i, j, k) axes (one pass).

    Parameters
    ----------
    labels : (ni, nj, nk) integer or bool array
    """
    from scipy import ndimage as ndi

    lab, perm = c_frame(labels)
    if lab.dtype == bool:
        lab = lab.view(np.uint8)
    inverse = np.argsort(perm)
    return {
        n + 1: tuple(found[inverse[a]] for a in range(3))  # type: ignore[misc]
        for n, found in enumerate(ndi.find_objects(lab))
        if found is not None
    }


def _flying_edges(values: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """VTK flying edges on a C-ordered 3D array (VTK only: no pyvista import).

    Returns vertices (n, 3) in array index units, ordered as VTK's x, y, z (the array's
    axes 2, 1, 0), and triangles (m, 3) int64.
    """
    from vtkmodules.util.numpy_support import numpy_to_vtk, vtk_to_numpy
    from vtkmodules.vtkCommonCore import vtkSMPTools
    from vtkmodules.vtkCommonDataModel import vtkImageData
    from vtkmodules.vtkFiltersCore import vtkFlyingEdges3D

    image = vtkImageData()
    image.SetDimensions(*values.shape[::-1])
    scalars = numpy_to_vtk(values.ravel(), deep=False)
    scalars.SetName("hu")
    image.GetPointData().SetScalars(scalars)
    edges = vtkFlyingEdges3D()
    edges.SetInputData(image)
    edges.SetValue(0, float(level))
    edges.ComputeNormalsOff()
    edges.ComputeGradientsOff()
    edges.ComputeScalarsOff()
    # every core for this filter (VTK's wheels default to one thread: 0.27 s against 0.17 s
    # on 512×512×300), and the process's choice given back after it
    previous = vtkSMPTools.GetBackend()
    vtkSMPTools.SetBackend("STDThread")
    try:
        edges.Update()
    finally:
        vtkSMPTools.SetBackend(previous)
    surface = edges.GetOutput()
    polys = surface.GetPolys()
    if polys.GetNumberOfCells() == 0:
        return np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64)
    if polys.GetNumberOfConnectivityIds() != 3 * polys.GetNumberOfCells():
        raise PlannerError("the isosurface holds polygons other than triangles")  # never seen
    faces = vtk_to_numpy(polys.GetConnectivityArray()).astype(np.int64).reshape(-1, 3)
    xyz = vtk_to_numpy(surface.GetPoints().GetData()).astype(np.float64)
    return xyz, faces


def _sort_pieces(
    vertices: np.ndarray, faces: np.ndarray, min_cavity_mm3: float, min_piece_mm3: float = 0.0
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Orient a closed surface outward and order it body by body, largest first.

    Every body (closed piece enclosing material) of at least ``min_piece_mm3`` is kept;
    smaller ones (slivers left by decimation) are dropped and counted. Cavities (closed
    pieces facing inward) of at least ``min_cavity_mm3`` that lie within a body's bounds
    keep their surface and go with the smallest such body; the others are filled.

    Returns
    -------
    (vertices, faces, info)
        Faces grouped by body: body ``b`` (with its cavities) is
        ``faces[offsets[b]:offsets[b + 1]]``, ``offsets = cumsum([0] + body_faces)``.
        ``info`` holds ``body_faces``, ``body_mm3``, ``dropped_pieces``, ``dropped_mm3``,
        ``cavities_kept``, ``cavities_filled`` and ``cavities_filled_mm3``.
    """
    vertex_comp = components(faces, len(vertices), per_vertex=True)
    comp = vertex_comp[faces[:, 0]]
    n_comp = int(vertex_comp.max()) + 1
    comp_volume = np.bincount(comp, weights=signed_volumes(vertices, faces), minlength=n_comp)
    if comp_volume.sum() < 0:  # VTK's winding, or a mirrored affine: make normals outward
        faces = faces[:, ::-1]
        comp_volume = -comp_volume
    lo = np.full((n_comp, 3), np.inf)
    hi = np.full((n_comp, 3), -np.inf)
    for a in range(3):
        np.minimum.at(lo[:, a], vertex_comp, vertices[:, a])
        np.maximum.at(hi[:, a], vertex_comp, vertices[:, a])
    floor = max(min_piece_mm3, 1e-12)
    bodies = [int(c) for c in np.argsort(comp_volume)[::-1] if comp_volume[c] >= floor]
    owner = np.full(n_comp, -1)
    owner[bodies] = np.arange(len(bodies))
    for c in np.nonzero(comp_volume <= -min_cavity_mm3)[0]:
        inside = [b for b in bodies if np.all(lo[c] >= lo[b]) and np.all(hi[c] <= hi[b])]
        if inside:
            owner[c] = owner[min(inside, key=lambda b: comp_volume[b])]
    loose = (owner < 0) & (comp_volume > 0)
    filled = (owner < 0) & (comp_volume < 0)
    face_owner = owner[comp]
    order = np.argsort(face_owner, kind="stable")
    order = order[face_owner[order] >= 0]
    faces = faces[order]
    used = np.zeros(len(vertices), dtype=bool)
    used[faces.ravel()] = True
    index = np.cumsum(used) - 1
    info = {
        "body_faces": np.bincount(face_owner[order], minlength=len(bodies)).tolist(),
        "body_mm3": [float(comp_volume[b]) for b in bodies],
        "dropped_pieces": int(loose.sum()),
        "dropped_mm3": float(comp_volume[loose].sum()),
        "cavities_kept": int(np.count_nonzero((owner >= 0) & (comp_volume < 0))),
        "cavities_filled": int(filled.sum()),
        "cavities_filled_mm3": float(-comp_volume[filled].sum()),
    }
    return vertices[used], index[faces], info


def split_bodies(mesh: trimesh.Trimesh) -> list[trimesh.Trimesh]:
    """The bodies of a surface from :func:`extract_surface`, largest first, with cavities.

    Parameters
    ----------
    mesh : trimesh.Trimesh
        A surface whose ``metadata["body_faces"]`` says how many faces each body has (its
        faces grouped body by body, as :func:`extract_surface` makes them).

    Returns
    -------
    list of trimesh.Trimesh
        One closed mesh per body; ``metadata["body_mm3"]`` holds its volume.
    """
    counts = mesh.metadata.get("body_faces")
    faces = np.asarray(mesh.faces)
    if counts is None or sum(counts) != len(faces):
        raise ValueError("the mesh does not come from extract_surface (no body_faces)")
    vertices = np.asarray(mesh.vertices)
    out = []
    offsets = np.cumsum([0, *counts])
    for b in range(len(counts)):
        f = faces[offsets[b] : offsets[b + 1]]
        used = np.zeros(len(vertices), dtype=bool)
        used[f.ravel()] = True
        index = np.cumsum(used) - 1
        part = trimesh.Trimesh(vertices[used], index[f], process=False)
        part.metadata.update(body_mm3=mesh.metadata["body_mm3"][b])
        out.append(part)
    return out


def _manifold(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pass a mesh through manifold3d: a closed, consistently oriented 2-manifold."""
    solid = to_manifold(
        trimesh.Trimesh(vertices, faces, process=False),
        "the simplified surface",
        fix="try a larger target_faces",
    )
    out = to_trimesh(solid)
    return out.vertices.view(np.ndarray), out.faces.view(np.ndarray)


def simplify(
    mesh: trimesh.Trimesh,
    *,
    target_faces: int = 200_000,
    max_error_mm: float = 1.5,
    smooth_iterations: int = 0,
    block_faces: int = MAX_BLOCK_FACES,
) -> tuple[trimesh.Trimesh, Deviation]:
    """Decimate a dense isosurface to about ``target_faces`` triangles, keeping it closed.

    Quadric decimation (fast-simplification, in slabs of at most ``block_faces``
    triangles so that its memory stays bounded: :func:`planner.bone.decimate.decimate`),
    optional Taubin smoothing (off by default: it moves the surface off the scan's iso
    level), then manifold3d, which guarantees a closed 2-manifold, whose vertices that share
    a position (a pinch where two sheets touch) are then moved a few micrometres apart
    (:func:`planner.bone.stl.separate_coincident`), so the STL written and read back keeps
    the topology. Where a dense vertex lies more than ``max_error_mm`` from the result (a
    thin plate or pit collapsed) or a thin neck pinched so that a piece came off, the dense
    triangles within three decimated edges of every such spot, piece and sliver are kept as
    they are and the rest is decimated again (twice at most; slabs nowhere near them are
    reused). If the result still has too few bodies or is still beyond the bound,
    decimation is retried with at least half the dense triangles, and if that fails too
    the dense surface is kept: the result has the bodies of the input (slivers under 1 mm³
    that decimation leaves are dropped and counted) within the bound.

    Parameters
    ----------
    mesh : trimesh.Trimesh
        Dense, watertight surface (from :func:`extract_surface` or :func:`split_bodies`),
        LPS mm, any number of bodies.
    target_faces : int
        Triangles wanted.
    max_error_mm : float
        Largest distance allowed from a dense vertex to the result, mm. The default, 1.5
        mm, is met at 200,000 triangles or after one retry on the test scans; typical
        figures are far smaller (mean about 0.02 mm, 99th percentile about 0.1 mm): the
        maximum comes from the odd spot where a sub-voxel-thin plate or pit collapses.
    smooth_iterations : int
        Taubin smoothing passes after decimation (0: none).
    block_faces : int
        Decimate in slabs of about this many triangles (fast-simplification holds about
        280 bytes per triangle it is given, until the process ends).

    Returns
    -------
    (trimesh.Trimesh, Deviation)
        The simplified mesh (watertight, outward normals) and its distance from the dense
        surface.
    """
    if target_faces < 4:
        raise ValueError(f"target_faces must be at least 4, got {target_faces}")
    if not max_error_mm > 0:
        raise ValueError(f"max_error_mm must be > 0, got {max_error_mm}")
    if smooth_iterations < 0:
        raise ValueError(f"smooth_iterations must be >= 0, got {smooth_iterations}")
    dense = np.asarray(mesh.vertices, dtype=np.float64)
    dense_faces = np.asarray(mesh.faces, dtype=np.int64)
    # bodies under a sliver's volume (a voxel or two) are kept as they are: decimation
    # would take them for its own slivers
    if isinstance(mesh.metadata.get("body_mm3"), float) and mesh.metadata["body_mm3"] > 1:
        small, n_bodies = None, 1  # one body from split_bodies: nothing to set aside
    else:
        dense, dense_faces, small, n_bodies = _set_aside_small(dense, dense_faces)
    target = int(target_faces)
    keep_rounds = 0
    memo: dict = {}  # slabs already decimated, reused where nothing was kept
    keep = None  # dense triangles left as they are, where decimation went too far
    while True:
        if target < len(dense_faces):
            v, f = decimate(
                dense, dense_faces, target, keep=keep, memo=memo, max_block_faces=block_faces
            )
        else:
            v, f = dense, dense_faces
        if smooth_iterations:
            smoothed = trimesh.Trimesh(v, f, process=False)
            trimesh.smoothing.filter_taubin(smoothed, iterations=smooth_iterations)
            v = np.asarray(smoothed.vertices)
        v, f = _manifold(v, f)
        # where decimation pinches a thin neck, manifold3d cuts it: a piece comes off (a
        # retry keeps more triangles); slivers of no volume are dropped, and closed pieces
        # facing inward (cavities, or the inside of a thin tube) kept
        v, f, info = _sort_pieces(v, f, min_cavity_mm3=_SLIVER_MM3, min_piece_mm3=_FLAT_MM3)
        v, _ = separate_coincident(v, f)
        dev = deviation(dense, v, f, far_mm=max_error_mm)
        n_out = sum(1 for b in info["body_mm3"] if b >= _SLIVER_MM3)
        within = dev.max_mm <= max_error_mm and n_out == n_bodies
        if within or target >= len(dense_faces):
            break
        # a few spots went too far (a thin plate or pit collapsed) or a thin neck pinched
        # (a piece came off): keep the dense surface around them, and around every sliver,
        # and decimate the rest as before (twice at most)
        extra = [b >= n_bodies or mm3 < _SLIVER_MM3 for b, mm3 in enumerate(info["body_mm3"])]
        spots = np.concatenate(
            [
                dense[[] if dev.far is None else dev.far],
                body_points(v, f, info["body_faces"], extra),
            ]
        )
        if n_out >= n_bodies and len(spots) and keep_rounds < 2:
            near = triangles_near(dense, dense_faces, spots, target)
            keep = near if keep is None else near | keep
            keep_rounds += 1
            continue
        # thin plates and pits collapse under heavy decimation: ease it, and in the end
        # keep every triangle (one retry at half the dense count, then none)
        keep, memo = None, {}
        half = len(dense_faces) // 2
        target = max(2 * target, half) if target < half else len(dense_faces)
    if small is not None:
        f = np.concatenate([f, small[1] + len(v)])
        v = np.concatenate([v, small[0]])
    out = trimesh.Trimesh(v, f, process=False)
    out.metadata.update(mesh.metadata)
    out.metadata.update(
        deviation_mean_mm=dev.mean_mm,
        deviation_max_mm=dev.max_mm,
        simplify_dropped_pieces=info["dropped_pieces"],
        simplify_dropped_mm3=info["dropped_mm3"],
        body_faces=info["body_faces"],
        body_mm3=info["body_mm3"],
    )
    return out, dev


def _set_aside_small(vertices: np.ndarray, faces: np.ndarray):
    """Split off the bodies under ``_SLIVER_MM3``.

    Returns the rest (vertices, faces), the small ones as ``(vertices, faces)`` or None,
    and the number of bodies left.
    """
    comp = components(faces, len(vertices))
    volume = np.bincount(comp, weights=signed_volumes(vertices, faces))
    volume = volume if volume.sum() >= 0 else -volume
    small = (volume > 0) & (volume < _SLIVER_MM3)
    n_bodies = int(np.count_nonzero(volume >= _SLIVER_MM3))
    if not small.any():
        return vertices, faces, None, n_bodies
    parts = []
    for pick in (~small[comp], small[comp]):
        used, index = np.unique(faces[pick], return_inverse=True)
        parts.append((vertices[used], index.reshape(-1, 3)))
    return parts[0][0], parts[0][1], parts[1], n_bodies


def mesh_report(mesh: trimesh.Trimesh) -> dict:
    """JSON-ready figures of a mesh.

    Returns
    -------
    dict
        ``triangles``, ``vertices``, ``volume_mm3`` and ``volume_cm3`` (NaN unless
        watertight), ``area_mm2``, ``watertight``, ``winding_consistent``, ``bodies``
        (closed pieces enclosing material) and ``cavities`` (closed pieces enclosing a
        void inside a body), ``bounds_mm`` (LPS min and max corners).
    """
    watertight = bool(mesh.is_watertight)
    vertices = np.asarray(mesh.vertices, dtype=np.float64)
    faces = np.asarray(mesh.faces, dtype=np.int64)
    if len(faces):
        comp = components(faces, len(vertices))
        comp_volume = np.bincount(comp, weights=signed_volumes(vertices, faces))
        comp_volume = comp_volume[np.bincount(comp) > 0]
    else:
        comp_volume = np.zeros(0)
    volume_mm3 = float(comp_volume.sum()) if watertight else float("nan")
    return {
        "triangles": len(faces),
        "vertices": len(vertices),
        "volume_mm3": round(volume_mm3, 1),
        "volume_cm3": round(volume_mm3 / 1000.0, 3),
        "area_mm2": round(float(mesh.area), 1),
        "watertight": watertight,
        "winding_consistent": bool(mesh.is_winding_consistent),
        "bodies": int(np.count_nonzero(comp_volume > 0)),
        "cavities": int(np.count_nonzero(comp_volume < 0)),
        "bounds_mm": np.round(mesh.bounds, 2).tolist() if len(faces) else [],
    }

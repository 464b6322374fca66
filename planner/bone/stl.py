"""Binary STL as it lands on disk: writing, reading back and measuring the file.

STL stores the corner positions of each triangle (float32) and nothing else, so a reader
joins corners that share a position. A mesh that is closed and manifold in memory can
therefore be non-manifold in its file: two vertices kept apart by the topology (a pinch
where two sheets of bone touch after decimation) merge when the file is read, and an
edge shared by 4 triangles appears. :func:`separate_coincident` moves such vertices apart
by a few micrometres into their own sheets before writing, :func:`write_stl` always does
so, and :func:`stl_report` measures a file as a reader sees it (positions merged exactly,
as trimesh and numpy-stl do).
"""

from __future__ import annotations

import os

import numpy as np

from planner.bone.pieces import piece_volumes
from planner.fileio import atomic_path

__all__ = [
    "STL_HEADER",
    "position_groups",
    "read_stl",
    "separate_coincident",
    "stl_report",
    "write_stl",
]

STL_HEADER = b"planner bone model, binary STL, LPS mm"
_RECORD = np.dtype([("normal", "<f4", 3), ("v", "<f4", (3, 3)), ("attr", "<u2")], align=False)
SEPARATION_MM = 0.002  # how far a duplicated vertex moves into its own sheet


def position_groups(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Group points by exact float32 position, as an STL reader merges corners.

    Parameters
    ----------
    points : (n, 3) float

    Returns
    -------
    (first (u,) int, inverse (n,) int, counts (u,) int)
        The index of one point of each distinct position, each point's position index and
        how many points share each position.
    """
    key = np.ascontiguousarray(points, dtype=np.float32)
    bits = key.view(np.uint32).astype(np.uint64)
    # a 64-bit hash of the 96 bits sorts fast; a collision (checked) falls back to bytes
    h = bits[:, 0] * np.uint64(0x9E3779B97F4A7C15)
    h ^= bits[:, 1] * np.uint64(0xC2B2AE3D27D4EB4F) + (bits[:, 2] << np.uint64(29))
    h ^= bits[:, 2] * np.uint64(0x165667B19E3779F9)
    _, first, inverse, counts = np.unique(
        h, return_index=True, return_inverse=True, return_counts=True
    )
    inverse = inverse.ravel()
    if not np.array_equal(key[first][inverse], key):
        rows = key.view(np.dtype((np.void, 12))).ravel()
        _, first, inverse, counts = np.unique(
            rows, return_index=True, return_inverse=True, return_counts=True
        )
        inverse = inverse.ravel()
    return first, inverse, counts


def separate_coincident(
    vertices: np.ndarray, faces: np.ndarray, *, step_mm: float = SEPARATION_MM
) -> tuple[np.ndarray, int]:
    """Move apart vertices that share a float32 position, each into its own triangles.

    Each such vertex moves ``step_mm`` towards the mean of its neighbours (its one-ring),
    so two sheets touching at a point or along an edge come apart by about twice that:
    written to STL and read back, the mesh keeps the topology it had in memory.

    Parameters
    ----------
    vertices : (n, 3) float
        Vertex positions, mm.
    faces : (m, 3) int
        Triangles.
    step_mm : float
        How far each duplicated vertex moves, mm (far above float32 resolution at a few
        hundred mm, far below any scan's voxel).

    Returns
    -------
    (vertices (n, 3) float64, moved int)
        The new positions and how many vertices moved.
    """
    v = np.array(vertices, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    moved = 0
    for _ in range(4):  # a moved vertex landing on another position again is rare
        _, inverse, counts = position_groups(v)
        dup = np.nonzero(counts[inverse] > 1)[0]
        if dup.size == 0:
            break
        is_dup = np.zeros(len(v), dtype=bool)
        is_dup[dup] = True
        ring = np.zeros((len(v), 3))
        n = np.zeros(len(v))
        for a in range(3):
            rows = f[is_dup[f[:, a]]]
            for b in (1, 2):
                np.add.at(ring, rows[:, a], v[rows[:, (a + b) % 3]])
                np.add.at(n, rows[:, a], 1.0)
        used = dup[n[dup] > 0]
        step = ring[used] / n[used, None] - v[used]
        length = np.linalg.norm(step, axis=1, keepdims=True)
        step = np.divide(step, length, out=np.zeros_like(step), where=length > 0)
        v[used] += step_mm * step
        moved += len(used)
        step_mm *= 1.5
    return v, moved


def write_stl(mesh, path: str | os.PathLike) -> None:
    """Write a binary STL in LPS mm (atomic: a partial file never appears at ``path``).

    Vertices that would share a position in the file are first moved apart
    (:func:`separate_coincident`), so the file read back has the mesh's topology. The
    80-byte header is ``planner bone model, binary STL, LPS mm``: no patient data.

    Parameters
    ----------
    mesh : trimesh.Trimesh
        The mesh, LPS mm.
    path : path-like
        Where to write.
    """
    vertices = np.asarray(mesh.vertices, dtype=np.float64)
    faces = np.asarray(mesh.faces, dtype=np.int64)
    if faces.ndim != 2 or faces.shape[1] != 3:
        raise ValueError(f"mesh faces must have shape (n, 3), got {faces.shape}")
    vertices, _ = separate_coincident(vertices, faces)
    tri = vertices[faces]
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    normals = np.divide(normals, length, out=np.zeros_like(normals), where=length > 0)
    data = np.zeros(len(faces), dtype=_RECORD)
    data["normal"] = normals
    data["v"] = tri
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(STL_HEADER.ljust(80, b" "))
        fh.write(np.uint32(len(faces)).tobytes())
        fh.write(data.tobytes())


def read_stl(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read a binary STL as a reader does: corners sharing a position become one vertex.

    Returns
    -------
    (vertices (n, 3) float64, faces (m, 3) int64)
    """
    with open(path, "rb") as fh:
        fh.seek(80)
        n = int(np.frombuffer(fh.read(4), dtype="<u4")[0])
        data = np.fromfile(fh, dtype=_RECORD, count=n)
    if len(data) != n:
        raise ValueError(f"{path}: binary STL declares {n} triangles, holds {len(data)}")
    corners = np.ascontiguousarray(data["v"].reshape(-1, 3))
    first, inverse, _ = position_groups(corners)
    return corners[first].astype(np.float64), inverse.reshape(-1, 3).astype(np.int64)


def edge_use(faces: np.ndarray) -> tuple[np.ndarray, bool]:
    """How many triangles use each (undirected) edge, and whether windings agree.

    Returns
    -------
    (counts (e,) int, winding_consistent bool)
        One count per distinct edge; windings agree when every edge used twice is
        traversed once in each direction.
    """
    f = np.asarray(faces, dtype=np.int64)
    n = int(f.max()) + 1 if f.size else 1
    start, end = f.ravel(), f[:, [1, 2, 0]].ravel()
    # two sorts instead of np.unique: a closed, consistently wound mesh holds each directed
    # edge once and its reverse once, so the sorted keys both ways are the same array
    forward = np.sort(start * n + end)
    consistent = not bool(np.any(forward[1:] == forward[:-1]))
    if (
        consistent
        and not np.any(start == end)
        and np.array_equal(forward, np.sort(end * n + start))
    ):
        return np.full(len(forward) // 2, 2), True
    _, counts = np.unique(np.minimum(start, end) * n + np.maximum(start, end), return_counts=True)
    return counts, consistent


def stl_report(path: str | os.PathLike) -> dict:
    """Figures of an STL file as read back (positions merged exactly).

    Returns
    -------
    dict
        ``triangles``, ``vertices``, ``edges_not_two`` (edges used by other than 2
        triangles), ``watertight`` (every edge used by exactly 2 triangles, windings
        consistent), ``volume_mm3`` (NaN unless watertight), ``bodies`` and ``cavities``
        (closed pieces enclosing material / a void), ``pieces`` (volume and centre of each
        body, largest first), ``bounds_mm``.
    """
    vertices, faces = read_stl(path)
    counts, consistent = edge_use(faces)
    bad = int(np.count_nonzero(counts != 2))
    watertight = bad == 0 and consistent and len(faces) > 0
    comp_volume, centres = piece_volumes(vertices, faces)
    volume = float(comp_volume.sum()) if watertight else float("nan")
    order = np.argsort(comp_volume)[::-1]
    pieces = [
        {
            "volume_mm3": round(float(comp_volume[c]), 1),
            "centre_mm": np.round(centres[c], 1).tolist(),
        }
        for c in order
        if comp_volume[c] > 0
    ]
    return {
        "triangles": len(faces),
        "vertices": len(vertices),
        "edges_not_two": bad,
        "watertight": bool(watertight),
        "winding_consistent": consistent,
        "volume_mm3": round(volume, 1),
        "bodies": int(np.count_nonzero(comp_volume > 0)),
        "cavities": int(np.count_nonzero(comp_volume < 0)),
        "pieces": pieces,
        "bounds_mm": (
            [
                np.round(vertices.min(axis=0), 2).tolist(),
                np.round(vertices.max(axis=0), 2).tolist(),
            ]
            if len(faces)
            else []
        ),
    }

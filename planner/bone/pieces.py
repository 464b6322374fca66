"""Closed pieces of a triangle mesh: connected components, their volumes and centres.

A closed piece enclosing material has a positive signed volume (outward normals), one
enclosing a void (a cavity, or a piece wound inward) a negative one. Used by the
surface, the models stage and the STL read-back.
"""

from __future__ import annotations

import numpy as np

__all__ = ["components", "piece_volumes", "signed_volumes"]


def components(faces: np.ndarray, n_vertices: int, *, per_vertex: bool = False) -> np.ndarray:
    """Connected component of each face (faces sharing a vertex are connected).

    Parameters
    ----------
    faces : (m, 3) int
    n_vertices : int
    per_vertex : bool
        Return the component of each vertex instead, (n_vertices,) (unused vertices get
        their own).

    Returns
    -------
    (m,) or (n_vertices,) int
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    f = faces.astype(np.int32)
    rows = np.concatenate([f[:, 0], f[:, 1]])
    cols = np.concatenate([f[:, 1], f[:, 2]])
    graph = coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), (n_vertices,) * 2)
    # weak components of the directed graph are the components, and scipy finds them in
    # half the time it takes for the undirected graph (it symmetrises that first)
    _, vertex_comp = connected_components(graph.tocsr(), directed=True, connection="weak")
    return vertex_comp if per_vertex else vertex_comp[faces[:, 0]]


def signed_volumes(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Signed volume of the tetrahedron (mesh centre, triangle) of each face, (m,) mm³."""
    v = (vertices - vertices.mean(axis=0)).astype(np.float32)  # about the centre
    a, b, c = (v[faces[:, q]] for q in range(3))
    return np.einsum("ij,ij->i", a, np.cross(b, c), dtype=np.float64) / 6.0


def piece_volumes(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Signed volume (mm³) and centre (mean of its triangle centroids, LPS mm) of each piece.

    Returns
    -------
    (volumes (p,) float, centres (p, 3) float)
        One row per connected piece that has triangles.
    """
    if len(faces) == 0:
        return np.zeros(0), np.zeros((0, 3))
    comp = components(faces, len(vertices))
    used = np.bincount(comp)
    volume = np.bincount(comp, weights=signed_volumes(vertices, faces))
    centroid = vertices[faces].mean(axis=1)
    centre = (
        np.stack([np.bincount(comp, weights=centroid[:, a]) for a in range(3)], axis=1)
        / np.maximum(used, 1)[:, None]
    )
    keep = used > 0
    return volume[keep], centre[keep]

"""Quadric decimation of a closed surface slab by slab: bounded memory, both cores.

fast-simplification keeps about 280 bytes of working state per input triangle, and keeps
it (its buffers are module globals) until the process ends: 440 MB for a 1.6 M-triangle
skull, six times the CT volume. :func:`decimate` therefore decimates a large surface in
slabs of at most ``max_block_faces`` triangles. Each slab is decimated with its cut border
kept exactly (``preserve_border``: no edge touching the cut collapses, so the cut's
vertices and edges are untouched and the slabs join again vertex for vertex); a second
pass then decimates a band around each cut, whose own border lies in already decimated
surface, so the dense strip the first pass left along the cut goes too. Triangles the
caller asks to ``keep`` (where decimation went too far) join the rest unchanged the same
way. fast-simplification holds the GIL, so every other slab is sent to a helper process
(:mod:`planner.bone.decimate_helper`) and both cores work; if the helper cannot start or
fails, the slab is decimated here, with the same result. A small surface is decimated in
one piece.
"""

from __future__ import annotations

import math
import os

import numpy as np

from planner.bone.decimate_helper import AGGRESSIVENESS, Helper, borrow_helper, simplify_part

__all__ = ["MAX_BLOCK_FACES", "body_points", "decimate", "triangles_near"]

MAX_BLOCK_FACES = 300_000
_TRIES = 3  # slabs decimated again when border vertices go, before one piece


def _areas(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area of each triangle, mm² (float32: for shares of the target, not for reports)."""
    v32 = np.asarray(vertices).astype(np.float32)  # gathered from float32: half the traffic
    corner = [v32[faces[:, q]] for q in range(3)]
    del v32
    u, w = corner[1] - corner[0], corner[2] - corner[0]
    del corner
    x = u[:, 1] * w[:, 2] - u[:, 2] * w[:, 1]
    y = u[:, 2] * w[:, 0] - u[:, 0] * w[:, 2]
    z = u[:, 0] * w[:, 1] - u[:, 1] * w[:, 0]
    return 0.5 * np.sqrt(x * x + y * y + z * z)


def _whole(vertices: np.ndarray, faces: np.ndarray, target: int) -> tuple[np.ndarray, np.ndarray]:
    import fast_simplification

    if target >= len(faces):
        return vertices, faces
    v, f = fast_simplification.simplify(
        np.asarray(vertices, dtype=np.float64),
        np.asarray(faces, dtype=np.int32),
        target_count=max(int(target), 4),
        agg=AGGRESSIVENESS,
    )
    return np.asarray(v, dtype=np.float64), np.asarray(f, dtype=np.int64)


def _region(
    vertices: np.ndarray,
    faces: np.ndarray,
    pick: np.ndarray,
    target: int,
    border: np.ndarray,
    helper: Helper | None = None,
):
    """Decimate the faces ``pick`` to about ``target``, keeping the vertices ``border``.

    Returns ``(positions, faces, ids)``: the part's vertices and triangles, and for each
    vertex its index in ``vertices`` when it is a kept border vertex (-1 for the others);
    or None when the border cannot be found again exactly (then the caller decimates in
    one piece). With a ``helper``, returns a function that gives that result once the
    helper process has done the work.
    """
    inside = faces[pick]
    mark = np.zeros(len(vertices), dtype=bool)
    mark[inside.ravel()] = True
    used = np.flatnonzero(mark)
    index = np.cumsum(mark) - 1
    if target >= len(inside) or len(inside) < 8:
        done = (vertices[used], index[inside], used)
        return (lambda: done) if helper is not None else done
    points, triangles = vertices[used], index[inside].astype(np.int32)
    target = max(int(target), 4)
    del inside, mark, index
    if helper is not None:
        job = helper.submit(points, triangles, target)
        return lambda: _found_border(vertices, used, border, *job())
    return _found_border(vertices, used, border, *simplify_part(points, triangles, target))


class _Lost:
    """A part whose border vertices did not all come back: those ``vertices`` (indices)."""

    def __init__(self, vertices: np.ndarray) -> None:
        self.vertices = vertices


def _found_border(vertices, used, border, out_v, out_f):
    """``_region``'s result from fast-simplification's output.

    A border vertex can go: when its only triangle in the part is a corner whose opposite
    edge collapses, the triangle and then the vertex are dropped. Then a :class:`_Lost`
    names them (None when the helper gave nothing back).
    """
    if out_v is None:
        return None
    out_v = np.asarray(out_v, dtype=np.float64)
    # no edge touching the border collapses, so each border vertex is in the result at its
    # exact position, once
    kept = used[border[used]]
    rows = np.concatenate([vertices[kept], out_v]).view(np.dtype((np.void, 24))).ravel()
    _, group, counts = np.unique(rows, return_inverse=True, return_counts=True)
    group = group.ravel()
    found = np.full(len(counts), -1, dtype=np.int64)
    found[group[len(kept) :]] = np.arange(len(out_v))
    at = found[group[: len(kept)]]
    lost = (at < 0) | (counts[group[: len(kept)]] != 2)
    if lost.any():
        return _Lost(kept[lost])
    ids = np.full(len(out_v), -1, dtype=np.int64)
    ids[at] = kept
    return out_v, np.asarray(out_f, dtype=np.int64), ids


def _join(vertices: np.ndarray, parts: list) -> tuple[np.ndarray, np.ndarray]:
    """One mesh from parts (``_region``'s results) joined at their border vertices."""
    pieces, faces = [vertices], []
    total = len(vertices)
    for positions, f, ids in parts:
        new = ids < 0
        ids = ids.copy()
        ids[new] = total + np.arange(np.count_nonzero(new))
        total += int(np.count_nonzero(new))
        pieces.append(positions[new])
        faces.append(ids[f])
    v = np.concatenate(pieces)
    f = np.concatenate(faces)
    keep = np.zeros(len(v), dtype=bool)
    keep[f.ravel()] = True
    index = np.cumsum(keep) - 1
    return v[keep], index[f]


def _borders(faces: np.ndarray, block: np.ndarray, n_vertices: int) -> np.ndarray:
    """Vertices used by faces of more than one block."""
    flat = faces.ravel()
    owner = np.repeat(block.astype(np.int32), 3)
    first = np.full(n_vertices, -1, dtype=np.int32)
    first[flat] = owner  # the block of one of the vertex's faces
    border = np.zeros(n_vertices, dtype=bool)
    border[flat[owner != first[flat]]] = True  # another face is in another block
    return border


def decimate(
    vertices: np.ndarray,
    faces: np.ndarray,
    target_faces: int,
    *,
    keep: np.ndarray | None = None,
    max_block_faces: int = MAX_BLOCK_FACES,
    memo: dict | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Decimate a closed surface to about ``target_faces`` triangles (quadric error).

    Parameters
    ----------
    vertices : (n, 3) float
        LPS mm.
    faces : (m, 3) int
        Triangles of a closed surface.
    target_faces : int
        Triangles wanted for the surface outside ``keep`` (the result has about this
        many, plus the triangles kept).
    keep : (m,) bool, optional
        Triangles left as they are (where decimation went too far), joined to the rest.
    max_block_faces : int
        Surfaces larger than this are decimated in slabs of about this many triangles.
    memo : dict, optional
        Slabs decimated by an earlier call on the same surface and target; a slab whose
        triangles and border are unchanged (no triangle kept in or next to it) is reused.
        The surface's triangle areas are kept there too.

    Returns
    -------
    (vertices (n', 3) float64, faces (m', 3) int64)
        Not yet checked as a manifold: the caller passes it through manifold3d.
    """
    vertices = np.asarray(vertices, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64)
    n = len(faces)
    if target_faces >= n:
        return vertices, faces
    kept = np.zeros(n, dtype=bool) if keep is None else np.asarray(keep, dtype=bool)
    if math.ceil(n / max_block_faces) <= 1 and not kept.any():
        return _whole(vertices, faces, target_faces)
    memo = {} if memo is None else memo
    for _ in range(_TRIES):
        out = _slabs(vertices, faces, target_faces, kept, max_block_faces, memo)
        if not isinstance(out, _Lost) or not len(out.vertices):
            break
        # a slab lost border vertices: their triangles stay as they are, and the slabs
        # that do not touch them are reused
        kept = kept | np.isin(faces, out.vertices).any(axis=1)
    if isinstance(out, _Lost) or out is None:
        return _whole(vertices, faces, target_faces)
    return out


def _slabs(
    vertices: np.ndarray,
    faces: np.ndarray,
    target_faces: int,
    kept: np.ndarray,
    max_block_faces: int,
    memo: dict,
) -> tuple[np.ndarray, np.ndarray] | _Lost | None:
    """:func:`decimate` in slabs once: ``(vertices, faces)``, or a :class:`_Lost` (or
    None) when a slab's border did not come back whole."""
    n = len(faces)
    blocks = math.ceil(n / max_block_faces)
    # every other slab goes to a helper process when there is a second core: the one of
    # a helper_process block, else one started first, so that it loads its libraries
    # while the slabs are laid out
    helper, own = borrow_helper() if blocks >= 2 and (os.cpu_count() or 1) >= 2 else (None, False)
    try:
        area = memo.get("area")  # the same surface in every round: its areas once
        if area is None or len(area) != n:
            area = memo["area"] = _areas(vertices, faces)
        density = target_faces / float(area.sum(dtype=np.float64))  # triangles per mm²
        axis = int(np.argmax(np.ptp(vertices, axis=0)))
        along = vertices[faces, axis].mean(axis=1)
        cuts = np.quantile(along, np.arange(1, blocks) / blocks)
        block = np.searchsorted(cuts, along)
        block[kept] = blocks
        border = _borders(faces, block, len(vertices))
        # triangles touching a slab's cut stay as they are until the band pass: they come on
        # top of the slab's share, so that the rest is decimated as densely as in one piece
        strip = border[faces].any(axis=1)
        # the helper's slabs are sent first, so that both processes work at once
        parts: list = [None] * blocks
        keys = []
        todo = []
        for b in range(blocks):
            pick = block == b
            goal = round(density * area[pick & ~strip].sum()) + int(np.count_nonzero(pick & strip))
            key = (np.flatnonzero(pick), border[faces[pick]], goal)
            keys.append((b, key))
            old = memo.get(b) if memo is not None else None
            if old is not None and all(
                np.array_equal(x, y) for x, y in zip(old[0], key, strict=True)
            ):
                parts[b] = (lambda part: lambda: part)(old[1])  # untouched: the same result
            else:
                todo.append((b, pick, goal))
        # the slabs to decimate, shared out in turn: the helper's are sent first
        for turn, (b, pick, goal) in sorted(enumerate(todo), key=lambda t: (t[0] % 2, t[0])):
            if helper is not None and turn % 2 == 0:
                parts[b] = _region(vertices, faces, pick, goal, border, helper)
            else:
                parts[b] = (lambda part: lambda: part)(
                    _region(vertices, faces, pick, goal, border)
                )
        del todo
        parts = [part() for part in parts]
    finally:
        if own and helper is not None:
            helper.close()
    memo.update({b: (key, parts[b]) for b, key in keys if isinstance(parts[b], tuple)})
    if any(part is None for part in parts):
        return None
    lost = [part.vertices for part in parts if isinstance(part, _Lost)]
    if lost:
        return _Lost(np.concatenate(lost))
    if kept.any():
        parts.append(_as_is(vertices, faces[kept]))
    del area, along, block, border, strip
    v, f = _join(vertices, parts)
    if blocks <= 1:
        return v, f
    n_kept = int(np.count_nonzero(kept))  # the kept faces come last
    del parts
    # the strips left dense along each cut: a band around it, bordered by decimated surface
    edge_mm = math.sqrt(4.0 / math.sqrt(3.0) / density)  # edge of an equilateral triangle
    along = v[f, axis].mean(axis=1)
    pick = np.min(np.abs(along[:, None] - cuts[None, :]), axis=1) < 3.0 * edge_mm
    pick[len(f) - n_kept :] = False
    band = np.zeros(len(v), dtype=bool)
    band[f[~pick].ravel()] = True
    # the band makes up the count to the target (the slabs' estimate of their strips is
    # rough), at no less than half the density wanted
    share = density * _areas(v, f[pick]).sum()
    goal = min(max(target_faces + n_kept - int(np.count_nonzero(~pick)), share / 2), 2 * share)
    for _ in range(_TRIES):
        part = _region(v, f, pick, round(goal), band)
        if not isinstance(part, _Lost):
            break
        # the band lost border vertices: their triangles stay as they are
        pick &= ~np.isin(f, part.vertices).any(axis=1)
        band[f[~pick].ravel()] = True
    if not isinstance(part, tuple):
        return None  # the band still lost border vertices: the caller decimates in one piece
    return _join(v, [part, _as_is(v, f[~pick])])


def _as_is(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Triangles joined unchanged, as a ``_region`` result."""
    mark = np.zeros(len(vertices), dtype=bool)
    mark[faces.ravel()] = True
    used = np.flatnonzero(mark)
    index = np.cumsum(mark) - 1
    return vertices[used], index[faces], used


def body_points(
    vertices: np.ndarray, faces: np.ndarray, body_faces: list[int], which: list[bool]
) -> np.ndarray:
    """Vertices of the bodies ``which`` of a mesh whose faces are grouped body by body.

    Parameters
    ----------
    vertices : (n, 3) float
    faces : (m, 3) int
        Body ``b`` is ``faces[offsets[b]:offsets[b + 1]]``, ``offsets = cumsum([0] +
        body_faces)``.
    body_faces : list of int
    which : list of bool
        One flag per body.

    Returns
    -------
    (k, 3) float
    """
    offsets = np.cumsum([0, *body_faces])
    picked = [
        vertices[faces[offsets[b] : offsets[b + 1]].ravel()] for b, w in enumerate(which) if w
    ]
    return np.concatenate(picked) if picked else np.zeros((0, 3))


def triangles_near(
    vertices: np.ndarray, faces: np.ndarray, spots: np.ndarray, target_faces: int
) -> np.ndarray:
    """Triangles within three decimated edges (at ``target_faces``) of any of ``spots``.

    Returns
    -------
    (m,) bool
    """
    from scipy.spatial import cKDTree

    area = float(_areas(vertices, faces).sum(dtype=np.float64))
    reach = 3.0 * math.sqrt(4.0 / math.sqrt(3.0) * area / target_faces)
    near, _ = cKDTree(spots).query(vertices, k=1, distance_upper_bound=reach)
    return np.isfinite(near)[faces].any(axis=1)

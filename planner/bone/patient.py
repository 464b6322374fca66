"""The patient's bone versus equipment: every piece above the threshold sorted and accounted.

A CT of the head holds, besides the patient's bone, equipment dense enough to pass the
bone threshold (a head holder, the table, straps' buckles) and small islands (noise,
calcifications). :func:`sort_pieces` looks at each connected piece on the block grid:

- small islands (under ``min_island_mm3``) are removed and counted;
- a piece is equipment when it lies mostly outside the body's soft-tissue outline (the
  largest component of the voxels above -400 HU after an opening that cuts thin contacts
  such as a head rest, with its holes filled slice by slice) and is shaped like equipment:
  thin (a plate or shell a few mm thick), flat or rail-like (by the extents along its
  principal axes), or long along the table (the scanner's z axis);
- everything else is the patient's: it stays, whatever its surroundings (a dental arch in
  an open mouth lies next to air, but inside the outline). A bulky piece outside the
  outline also stays, with a note asking the user to check it.

Each removal carries its reason (:class:`RemovedPiece`), so nothing goes silently.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from planner.bone.grid import Grid, voxel_indices
from planner.scan.volume import apply_affine

__all__ = ["RemovedPiece", "body_outline", "sort_pieces"]

AIR_HU = -400.0  # below this a voxel is air, foam or lung, not the patient's soft tissue
OUTLINE_MM = 2.0  # cell size of the body outline
OPENING_MM = 4.0  # radius of the opening that cuts the body from a head rest
MARGIN_MM = 1.0  # the outline grown by this much (skin over bone can be thin)
THIN_MM = 8.0  # a piece at most this thick (twice its deepest inner point) is thin
FLAT = 0.2  # smallest extent under this fraction of the middle one: flat
RAIL = 0.2  # middle extent under this fraction of the largest: rail-like
OUTSIDE = 0.5  # a piece with more than this fraction outside the outline lies outside


_REPORTED = 1000  # islands listed one by one in models.json (largest first); the rest summed
# (a noisy scan has tens of thousands: 85,683 made a 12 MB report)


@dataclass(frozen=True)
class RemovedPiece:
    """Bone-dense voxels that are not in any model, and why.

    Parameters
    ----------
    kind : str
        "equipment" (one piece) or "islands" (all small islands together).
    volume_mm3 : float
        Voxel volume, mm³.
    centre_mm : (3,) tuple of float
        Centre of the voxels, LPS mm (of all of them for islands).
    reason : str
        One line for the user.
    count : int
        Number of pieces.
    pieces : tuple of (volume_mm3, (x, y, z)) pairs
        Each piece's volume and centre (islands), largest first.
    """

    kind: str
    volume_mm3: float
    centre_mm: tuple[float, float, float]
    reason: str
    count: int = 1
    pieces: tuple = ()

    def report(self) -> dict:
        """JSON-ready."""
        out = {
            "kind": self.kind,
            "count": self.count,
            "volume_mm3": round(self.volume_mm3, 1),
            "centre_mm": [round(c, 1) for c in self.centre_mm],
            "reason": self.reason,
        }
        if self.pieces:
            out["pieces"] = [
                {"volume_mm3": round(v, 1), "centre_mm": [round(c, 1) for c in x]}
                for v, x in self.pieces[:_REPORTED]
            ]
        if len(self.pieces) > _REPORTED:  # noise's specks, by the ten thousand: summed up
            rest = [v for v, _ in self.pieces[_REPORTED:]]
            out["not_listed"] = {
                "count": len(rest),
                "volume_mm3": round(sum(rest), 1),
                "largest_mm3": round(max(rest), 1),
            }
        return out


def _z_axis(affine: np.ndarray) -> int:
    """The array axis closest to the patient's z (head-foot) direction."""
    direction = affine[:3, :3] / np.linalg.norm(affine[:3, :3], axis=0)
    return int(np.argmax(np.abs(direction[2])))


def _ball(radius_mm: float, cell: np.ndarray) -> np.ndarray:
    """A ball of ``radius_mm`` as a structuring element on cells of size ``cell`` (mm)."""
    reach = [int(radius_mm // c) for c in cell]
    grid = np.indices([2 * r + 1 for r in reach], dtype=float)
    d2 = sum(((g - r) * c) ** 2 for g, r, c in zip(grid, reach, cell, strict=True))
    return d2 <= radius_mm**2


def body_outline(
    hu: np.ndarray, affine: np.ndarray, *, air_hu: float = AIR_HU
) -> tuple[np.ndarray, tuple[int, int, int]]:
    """The body's soft-tissue outline on a coarse grid (cells of about ``OUTLINE_MM``).

    Parameters
    ----------
    hu : (ni, nj, nk) array
        HU, C-ordered, with ``affine`` (index -> LPS mm).
    affine : (4, 4) float
    air_hu : float
        Soft tissue lies above this, HU.

    Returns
    -------
    (outline bool array, steps (3,) int)
        ``outline[i // steps[0], j // steps[1], k // steps[2]]`` is True inside the body
        (grown by ``MARGIN_MM``). An empty outline when no soft tissue is seen.
    """
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    steps = tuple(max(1, round(OUTLINE_MM / float(s))) for s in spacing)
    cell = spacing * np.array(steps)
    soft = hu[:: steps[0], :: steps[1], :: steps[2]] > air_hu
    if not soft.any():
        return soft, steps  # type: ignore[return-value]
    opened = ndi.binary_opening(soft, structure=_ball(OPENING_MM, cell))
    if not opened.any():
        return opened, steps  # type: ignore[return-value]
    comps, n = ndi.label(opened)
    if n > 1:
        sizes = np.bincount(comps.ravel())
        sizes[0] = 0
        opened = comps == int(np.argmax(sizes))
    # holes filled slice by slice across z (the mouth, the airway, the sinuses), then in 3D
    plane = np.ones((3, 3, 3), dtype=bool)
    z = _z_axis(affine)
    index = [slice(None)] * 3
    for q in (0, 2):
        index[z] = q
        plane[tuple(index)] = False
    filled = ndi.binary_fill_holes(opened, structure=plane)
    filled = ndi.binary_fill_holes(filled)
    outline = ndi.binary_dilation(filled, structure=_ball(MARGIN_MM, cell))
    return outline, steps  # type: ignore[return-value]


@dataclass(frozen=True)
class _Shape:
    extents_mm: np.ndarray  # (3,) along the principal axes, largest first
    axis: np.ndarray  # (3,) the principal direction, LPS
    thickness_mm: float
    centre_mm: np.ndarray

    @property
    def thin(self) -> bool:
        return self.thickness_mm <= THIN_MM

    @property
    def flat(self) -> bool:
        return self.extents_mm[2] < FLAT * self.extents_mm[1]

    @property
    def rail(self) -> bool:
        return self.extents_mm[1] < RAIL * self.extents_mm[0]

    @property
    def along_table(self) -> bool:
        return abs(self.axis[2]) > 0.8 and self.extents_mm[0] > 50.0

    def words(self) -> list[str]:
        out = []
        if self.thin:
            out.append(f"thin ({self.thickness_mm:.0f} mm)")
        if self.flat:
            out.append("flat")
        if self.rail:
            out.append("rail-like")
        if self.along_table:
            out.append(f"long along the table ({self.extents_mm[0]:.0f} mm in z)")
        return out


_LISTED = 5  # equipment pieces named one by one in the notes


def _shape(piece: np.ndarray, origin: np.ndarray, affine: np.ndarray) -> _Shape:
    """Extents along the principal axes, thickness and centre of a block mask (LPS mm)."""
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    ijk = voxel_indices(piece)
    if len(ijk) > 200_000:
        ijk = ijk[:: len(ijk) // 200_000]
    p = apply_affine(affine, ijk + origin)
    centre = p.mean(axis=0)
    cov = np.cov((p - centre).T) if len(p) > 3 else np.zeros((3, 3))
    values, vectors = np.linalg.eigh(cov)
    order = np.argsort(values)[::-1]
    extents = np.sqrt(12.0 * np.maximum(values[order], 0.0)) + float(spacing.min())
    depth = ndi.distance_transform_edt(np.pad(piece, 1), sampling=spacing)
    return _Shape(extents, vectors[:, order[0]], 2.0 * float(depth.max()), centre)


def sort_pieces(
    hu: np.ndarray, counts: np.ndarray, grid: Grid, min_island_mm3: float
) -> tuple[np.ndarray | None, list[RemovedPiece], list[str]]:
    """Sort the pieces of bone on the block grid: the patient's, equipment, islands.

    Parameters
    ----------
    hu : (ni, nj, nk) array
        HU, C-ordered, on ``grid``'s full-resolution voxels.
    counts : block array
        Bone voxels in each block (:meth:`Grid.block_count`).
    grid : Grid
    min_island_mm3 : float
        Pieces smaller than this are islands, mm³.

    Returns
    -------
    (keep, removed, notes)
        ``keep``: block mask of the patient's bone, or None when every piece is kept;
        ``removed``: the equipment pieces and the islands (one entry for all of them);
        ``notes``: what a user should know.
    """
    notes: list[str] = []
    comps, n = ndi.label(counts > 0)
    if n <= 1:
        return None, [], notes
    occupied = np.flatnonzero(counts)  # the blocks with bone: the rest weigh nothing
    sizes = np.bincount(
        comps.ravel()[occupied], weights=counts.ravel()[occupied], minlength=n + 1
    ).astype(float)
    sizes[0] = 0
    vox = float(abs(np.linalg.det(grid.affine[:3, :3])))
    objects = ndi.find_objects(comps)
    order = [int(c) for c in np.argsort(sizes)[::-1] if sizes[c] > 0]
    small = (sizes * vox < min_island_mm3) & (sizes > 0)
    small[order[0]] = False
    big = [c for c in order if not small[c]]
    work = grid.work_affine
    outline, steps = body_outline(hu, grid.affine)
    # block index -> outline cell: blocks are ``factors`` voxels, cells ``steps`` voxels
    ratio = np.array(grid.factors, dtype=float) / np.array(steps)

    def outside_fraction(c: int) -> float:
        box = objects[c - 1]
        ijk = voxel_indices(comps[box] == c) + [s.start for s in box]
        cell = np.minimum((ijk * ratio).astype(int), np.array(outline.shape) - 1)
        return 1.0 - float(np.count_nonzero(outline[tuple(cell.T)])) / len(cell)

    largest_out = outside_fraction(big[0]) if outline.any() else 1.0
    in_air = largest_out > OUTSIDE
    if in_air:  # a dry skull or a phantom with no soft tissue: the outline is the skull's box
        notes.append("the bone lies in air (a dry skull or a phantom?)")
        box = objects[big[0] - 1]
        outline = np.zeros_like(outline)
        lo = [int(s.start * r) for s, r in zip(box, ratio, strict=True)]
        hi = [int(np.ceil(s.stop * r)) + 1 for s, r in zip(box, ratio, strict=True)]
        outline[tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))] = True

    removed: list[RemovedPiece] = []
    drop: list[int] = []
    for c in big[1:]:
        out = outside_fraction(c)
        if out <= OUTSIDE:
            continue
        box = objects[c - 1]
        shape = _shape(comps[box] == c, np.array([s.start for s in box]), work)
        words = shape.words()
        volume = float(sizes[c]) * vox
        where = "(" + ", ".join(f"{v:.0f}" for v in shape.centre_mm) + ") mm"
        if words:
            drop.append(c)
            removed.append(
                RemovedPiece(
                    "equipment",
                    volume,
                    tuple(float(v) for v in shape.centre_mm),  # type: ignore[arg-type]
                    f"outside the body outline ({100 * out:.0f}%), " + ", ".join(words),
                )
            )
            if len(drop) <= _LISTED:  # the largest; the others in one line below
                notes.append(
                    f"removed as equipment (head holder or table?): {volume / 1000:.1f} cm³ "
                    f"at {where}, {removed[-1].reason}"
                )
        else:
            notes.append(
                f"kept a {volume / 1000:.1f} cm³ piece of bone at {where} that lies outside "
                f"the body outline ({100 * out:.0f}%) but is not thin, flat or rail-like: "
                "check it is the patient's"
            )
    if len(drop) > _LISTED:  # pieces of one holder, broken up at coarse voxels
        rest = [piece.volume_mm3 for piece in removed[_LISTED:]]
        notes.append(
            f"removed {len(rest)} more pieces as equipment ({sum(rest) / 1000:.1f} cm³ in all, "
            f"the largest {max(rest) / 1000:.1f} cm³; every piece is listed in models.json)"
        )
    if small.any():
        k = int(small.sum())
        ijk = voxel_indices(small[comps])
        which = comps[tuple(ijk.T)]
        xyz = apply_affine(work, ijk)
        centre = xyz.mean(axis=0)
        volume = float(sizes[small].sum()) * vox
        ids = np.nonzero(small)[0]
        n_blocks = np.bincount(which, minlength=n + 1)[ids]
        centres = (
            np.stack(
                [np.bincount(which, weights=xyz[:, a], minlength=n + 1)[ids] for a in range(3)], 1
            )
            / n_blocks[:, None]
        )
        order = np.argsort(sizes[ids])[::-1]
        pieces = tuple(
            (float(sizes[ids[q]]) * vox, tuple(float(c) for c in centres[q])) for q in order
        )
        removed.append(
            RemovedPiece(
                "islands",
                volume,
                tuple(float(v) for v in centre),  # type: ignore[arg-type]
                f"{k} small {'piece' if k == 1 else 'pieces'} under {min_island_mm3:g} mm³ "
                "(noise, contrast in vessels, calcifications or metal streaks)",
                count=k,
                pieces=pieces,
            )
        )
        notes.append(
            f"removed {k} small {'island' if k == 1 else 'islands'} under {min_island_mm3:g} mm³ "
            f"({volume / 1000.0:.2f} cm³ in all)"
        )
    if not drop and not small.any():
        return None, removed, notes
    keep = np.zeros(n + 1, dtype=bool)
    keep[big] = True
    keep[drop] = False
    return keep[comps], removed, notes

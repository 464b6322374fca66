"""The mandible's watershed markers from the distance-transform cores of the bone.

Eroded deeply enough (the distance transform above a level), the bone falls apart into
cores: the lower jaw's arch comes free of the skull where the two touch only through thin
bone (teeth in occlusion, condyles in their fossae). :func:`find_markers` takes the
largest core shaped like a lower-jaw arch (:func:`planner.bone.arch.arch_shape`: a U open
towards the back, across the patient's midline) at the shallowest level where one comes
free, and marks the skull's cores and the hard palate. At coarse pixels the arch can come
free in two parts, neither across the midline: the cores that reach into the arch found
slice by slice are then taken together. Used by :func:`planner.bone.mandible.split_mandible`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import numpy as np
from scipy import ndimage as ndi

from planner.bone.arch import arch_shape
from planner.bone.grid import voxel_indices
from planner.scan.volume import apply_affine

__all__ = ["find_markers", "points_of"]

_DEPTHS_MM = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0, 6.0)


def _edt_levels(spacing: np.ndarray) -> list[float]:
    """Distance-transform levels near the targets in ``_DEPTHS_MM`` that the grid can take."""
    reach = [math.ceil(max(_DEPTHS_MM) / float(s)) + 1 for s in spacing]
    values = {
        round(math.sqrt((a * spacing[0]) ** 2 + (b * spacing[1]) ** 2 + (c * spacing[2]) ** 2), 4)
        for a, b, c in itertools.product(*(range(r + 1) for r in reach))
    }
    values = np.array(sorted(values - {0.0}))
    levels: list[float] = []
    for t in _DEPTHS_MM:
        below = values[values <= t + 1e-6]
        if below.size and float(below[-1]) not in levels:
            levels.append(float(below[-1]))
    return levels


def points_of(boxed: np.ndarray, sl: tuple[slice, ...], affine: np.ndarray, n: int) -> np.ndarray:
    """LPS mm of (at most about ``n`` of) the set voxels of ``boxed``, a mask's box ``sl``."""
    ijk = voxel_indices(boxed)
    if len(ijk) > n:
        ijk = ijk[:: len(ijk) // n]
    return apply_affine(affine, ijk + [s.start for s in sl])


def _cores(edt: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray, list]:
    cores, n = ndi.label(edt > level, output=np.int32)
    sizes = np.bincount(cores.ravel(), minlength=n + 1)
    sizes[0] = 0
    return cores, sizes, ndi.find_objects(cores)


def find_markers(
    edt: np.ndarray,
    work: np.ndarray,
    affine: np.ndarray,
    midline_x: float,
    floor: Callable[[np.ndarray], bool],
    seed: np.ndarray | None = None,
) -> tuple[np.ndarray | None, str]:
    """Watershed markers (1 skull, 2 mandible), or None and the reason.

    The mandible's marker is the largest U-shaped core (open towards the back, across the
    patient's midline) at the shallowest distance-transform level where one comes free of
    the rest; with ``seed`` (the lower body found slice by slice), only a core that reaches
    into it (the upper dental arch is a U too, and may come free first). Where no level
    has one, the cores that reach into the seed are taken together (at coarse pixels the
    arch can come free in two parts, each off the midline), if they make a U across the
    midline. The skull's are the largest other core, any core larger than the arch's, and
    the hard palate inside the arch (at coarse resolution the upper teeth would otherwise
    flood in from the lower ones). Smaller cores may be pieces of the mandible (a ramus cut
    off by the erosion): they get no marker and go with whichever bone reaches them through
    thicker bone.

    Parameters
    ----------
    edt : (ni, nj, nk) float array
        The distance transform of ``work``, mm.
    work : (ni, nj, nk) bool
        The bone.
    affine : (4, 4) float
        Index -> LPS mm.
    midline_x : float
        The patient's midline (LPS x, mm): the arch straddles it.
    floor : callable(mask) -> bool
        Whether a mask reaches the scan's lower edge (an arch cut by it is refused).
    seed : (ni, nj, nk) bool, optional
        The lower jaw's body found slice by slice.

    Returns
    -------
    (ni, nj, nk) int32 or None, str
        The markers, and the depth they were found at (or why none were).
    """
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    vox = float(np.prod(spacing))
    total_mm3 = float(np.count_nonzero(work)) * vox
    levels = _edt_levels(spacing)
    largest = int(0.6 * total_mm3 / vox)  # a core larger than this is the skull's
    for joined in (False, True) if seed is not None else (False,):
        for level in levels:
            cores, sizes, objects = _cores(edt, level)
            order = [int(c) for c in np.argsort(sizes)[::-1] if sizes[c] * vox >= 1000.0]
            if len(order) < 2:
                continue
            candidates = [c for c in order if sizes[c] <= largest]
            pick = _seeded_cores if joined else _largest_arch
            best = pick(cores, objects, candidates, affine, midline_x, seed)
            if best is None:
                continue
            members, arch = best
            mandible = np.isin(cores, members) if len(members) > 1 else cores == members[0]
            if floor(mandible):
                return None, (
                    "the only U-shaped arch found is cut by the lower edge of the scan "
                    "(the upper teeth, or a mandible not wholly in view)"
                )
            markers = _markers(cores, order, sizes, members, mandible, work, affine, arch)
            parts = f" ({len(members)} cores joined by the arch)" if len(members) > 1 else ""
            return markers, f"depth {level:.2f} mm{parts}"
    return None, "no U-shaped lower-jaw arch separates from the skull"


def _largest_arch(cores, objects, candidates, affine, midline_x, seed):
    """The largest core (of ``candidates``, largest first) shaped like an arch across the
    midline, reaching into ``seed`` if given: ([c], ArchShape), or None."""
    for c in candidates[:50]:
        sl = objects[c - 1]
        arch = arch_shape(points_of(cores[sl] == c, sl, affine, 20000))
        if not arch.is_arch or abs(arch.centre_x - midline_x) > 0.2 * arch.width_mm:
            continue
        if seed is not None and not _reaches(cores, objects, c, seed):
            continue
        return [c], arch
    return None


def _seeded_cores(cores, objects, candidates, affine, midline_x, seed):
    """The cores (of ``candidates``) that reach into ``seed``, together, when there are two
    or more and they make an arch across the midline: (members, ArchShape), or None."""
    members = [c for c in candidates[:50] if _reaches(cores, objects, c, seed)]
    if len(members) < 2:
        return None
    both = np.isin(cores, members)
    box = ndi.find_objects(both.view(np.uint8))[0]
    arch = arch_shape(points_of(both[box], box, affine, 20000))
    if not arch.is_arch or abs(arch.centre_x - midline_x) > 0.2 * arch.width_mm:
        return None
    return members, arch


def _reaches(cores, objects, c, seed) -> bool:
    """Whether core ``c`` reaches into ``seed``."""
    sl = objects[c - 1]
    return bool((seed[sl] & (cores[sl] == c)).any())


def _markers(cores, order, sizes, members, mandible, work, affine, arch) -> np.ndarray:
    """Markers: 2 the mandible's cores (``members``, together ``mandible``); 1 the largest
    other core, any core larger than the mandible's, and the hard palate inside the arch."""
    size = int(sum(sizes[c] for c in members))
    markers = np.zeros(work.shape, dtype=np.int32)
    others = [k for k in order if k not in members]
    for k in others:
        if k == others[0] or sizes[k] >= size:
            markers[cores == k] = 1
    markers[mandible] = 2
    # the hard palate, above the tongue inside the arch, holds the upper teeth
    inv = np.linalg.inv(affine)
    centre = apply_affine(inv, [arch.centre_x, arch.front_y, arch.front_top_z])
    reach = np.abs(inv[:3, :3]) @ np.array([0.15 * arch.width_mm, arch.opening_mm, 45.0])
    box = tuple(
        slice(max(int(a - r), 0), min(int(a + r) + 1, s))
        for a, r, s in zip(centre, reach, work.shape, strict=True)
    )
    ijk = voxel_indices(work[box]) + [s.start for s in box]
    p = apply_affine(affine, ijk)
    palate = (
        (np.abs(p[:, 0] - arch.centre_x) < max(5.0, 0.1 * arch.width_mm))
        & (p[:, 1] > arch.front_y + 0.2 * arch.opening_mm)
        & (p[:, 1] < arch.front_y + 0.8 * arch.opening_mm)
        & (p[:, 2] > arch.front_top_z + 3.0)
        & (p[:, 2] < arch.front_top_z + 40.0)
    )
    seed = ijk[palate]
    seed = seed[markers[tuple(seed.T)] == 0]
    markers[tuple(seed.T)] = 1
    return markers

"""A synthetic infant head CT for bilateral mandibular distraction, with ground truth.

The anatomy (:mod:`planner.samples.anatomy`) is a set of signed distance functions in LPS
mm. HU per voxel mixes tissues by the fraction of the voxel inside each shape (a clipped
ramp of the signed distance over one voxel), then adds seeded Gaussian noise. The skull is
carved by the mandible grown by :data:`GAP_MM`: the bones never touch, yet at scan
resolution the condyles and the second molars meet the skull (a naive threshold joins
them), as in a real scan. The ground truth (:class:`HeadTruth`) comes from the functions,
never from the scan.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass, field

import numpy as np

from planner.samples.anatomy import (
    CONDYLE_CENTRE,
    GAP_MM,
    RAMUS_CENTRE,
    SIDES,
    Z_LOWER_INCISAL,
    Z_OCCLUSAL,
    Z_UPPER_INCISAL,
    anatomy,
    grid_fields,
    lower_curve,
    molar_xy,
    on_curve,
    ramus_axes,
    signed_distance,
    upper_curve,
)
from planner.scan.volume import Volume

__all__ = [
    "DEFAULT_SHAPE",
    "DEFAULT_SPACING_MM",
    "GAP_MM",
    "HU",
    "LABELS",
    "HeadTruth",
    "SampleHead",
    "head_truth",
    "make_head",
    "partial_volume_offset_mm",
    "signed_distance",
    "volume_at_threshold_mm3",
]

DEFAULT_SPACING_MM = 1.1
DEFAULT_SHAPE = (160, 160, 140)
FOV_CENTRE_MM = np.array([0.0, 2.0, 1.0])
"""LPS centre of the default field of view (176 × 176 × 154 mm)."""

HU = {
    "air": -1000.0,
    "soft_tissue": 45.0,
    "brain": 32.0,
    "fat": -80.0,
    "eye": 15.0,
    "cortical": 1300.0,
    "cancellous": 450.0,
    "enamel": 2300.0,
    "dentin": 1700.0,
    "holder": 500.0,
}
"""Tissue values (HU) used by :func:`make_head`."""

CORTEX_MM = 1.5  # cortical thickness; bone deeper than this reads as cancellous
ENAMEL_MM = 0.9
LABELS = {"background": 0, "skull": 1, "mandible": 2, "holder": 3}


def _ramp(d: np.ndarray, width: float) -> np.ndarray:
    """Fraction of a voxel of size ``width`` inside a surface at signed distance ``d``."""
    return np.clip(0.5 - d * (1.0 / width), 0.0, 1.0)


def _hu_and_labels(f: dict[str, np.ndarray], width: float):
    """Noise-free HU (float32) and labels (uint8) from the fields of one slab."""

    def mix(hu, frac, value):
        hu += frac * (np.float32(value) - hu)

    r = functools.partial(_ramp, width=width)
    hu = np.full(f["skin"].shape, HU["air"], dtype=np.float32)
    mix(hu, r(f["skin"]), HU["soft_tissue"])
    mix(hu, r(f["brain"]), HU["brain"])
    mix(hu, r(f["fat"]), HU["fat"])
    mix(hu, r(f["eyes"]), HU["eye"])
    mix(hu, r(f["airway"]), HU["air"])
    bone = np.minimum(r(f["skull_bone"]) + r(f["mandible_bone"]), 1.0)
    deep = np.minimum(r(f["skull_bone"] + CORTEX_MM) + r(f["mandible_bone"] + CORTEX_MM), 1.0)
    hu *= 1.0 - bone
    hu += (bone - deep) * HU["cortical"] + deep * HU["cancellous"]
    tooth = np.minimum(r(f["upper_teeth"]) + r(f["lower_teeth"]), 1.0)
    core = np.minimum(r(f["upper_teeth"] + ENAMEL_MM) + r(f["lower_teeth"] + ENAMEL_MM), 1.0)
    hu *= 1.0 - tooth
    hu += (tooth - core) * HU["enamel"] + core * HU["dentin"]
    mix(hu, r(f["holder"]), HU["holder"])

    labels = np.zeros(hu.shape, dtype=np.uint8)
    labels[f["skull"] < 0] = LABELS["skull"]
    labels[f["mandible"] < 0] = LABELS["mandible"]
    labels[f["holder"] < 0] = LABELS["holder"]
    return hu, labels


# ------------------------------------------------------------------------------ API
@dataclass(frozen=True, eq=False)
class HeadTruth:
    """Ground truth of the sample, known from the anatomy, not from the scan.

    Attributes
    ----------
    volume_mm3 : dict of str to float
        True volumes of ``"skull"`` (all bone but the mandible, upper teeth included) and
        ``"mandible"`` (lower teeth included), in mm³, integrated from the signed
        distance functions on a 0.2 mm grid with sub-voxel occupancy (never from a
        threshold of the scan).
    volume_precision : float
        Relative precision of ``volume_mm3`` (5e-4; the 0.25 and 0.2 mm integrations
        differ by 2e-5 for the skull and 2e-4 for the mandible).
    landmarks_mm : dict of str to (3,) float
        LPS mm: ``chin`` (pogonion), ``menton``, ``condyle_left``/``condyle_right`` (top of
        the condylar heads), ``gonion_left``/``gonion_right``, ``upper_incisor``,
        ``lower_incisor`` (centre of the incisal edges), ``nasion``.
    contacts_mm : dict of str to (3,) float
        Points midway across the GAP_MM clearance where the mandible meets the skull
        (``condyle_left``, ``condyle_right``, ``molar_left``, ``molar_right``).
    plan : dict
        Suggested plan in plain numbers (lists, floats): ``osteotomies`` (one ramus cut a
        side: ``centre_mm``, unit ``normal`` pointing towards the condyle, in-plane
        ``u_axis`` (anterior-superior along the cut) and ``size_mm`` [along u, along
        normal × u]) and ``distractors`` (``fixed_point_mm`` on the ramus above the cut,
        ``moving_point_mm`` on the body below it, both on the lateral bone surface, unit
        ``vector``, ``length_mm``).
    gap_mm : float
        Clearance between mandible and skull at the joints and molars.
    hu : dict of str to float
        Tissue values used.
    """

    volume_mm3: dict[str, float]
    volume_precision: float
    landmarks_mm: dict[str, np.ndarray]
    contacts_mm: dict[str, np.ndarray]
    plan: dict
    gap_mm: float = GAP_MM
    hu: dict[str, float] = field(default_factory=lambda: dict(HU))


@dataclass(frozen=True, eq=False)
class SampleHead:
    """A synthetic CT with its labels and ground truth.

    Attributes
    ----------
    volume : planner.scan.volume.Volume
        int16 HU, ``(ni, nj, nk)``, axial, LPS.
    labels : (ni, nj, nk) uint8
        At voxel centres: 0 air and soft tissue, 1 skull, 2 mandible, 3 head holder.
    truth : HeadTruth
    noise_hu : float
        Standard deviation of the added noise.
    """

    volume: Volume
    labels: np.ndarray
    truth: HeadTruth
    noise_hu: float


def _grid(spacing_mm, shape):
    spacing = np.broadcast_to(np.asarray(spacing_mm, dtype=float), (3,)).copy()
    if not np.all(np.isfinite(spacing)) or np.any(spacing <= 0):
        raise ValueError(f"spacing_mm must be positive, got {spacing_mm!r}")
    if shape is None:
        fov = np.asarray(DEFAULT_SHAPE) * DEFAULT_SPACING_MM
        shape = tuple(int(n) for n in np.maximum(np.round(fov / spacing), 1))
    shape = tuple(int(n) for n in shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"shape must be three positive ints (ni, nj, nk), got {shape!r}")
    origin = FOV_CENTRE_MM - 0.5 * (np.asarray(shape) - 1) * spacing
    axes = [origin[a] + spacing[a] * np.arange(shape[a]) for a in range(3)]
    lo, hi = _bone_box()
    if any(ax[0] > lo[a] or ax[-1] < hi[a] for a, ax in enumerate(axes)):
        raise ValueError(
            f"shape {shape} at spacing {spacing.tolist()} mm does not cover the bones "
            f"({np.round(lo, 1).tolist()} to {np.round(hi, 1).tolist()} mm): enlarge shape"
        )
    affine = np.diag([*spacing, 1.0])
    affine[:3, 3] = origin
    return shape, spacing, axes, affine


def _bone_box():
    parts = anatomy()
    lo = np.min([parts[p].lo for p in ("skull_bone", "mandible_bone", "upper_teeth")], axis=0)
    hi = np.max([parts[p].hi for p in ("skull_bone", "mandible_bone", "upper_teeth")], axis=0)
    return lo, hi


def make_head(
    *,
    spacing_mm: float | tuple[float, float, float] = DEFAULT_SPACING_MM,
    shape: tuple[int, int, int] | None = None,
    noise_hu: float = 20.0,
    seed: int = 0,
) -> SampleHead:
    """Make the synthetic infant head CT (Pierre Robin sequence) with its ground truth.

    Parameters
    ----------
    spacing_mm : float or (3,) float
        Voxel size along i (x, columns), j (y, rows) and k (z, slices), in mm.
    shape : (3,) int, optional
        Voxel counts ``(ni, nj, nk)``, centred on the default field of view. Default:
        the default field of view (176 × 176 × 154 mm) at ``spacing_mm``, i.e.
        ``(160, 160, 140)`` at 1.1 mm. Must cover the bones.
    noise_hu : float
        Standard deviation of the Gaussian noise added to every voxel (0: none).
    seed : int
        Noise seed; the same arguments always give the same volume.

    Returns
    -------
    SampleHead

    Examples
    --------
    >>> head = make_head()  # doctest: +SKIP
    >>> head.volume.shape, head.truth.landmarks_mm["chin"]  # doctest: +SKIP
    """
    if not np.isfinite(noise_hu) or noise_hu < 0:
        raise ValueError(f"noise_hu must be >= 0, got {noise_hu!r}")
    if int(seed) != seed or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    sigma = np.float32(noise_hu)
    shape, spacing, (xs, ys, zs), affine = _grid(spacing_mm, shape)
    ni, nj, nk = shape
    width = float(np.prod(spacing) ** (1.0 / 3.0))
    stack = np.empty((nk, nj, ni), dtype=np.int16)
    label_stack = np.empty((nk, nj, ni), dtype=np.uint8)
    slab = max(1, int(2_000_000 // (ni * nj)))
    for k0 in range(0, nk, slab):
        k1 = min(nk, k0 + slab)
        hu, labels = _hu_and_labels(grid_fields(xs, ys, zs[k0:k1]), width)
        hu = hu.transpose(2, 1, 0)
        if noise_hu > 0:
            for k in range(k0, k1):
                rng = np.random.default_rng([int(seed), k])
                hu[k - k0] += rng.standard_normal((nj, ni), dtype=np.float32) * sigma
        np.clip(np.rint(hu), -32768, 32767, out=hu)
        stack[k0:k1] = hu
        label_stack[k0:k1] = labels.transpose(2, 1, 0)
    volume = Volume(
        hu=stack.transpose(2, 1, 0),
        affine=affine,
        description="planner synthetic infant head (Pierre Robin sequence)",
        notes=("synthetic sample: not patient data",),
    )
    return SampleHead(volume, label_stack.transpose(2, 1, 0), head_truth(), float(noise_hu))


# ---------------------------------------------------------------------------- truth
def _integrate_volumes(step_mm: float, offset_mm: float = 0.0) -> dict[str, float]:
    """Volumes (mm³) of skull and mandible: sub-voxel occupancy summed on a fine grid.

    ``offset_mm`` grows each bone by that distance (its surface moved outward).
    """
    lo, hi = _bone_box()
    lo, hi = lo - 1.0 - max(offset_mm, 0.0), hi + 1.0 + max(offset_mm, 0.0)
    xs, ys, zs = (np.arange(a, b + step_mm, step_mm) for a, b in zip(lo, hi, strict=True))
    total = {"skull": 0.0, "mandible": 0.0}
    slab = max(1, int(4_000_000 // (len(xs) * len(ys))))
    for k0 in range(0, len(zs), slab):
        f = grid_fields(xs, ys, zs[k0 : k0 + slab], names=("skull", "mandible"))
        for name in total:
            total[name] += float(_ramp(f[name] - offset_mm, step_mm).sum(dtype=np.float64))
    return {name: v * step_mm**3 for name, v in total.items()}


def partial_volume_offset_mm(threshold_hu: float, spacing_mm) -> float:
    """How far outside the true bone surface the ``threshold_hu`` isosurface lies.

    In :func:`make_head` a voxel's HU mixes tissues by a linear ramp of the signed distance
    over one voxel (``width`` = geometric-mean spacing), so across a cortex/soft-tissue
    boundary the level ``L`` is reached at ``(0.5 - f) * width`` outside the surface, with
    ``f = (L - soft tissue) / (cortical - soft tissue)``: 0.33 mm at 300.5 HU and 1.1 mm.
    This is the partial-volume effect of a real scan, in a form known exactly.
    """
    width = float(np.prod(np.broadcast_to(np.asarray(spacing_mm, float), 3)) ** (1.0 / 3.0))
    f = (threshold_hu - HU["soft_tissue"]) / (HU["cortical"] - HU["soft_tissue"])
    return (0.5 - f) * width


def volume_at_threshold_mm3(threshold_hu: float, spacing_mm, *, step_mm: float = 0.5) -> dict:
    """Bone volumes (mm³) that a perfect isosurface at ``threshold_hu`` would enclose.

    The true bones grown by :func:`partial_volume_offset_mm` (integrated on a ``step_mm``
    grid, about 2 s at 0.5 mm): the known answer for a segmentation at that threshold,
    as opposed to :attr:`HeadTruth.volume_mm3`, the anatomy's own volumes. First order:
    it ignores the smaller offsets at enamel and air boundaries and plates thinner than
    a voxel.
    """
    return _integrate_volumes(step_mm, partial_volume_offset_mm(threshold_hu, spacing_mm))


def _box_grid(lo, hi, step):
    return [
        np.arange(a, b + 0.5 * step, step) if b > a else np.array([a])
        for a, b in zip(lo, hi, strict=False)
    ]


def _surface_point(part: str, p: np.ndarray, iterations: int = 4) -> np.ndarray:
    """Move ``p`` onto the zero level of ``part`` along the gradient (Newton steps)."""
    e = 1e-3 * np.eye(3)
    for _ in range(iterations):
        d = signed_distance(p, part)
        g = (signed_distance(p + e, part) - signed_distance(p - e, part)) / 2e-3
        p = p - d * g / max(float(g @ g), 1e-12)
    return p


def _support(part: str, direction, lo, hi, step: float = 0.1) -> np.ndarray:
    """Surface point of ``part`` within the box ``lo``–``hi`` furthest along ``direction``."""
    u = np.asarray(direction, dtype=float)
    u /= np.linalg.norm(u)
    xs, ys, zs = _box_grid(lo, hi, step)
    d = grid_fields(xs, ys, zs, names=(part,))[part]
    proj = xs[:, None, None] * u[0] + ys[None, :, None] * u[1] + zs[None, None, :] * u[2]
    proj = np.where(d <= 0, proj, -np.inf)
    i, j, k = np.unravel_index(np.argmax(proj), proj.shape)
    if not np.isfinite(proj[i, j, k]):
        raise RuntimeError(f"no {part} inside the box {lo}..{hi}")  # pragma: no cover
    return _surface_point(part, np.array([xs[i], ys[j], zs[k]]))


def _ray_hit(part: str, start, direction, length: float = 40.0, step: float = 0.05):
    """First point where the ray from ``start`` along ``direction`` enters ``part``."""
    u = np.asarray(direction, dtype=float) / np.linalg.norm(direction)
    t = np.arange(0.0, length, step)
    d = signed_distance(start + t[:, None] * u, part)
    n = int(np.argmax(d <= 0))
    if d[n] > 0 or n == 0:
        raise RuntimeError(f"ray from {start} does not enter {part}")  # pragma: no cover
    a, b = t[n - 1], t[n]
    for _ in range(40):
        m = 0.5 * (a + b)
        a, b = (m, b) if signed_distance(start + m * u, part) > 0 else (a, m)
    return start + 0.5 * (a + b) * u


def _nasion() -> np.ndarray:
    """Frontonasal junction: the midline skull surface level with the top of the nasal bones."""
    return _ray_hit("skull_bone", np.array([0.0, -80.0, 11.0]), [0.0, 1.0, 0.0])


def _landmarks() -> dict[str, np.ndarray]:
    lm = {}
    chin = _support("mandible_bone", [0, -1, 0], [0, -48, -60], [0, -30, -40], step=0.05)
    lm["chin"] = chin
    lm["menton"] = _support("mandible_bone", [0, 0, -1], [0, -45, -62], [0, -30, -45], 0.05)
    for side, s in SIDES.items():
        above = CONDYLE_CENTRE * [s, 1, 1] + [0.0, 0.0, 12.0]
        top = _ray_hit("mandible", above, [0.0, 0.0, -1.0])
        lm[f"condyle_{side}"] = top  # above the centre of the condylar head
        _ml, ap, up = ramus_axes(s)
        outward = ap - up  # posterior-inferior bisector of the gonial angle
        lo, hi = [26.0 * s, -8.0, -58.0], [40.0 * s, 12.0, -40.0]
        lm[f"gonion_{side}"] = _support(
            "mandible_bone", outward, np.minimum(lo, hi), np.maximum(lo, hi), step=0.2
        )
    lm["upper_incisor"] = on_curve(upper_curve(), 0.0)[0] * [1, 1, 0] + [0, 0, Z_UPPER_INCISAL]
    lm["lower_incisor"] = on_curve(lower_curve(), 0.0)[0] * [1, 1, 0] + [0, 0, Z_LOWER_INCISAL]
    lm["nasion"] = _nasion()
    return lm


def _plan(lm: dict[str, np.ndarray]) -> dict:
    """Suggested bilateral ramus osteotomies and parallel distractors (plain numbers)."""
    vector = np.array([0.0, -1.0, -0.3])
    vector /= np.linalg.norm(vector)
    osteotomies, distractors = [], []
    for side, s in SIDES.items():
        ml, ap, up = ramus_axes(s)
        u = -ap * np.cos(np.radians(25)) + up * np.sin(np.radians(25))  # forward and up
        normal = np.cross(ml, u)
        normal *= np.sign(normal @ up)
        start = lm[f"gonion_{side}"] + 10.0 * up  # posterior border, 10 mm above the angle
        centre = start + 8.0 * u
        centre -= ml * (ml @ (centre - RAMUS_CENTRE * [s, 1, 1]))  # onto the mid-plane
        osteotomies.append(
            {
                "name": f"ramus_{side}",
                "side": side,
                "centre_mm": centre.tolist(),
                "normal": normal.tolist(),
                "u_axis": u.tolist(),
                "size_mm": [26.0, 16.0],
            }
        )
        fixed = _ray_hit("mandible", centre + 6.0 * normal + 2.0 * u + 20.0 * ml, -ml)
        moving = _ray_hit("mandible", centre - 7.0 * normal - 1.0 * u + 20.0 * ml, -ml)
        distractors.append(
            {
                "name": f"distractor_{side}",
                "side": side,
                "fixed_point_mm": fixed.tolist(),
                "moving_point_mm": moving.tolist(),
                "vector": vector.tolist(),
                "length_mm": 15.0,
            }
        )
    return {"osteotomies": osteotomies, "distractors": distractors}


def _contacts(lm: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    out = {}
    for side, s in SIDES.items():
        out[f"condyle_{side}"] = lm[f"condyle_{side}"] + [0.0, 0.0, 0.5 * GAP_MM]
        out[f"molar_{side}"] = np.array([*molar_xy(s), Z_OCCLUSAL])
    return out


def head_truth() -> HeadTruth:
    """The ground truth of the sample anatomy (independent of the scan grid); a fresh copy."""
    return copy.deepcopy(_head_truth())


@functools.lru_cache(maxsize=1)
def _head_truth() -> HeadTruth:
    lm = _landmarks()
    return HeadTruth(
        volume_mm3=dict(_TRUE_VOLUME_MM3),
        volume_precision=5e-4,
        landmarks_mm=lm,
        contacts_mm=_contacts(lm),
        plan=_plan(lm),
    )


_TRUE_VOLUME_MM3 = {"skull": 204711.0, "mandible": 12445.6}
"""``_integrate_volumes(0.2)``: within about 3e-4 of the limit (Richardson estimate from the
0.25 and 0.2 mm grids). ``tests/test_samples.py`` re-integrates at 0.5 mm and compares; if
the anatomy changes, recompute and paste the new values here."""
